//! Workloads × schedules on the server's books (`CONCLAB_FUZZ_BOOKS=split`: on the two-lock
//! books of `server-stats`' buggy variant, which the fuzzer should break).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conclab::fuzz::books_input(data));
