//! `std::hint` as a model checker sees it.

/// A spin-loop hint: a scheduling point, so that a thread spinning on a flag lets the thread
/// that will set it run (loom and shuttle need it to make progress).
#[track_caller]
pub fn spin_loop() {
    crate::rt::spin_loop::<crate::rt::Dynamic>()
}
