//! `std::sync` as a model checker sees it: the same names and signatures, compiled once, run
//! under whichever engine the running check uses (loom, shuttle or real threads; see
//! [`crate::rt::dynamic`]). Port std code by changing `use` lines, as tokio's loom facade does:
//!
//! ```ignore
//! #[cfg(test)]
//! use conclab::sync;
//! #[cfg(not(test))]
//! use std::sync;
//! ```
//!
//! Here: [`Arc`] and [`Weak`] (std's own), [`Mutex`] (`get_mut`, `into_inner`), [`RwLock`],
//! [`Condvar`] (`wait_timeout` and `wait_timeout_while` modelled as "may time out"),
//! [`Barrier`], [`Once`], [`OnceLock`], [`LazyLock`], [`mpsc`] (`recv_timeout` "may time out"
//! too) and [`atomic`] (every integer width, `AtomicBool`, `AtomicPtr`, `into_inner`,
//! `get_mut`, `fence`), with `Default`, `From<T>` and `Debug` where std has them; threads,
//! scopes, `is_finished`, parking and `thread_local!` in [`crate::thread`]. Poisoning is never
//! reported: a panic on a model thread already ends the execution as a failure.
//!
//! Every `new` that is `const` in std is `const` here, so statics port as they are: an object
//! binds to the running check's engine at its first use, and a static (or an object the model
//! captured) starts from its initial value in every execution ([`crate::rt::bind`]). Outside
//! any check the types behave as std's.
//!
//! # What each engine cannot model
//!
//! A limit either fails the check with a message that names it or is listed in the report's
//! "not covered"; it never passes silently.
//!
//! - **loom**: at most 4 threads besides `main` in one execution (`loom::MAX_THREADS` = 5; a
//!   5th spawn fails the check with "engine limit: loom models at most 4 threads besides main"
//!   — check such a model with shuttle). Livelocks of threads that yield and retry are not
//!   found (loom deprioritises a yielding thread). An atomic's `get_mut` panics, naming the
//!   limit (loom lends the value only through a closure). SeqCst loads and stores: see
//!   [`crate::rt::SeqCstModel`]. loom has no `thread::scope` and no `Barrier` of its own; the
//!   facade builds both from what loom has. Each atomic counts as made when the execution began
//!   ([`crate::rt::LoomAtomic`]): a read racing with an atomic's making, published through a raw
//!   pointer, reads its initial value.
//! - **shuttle**: every atomic access is sequentially consistent: no weak-memory bug (a stale
//!   read, a missing fence) can show, and its reports say so. It samples schedules: a pass is
//!   not a proof.
//! - **both**: no clock. `thread::sleep` and `park_timeout` are scheduling points, and a timed
//!   wait ([`Condvar::wait_timeout`]) never blocks: the checker chooses how much happens before
//!   its time is up (see [`Condvar`]).
//! - **real threads** (`stress`): a run shows only the interleavings the OS happened to pick.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

pub use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult, Weak};

use std::panic::Location;

use crate::rt::bind::Bind;
use crate::rt::{self, Dynamic, RawAtomic, RawAtomicInt};

/// `std::sync::Mutex`, checked. `new` is `const`, as std's: a `static` mutex starts from its
/// initial value in every execution of a check (see [`crate::sync`]).
pub struct Mutex<T> {
    inner: Bind<T, rt::Mutex<T, Dynamic>>,
}

impl<T> Mutex<T> {
    /// A new mutex. It binds to the engine of the running check when first used.
    #[track_caller]
    pub const fn new(value: T) -> Self {
        Mutex { inner: Bind::new(value, Location::caller()) }
    }

    /// The running execution's mutex.
    #[inline]
    fn raw(&self) -> &rt::Mutex<T, Dynamic> {
        self.inner.get(rt::Mutex::at)
    }

    /// Blocks until the lock is held. Always `Ok`: see the module docs on poisoning.
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        Ok(MutexGuard { inner: self.raw().lock() })
    }

    /// Takes the lock if it is free.
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        self.raw().try_lock().map(|inner| MutexGuard { inner }).ok_or(TryLockError::WouldBlock)
    }

    /// Consumes the mutex, returning its value.
    pub fn into_inner(self) -> LockResult<T> {
        Ok(self.inner.into_inner(rt::Mutex::into_inner))
    }

    /// The value, borrowed mutably: no lock is taken (the borrow is exclusive). Always `Ok`.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        Ok(self.inner.get_mut(rt::Mutex::get_mut, |v| v))
    }

    /// Always `false`: poisoning is never reported (a panic on a model thread already ends the
    /// execution as a failure; see [`crate::sync`]).
    pub fn is_poisoned(&self) -> bool {
        false
    }

    /// Does nothing: the mutex is never poisoned.
    pub fn clear_poison(&self) {}
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    /// A new mutex holding `value` (as [`Mutex::new`]).
    #[track_caller]
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Mutex<T> {
    /// As std's: the value if the lock is free (a `try_lock`, which the checkers see),
    /// `<locked>` if it is held.
    #[track_caller]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &false).finish_non_exhaustive()
    }
}

/// `std::sync::MutexGuard`: holds a [`Mutex`] until dropped.
pub struct MutexGuard<'a, T> {
    inner: rt::MutexGuard<'a, T, Dynamic>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T: std::fmt::Display> std::fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&**self, f)
    }
}

/// `std::sync::Condvar`, checked. Wakeups may be spurious, as std's may.
///
/// [`Condvar::wait_timeout`] is modelled as "may time out": on real threads it is a real timed
/// wait; under loom and shuttle, which have no clock, it never blocks. The thread releases the
/// lock, the checker lets the other threads run for as long as it chooses (a scheduling point it
/// explores like any other), and the thread takes the lock back. [`WaitTimeoutResult::timed_out`]
/// is then `false` when a `notify_one` or `notify_all` of this condition variable came in that
/// window, `true` otherwise. So both outcomes are explored — a notify in time, and a timeout
/// before it (or before the condition was set) — and a timed wait is never part of a deadlock,
/// as a real one is not. What is not modelled: the duration itself (a timeout may come "early",
/// as `thread::sleep` is a scheduling point, not a delay) and a timed waiter woken by a
/// `notify_one` meant for another waiter is counted notified while that waiter is woken too (a
/// spurious wakeup, which std allows).
pub struct Condvar {
    inner: Bind<(), CondvarCore>,
}

/// A [`Condvar`] in one execution.
struct CondvarCore {
    raw: rt::Condvar<Dynamic>,
    /// Notifies so far: a timed wait compares it before and after its window. The engine's own
    /// atomic, unrecorded (it is not the model's), so loom orders it against the waiter's reads.
    notifies: crate::rt::dynamic::DynAtomicUsize,
    /// Whether a timed wait ever began on it: only then do notifies count. Counting is an engine
    /// operation, and on loom one per notify made a Condvar-heavy model's search 2.5 times as
    /// long (the fixed bounded buffer: 8,719 executions, 22,080 counting every notify). Not
    /// modelled: loom and shuttle run one thread at a time, so this std flag is read in the
    /// interleaving's own order, and a timed waiter sets it before it reads the count.
    timed: std::sync::atomic::AtomicBool,
}

/// `std::sync::WaitTimeoutResult`: whether a timed wait timed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True when the wait ended because its time was up, not because of a notify.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable. It binds to the engine of the running check when first used.
    #[track_caller]
    pub const fn new() -> Self {
        Condvar { inner: Bind::plain((), Location::caller()) }
    }

    /// The running execution's condition variable.
    #[inline]
    fn core(&self) -> &CondvarCore {
        self.inner.get(|name, made, ()| CondvarCore {
            raw: rt::Condvar::at(name, made),
            notifies: RawAtomic::new_late(0),
            timed: Default::default(),
        })
    }

    /// Releases the guard's lock, sleeps until notified, and returns holding it again.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        Ok(MutexGuard { inner: self.core().raw.wait(guard.inner) })
    }

    /// Waits while `condition` holds.
    #[track_caller]
    pub fn wait_while<'a, T, F>(&self, mut guard: MutexGuard<'a, T>, mut condition: F) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Like [`Condvar::wait`], giving up after `dur`; see the type's docs for how the checkers
    /// model it ("may time out").
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let core = self.core();
        core.timed.store(true, SeqCst);
        // A read-modify-write reads the newest count (and leaves it as it is).
        let before = core.notifies.fetch_add(0, SeqCst);
        let notified = || core.notifies.fetch_add(0, SeqCst) != before;
        let (inner, timed_out) = core.raw.wait_timeout(guard.inner, dur, notified);
        Ok((MutexGuard { inner }, WaitTimeoutResult(timed_out)))
    }

    /// Waits while `condition` holds, giving up after `dur`: `timed_out()` is true only when the
    /// time was up and the condition still held, as std's.
    #[track_caller]
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let Some(left) = dur.checked_sub(start.elapsed()) else {
                return Ok((guard, WaitTimeoutResult(true)));
            };
            let (g, result) = self.wait_timeout(guard, left)?;
            guard = g;
            if result.timed_out() {
                let still = condition(&mut guard);
                return Ok((guard, WaitTimeoutResult(still)));
            }
        }
    }

    /// Wakes one waiting thread.
    #[track_caller]
    pub fn notify_one(&self) {
        self.core().count_notify();
        self.core().raw.notify_one()
    }

    /// Wakes every waiting thread.
    #[track_caller]
    pub fn notify_all(&self) {
        self.core().count_notify();
        self.core().raw.notify_all()
    }
}

impl CondvarCore {
    /// Counts a notify, for timed waits (see [`Condvar::wait_timeout`]) if one ever began.
    fn count_notify(&self) {
        if self.timed.load(SeqCst) {
            self.notifies.fetch_add(1, SeqCst);
        }
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Self {
        Condvar::new()
    }
}

impl std::fmt::Debug for Condvar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

pub mod atomic;
mod barrier;
pub mod mpsc;
mod once;
#[cfg(test)]
mod ported;
mod rwlock;
#[cfg(test)]
mod statics;

pub use barrier::{Barrier, BarrierWaitResult};
pub use once::{LazyLock, Once, OnceLock, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

impl<T> Mutex<T> {
    /// Names the mutex `name` in traces (`Mutex::new(v).named("ledger")`), instead of after
    /// where it was made (`mutex@src/bank.rs:12`): conclab's one addition to std's API.
    pub const fn named(mut self, name: &'static str) -> Self {
        self.inner.name(name);
        self
    }
}

impl Condvar {
    /// Names the condition variable `name` in traces (`Condvar::new().named("not_empty")`).
    pub const fn named(mut self, name: &'static str) -> Self {
        self.inner.name(name);
        self
    }
}

/// One compilation of a std-shaped model, checked by every engine from one test binary.
#[cfg(test)]
mod tests {
    use super::atomic::{AtomicUsize, Ordering::SeqCst};
    use super::{Arc, Condvar, Mutex};
    use crate::report::{Coverage, Kind, Report, Verdict};
    use crate::runner::{self, Checker};
    use crate::thread;

    /// Two threads increment a counter by a load and a store: an increment can be lost.
    fn lost_update() {
        let count = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let count = count.clone();
                thread::spawn(move || {
                    let v = count.load(SeqCst);
                    count.store(v + 1, SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(count.load(SeqCst), 2, "an increment was lost");
    }

    /// The same with `fetch_add`, and a mutex-protected log beside it.
    fn counted() {
        let count = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (count, log) = (count.clone(), log.clone());
                thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || {
                        count.fetch_add(1, SeqCst);
                        log.lock().unwrap().push(i);
                    })
                    .unwrap()
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(count.load(SeqCst), 2);
        assert_eq!(log.lock().unwrap().len(), 2);
    }

    /// The line where `missing_notify` makes its mutex and condition variable.
    static MADE_AT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    /// A hand-off that waits on a condition variable for a flag nobody signals.
    fn missing_notify() {
        let (pair, line) = (Arc::new((Mutex::new(false), Condvar::new())), line!());
        MADE_AT.store(line, std::sync::atomic::Ordering::Relaxed);
        let p2 = pair.clone();
        let t = thread::spawn(move || {
            *p2.0.lock().unwrap() = true; // BUG: no notify_one
        });
        let (flag, ready) = &*pair;
        let guard = ready.wait_while(flag.lock().unwrap(), |set| !*set).unwrap();
        drop(guard);
        t.join().unwrap();
    }

    /// The hand-off with its notify.
    fn handoff() {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let t = thread::spawn(move || {
            *p2.0.lock().unwrap() = true;
            p2.1.notify_one();
        });
        let (flag, ready) = &*pair;
        drop(ready.wait_while(flag.lock().unwrap(), |set| !*set).unwrap());
        t.join().unwrap();
    }

    /// Publication through Relaxed accesses, ordered by a Release and an Acquire fence.
    fn fenced_publication() {
        publication(true)
    }

    /// The same without the fences: the reader may see the flag and stale data (weak memory).
    fn unfenced_publication() {
        publication(false)
    }

    fn publication(fences: bool) {
        use super::atomic::{fence, AtomicI64, Ordering::*};
        let (data, flag) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)));
        let (d, f) = (data.clone(), flag.clone());
        let writer = thread::spawn(move || {
            d.store(-7, Relaxed);
            if fences {
                fence(Release);
            }
            f.store(1, Relaxed);
        });
        if flag.load(Relaxed) == 1 {
            if fences {
                fence(Acquire);
            }
            assert_eq!(data.load(Relaxed), -7, "the flag was up before the data");
        }
        writer.join().unwrap();
    }

    /// Three widths (signed and unsigned) and three read-modify-writes: two threads race, the
    /// outcome is the same every time.
    fn widths() {
        use super::atomic::{AtomicI8, AtomicU16, AtomicU8, Ordering::*};
        let (low, bits, small) =
            (Arc::new(AtomicI8::new(0)), Arc::new(AtomicU16::new(0)), Arc::new(AtomicU8::new(250)));
        let handles: Vec<_> = [-5i8, 3]
            .into_iter()
            .map(|v| {
                let (low, bits, small) = (low.clone(), bits.clone(), small.clone());
                thread::spawn(move || {
                    low.fetch_min(v, AcqRel);
                    bits.fetch_or(1 << (v.unsigned_abs() % 8), AcqRel);
                    small.fetch_add(4, AcqRel); // wraps past 255
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!((low.load(SeqCst), bits.load(SeqCst), small.load(SeqCst)), (-5, 0b10_1000, 2));
    }

    fn check(body: fn(), checker: Checker) -> Report {
        runner::check_in_process("std-model", body, checker, Some(2_000))
    }

    /// What a user's `#[derive(Default, Debug)]` holds: every std type with those impls.
    #[derive(Default, Debug)]
    struct Stats {
        hits: Mutex<u32>,
        names: super::RwLock<Vec<&'static str>>,
        changed: Condvar,
        config: super::OnceLock<u32>,
        table: super::LazyLock<Vec<u8>>,
        up: super::atomic::AtomicBool,
    }

    /// Two threads count a hit each in a derived `Stats`; `racy` reads the count under one lock
    /// and writes it under another.
    fn derived_stats(racy: bool) {
        let stats = Arc::new(Stats::default());
        let handles: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let stats = stats.clone();
                thread::spawn(move || {
                    if racy {
                        let seen = *stats.hits.lock().unwrap();
                        *stats.hits.lock().unwrap() = seen + 1; // BUG: the other may have counted
                    } else {
                        *stats.hits.lock().unwrap() += 1;
                    }
                    stats.names.write().unwrap().push(name);
                    stats.changed.notify_all();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*stats.hits.lock().unwrap(), 2, "a hit was lost");
        let stats = Arc::try_unwrap(stats).expect("the threads are done");
        let (hits, names) = (Mutex::from(2u32), super::RwLock::from(vec!["a"]));
        let text = format!("{stats:?} {hits:?} {names:?}");
        for part in [
            "hits: Mutex { data: 2, poisoned: false, .. }",
            "changed: Condvar { .. }",
            "config: OnceLock(<uninit>)",
            "table: LazyLock(<uninit>)",
            "RwLock { data: [\"a\"], poisoned: false, .. }",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert!(!stats.up.load(SeqCst) && stats.config.get().is_none() && stats.table.is_empty());
        let guard = hits.lock().unwrap();
        assert_eq!(format!("{hits:?} {guard:?} {guard}"), "Mutex { data: <locked>, poisoned: false, .. } 2 2");
        drop(guard);
        assert!(format!("{:?}", super::Barrier::new(2)).starts_with("Barrier"));
    }

    #[test]
    fn a_derived_default_debug_struct_of_locks_compiles_and_is_checked() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(|| derived_stats(true), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("a hit was lost"), "{}", r.render());
            let r = check(|| derived_stats(false), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
    }

    #[test]
    fn one_compilation_is_checked_by_loom_shuttle_and_real_threads() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(lost_update, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("an increment was lost"), "{}", r.render());
            let r = check(counted, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        assert_eq!(check(counted, Checker::Loom).coverage, Coverage::Exhaustive);
        // The same compiled functions on real OS threads.
        let r = check(counted, Checker::Stress);
        assert_eq!((r.verdict, r.executions), (Verdict::Passed, 2_000), "{}", r.render());
        let r = check(lost_update, Checker::Stress);
        assert_eq!(r.stress.as_ref().map(|s| s.runs), Some(2_000), "{}", r.render());
    }

    #[test]
    fn a_missing_notify_is_a_deadlock_and_the_hand_off_passes() {
        for checker in [Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(missing_notify, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
            // Unnamed objects are named after where the model made them, not after this facade.
            let text = r.render();
            let made_at = MADE_AT.load(std::sync::atomic::Ordering::Relaxed);
            assert!(text.contains(&format!("condvar@{}:{made_at} wait", file!())), "{text}");
            assert_eq!(check(handoff, checker).verdict, Verdict::Passed);
        }
        assert_eq!(check(handoff, Checker::Loom).coverage, Coverage::Exhaustive);
    }

    #[test]
    fn fences_and_every_atomic_width_under_loom() {
        let r = check(unfenced_publication, Checker::Loom);
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
        for body in [fenced_publication as fn(), widths] {
            let r = check(body, Checker::Loom);
            assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        // shuttle runs every atomic as SeqCst: the weak-memory bug is not there, and it says so.
        let r = check(unfenced_publication, Checker::ShuttleRandom);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        assert!(r.not_covered.contains(&crate::report::BlindSpot::WeakMemory));
    }

    /// A reply slot a worker fills, and the condition variable it notifies.
    type Reply = Arc<(Mutex<Option<u32>>, Condvar)>;

    /// Starts a worker that puts 7 in the slot and notifies.
    fn worker(pair: &Reply) -> thread::JoinHandle<()> {
        let p = pair.clone();
        thread::spawn(move || {
            *p.0.lock().unwrap() = Some(7);
            p.1.notify_one();
        })
    }

    const PATIENCE: std::time::Duration = std::time::Duration::from_millis(200);

    /// Waits for the reply once, with a timeout, and takes it as there: a timeout before the
    /// worker answered is not looked at.
    fn reply_assumed_after_a_timed_wait() {
        let pair: Reply = Arc::new((Mutex::new(None), Condvar::new()));
        let t = worker(&pair);
        let (slot, answered) = &*pair;
        let mut reply = slot.lock().unwrap();
        if reply.is_none() {
            reply = answered.wait_timeout(reply, PATIENCE).unwrap().0; // BUG: may have timed out
        }
        assert_eq!(*reply, Some(7), "the reply was taken as there after a wait that timed out");
        drop(reply);
        t.join().unwrap();
    }

    /// How often `timed_wait_outcomes` saw each outcome over a check: (timed out, notified).
    static OUTCOMES: [std::sync::atomic::AtomicUsize; 2] =
        [std::sync::atomic::AtomicUsize::new(0), std::sync::atomic::AtomicUsize::new(0)];

    /// The fix: wait while there is no reply, and handle the timeout.
    fn reply_or_timeout() {
        let pair: Reply = Arc::new((Mutex::new(None), Condvar::new()));
        let t = worker(&pair);
        let (slot, answered) = &*pair;
        let (reply, result) = answered.wait_timeout_while(slot.lock().unwrap(), PATIENCE, |r| r.is_none()).unwrap();
        if result.timed_out() {
            assert_eq!(*reply, None, "timed out with the reply there");
        } else {
            assert_eq!(*reply, Some(7));
        }
        drop(reply);
        t.join().unwrap();
    }

    /// One plain timed wait, its outcome counted: notified only when the worker notified.
    fn timed_wait_outcomes() {
        let pair: Reply = Arc::new((Mutex::new(None), Condvar::new()));
        let (slot, answered) = &*pair;
        let guard = slot.lock().unwrap();
        // Spawned under the lock: the worker can notify only once this thread waits.
        let t = worker(&pair);
        let (reply, result) = answered.wait_timeout(guard, PATIENCE).unwrap();
        OUTCOMES[usize::from(!result.timed_out())].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !result.timed_out() {
            assert_eq!(*reply, Some(7), "notified before the worker answered");
        }
        drop(reply);
        t.join().unwrap();
    }

    /// A timed wait nobody notifies: it times out, on every engine, and is no deadlock.
    fn nobody_notifies() {
        let (m, cv) = (Mutex::new(()), Condvar::new());
        let idle = thread::spawn(|| ());
        let (g, result) = cv.wait_timeout(m.lock().unwrap(), std::time::Duration::from_millis(1)).unwrap();
        assert!(result.timed_out());
        drop(g);
        idle.join().unwrap();
    }

    #[test]
    fn a_timed_wait_may_time_out_and_the_checkers_explore_both_outcomes() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(reply_assumed_after_a_timed_wait, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("after a wait that timed out"), "{}", r.render());
            // The trace says the wait timed out (on shuttle the step may be cut by the minimiser).
            if checker == Checker::Loom {
                assert!(r.render().contains(" timed out "), "{}", r.render());
            }
            let r = check(reply_or_timeout, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
            let r = check(nobody_notifies, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        }
        for o in &OUTCOMES {
            o.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        let r = check(timed_wait_outcomes, Checker::Loom);
        assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
        let [timed_out, notified] = OUTCOMES.each_ref().map(|o| o.load(std::sync::atomic::Ordering::Relaxed));
        assert!(timed_out > 0 && notified > 0, "timed out {timed_out}, notified {notified}");
        // Real threads: a real timed wait.
        for body in [reply_or_timeout as fn(), nobody_notifies, timed_wait_outcomes] {
            let r = runner::check_in_process("std-model", body, Checker::Stress, Some(20));
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        }
    }

    /// A notify that touches nothing else the model shares (no lock, no atomic): only the count
    /// a timed wait reads can tell loom that its order against the wait matters. Asserting a
    /// timeout fails on the notified path only, so loom must explore it (the count is kept only
    /// once a timed wait began: `Condvar::timed` is a plain flag the engines do not see).
    fn only_a_notify_can_end_it() {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let guard = pair.0.lock().unwrap();
        let p = pair.clone();
        let notifier = thread::spawn(move || p.1.notify_one());
        let (guard, result) = pair.1.wait_timeout(guard, std::time::Duration::from_secs(1)).unwrap();
        drop(guard);
        assert!(result.timed_out(), "a notify came in time");
        notifier.join().unwrap();
    }

    #[test]
    fn loom_explores_a_notify_in_time_though_it_shares_nothing_else() {
        for checker in [Checker::Loom, Checker::ShuttleRandom] {
            let r = check(only_a_notify_can_end_it, checker);
            assert_eq!(r.kind, Some(Kind::Assertion), "{}: {}", checker.name(), r.render());
        }
    }
}
