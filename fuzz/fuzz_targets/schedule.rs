//! Schedules chosen by the fuzzer: the first byte picks a scenario and variant (or
//! `CONCLAB_FUZZ_SCENARIO` / `CONCLAB_FUZZ_VARIANT` pin one), the rest drives shuttle's
//! scheduler. A crash is a broken scenario; `conclab replay <id> --variant <v> --fuzz-input
//! <crash file>` shows its trace.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conclab::fuzz::schedule_input(data));
