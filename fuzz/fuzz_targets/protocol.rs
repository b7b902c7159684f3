//! Bytes become client sessions against the echo server's connection protocol and books, in
//! memory: nothing may panic, be echoed twice or out of order, or leave the books unbalanced.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conclab::fuzz::protocol(data));
