//! `std::thread` as a model checker sees it: spawn, name, join, yield and sleep under the engine
//! of the running check (see [`crate::sync`]). A `sleep` is a scheduling point, not a delay: the
//! checkers explore what may happen meanwhile.

use crate::rt::{self, Dynamic};

/// `std::thread::JoinHandle`, checked.
pub struct JoinHandle<T: Send + 'static> {
    inner: rt::JoinHandle<T, Dynamic>,
}

impl<T: Send + 'static> JoinHandle<T> {
    /// Waits for the thread to finish; `Err` carries its panic.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        self.inner.join()
    }
}

/// Spawns a thread of the running check (a column of its trace, `thread-<n>`).
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    JoinHandle { inner: rt::spawn_thread::<Dynamic, F, T>(None, f) }
}

/// `std::thread::Builder`: names a thread (its column in the trace) before spawning it.
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    /// A builder for an unnamed thread.
    pub fn new() -> Self {
        Builder { name: None }
    }

    /// Names the thread.
    pub fn name(mut self, name: String) -> Self {
        self.name = Some(name);
        self
    }

    /// Spawns the thread; never fails under the checkers.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Ok(JoinHandle { inner: rt::spawn_thread::<Dynamic, F, T>(self.name, f) })
    }
}

/// Lets another thread run (the checkers deprioritise a yielding thread).
#[track_caller]
pub fn yield_now() {
    rt::yield_now::<Dynamic>()
}

/// A scheduling point standing for a sleep: the checkers have no clock, they explore what the
/// other threads may do meanwhile.
#[track_caller]
pub fn sleep(_duration: std::time::Duration) {
    rt::yield_now::<Dynamic>()
}
