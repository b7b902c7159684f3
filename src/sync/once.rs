//! `std::sync::{Once, OnceLock, LazyLock}`, checked: the initialisation is ordered by the
//! facade's own [`Mutex`], [`Condvar`] and [`AtomicBool`], so the checkers see and explore its
//! races; the value itself sits in std's `OnceLock`, which is what lets [`OnceLock::get`] lend
//! `&T` safely.

use std::panic::Location;

use super::atomic::{AtomicBool, Ordering};
use super::{Condvar, Mutex};
use crate::rt::bind::Bind;

/// Where an initialisation is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Init {
    Empty,
    Running,
    Done,
}

/// `std::sync::OnceLock`, checked: a cell written at most once. `new` is `const`, as std's: a
/// `static` cell is empty again at the start of every execution of a check.
pub struct OnceLock<T> {
    /// The value, once set (std's cell: it makes the `&T` of `get` sound), one per execution.
    value: Bind<Option<T>, std::sync::OnceLock<T>>,
    /// Set (Release) after the value: `get` is one checked Acquire load, as std's is.
    done: AtomicBool,
    /// Who initialises: one thread runs `Empty -> Running -> Done`, the others wait.
    init: Mutex<Init>,
    finished: Condvar,
}

impl<T> OnceLock<T> {
    /// An empty cell. It binds to the engine of the running check when first used.
    #[track_caller]
    pub const fn new() -> Self {
        // `None` is plain; the cell lends `&T`.
        let mut value = Bind::plain(None, Location::caller());
        value.lending();
        OnceLock { value, done: AtomicBool::new(false), init: Mutex::new(Init::Empty), finished: Condvar::new() }
    }

    /// The running execution's value cell.
    #[inline]
    fn value(&self) -> &std::sync::OnceLock<T> {
        self.value.get(|_, _, v| v.map_or_else(std::sync::OnceLock::new, std::sync::OnceLock::from))
    }

    /// The value, if it is set; never blocks.
    #[track_caller]
    pub fn get(&self) -> Option<&T> {
        if self.done.load(Ordering::Acquire) {
            self.value().get()
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
                Init::Done => return self.value().get().expect("set before Done"),
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
        if self.value().set(v).is_err() {
            unreachable!("only the thread that moved the cell to Running sets it");
        }
        self.done.store(true, Ordering::Release);
        *self.init.lock().unwrap_or_else(|e| e.into_inner()) = Init::Done;
        self.finished.notify_all();
        self.value().get().expect("just set")
    }

    /// The value, if it was set.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner(std::sync::OnceLock::into_inner)
    }

    /// The value, borrowed mutably, if it is set (the borrow is exclusive: nothing to wait for).
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut(std::sync::OnceLock::get_mut, |v| v.as_mut())
    }

    /// Takes the value out, leaving the cell empty.
    #[track_caller]
    pub fn take(&mut self) -> Option<T> {
        let v = self.value.get_mut(std::sync::OnceLock::take, Option::take)?;
        // Exclusive: nobody can race with these, but loom lends an atomic only through a store.
        self.done.store(false, Ordering::Relaxed);
        *self.init.get_mut().unwrap_or_else(|e| e.into_inner()) = Init::Empty;
        Some(v)
    }

    /// Blocks until the cell is set (by another thread's `set` or `get_or_init`), then returns
    /// the value (std 1.86).
    #[track_caller]
    pub fn wait(&self) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let mut init = self.init.lock().unwrap_or_else(|e| e.into_inner());
        while *init != Init::Done {
            init = self.finished.wait(init).unwrap_or_else(|e| e.into_inner());
        }
        drop(init);
        self.value().get().expect("set before Done")
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

impl<T> From<T> for OnceLock<T> {
    /// A cell that is set already (no initialisation left to race for).
    #[track_caller]
    fn from(value: T) -> Self {
        OnceLock {
            value: Bind::new(Some(value), Location::caller()),
            done: AtomicBool::new(true),
            init: Mutex::new(Init::Done),
            finished: Condvar::new(),
        }
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    /// A cell holding a clone of the value, if it is set (a [`OnceLock::get`]).
    #[track_caller]
    fn clone(&self) -> Self {
        match self.get() {
            Some(v) => OnceLock::from(v.clone()),
            None => OnceLock::new(),
        }
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    /// Equal when both are empty or both hold equal values (a [`OnceLock::get`] of each).
    #[track_caller]
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: std::fmt::Debug> std::fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As std's: `OnceLock(value)`, or `OnceLock(<uninit>)` while it is empty.
        let mut d = f.debug_tuple("OnceLock");
        match self.value().get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

/// `std::sync::LazyLock`, checked: a value computed by `F` on first use. The first thread to
/// [`LazyLock::force`] it (or deref it) runs `F`; the others wait for it — exactly
/// [`OnceLock::get_or_init`], whose races the checkers explore. `new` is `const`, as std's: a
/// `static` lock computes its value afresh in every execution of a check. If `F` panics the lock
/// is poisoned, as std's is: the next `force` panics too.
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    /// `F`, until the thread that initialises takes it. A std mutex: only that thread, inside
    /// the cell's initialisation (which the facade orders), ever locks it.
    init: Bind<F, std::sync::Mutex<Option<F>>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lock whose value `f` computes on first use.
    #[track_caller]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock { cell: OnceLock::new(), init: Bind::new(f, Location::caller()) }
    }

    /// The value, computed first if nobody has (other threads wait while one computes it).
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| Self::take_init(&this.init)())
    }

    /// The value, borrowed mutably, computed first if nobody has (std 1.94).
    #[track_caller]
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        if this.cell.get_mut().is_none() {
            let v = Self::take_init(&this.init)();
            if this.cell.set(v).is_err() {
                unreachable!("the cell was empty and the borrow is exclusive");
            }
        }
        this.cell.get_mut().expect("just set")
    }

    fn take_init(init: &Bind<F, std::sync::Mutex<Option<F>>>) -> F {
        let f = init
            .get(|_, _, f| std::sync::Mutex::new(Some(f)))
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        f.expect("LazyLock instance has previously been poisoned")
    }
}

impl<T, F> LazyLock<T, F> {
    /// The value if it was computed; never computes it, never blocks (std 1.94).
    #[track_caller]
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        this.cell.get()
    }

    /// The value, borrowed mutably, if it was computed (std 1.94).
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        this.cell.get_mut()
    }
}

impl<T, F: FnOnce() -> T> std::ops::Deref for LazyLock<T, F> {
    type Target = T;
    /// [`LazyLock::force`].
    #[track_caller]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F: FnOnce() -> T> std::ops::DerefMut for LazyLock<T, F> {
    /// [`LazyLock::force_mut`].
    #[track_caller]
    fn deref_mut(&mut self) -> &mut T {
        LazyLock::force_mut(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    /// A lock whose value is `T::default()`, computed on first use.
    #[track_caller]
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: std::fmt::Debug, F> std::fmt::Debug for LazyLock<T, F> {
    /// As std's: `LazyLock(value)`, or `LazyLock(<uninit>)` before it is computed (a `get`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match LazyLock::get(self) {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

/// `std::sync::Once`, checked: runs one closure once (once per execution of a check, for a
/// `static`). Unlike std's, a panicking closure does not poison: the next `call_once` runs its
/// own.
pub struct Once {
    cell: OnceLock<()>,
}

impl Once {
    /// A new `Once` (`const`, as std's).
    #[track_caller]
    pub const fn new() -> Self {
        Once { cell: OnceLock::new() }
    }

    /// Runs `f` if no `call_once` has completed; other callers wait until it has.
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        self.cell.get_or_init(f);
    }

    /// Like [`Once::call_once`], `f` told whether an earlier call panicked: never, here (a
    /// panicking closure does not poison; see the type's docs).
    #[track_caller]
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        self.cell.get_or_init(|| f(&OnceState { _private: () }));
    }

    /// Whether a `call_once` has completed.
    #[track_caller]
    pub fn is_completed(&self) -> bool {
        self.cell.get().is_some()
    }

    /// Blocks until a `call_once` has completed (std 1.86).
    #[track_caller]
    pub fn wait(&self) {
        self.cell.wait();
    }

    /// As [`Once::wait`]: nothing is ever poisoned here (std 1.86).
    #[track_caller]
    pub fn wait_force(&self) {
        self.cell.wait();
    }
}

/// `std::sync::OnceState`: what [`Once::call_once_force`] tells its closure.
#[derive(Debug)]
pub struct OnceState {
    _private: (),
}

impl OnceState {
    /// Always `false`: a panicking closure does not poison a [`Once`] here.
    pub fn is_poisoned(&self) -> bool {
        false
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
    use super::{LazyLock, Once, OnceLock};
    use crate::report::{Coverage, Kind, Report, Verdict};
    use crate::runner::{self, Checker};
    use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use crate::sync::{Arc, Mutex};
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

    /// A `Once` that sets up a shared value; a reader that assumes it ran (`is_completed`
    /// unchecked, `racy`) or waits for it (`wait`).
    fn once_then_read(racy: bool) {
        let (once, value) = (Arc::new(Once::new()), Arc::new(AtomicUsize::new(0)));
        let (o2, v2) = (once.clone(), value.clone());
        let setup = thread::spawn(move || {
            o2.call_once_force(|state| {
                assert!(!state.is_poisoned());
                v2.store(42, SeqCst);
            })
        });
        if !racy {
            once.wait();
        }
        assert_eq!(value.load(SeqCst), 42, "read before the set-up ran"); // BUG if `racy`
        assert!(once.is_completed() || racy);
        setup.join().unwrap();
        once.wait_force();
    }

    #[test]
    fn once_wait_waits_for_call_once_force() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(|| once_then_read(true), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            let r = check(|| once_then_read(false), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
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

    /// A lazily made table whose initialiser takes `lock`; `main` forces it while holding
    /// `lock` itself (`holding`), or before taking it. Holding it: if the worker began the
    /// initialisation first, it waits for `lock` and `main` waits for the initialisation.
    fn lazy_under_a_lock(holding: bool) {
        let lock = Arc::new(Mutex::new(0));
        let l2 = lock.clone();
        let table = Arc::new(LazyLock::new(move || {
            *l2.lock().unwrap() += 1;
            vec![1, 2, 3]
        }));
        let t2 = table.clone();
        let worker = thread::spawn(move || t2.len());
        let len = if holding {
            let guard = lock.lock().unwrap();
            let len = table.len(); // BUG: the initialiser may be waiting for `guard`
            drop(guard);
            len
        } else {
            let len = table.len();
            drop(lock.lock().unwrap());
            len
        };
        assert_eq!((len, worker.join().unwrap()), (3, 3));
        assert_eq!(*lock.lock().unwrap(), 1, "the initialiser ran once");
    }

    /// Two threads force one `LazyLock` (by `force` and by deref): it is made once, and both
    /// see it; `get` before it is forced answers `None`; `Default`, `Debug` and `force_mut`.
    fn lazy_forced_twice() {
        let made = Arc::new(AtomicUsize::new(0));
        let m2 = made.clone();
        let lazy = Arc::new(LazyLock::new(move || m2.fetch_add(1, SeqCst) + 10));
        let l2 = lazy.clone();
        let t = thread::spawn(move || *LazyLock::force(&l2));
        let mine = **lazy;
        assert_eq!((mine, t.join().unwrap()), (10, 10));
        assert_eq!(made.load(SeqCst), 1, "the initialiser ran once");
        assert_eq!(format!("{lazy:?}"), "LazyLock(10)");
        let mut fresh: LazyLock<Vec<u8>> = LazyLock::default();
        assert!(LazyLock::get(&fresh).is_none());
        assert_eq!(format!("{fresh:?}"), "LazyLock(<uninit>)");
        fresh.push(1);
        assert_eq!(LazyLock::get_mut(&mut fresh).map(|v| v.len()), Some(1));
    }

    /// A reader of a cell another thread sets: `get().unwrap()` assumes it is set already;
    /// `wait` blocks until it is.
    fn read_a_cell_set_by_another(wait: bool) {
        let cell = Arc::new(OnceLock::new());
        let c2 = cell.clone();
        let setter = thread::spawn(move || c2.set(5).unwrap());
        let v = if wait { *cell.wait() } else { *cell.get().unwrap() }; // BUG unless `wait`
        assert_eq!(v, 5);
        setter.join().unwrap();
        let mut cell = Arc::try_unwrap(cell).expect("the setter is done");
        assert_eq!((cell.clone(), OnceLock::from(5)), (OnceLock::from(5), cell.clone()));
        assert_eq!(cell.take(), Some(5));
        assert_eq!(cell.get(), None);
        assert_eq!(*cell.get_or_init(|| 6), 6, "taken: empty again");
    }

    #[test]
    fn a_lazy_lock_is_made_once_and_forcing_it_under_its_initialiser_s_lock_deadlocks() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(|| lazy_under_a_lock(true), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
            for body in [(|| lazy_under_a_lock(false)) as fn(), lazy_forced_twice] {
                let r = check(body, checker);
                assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
                assert!(r.executions > 1, "{}", r.render());
            }
        }
        assert_eq!(check(lazy_forced_twice, Checker::Loom).coverage, Coverage::Exhaustive);
        let r = check(lazy_forced_twice, Checker::Stress);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
    }

    #[test]
    fn once_lock_wait_blocks_until_set_and_get_does_not() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(|| read_a_cell_set_by_another(false), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Panic)), "{}", r.render());
            let r = check(|| read_a_cell_set_by_another(true), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
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
