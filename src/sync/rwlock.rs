//! `std::sync::RwLock` and its guards, checked.

use std::ops::{Deref, DerefMut};

use super::{LockResult, TryLockError, TryLockResult};
use std::panic::Location;

use crate::rt::bind::Bind;
use crate::rt::{self, Dynamic};

/// `std::sync::RwLock`, checked: any number of readers at once, or one writer. A thread that
/// holds it and calls [`RwLock::write`] (or holds the write side and calls [`RwLock::read`])
/// deadlocks, and the check says so.
pub struct RwLock<T> {
    inner: Bind<T, rt::RwLock<T, Dynamic>>,
}

impl<T> RwLock<T> {
    /// A new reader-writer lock (`const`, as std's). It binds to the engine of the running check
    /// when first used.
    #[track_caller]
    pub const fn new(value: T) -> Self {
        RwLock { inner: Bind::new(value, Location::caller()) }
    }

    /// The running execution's lock.
    #[inline]
    fn raw(&self) -> &rt::RwLock<T, Dynamic> {
        self.inner.get(rt::RwLock::at)
    }

    /// Blocks until the lock is held for reading, shared with other readers. Always `Ok`:
    /// poisoning is never reported (see [`crate::sync`]).
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        Ok(RwLockReadGuard { inner: self.raw().read() })
    }

    /// Blocks until the lock is held for writing, by this thread alone. Always `Ok`.
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        Ok(RwLockWriteGuard { inner: self.raw().write() })
    }

    /// Takes the lock for reading if no writer holds it.
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        self.raw().try_read().map(|inner| RwLockReadGuard { inner }).ok_or(TryLockError::WouldBlock)
    }

    /// Takes the lock for writing if nobody holds it.
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        self.raw().try_write().map(|inner| RwLockWriteGuard { inner }).ok_or(TryLockError::WouldBlock)
    }

    /// Consumes the lock, returning its value.
    pub fn into_inner(self) -> LockResult<T> {
        Ok(self.inner.into_inner(rt::RwLock::into_inner))
    }

    /// The value, borrowed mutably: no lock is taken (the borrow is exclusive). Always `Ok`.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        Ok(self.inner.get_mut(rt::RwLock::get_mut, |v| v))
    }

    /// Always `false`: poisoning is never reported (a panic on a model thread already ends the
    /// execution as a failure; see [`crate::sync`]).
    pub fn is_poisoned(&self) -> bool {
        false
    }

    /// Does nothing: the lock is never poisoned.
    pub fn clear_poison(&self) {}
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    /// A new reader-writer lock holding `value` (as [`RwLock::new`]).
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for RwLock<T> {
    /// As std's: the value if no writer holds the lock (a `try_read`, which the checkers see),
    /// `<locked>` otherwise.
    #[track_caller]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &false).finish_non_exhaustive()
    }
}

/// `std::sync::RwLockReadGuard`: holds an [`RwLock`] for reading until dropped.
pub struct RwLockReadGuard<'a, T> {
    inner: rt::ReadGuard<'a, T, Dynamic>,
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

/// `std::sync::RwLockWriteGuard`: holds an [`RwLock`] for writing until dropped.
pub struct RwLockWriteGuard<'a, T> {
    inner: rt::WriteGuard<'a, T, Dynamic>,
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

/// `Debug` and `Display` of a guard show the value it guards, as std's do.
macro_rules! guard_fmt {
    ($($guard:ident),*) => {$(
        impl<T: std::fmt::Debug> std::fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: std::fmt::Display> std::fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}

guard_fmt!(RwLockReadGuard, RwLockWriteGuard);

impl<T> RwLock<T> {
    /// Names the lock `name` in traces (`RwLock::new(v).named("cache")`), instead of after
    /// where it was made (`rwlock@src/cache.rs:12`): conclab's one addition to std's API.
    pub const fn named(mut self, name: &'static str) -> Self {
        self.inner.name(name);
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::atomic::{AtomicU32, AtomicUsize as StdAtomicUsize};

    use super::RwLock;
    use crate::report::{Coverage, Kind, Report, Verdict};
    use crate::runner::{self, Checker};
    use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use crate::sync::Arc;
    use crate::thread;

    fn check(body: fn(), checker: Checker) -> Report {
        check_within(body, checker, 1_000)
    }

    fn check_within(body: fn(), checker: Checker, iterations: usize) -> Report {
        runner::check_in_process("rwlock-model", body, checker, Some(iterations))
    }

    fn named(name: &str, f: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
        thread::Builder::new().name(name.to_string()).spawn(f).unwrap()
    }

    /// The line where `upgrade_under_a_read_guard` makes its lock.
    static UPGRADE_LOCK_AT: AtomicU32 = AtomicU32::new(0);

    /// A cache refresh that "upgrades" its read guard: it still holds the read side when it asks
    /// for the write side, and a writer waits for every reader, itself included.
    fn upgrade_under_a_read_guard() {
        let (cache, line) = (Arc::new(RwLock::new(0)), line!());
        UPGRADE_LOCK_AT.store(line, Relaxed);
        let c = cache.clone();
        let refresher = named("refresher", move || {
            let seen = c.read().unwrap();
            if *seen == 0 {
                *c.write().unwrap() = 1; // BUG: `seen` still holds the read side
            }
        });
        let _ = *cache.read().unwrap();
        refresher.join().unwrap();
    }

    #[test]
    fn a_read_guard_held_across_write_is_a_deadlock_that_names_the_lock_and_the_thread() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(upgrade_under_a_read_guard, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
            let lock = format!("rwlock@{}:{}", file!(), UPGRADE_LOCK_AT.load(Relaxed));
            let message = r.message.clone().unwrap_or_default();
            assert!(
                message.contains(&format!(
                    "refresher waits to write lock {lock}, which refresher itself already holds for reading"
                )),
                "{message}\n{}",
                r.render()
            );
        }
    }

    /// A thread that reads under its own write guard.
    fn read_under_a_write_guard() {
        let t = named("writer", || {
            let table = RwLock::new(0);
            let mut w = table.write().unwrap();
            *w += *table.read().unwrap(); // BUG: the write side is still held
        });
        t.join().unwrap();
    }

    #[test]
    fn a_read_under_the_threads_own_write_guard_is_a_deadlock() {
        let r = check(read_under_a_write_guard, Checker::ShuttleRandom);
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
        let message = r.message.clone().unwrap_or_default();
        assert!(message.contains("writer waits to read lock rwlock@src/sync/rwlock.rs:"), "{message}");
        assert!(message.contains("which writer itself already holds for writing"), "{message}");
    }

    /// A thread that reads a lock it already reads: fine on parking_lot until a writer queues
    /// between the two reads, a deadlock on shuttle, broken state on loom; refused everywhere.
    fn read_under_a_read_guard() {
        let t = named("reader", || {
            let table = RwLock::new(1);
            let first = table.read().unwrap();
            let second = table.read().unwrap(); // BUG: a writer queued meanwhile would wait for `first`
            assert_eq!(*first, *second);
        });
        t.join().unwrap();
    }

    #[test]
    fn a_second_read_by_the_same_thread_is_the_same_deadlock_on_every_engine() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(read_under_a_read_guard, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
            let message = r.message.clone().unwrap_or_default();
            assert!(message.contains("reader waits to read lock rwlock@src/sync/rwlock.rs:"), "{message}");
            assert!(message.contains("a second read is not reentrant either"), "{message}");
        }
    }

    /// Two threads take the write sides of two locks in opposite orders.
    fn opposite_orders() {
        let (left, right) = (Arc::new(RwLock::new(0)), Arc::new(RwLock::new(0)));
        let (l, r) = (left.clone(), right.clone());
        let a = named("a", move || {
            let _l = l.write().unwrap();
            *r.write().unwrap() += 1;
        });
        let (l, r) = (left.clone(), right.clone());
        let b = named("b", move || {
            let _r = r.write().unwrap();
            *l.write().unwrap() += 1;
        });
        a.join().unwrap();
        b.join().unwrap();
    }

    #[test]
    fn two_write_sides_taken_in_opposite_orders_deadlock_and_the_cycle_names_the_holders() {
        for checker in [Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(opposite_orders, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
            // Each lock's name, from the step where its thread took it first.
            let first = |thread: &str| {
                r.trace.iter().find(|s| s.thread == thread && s.op == "write lock").map(|s| s.object.clone())
            };
            let (left, right) = (first("a").expect("a took left"), first("b").expect("b took right"));
            assert_ne!(left, right);
            let cycle: Vec<(&str, &str, &str, Option<&str>)> = r
                .blocked
                .iter()
                .filter(|b| b.thread == "a" || b.thread == "b")
                .map(|b| (b.thread.as_str(), b.op.as_str(), b.object.as_str(), b.held_by.as_deref()))
                .collect();
            assert_eq!(
                cycle,
                [("a", "write lock", right.as_str(), Some("b")), ("b", "write lock", left.as_str(), Some("a"))],
                "{}",
                r.render()
            );
            // The HTML page's lock bars: each thread holds its first lock to the end.
            let held: Vec<(String, String, Option<usize>)> =
                crate::html::holdings(&r).into_iter().map(|h| (h.thread, h.object, h.end)).collect();
            assert_eq!(held, [("a".into(), left.clone(), None), ("b".into(), right.clone(), None)], "{held:?}");
        }
    }

    /// Readers inside `readers_and_a_writer`'s read sections now, and the most at once over a
    /// check: bookkeeping beside the model (plain atomics, no scheduling points; the checkers run
    /// one model thread at a time).
    static INSIDE: StdAtomicUsize = StdAtomicUsize::new(0);
    static PEAK_READERS: StdAtomicUsize = StdAtomicUsize::new(0);

    /// Two readers and a writer over a pair the writer keeps equal: every reader sees it equal.
    fn readers_and_a_writer() {
        // No reader is inside as an execution begins (loom may have abandoned one mid-section).
        INSIDE.store(0, Relaxed);
        let pair = Arc::new(RwLock::new((0, 0)));
        let served = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..2)
            .map(|i| {
                let (pair, served) = (pair.clone(), served.clone());
                named(&format!("reader-{i}"), move || {
                    let p = pair.read().unwrap();
                    PEAK_READERS.fetch_max(INSIDE.fetch_add(1, Relaxed) + 1, Relaxed);
                    // A scheduling point inside the read section: the other reader may come in.
                    served.fetch_add(1, SeqCst);
                    let seen = *p;
                    INSIDE.fetch_sub(1, Relaxed);
                    drop(p);
                    assert_eq!(seen.0, seen.1, "a reader saw the pair half-written");
                })
            })
            .collect();
        let p = pair.clone();
        let writer = named("writer", move || {
            let mut w = p.write().unwrap();
            w.0 += 1;
            w.1 += 1;
        });
        for t in readers {
            t.join().unwrap();
        }
        writer.join().unwrap();
        assert_eq!(served.load(SeqCst), 2);
        let pair = Arc::try_unwrap(pair).expect("every thread is done");
        assert_eq!(pair.into_inner().unwrap(), (1, 1));
    }

    #[test]
    fn readers_and_a_writer_keep_the_invariant_on_loom_and_shuttle() {
        PEAK_READERS.store(0, Relaxed);
        let r = check_within(readers_and_a_writer, Checker::Loom, 10_000);
        assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
        // Readers share the lock: in some execution both were inside at once.
        assert_eq!(PEAK_READERS.load(Relaxed), 2);
        for checker in [Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(readers_and_a_writer, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        }
    }

    /// Two buyers check under the read side that a seat is left, then take it under a separate
    /// write side: both can pass the check before either takes the seat.
    fn check_then_act() {
        let seats = Arc::new(RwLock::new(1usize));
        let buyers: Vec<_> = (0..2)
            .map(|i| {
                let seats = seats.clone();
                named(&format!("buyer-{i}"), move || {
                    let free = *seats.read().unwrap() > 0;
                    if free {
                        let mut left = seats.write().unwrap();
                        let a_seat_is_left = *left > 0;
                        assert!(a_seat_is_left);
                        *left -= 1;
                    }
                })
            })
            .collect();
        for t in buyers {
            t.join().unwrap();
        }
    }

    /// The same with the check and the act under one write side.
    fn check_and_act_under_one_write() {
        let seats = Arc::new(RwLock::new(1usize));
        let buyers: Vec<_> = (0..2)
            .map(|i| {
                let seats = seats.clone();
                named(&format!("buyer-{i}"), move || {
                    let mut left = seats.write().unwrap();
                    if *left > 0 {
                        *left -= 1;
                    }
                })
            })
            .collect();
        for t in buyers {
            t.join().unwrap();
        }
    }

    #[test]
    fn a_check_under_read_then_an_act_under_write_is_a_race_loom_finds() {
        let r = check(check_then_act, Checker::Loom);
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
        assert!(r.message.as_deref().unwrap_or("").contains("assertion failed: a_seat_is_left"), "{}", r.render());
        let r = check(check_and_act_under_one_write, Checker::Loom);
        assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
    }
}
