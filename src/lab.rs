//! The catalog's vocabulary: std's `sync`, `thread` and `hint` (conclab's facade, the same one
//! users check their own code with) plus what only a lesson needs — the invariant, "must still
//! work" properties, notes, liveness lines and the signals of a modelled process. A scenario file
//! (and an assignment's `src/lib.rs`) says `use super::rt;` and means this module.

use crate::rt::{self as engine, Dynamic};

pub use crate::{hint, sync, thread};

/// The scenario's liveness declarations: what progress is, and how fair a line must be.
pub mod liveness {
    use super::{engine, Dynamic};

    /// See [`crate::rt::progress`].
    #[track_caller]
    pub fn progress(what: &'static str) {
        engine::progress::<Dynamic>(what)
    }
    /// See [`crate::rt::retry`].
    #[track_caller]
    pub fn retry(what: &'static str, rounds: usize) {
        engine::retry::<Dynamic>(what, rounds)
    }
    /// See [`crate::rt::arrive`].
    #[track_caller]
    pub fn arrive(line: &'static str) {
        engine::arrive::<Dynamic>(line)
    }
    /// See [`crate::rt::enter`].
    #[track_caller]
    pub fn enter(line: &'static str, max_bypass: usize) {
        engine::enter::<Dynamic>(line, max_bypass)
    }
}

/// Signals of a modelled process; see [`crate::rt::signal`].
pub mod signal {
    use super::Dynamic;
    use crate::rt::signal as engine;
    pub use crate::rt::signal::{Pid, SigSet, Signal, Signal::*};

    /// Installs `handler` for `sig` (`sigaction`); it runs on `main`, inline.
    #[track_caller]
    pub fn signal(sig: Signal, handler: impl Fn(Signal) + Send + Sync + 'static) {
        engine::signal::<Dynamic>(sig, handler)
    }
    /// Sends `sig` to the process (`kill`); `main` takes it at its next operation.
    #[track_caller]
    pub fn kill(sig: Signal) {
        engine::kill::<Dynamic>(sig)
    }
    /// Adds `set` to the blocked signals (`sigprocmask(SIG_BLOCK)`); returns the old mask.
    #[track_caller]
    pub fn block(set: SigSet) -> SigSet {
        engine::block::<Dynamic>(set)
    }
    /// Sets the blocked signals (`sigprocmask(SIG_SETMASK)`); unblocked pending signals are delivered.
    #[track_caller]
    pub fn set_mask(set: SigSet) {
        engine::set_mask::<Dynamic>(set)
    }
    /// Forks a child process running `body`; its exit raises SIGCHLD at the parent.
    #[track_caller]
    pub fn fork(name: &str, body: impl FnOnce() + Send + 'static) -> Pid {
        engine::fork::<Dynamic>(name, body)
    }
    /// `waitpid(-1, WNOHANG)`: reaps one child that has exited, if any.
    #[track_caller]
    pub fn waitpid_nohang() -> Option<Pid> {
        engine::waitpid_nohang::<Dynamic>()
    }
    /// Waits until every child has exited (`sigsuspend` in a loop), taking signals meanwhile.
    #[track_caller]
    pub fn wait_for_children() {
        engine::wait_for_children::<Dynamic>()
    }
}

/// Checks the scenario's invariant; see [`crate::rt::invariant`].
#[track_caller]
pub fn invariant(holds: bool, message: impl FnOnce() -> String) {
    engine::invariant::<Dynamic>(holds, message)
}

/// Checks a "must still work" property; see [`crate::rt::property`].
#[track_caller]
pub fn property(name: &'static str, holds: bool, message: impl FnOnce() -> String) {
    engine::property::<Dynamic>(name, holds, message)
}

pub use crate::rt::{noted, peak_threads};

/// Annotates the trace; see [`crate::rt::note`].
#[track_caller]
pub fn note(text: impl Into<String>) {
    engine::note::<Dynamic>(text)
}
