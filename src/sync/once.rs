//! `std::sync::{Once, OnceLock}`, checked: the initialisation is ordered by the facade's own
//! [`Mutex`], [`Condvar`] and [`AtomicBool`], so the checkers see and explore its races; the
//! value itself sits in std's `OnceLock`, which is what lets [`OnceLock::get`] lend `&T` safely.

use super::atomic::{AtomicBool, Ordering};
use super::{Condvar, Mutex};

/// Where an initialisation is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Init {
    Empty,
    Running,
    Done,
}

/// `std::sync::OnceLock`, checked: a cell written at most once. Unlike std's, `new` is not
/// `const`: a cell binds to the check that makes it, so it cannot be a `static`.
pub struct OnceLock<T> {
    /// The value, once set (std's cell: it makes the `&T` of `get` sound).
    value: std::sync::OnceLock<T>,
    /// Set (Release) after the value: `get` is one checked Acquire load, as std's is.
    done: AtomicBool,
    /// Who initialises: one thread runs `Empty -> Running -> Done`, the others wait.
    init: Mutex<Init>,
    finished: Condvar,
}

impl<T> OnceLock<T> {
    /// An empty cell, bound to the engine of the running check.
    #[track_caller]
    pub fn new() -> Self {
        OnceLock {
            value: std::sync::OnceLock::new(),
            done: AtomicBool::new(false),
            init: Mutex::new(Init::Empty),
            finished: Condvar::new(),
        }
    }

    /// The value, if it is set; never blocks.
    #[track_caller]
    pub fn get(&self) -> Option<&T> {
        if self.done.load(Ordering::Acquire) {
            self.value.get()
        } else {
            None
        }
    }

    /// Sets the value if the cell is empty; `Err(value)` gives it back if it was set (waits
    /// while another thread initialises, as std's does).
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, initialised by `f` if the cell is empty. One thread runs its `f`; the others
    /// wait for it. If `f` panics the cell stays empty, and the next caller runs its own.
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let mut init = self.init.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match *init {
                Init::Done => return self.value.get().expect("set before Done"),
                Init::Running => init = self.finished.wait(init).unwrap_or_else(|e| e.into_inner()),
                Init::Empty => break,
            }
        }
        *init = Init::Running;
        drop(init);
        // Unwinding out of `f` empties the cell again and wakes the waiters.
        let reset = Reset(self);
        let v = f();
        std::mem::forget(reset);
        if self.value.set(v).is_err() {
            unreachable!("only the thread that moved the cell to Running sets it");
        }
        self.done.store(true, Ordering::Release);
        *self.init.lock().unwrap_or_else(|e| e.into_inner()) = Init::Done;
        self.finished.notify_all();
        self.value.get().expect("just set")
    }

    /// The value, if it was set.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

/// Puts a cell whose initialiser panicked back to `Empty`.
struct Reset<'a, T>(&'a OnceLock<T>);

impl<T> Drop for Reset<'_, T> {
    fn drop(&mut self) {
        if super::mpsc::checker_unwinding() {
            return;
        }
        *self.0.init.lock().unwrap_or_else(|e| e.into_inner()) = Init::Empty;
        self.0.finished.notify_all();
    }
}

impl<T> Default for OnceLock<T> {
    #[track_caller]
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OnceLock").field(&self.value.get()).finish()
    }
}

/// `std::sync::Once`, checked: runs one closure once. Unlike std's, `new` is not `const` (it
/// binds to the check that makes it), and a panicking closure does not poison: the next
/// `call_once` runs its own.
pub struct Once {
    cell: OnceLock<()>,
}

impl Once {
    /// A new `Once`, bound to the engine of the running check.
    #[track_caller]
    pub fn new() -> Self {
        Once { cell: OnceLock::new() }
    }

    /// Runs `f` if no `call_once` has completed; other callers wait until it has.
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        self.cell.get_or_init(f);
    }

    /// Whether a `call_once` has completed.
    #[track_caller]
    pub fn is_completed(&self) -> bool {
        self.cell.get().is_some()
    }
}

impl Default for Once {
    #[track_caller]
    fn default() -> Self {
        Once::new()
    }
}

impl std::fmt::Debug for Once {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

/// One-time initialisation checked by loom and shuttle through one compilation.
#[cfg(test)]
mod tests {
    use super::{Once, OnceLock};
    use crate::report::{Coverage, Kind, Report, Verdict};
    use crate::runner::{self, Checker};
    use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use crate::sync::Arc;
    use crate::thread;

    /// Two threads each initialise the cell with their own number, and return what it holds.
    fn race(init: fn(&OnceLock<usize>, usize) -> usize) {
        let cell = Arc::new(OnceLock::new());
        let handles: Vec<_> = (1..=2)
            .map(|i| {
                let cell = cell.clone();
                thread::spawn(move || init(&cell, i))
            })
            .collect();
        let seen: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(seen[0], seen[1], "both threads see the one value");
        assert_eq!(cell.get(), Some(&seen[0]));
    }

    /// Check, then set: both threads can see an empty cell, and the second `set` fails.
    fn check_then_set() {
        race(|cell, i| {
            if cell.get().is_none() {
                cell.set(i).unwrap(); // BUG: another thread may set it in between
            }
            *cell.get().unwrap()
        })
    }

    /// `get_or_init`: one initialiser runs, the other thread waits for it.
    fn get_or_init() {
        race(|cell, i| *cell.get_or_init(|| i))
    }

    /// `Once`: two threads call it; the closure runs once and both see it completed.
    fn once() {
        let (once, runs) = (Arc::new(Once::new()), Arc::new(AtomicUsize::new(0)));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                thread::spawn(move || {
                    once.call_once(|| {
                        runs.fetch_add(1, SeqCst);
                    });
                    assert!(once.is_completed());
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(runs.load(SeqCst), 1, "call_once ran its closure once");
    }

    fn check(body: fn(), checker: Checker) -> Report {
        // loom runs to the end of its search; shuttle samples.
        runner::check_in_process("once-model", body, checker, (checker != Checker::Loom).then_some(500))
    }

    #[test]
    fn check_then_set_races_and_get_or_init_does_not() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(check_then_set, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Panic)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("unwrap()` on an `Err` value"), "{}", r.render());
            let r = check(get_or_init, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        assert_eq!(check(get_or_init, Checker::Loom).coverage, Coverage::Exhaustive);
    }

    #[test]
    fn once_runs_its_closure_once() {
        let r = check(once, Checker::Loom);
        assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
    }
}
