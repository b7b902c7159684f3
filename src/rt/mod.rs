//! The engine layer under the facade: one recording layer (this file) over a small raw seam
//! ([`Backend`], [`RawAtomic`]) that each engine — real threads, loom, shuttle — implements in
//! `backends.rs`, and [`dynamic`], the implementation that picks one of them at run time. The
//! std-shaped facade users and scenarios see (`conclab::sync`, `conclab::thread`,
//! `conclab::hint`, and `conclab::lab` for lessons) is built on `Dynamic` alone.
//!
//! Every operation is recorded, with its `#[track_caller]` location, into the current
//! [`trace::Recorder`], when there is one that keeps events. A shuttle search's keeps only what
//! the checks read: spawn and join (live threads, names), notes and progress, the liveness
//! counts; every other operation then costs one thread-local flag test.

mod backends;
pub mod bind;
pub mod dynamic;
pub mod signal;

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use backends::{pool, Loom, LoomAtomic, LoomAtomicPtr, SeqCstModel, Shuttle, StdThreads};
pub use dynamic::Dynamic;

use crate::trace::{self, Hold, ObjectId, ObjectKind, Op, Target, Waited};

/// The raw seam: what one engine must provide. Kept as small as lock_api's `RawMutex`.
pub trait Backend: 'static {
    /// The engine's mutex.
    type Mutex<T>;
    /// The engine's guard for [`Backend::Mutex`].
    type Guard<'a, T: 'a>: DerefMut<Target = T>;
    /// The engine's condition variable.
    type Condvar;
    /// The engine's join handle.
    type JoinHandle<T: Send + 'static>: Send;
    /// The engine's atomic `usize`, for the facade's own model state (pending signals).
    type AtomicUsize: RawAtomicInt<Value = usize> + Send + Sync + 'static;
    /// Whether each spawned thread is an OS thread of its own (real threads), to which the
    /// recorder and the modelled process must be handed; the checkers run every model thread
    /// on the OS thread that runs the check.
    fn own_os_threads() -> bool;
    /// Whether the engine models weak memory (loom): then state the facade keeps for the model
    /// (a thread's `finished` flag) must be the engine's from the start, so that reading it
    /// synchronises as it should. Elsewhere such state may be made when first read, which
    /// leaves models that never read it exactly as they were.
    fn weak_memory() -> bool {
        false
    }
    /// A new mutex.
    fn mutex<T>(value: T) -> Self::Mutex<T>;
    /// Blocks until the mutex is held.
    fn lock<'a, T: 'a>(m: &'a Self::Mutex<T>) -> Self::Guard<'a, T>;
    /// Takes the mutex if it is free.
    fn try_lock<'a, T: 'a>(m: &'a Self::Mutex<T>) -> Option<Self::Guard<'a, T>>;
    /// Consumes the mutex, returning its value.
    fn into_inner<T>(m: Self::Mutex<T>) -> T;
    /// The mutex's value, borrowed mutably (no locking: the borrow is exclusive).
    fn get_mut<T>(m: &mut Self::Mutex<T>) -> &mut T;
    /// The engine's reader-writer lock.
    type RwLock<T>;
    /// The engine's shared (read) guard for [`Backend::RwLock`].
    type ReadGuard<'a, T: 'a>: Deref<Target = T>;
    /// The engine's exclusive (write) guard for [`Backend::RwLock`].
    type WriteGuard<'a, T: 'a>: DerefMut<Target = T>;
    /// A new reader-writer lock.
    fn rwlock<T>(value: T) -> Self::RwLock<T>;
    /// Blocks until the lock is held for reading (shared with other readers).
    fn read<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Self::ReadGuard<'a, T>;
    /// Blocks until the lock is held for writing (exclusively).
    fn write<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Self::WriteGuard<'a, T>;
    /// Takes the lock for reading if no writer holds it.
    fn try_read<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Option<Self::ReadGuard<'a, T>>;
    /// Takes the lock for writing if nobody holds it.
    fn try_write<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Option<Self::WriteGuard<'a, T>>;
    /// Consumes the reader-writer lock, returning its value.
    fn rwlock_into_inner<T>(l: Self::RwLock<T>) -> T;
    /// The reader-writer lock's value, borrowed mutably (no locking: the borrow is exclusive).
    fn rwlock_get_mut<T>(l: &mut Self::RwLock<T>) -> &mut T;
    /// A new condition variable.
    fn condvar() -> Self::Condvar;
    /// Releases the guard's mutex, sleeps until notified, re-acquires.
    fn wait<'a, T: 'a>(c: &Self::Condvar, g: Self::Guard<'a, T>) -> Self::Guard<'a, T>;
    /// [`Backend::wait`] that gives up after `dur`; `true` when it timed out. Only engines
    /// with a clock ([`Backend::own_os_threads`]) are asked: the recording layer models the
    /// checkers' timed waits itself ([`Condvar::wait_timeout`]).
    fn wait_timeout<'a, T: 'a>(c: &Self::Condvar, g: Self::Guard<'a, T>, dur: Duration) -> (Self::Guard<'a, T>, bool);
    /// Wakes one waiter (`all == false`) or every waiter.
    fn notify(c: &Self::Condvar, all: bool);
    /// Spawns a thread; `name` gives its OS name (the checkers, whose threads are not OS
    /// threads, never call it: naming is the recorder's business there).
    fn spawn<F, T>(name: impl FnOnce() -> String, f: F) -> Self::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;
    /// Waits for a thread to finish.
    fn join<T: Send + 'static>(h: Self::JoinHandle<T>) -> std::thread::Result<T>;
    /// The engine's handle to a thread (what `unpark` needs).
    type Thread: Clone + Send + Sync + 'static;
    /// The running thread's handle.
    fn current_thread() -> Self::Thread;
    /// The handle of the thread a join handle waits for.
    fn handle_thread<T: Send + 'static>(h: &Self::JoinHandle<T>) -> Self::Thread;
    /// Blocks until the thread's token is made available by an `unpark`, then takes it (at
    /// once if it is there already).
    fn park();
    /// [`Backend::park`] that gives up after `dur`; the checkers, without a clock, yield.
    fn park_timeout(dur: Duration);
    /// Makes the thread's token available, waking it if it parks.
    fn unpark(t: &Self::Thread);
    /// The most threads besides `main` one execution may spawn, if the engine has a limit
    /// (loom: `loom::MAX_THREADS - 1`).
    fn max_spawned() -> Option<usize>;
    /// Yields (the checkers deprioritise a yielding thread).
    fn yield_now();
    /// A spin-loop hint (the checkers treat it as a yield).
    fn spin_loop();
    /// A memory fence (`std::sync::atomic::fence`): loom models it, shuttle (sequentially
    /// consistent) needs none.
    fn fence(o: Ordering);
    /// This thread's index in the current execution's thread table (`main` is 0).
    fn thread_index() -> usize;
    /// Sets this thread's index; called first thing in every spawned thread.
    fn set_thread_index(index: usize);
}

/// A value an atomic holds, as the trace shows it.
pub trait TraceValue: Copy {
    /// The value as a number (`true` is 1).
    fn as_u64(self) -> u64;
}

/// An atomic integer's value: what the facade needs to record a read-modify-write's new value
/// as the engine computes it (wrapping, as std's atomics do).
pub trait IntValue: TraceValue + Ord {
    /// `self + v`, wrapping.
    fn wrapping_add(self, v: Self) -> Self;
    /// `self - v`, wrapping.
    fn wrapping_sub(self, v: Self) -> Self;
    /// `self & v`.
    fn and(self, v: Self) -> Self;
    /// `self | v`.
    fn or(self, v: Self) -> Self;
    /// `self ^ v`.
    fn xor(self, v: Self) -> Self;
    /// `!(self & v)`.
    fn nand(self, v: Self) -> Self;
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl TraceValue for $t {
            // Signed values are recorded as their two's-complement bits.
            #[allow(clippy::cast_sign_loss, clippy::cast_lossless)]
            fn as_u64(self) -> u64 {
                self as u64
            }
        }
        impl IntValue for $t {
            fn wrapping_add(self, v: Self) -> Self {
                <$t>::wrapping_add(self, v)
            }
            fn wrapping_sub(self, v: Self) -> Self {
                <$t>::wrapping_sub(self, v)
            }
            fn and(self, v: Self) -> Self {
                self & v
            }
            fn or(self, v: Self) -> Self {
                self | v
            }
            fn xor(self, v: Self) -> Self {
                self ^ v
            }
            fn nand(self, v: Self) -> Self {
                !(self & v)
            }
        }
    )*};
}

int_values!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl TraceValue for bool {
    fn as_u64(self) -> u64 {
        u64::from(self)
    }
}

impl<T> TraceValue for *mut T {
    /// A pointer is recorded as its address.
    fn as_u64(self) -> u64 {
        self as usize as u64
    }
}

/// An engine's atomic cell of one value type.
pub trait RawAtomic: Sized {
    /// The value type (`usize`, `bool`).
    type Value: TraceValue;
    /// A new atomic.
    fn new(v: Self::Value) -> Self;
    /// A new atomic, made at its first use rather than where the program made it (a facade
    /// atomic: [`bind`]); loom's comes from the execution's pool ([`LoomAtomic`]).
    fn new_late(v: Self::Value) -> Self {
        Self::new(v)
    }
    /// Atomic load.
    fn load(&self, o: Ordering) -> Self::Value;
    /// Atomic store.
    fn store(&self, v: Self::Value, o: Ordering);
    /// Atomic swap.
    fn swap(&self, v: Self::Value, o: Ordering) -> Self::Value;
    /// Atomic compare-and-exchange.
    fn compare_exchange(
        &self,
        cur: Self::Value,
        new: Self::Value,
        s: Ordering,
        f: Ordering,
    ) -> Result<Self::Value, Self::Value>;
    /// Consumes the atomic, returning its value.
    fn into_inner(self) -> Self::Value;
    /// The value, borrowed mutably; `None` when the engine cannot lend it (loom offers only
    /// `with_mut`, a closure).
    fn get_mut(&mut self) -> Option<&mut Self::Value>;
}

/// An engine's atomic integer: a [`RawAtomic`] with arithmetic read-modify-writes.
pub trait RawAtomicInt: RawAtomic<Value: IntValue> {
    /// Atomic add, returning the old value.
    fn fetch_add(&self, v: Self::Value, o: Ordering) -> Self::Value;
    /// Atomic subtract, returning the old value.
    fn fetch_sub(&self, v: Self::Value, o: Ordering) -> Self::Value;
    /// Atomic bitwise and, returning the old value.
    fn fetch_and(&self, v: Self::Value, o: Ordering) -> Self::Value;
    /// Atomic bitwise or, returning the old value.
    fn fetch_or(&self, v: Self::Value, o: Ordering) -> Self::Value;
    /// Atomic bitwise xor, returning the old value.
    fn fetch_xor(&self, v: Self::Value, o: Ordering) -> Self::Value;
    /// Atomic bitwise nand (`!(old & v)`), returning the old value.
    fn fetch_nand(&self, v: Self::Value, o: Ordering) -> Self::Value;
    /// Atomic maximum, returning the old value.
    fn fetch_max(&self, v: Self::Value, o: Ordering) -> Self::Value;
    /// Atomic minimum, returning the old value.
    fn fetch_min(&self, v: Self::Value, o: Ordering) -> Self::Value;
}

/// The start of every facade operation: on the thread that takes signals, a pending signal's
/// handler runs here first (as a kernel delivers on the way back to user code).
#[inline]
fn op_start<B: Backend>() {
    signal::deliver::<B>();
}

/// Records an event that only feeds the timeline: nothing when the recorder keeps no events.
#[inline]
fn record<B: Backend>(op: Op, object: impl Into<Target>, location: Option<&'static Location<'static>>) {
    trace::with_events(|r| r.record(B::thread_index(), op, object, location));
}

/// A mutual-exclusion lock that records `lock`/`unlock`. `lock()` returns the guard directly
/// (no poisoning), as parking_lot's does.
pub struct Mutex<T, B: Backend> {
    raw: B::Mutex<T>,
    id: ObjectId,
}

impl<T, B: Backend> Mutex<T, B> {
    /// A mutex named `name` in traces.
    #[track_caller]
    pub fn named(name: &'static str, value: T) -> Self {
        Self { raw: B::mutex(value), id: ObjectId::new(ObjectKind::Mutex, Some(name), Location::caller()) }
    }

    /// A mutex named in traces after where it was made (`mutex@scenarios/bank.rs:12`); prefer
    /// [`Mutex::named`] in scenarios.
    #[track_caller]
    pub fn new(value: T) -> Self {
        Self::at(None, Location::caller(), value)
    }

    /// A mutex named `name`, or else after `made`, where it was made.
    pub fn at(name: Option<&'static str>, made: &'static Location<'static>, value: T) -> Self {
        Self { raw: B::mutex(value), id: ObjectId::new(ObjectKind::Mutex, name, made) }
    }

    /// Names the mutex `name` in traces, instead of after where it was made.
    pub fn rename(&mut self, name: &'static str) {
        self.id.rename(name);
    }

    /// Blocks until the lock is held; the guard releases it when dropped.
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T, B> {
        op_start::<B>();
        let loc = Location::caller();
        let id = self.id;
        // Without events a second lock by its holder is left to the engine, which reports the
        // deadlock too; the replay that records the failing execution names it as below.
        let me = trace::with_events(|r| {
            let me = B::thread_index();
            let reentered = r.step(|now| {
                now.set_pending(me, "lock", Waited::Object(id), loc);
                now.holds(id, me)
            });
            if reentered {
                // Waiting for yourself never ends; every engine would hang or abort here.
                let who = r.thread_name(me);
                panic!(
                    "deadlock: {who} waits to lock {name}, which {who} itself already holds \
                     (the lock is not reentrant: a signal handler or a nested call took it again)",
                    name = r.object_name(id)
                );
            }
            me
        });
        let g = B::lock(&self.raw);
        if let Some(me) = me {
            trace::with_events(|r| {
                r.step(|now| {
                    now.unblocked(me, Some(id));
                    now.record(me, Op::Lock, id, Some(loc));
                })
            });
        }
        MutexGuard { inner: Some(g), mutex: &self.raw, id, thread: me.unwrap_or(0), _b: PhantomData }
    }

    /// Takes the lock if it is free, without blocking.
    #[track_caller]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T, B>> {
        op_start::<B>();
        let loc = Location::caller();
        let g = B::try_lock(&self.raw);
        let me = trace::with_events(|r| {
            let me = B::thread_index();
            r.step(|now| {
                if g.is_some() {
                    now.unblocked(me, Some(self.id));
                }
                now.record(me, Op::TryLock(g.is_some()), self.id, Some(loc));
            });
            me
        });
        g.map(|g| MutexGuard {
            inner: Some(g),
            mutex: &self.raw,
            id: self.id,
            thread: me.unwrap_or(0),
            _b: PhantomData,
        })
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        B::into_inner(self.raw)
    }

    /// The value, borrowed mutably: no lock is taken, the borrow is exclusive.
    pub fn get_mut(&mut self) -> &mut T {
        B::get_mut(&mut self.raw)
    }
}

/// Holds a [`Mutex`]; releases it (recording `unlock`) when dropped.
pub struct MutexGuard<'a, T: 'a, B: Backend> {
    inner: Option<B::Guard<'a, T>>,
    /// The mutex, for a timed wait that takes it again itself ([`Condvar::wait_timeout`]).
    mutex: &'a B::Mutex<T>,
    /// The mutex's identity (names need not be unique).
    id: ObjectId,
    thread: usize,
    _b: PhantomData<B>,
}

impl<T, B: Backend> Deref for MutexGuard<'_, T, B> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_deref().expect("guard is live")
    }
}

impl<T, B: Backend> DerefMut for MutexGuard<'_, T, B> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner.as_deref_mut().expect("guard is live")
    }
}

impl<T, B: Backend> Drop for MutexGuard<'_, T, B> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            trace::with_events(|r| {
                r.step(|now| {
                    now.released(self.id, self.thread);
                    now.record(self.thread, Op::Unlock, self.id, None);
                })
            });
        }
    }
}

/// A reader-writer lock that records `read lock`/`read unlock` and `write lock`/`write unlock`.
/// `read()` and `write()` return the guard directly (no poisoning), as parking_lot's do. Any
/// number of readers may hold it at once, a writer alone. A thread that holds it and asks for
/// the write side, or holds the write side and asks again, deadlocks at once (with a recorder
/// that keeps events; the engines report it too).
pub struct RwLock<T, B: Backend> {
    raw: B::RwLock<T>,
    id: ObjectId,
}

impl<T, B: Backend> RwLock<T, B> {
    /// A reader-writer lock named `name` in traces.
    #[track_caller]
    pub fn named(name: &'static str, value: T) -> Self {
        Self { raw: B::rwlock(value), id: ObjectId::new(ObjectKind::RwLock, Some(name), Location::caller()) }
    }

    /// A reader-writer lock named in traces after where it was made
    /// (`rwlock@scenarios/cache.rs:12`); prefer [`RwLock::named`] in scenarios.
    #[track_caller]
    pub fn new(value: T) -> Self {
        Self::at(None, Location::caller(), value)
    }

    /// A reader-writer lock named `name`, or else after `made`, where it was made.
    pub fn at(name: Option<&'static str>, made: &'static Location<'static>, value: T) -> Self {
        Self { raw: B::rwlock(value), id: ObjectId::new(ObjectKind::RwLock, name, made) }
    }

    /// Names the lock `name` in traces, instead of after where it was made.
    pub fn rename(&mut self, name: &'static str) {
        self.id.rename(name);
    }

    /// Blocks until the lock is held for reading; the guard releases it when dropped.
    #[track_caller]
    pub fn read(&self) -> ReadGuard<'_, T, B> {
        op_start::<B>();
        let loc = Location::caller();
        let me = self.about_to_wait(Hold::Shared, loc);
        let g = B::read(&self.raw);
        if let Some(me) = me {
            trace::with_events(|r| {
                r.step(|now| {
                    now.unblocked_reading(me, self.id);
                    now.record(me, Op::ReadLock, self.id, Some(loc));
                })
            });
        }
        ReadGuard { inner: Some(g), id: self.id, thread: me.unwrap_or(0), _b: PhantomData }
    }

    /// Blocks until the lock is held for writing, by this thread alone; the guard releases it
    /// when dropped.
    #[track_caller]
    pub fn write(&self) -> WriteGuard<'_, T, B> {
        op_start::<B>();
        let loc = Location::caller();
        let me = self.about_to_wait(Hold::Exclusive, loc);
        let g = B::write(&self.raw);
        if let Some(me) = me {
            trace::with_events(|r| {
                r.step(|now| {
                    now.unblocked(me, Some(self.id));
                    now.record(me, Op::WriteLock, self.id, Some(loc));
                })
            });
        }
        WriteGuard { inner: Some(g), id: self.id, thread: me.unwrap_or(0), _b: PhantomData }
    }

    /// Records that this thread may block taking the lock (`want`: for reading or writing) and
    /// fails at once when it waits for itself: it already holds the lock, for reading or for
    /// writing. Returns this thread's index when the recorder keeps events.
    #[track_caller]
    fn about_to_wait(&self, want: Hold, loc: &'static Location<'static>) -> Option<usize> {
        let id = self.id;
        let op = if want == Hold::Shared { "read lock" } else { "write lock" };
        // Without events a second lock by its holder is left to the engine, which reports the
        // deadlock too; the replay that records the failing execution names it as below.
        trace::with_events(|r| {
            let me = B::thread_index();
            let held = r.step(|now| {
                now.set_pending(me, op, Waited::Object(id), loc);
                now.hold(id, me)
            });
            // Any second hold is refused, a second read too: std says it "might panic or
            // deadlock" (it deadlocks behind a queued writer), shuttle calls it a deadlock, loom
            // breaks on it, parking_lot allows it — one answer on every engine, with the reason.
            if let Some(held) = held {
                let who = r.thread_name(me);
                let (how, why) = match (held, want) {
                    (Hold::Shared, Hold::Exclusive) => (
                        "for reading",
                        "a writer waits until every reader has left, itself included: drop the read guard first",
                    ),
                    (Hold::Shared, Hold::Shared) => (
                        "for reading",
                        "a second read is not reentrant either: it queues behind a waiting writer, which waits \
                         for the first read guard; read once, or drop the first guard",
                    ),
                    (Hold::Exclusive, _) => {
                        ("for writing", "the lock is not reentrant: a signal handler or a nested call took it again")
                    }
                };
                panic!(
                    "deadlock: {who} waits to {op} {name}, which {who} itself already holds {how} ({why})",
                    name = r.object_name(id)
                );
            }
            me
        })
    }

    /// Takes the lock for reading if no writer holds it, without blocking.
    #[track_caller]
    pub fn try_read(&self) -> Option<ReadGuard<'_, T, B>> {
        op_start::<B>();
        let loc = Location::caller();
        let g = B::try_read(&self.raw);
        let me = trace::with_events(|r| {
            let me = B::thread_index();
            r.step(|now| {
                if g.is_some() {
                    now.unblocked_reading(me, self.id);
                }
                now.record(me, Op::TryRead(g.is_some()), self.id, Some(loc));
            });
            me
        });
        g.map(|g| ReadGuard { inner: Some(g), id: self.id, thread: me.unwrap_or(0), _b: PhantomData })
    }

    /// Takes the lock for writing if nobody holds it, without blocking.
    #[track_caller]
    pub fn try_write(&self) -> Option<WriteGuard<'_, T, B>> {
        op_start::<B>();
        let loc = Location::caller();
        let g = B::try_write(&self.raw);
        let me = trace::with_events(|r| {
            let me = B::thread_index();
            r.step(|now| {
                if g.is_some() {
                    now.unblocked(me, Some(self.id));
                }
                now.record(me, Op::TryWrite(g.is_some()), self.id, Some(loc));
            });
            me
        });
        g.map(|g| WriteGuard { inner: Some(g), id: self.id, thread: me.unwrap_or(0), _b: PhantomData })
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        B::rwlock_into_inner(self.raw)
    }

    /// The value, borrowed mutably: no lock is taken, the borrow is exclusive.
    pub fn get_mut(&mut self) -> &mut T {
        B::rwlock_get_mut(&mut self.raw)
    }
}

/// Holds an [`RwLock`] for reading; releases it (recording `read unlock`) when dropped.
pub struct ReadGuard<'a, T: 'a, B: Backend> {
    inner: Option<B::ReadGuard<'a, T>>,
    /// The lock's identity.
    id: ObjectId,
    thread: usize,
    _b: PhantomData<B>,
}

impl<T, B: Backend> Deref for ReadGuard<'_, T, B> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_deref().expect("guard is live")
    }
}

impl<T, B: Backend> Drop for ReadGuard<'_, T, B> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            trace::with_events(|r| {
                r.step(|now| {
                    now.released(self.id, self.thread);
                    now.record(self.thread, Op::ReadUnlock, self.id, None);
                })
            });
        }
    }
}

/// Holds an [`RwLock`] for writing; releases it (recording `write unlock`) when dropped.
pub struct WriteGuard<'a, T: 'a, B: Backend> {
    inner: Option<B::WriteGuard<'a, T>>,
    /// The lock's identity.
    id: ObjectId,
    thread: usize,
    _b: PhantomData<B>,
}

impl<T, B: Backend> Deref for WriteGuard<'_, T, B> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_deref().expect("guard is live")
    }
}

impl<T, B: Backend> DerefMut for WriteGuard<'_, T, B> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner.as_deref_mut().expect("guard is live")
    }
}

impl<T, B: Backend> Drop for WriteGuard<'_, T, B> {
    fn drop(&mut self) {
        if self.inner.take().is_some() {
            trace::with_events(|r| {
                r.step(|now| {
                    now.released(self.id, self.thread);
                    now.record(self.thread, Op::WriteUnlock, self.id, None);
                })
            });
        }
    }
}

/// A condition variable that records `wait`, `woken` and `notify`.
pub struct Condvar<B: Backend> {
    raw: B::Condvar,
    id: ObjectId,
}

impl<B: Backend> Condvar<B> {
    /// A condition variable named `name` in traces.
    #[track_caller]
    pub fn named(name: &'static str) -> Self {
        Self { raw: B::condvar(), id: ObjectId::new(ObjectKind::Condvar, Some(name), Location::caller()) }
    }

    /// A condition variable named in traces after where it was made
    /// (`condvar@scenarios/queue.rs:30`).
    #[track_caller]
    pub fn new() -> Self {
        Self::at(None, Location::caller())
    }

    /// A condition variable named `name`, or else after `made`, where it was made.
    pub fn at(name: Option<&'static str>, made: &'static Location<'static>) -> Self {
        Self { raw: B::condvar(), id: ObjectId::new(ObjectKind::Condvar, name, made) }
    }

    /// Names the condition variable `name` in traces, instead of after where it was made.
    pub fn rename(&mut self, name: &'static str) {
        self.id.rename(name);
    }

    /// The start of every wait: takes the guard's raw lock out of it and records that the thread
    /// released the lock and waits on this condition variable. Returns the thread and the raw guard.
    fn begin_wait<'a, T>(
        &self,
        guard: &mut MutexGuard<'a, T, B>,
        loc: &'static Location<'static>,
    ) -> (usize, B::Guard<'a, T>) {
        op_start::<B>();
        let me = guard.thread;
        let raw = guard.inner.take().expect("guard is live");
        trace::with_events(|r| {
            r.step(|now| {
                now.released(guard.id, me);
                now.record(me, Op::Wait, self.id, Some(loc));
                now.set_pending(me, "wait on", Waited::Object(self.id), loc);
            })
        });
        (me, raw)
    }

    /// Releases the guard's lock and sleeps until notified; returns holding the lock again.
    /// Wakeups can be spurious: wait in a `while` loop over the condition.
    #[track_caller]
    pub fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T, B>) -> MutexGuard<'a, T, B> {
        let loc = Location::caller();
        let (me, raw) = self.begin_wait(&mut guard, loc);
        let raw = B::wait(&self.raw, raw);
        trace::with_events(|r| {
            r.step(|now| {
                now.unblocked(me, Some(guard.id));
                now.record(me, Op::Woken, self.id, Some(loc));
            })
        });
        guard.inner = Some(raw);
        guard
    }

    /// Like [`Condvar::wait`], giving up after `dur`: returns the guard, held again, and
    /// whether the wait timed out — the engine says so and `notified()`, asked once the lock is
    /// held again, says no notify came. Recorded as `wait`, then `woken` or `timed out`.
    ///
    /// On real threads it is a real timed wait. The checkers have no clock, so a timed wait
    /// cannot block there: the thread releases the lock, lets the other threads run (a
    /// scheduling point — how much happens before the time is up is the checker's choice, and
    /// it explores the choices), takes the lock back and reports a timeout. It never waits for a
    /// notify (a wait that might never end would be a deadlock no real timed wait has); whether
    /// one came meanwhile is `notified`'s to tell ([`crate::sync::Condvar`] counts them).
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T, B>,
        dur: Duration,
        notified: impl FnOnce() -> bool,
    ) -> (MutexGuard<'a, T, B>, bool) {
        let loc = Location::caller();
        let (me, raw) = self.begin_wait(&mut guard, loc);
        let (raw, timed_out) = if B::own_os_threads() {
            B::wait_timeout(&self.raw, raw, dur)
        } else {
            drop(raw);
            // The time the wait lasts: whatever the others do before this thread runs again.
            B::yield_now();
            trace::with_events(|r| r.step(|now| now.set_pending(me, "lock", Waited::Object(guard.id), loc)));
            (B::lock(guard.mutex), true)
        };
        let timed_out = timed_out && !notified();
        trace::with_events(|r| {
            r.step(|now| {
                now.unblocked(me, Some(guard.id));
                let op = if timed_out { Op::Note("timed out".into()) } else { Op::Woken };
                now.record(me, op, self.id, Some(loc));
            })
        });
        guard.inner = Some(raw);
        (guard, timed_out)
    }

    /// Wakes one waiting thread.
    #[track_caller]
    pub fn notify_one(&self) {
        op_start::<B>();
        record::<B>(Op::Notify(false), self.id, Some(Location::caller()));
        B::notify(&self.raw, false);
    }

    /// Wakes every waiting thread.
    #[track_caller]
    pub fn notify_all(&self) {
        op_start::<B>();
        record::<B>(Op::Notify(true), self.id, Some(Location::caller()));
        B::notify(&self.raw, true);
    }
}

impl<B: Backend> Default for Condvar<B> {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

/// An atomic that records each access with the value it read or wrote.
pub struct Atomic<A: RawAtomic, B: Backend> {
    raw: A,
    id: ObjectId,
    _b: PhantomData<fn() -> B>,
}

impl<A: RawAtomic, B: Backend> Atomic<A, B> {
    /// An atomic named `name` in traces.
    #[track_caller]
    pub fn named(name: &'static str, v: A::Value) -> Self {
        Self { raw: A::new(v), id: ObjectId::new(ObjectKind::Atomic, Some(name), Location::caller()), _b: PhantomData }
    }

    /// An atomic named in traces after where it was made (`atomic@scenarios/bank.rs:14`);
    /// prefer [`Atomic::named`] in scenarios.
    #[track_caller]
    pub fn new(v: A::Value) -> Self {
        Self::at(None, Location::caller(), v)
    }

    /// An atomic named `name`, or else after `made`, where it was made; made at its first use
    /// ([`RawAtomic::new_late`]).
    pub fn at(name: Option<&'static str>, made: &'static Location<'static>, v: A::Value) -> Self {
        Self { raw: A::new_late(v), id: ObjectId::new(ObjectKind::Atomic, name, made), _b: PhantomData }
    }

    /// Names the atomic `name` in traces, instead of after where it was made.
    pub fn rename(&mut self, name: &'static str) {
        self.id.rename(name);
    }

    /// Atomic load.
    #[track_caller]
    pub fn load(&self, o: Ordering) -> A::Value {
        op_start::<B>();
        backends::access_site(self.id.created());
        let v = self.raw.load(o);
        record::<B>(Op::Load(v.as_u64()), self.id, Some(Location::caller()));
        v
    }

    /// Atomic store.
    #[track_caller]
    pub fn store(&self, v: A::Value, o: Ordering) {
        op_start::<B>();
        backends::access_site(self.id.created());
        self.raw.store(v, o);
        record::<B>(Op::Store(v.as_u64()), self.id, Some(Location::caller()));
    }

    /// Atomic swap; returns the old value.
    #[track_caller]
    pub fn swap(&self, v: A::Value, o: Ordering) -> A::Value {
        op_start::<B>();
        backends::access_site(self.id.created());
        let old = self.raw.swap(v, o);
        record::<B>(Op::Swap(old.as_u64(), v.as_u64()), self.id, Some(Location::caller()));
        old
    }

    /// Atomic compare-and-exchange: `Ok(old)` when the value was `current` and is now `new`.
    #[track_caller]
    pub fn compare_exchange(
        &self,
        current: A::Value,
        new: A::Value,
        s: Ordering,
        f: Ordering,
    ) -> Result<A::Value, A::Value> {
        op_start::<B>();
        backends::access_site(self.id.created());
        let r = self.raw.compare_exchange(current, new, s, f);
        let actual = match r {
            Ok(v) | Err(v) => v,
        };
        record::<B>(Op::Cas(current.as_u64(), new.as_u64(), actual.as_u64()), self.id, Some(Location::caller()));
        r
    }

    /// Consumes the atomic, returning its value (not an access other threads can race with).
    pub fn into_inner(self) -> A::Value {
        self.raw.into_inner()
    }

    /// The value, borrowed mutably (not an access other threads can race with); `None` when
    /// the engine cannot lend it (loom).
    pub fn get_mut(&mut self) -> Option<&mut A::Value> {
        self.raw.get_mut()
    }
}

/// The recorded read-modify-writes of an atomic integer: each records its name, the old value and
/// the new one.
macro_rules! recorded_rmws {
    ($($(#[$doc:meta])* $op:ident => |$old:ident, $v:ident| $new:expr;)*) => {
        impl<A: RawAtomicInt, B: Backend> Atomic<A, B> {
            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $op(&self, $v: A::Value, o: Ordering) -> A::Value {
                    op_start::<B>();
                    backends::access_site(self.id.created());
        backends::access_site(self.id.created());
                    let $old = self.raw.$op($v, o);
                    let new = $new;
                    record::<B>(Op::Rmw(stringify!($op), $old.as_u64(), new.as_u64()), self.id, Some(Location::caller()));
                    $old
                }
            )*
        }
    };
}

recorded_rmws! {
    /// Atomic add (wrapping); returns the old value.
    fetch_add => |old, v| old.wrapping_add(v);
    /// Atomic subtract (wrapping); returns the old value.
    fetch_sub => |old, v| old.wrapping_sub(v);
    /// Atomic bitwise and; returns the old value.
    fetch_and => |old, v| old.and(v);
    /// Atomic bitwise or; returns the old value.
    fetch_or => |old, v| old.or(v);
    /// Atomic bitwise xor; returns the old value.
    fetch_xor => |old, v| old.xor(v);
    /// Atomic bitwise nand (`!(old & v)`); returns the old value.
    fetch_nand => |old, v| old.nand(v);
    /// Atomic maximum; returns the old value.
    fetch_max => |old, v| old.max(v);
    /// Atomic minimum; returns the old value.
    fetch_min => |old, v| old.min(v);
}

/// A handle to a spawned thread; `join` records the join.
pub struct JoinHandle<T: Send + 'static, B: Backend> {
    raw: B::JoinHandle<T>,
    /// The thread's column in the recorder's thread table (0 when nothing records).
    index: usize,
    /// Whether the thread's function is over, for [`JoinHandle::is_finished`].
    finished: std::sync::Arc<Finished<B>>,
}

/// Whether a thread's function is over.
struct Finished<B: Backend> {
    /// Set when it is. A std flag, no engine operation: under loom and shuttle, which run one
    /// model thread at a time and switch only at engine operations, it is read in the
    /// interleaving's own order.
    done: std::sync::atomic::AtomicBool,
    /// The engine's own atomic (unrecorded), 1 once the function is over: what a poll reads, so
    /// that the engine orders the poll against the thread's end. Made at the spawn on real
    /// threads and under loom ([`Backend::weak_memory`]: a `true` must synchronise with the
    /// thread's end); under shuttle, by the first poll (holding `done` then), so that a model
    /// that never polls has no scheduling point more, and its schedules (and replay tokens)
    /// stay as they were. Set by a swap and read by a `fetch_add(0)`, both SeqCst: they read
    /// the newest value and synchronise, and loom's SeqCst model counts no ordering for them.
    engine: std::sync::OnceLock<B::AtomicUsize>,
}

impl<B: Backend> Finished<B> {
    fn new() -> Self {
        let engine = std::sync::OnceLock::new();
        if B::own_os_threads() || B::weak_memory() {
            let _ = engine.set(<B::AtomicUsize as RawAtomic>::new(0));
        }
        Finished { done: std::sync::atomic::AtomicBool::new(false), engine }
    }

    /// The thread's function is over.
    fn set(&self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(flag) = self.engine.get() {
            flag.swap(1, Ordering::SeqCst);
        }
    }

    /// Whether it is over: an engine access (made now if nobody polled before).
    fn get(&self) -> bool {
        let flag = self.engine.get_or_init(|| RawAtomic::new(usize::from(self.done.load(Ordering::SeqCst))));
        flag.fetch_add(0, Ordering::SeqCst) != 0
    }
}

/// Sets a real thread's [`Finished`] when its function is over, returned or panicked. Under
/// loom and shuttle the thread sets it itself once its function has returned: a panic ends the
/// execution, and a closure the engine drops unrun must run no engine operation.
struct SetOnDrop<B: Backend>(std::sync::Arc<Finished<B>>);

impl<B: Backend> Drop for SetOnDrop<B> {
    fn drop(&mut self) {
        if B::own_os_threads() {
            self.0.set();
        }
    }
}

impl<T: Send + 'static, B: Backend> JoinHandle<T, B> {
    /// Waits for the thread to finish; `Err` carries its panic.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        op_start::<B>();
        let loc = Location::caller();
        trace::with_events(|r| {
            let me = B::thread_index();
            r.step(|now| now.set_pending(me, "join", Waited::Thread(self.index), loc));
        });
        let res = B::join(self.raw);
        // Recorded with or without events: the count of live threads is a property's input.
        trace::with(|r| {
            r.step(|now| {
                if now.events_on() {
                    now.unblocked(B::thread_index(), None);
                }
                now.record_by(B::thread_index, Op::Join(self.index), "", Some(loc));
            })
        });
        // Back from a blocking call: a signal that arrived meanwhile is delivered now.
        op_start::<B>();
        res
    }

    /// Whether the thread's function has returned, without waiting: a read of a flag the thread
    /// sets as its last act (a `true` synchronises with it, as a join does), so the checkers see
    /// a poll as an access racing with the thread's end and explore both answers. Recorded as `is_finished <name>: <answer>`.
    /// A `false` answer under loom and shuttle is also a yield: a loop that polls is scheduled
    /// like one that sleeps between polls, not spun blindly.
    #[track_caller]
    pub fn is_finished(&self) -> bool {
        op_start::<B>();
        let loc = Location::caller();
        let done = self.finished.get();
        trace::with_events(|r| {
            let who = r.thread_name(self.index);
            r.record(B::thread_index(), Op::Note(format!("is_finished {who}: {done}")), "", Some(loc))
        });
        if !done && !B::own_os_threads() {
            B::yield_now();
        }
        done
    }

    /// The thread this handle joins.
    pub fn thread(&self) -> Thread<B> {
        Thread { raw: B::handle_thread(&self.raw), index: self.index, name: given_name(self.index) }
    }

    /// The thread's name in the trace (`thread` when nothing records).
    pub fn name(&self) -> String {
        trace::with(|r| r.thread_name(self.index)).unwrap_or_else(|| "thread".to_string())
    }
}

/// Spawns a thread that records into the current recorder under its own column. An unnamed
/// thread is called `thread-<n>` after its column, so two of them never share one.
#[track_caller]
pub fn spawn_thread<B, F, T>(name: Option<String>, f: F) -> JoinHandle<T, B>
where
    B: Backend,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_recorded(name, Op::Spawn, f)
}

/// [`spawn_thread`], recording the spawn as `op(name)` (`fork` spawns children this way).
#[track_caller]
fn spawn_recorded<B, F, T>(name: Option<String>, op: fn(usize) -> Op, f: F) -> JoinHandle<T, B>
where
    B: Backend,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    op_start::<B>();
    let loc = Location::caller();
    let mut name = name;
    // Names stay in the recorder's table; events carry the index (no allocation per event).
    let recorded = trace::with(|r| {
        r.step(|now| {
            let i = now.register_thread(name.take());
            now.record_by(B::thread_index, op(i), "", Some(loc));
            i
        })
    });
    let index = recorded.unwrap_or(0);
    if let (Some(max), Some(i)) = (B::max_spawned(), recorded) {
        if i > max {
            engine_limit_threads(i, max);
        }
    }
    // A real thread needs the recorder and the modelled process handed over; the checkers run
    // every model thread on this OS thread, which has both already.
    let handover = B::own_os_threads().then(|| (trace::current(), signal::inherit(), bind::inherit()));
    let os_name = move || {
        name.or_else(|| recorded.and_then(|i| trace::with(|r| r.thread_name(i)))).unwrap_or_else(|| "thread".into())
    };
    let finished = std::sync::Arc::new(Finished::<B>::new());
    let flag = SetOnDrop(finished.clone());
    let raw = B::spawn(os_name, move || {
        let flag = flag;
        if let Some((rec, process, execution)) = handover {
            trace::set_current(rec);
            signal::adopt(process);
            bind::adopt(execution);
        }
        B::set_thread_index(index);
        let v = f();
        trace::with_events(|r| r.record(index, Op::Finish, "", None));
        if !B::own_os_threads() {
            flag.0.set();
        }
        drop(flag);
        v
    });
    JoinHandle { raw, index, finished }
}

/// The message of a spawn past the engine's limit on threads (loom's `MAX_THREADS`).
#[cold]
#[track_caller]
fn engine_limit_threads(index: usize, max: usize) -> ! {
    panic!(
        "engine limit: loom models at most {max} threads besides main in one execution (loom::MAX_THREADS = {}), \
         and this execution spawned thread number {index}; check it with shuttle, which has no such limit, or \
         spawn fewer threads",
        max + 1
    )
}

/// A handle to a thread of the running execution: its column in the trace, the name it was
/// given, and the engine's handle (for `unpark`).
pub struct Thread<B: Backend> {
    raw: B::Thread,
    index: usize,
    name: Option<std::sync::Arc<str>>,
}

impl<B: Backend> Clone for Thread<B> {
    fn clone(&self) -> Self {
        Thread { raw: self.raw.clone(), index: self.index, name: self.name.clone() }
    }
}

/// The name thread `index` was given (`main` for the first), if any: the recorder's table
/// names the others `thread-<n>`, which std would call unnamed.
fn given_name(index: usize) -> Option<std::sync::Arc<str>> {
    let name = trace::with(|r| r.thread_name(index))?;
    (index == 0 || name != format!("thread-{index}")).then(|| name.into())
}

impl<B: Backend> Thread<B> {
    /// The thread's column in the current execution (`main` is 0).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The name it was given (`main` for the first thread); `None` for an unnamed thread.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Makes the thread's token available, waking it if it parks; recorded as `unpark <name>`.
    #[track_caller]
    pub fn unpark(&self) {
        op_start::<B>();
        let loc = Location::caller();
        trace::with_events(|r| {
            let who = r.thread_name(self.index);
            r.record(B::thread_index(), Op::Note(format!("unpark {who}")), "", Some(loc))
        });
        B::unpark(&self.raw);
    }
}

/// The running thread.
pub fn current<B: Backend>() -> Thread<B> {
    let index = B::thread_index();
    Thread { raw: B::current_thread(), index, name: given_name(index) }
}

/// Blocks until this thread's token is available (an `unpark`), recorded as `park`. May
/// return spuriously, as std's may.
#[track_caller]
pub fn park<B: Backend>() {
    op_start::<B>();
    let loc = Location::caller();
    // Kept while it parks, so that a deadlock names the parked thread among the blocked.
    let me = trace::with_events(|r| {
        let me = B::thread_index();
        r.step(|now| {
            now.record(me, Op::Note("park".into()), "", Some(loc));
            now.set_pending(me, "park until someone unparks", Waited::Thread(me), loc);
        });
        me
    });
    B::park();
    if let Some(me) = me {
        trace::with_events(|r| r.step(|now| now.unblocked(me, None)));
    }
    // Back from a blocking call: a signal that arrived meanwhile is delivered now.
    op_start::<B>();
}

/// [`park`] giving up after `dur`; under the checkers, which have no clock, a scheduling point
/// (a spurious return, which std allows).
#[track_caller]
pub fn park_timeout<B: Backend>(dur: Duration) {
    op_start::<B>();
    record::<B>(Op::Note("park".into()), "", Some(Location::caller()));
    B::park_timeout(dur);
    op_start::<B>();
}

/// Like `std::thread::Builder`: names a thread before spawning it.
pub struct Builder<B: Backend> {
    name: Option<String>,
    _b: PhantomData<fn() -> B>,
}

impl<B: Backend> Builder<B> {
    /// A builder for an unnamed thread.
    pub fn new() -> Self {
        Self { name: None, _b: PhantomData }
    }

    /// Names the thread (the name is its column in the trace).
    pub fn name(mut self, name: String) -> Self {
        self.name = Some(name);
        self
    }

    /// Spawns the thread. Never fails on the checkers; kept `io::Result` to read like std.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T, B>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Ok(spawn_thread(self.name, f))
    }
}

impl<B: Backend> Default for Builder<B> {
    fn default() -> Self {
        Self::new()
    }
}

pub use crate::report::{INVARIANT_PREFIX, PROPERTY_PREFIX};

/// Checks the scenario's invariant: when `holds` is false, records the violation at the
/// caller's line and fails the execution with `message()`.
#[track_caller]
pub fn invariant<B: Backend>(holds: bool, message: impl FnOnce() -> String) {
    if !holds {
        let m = message();
        record::<B>(Op::Violation(m.clone()), "", Some(Location::caller()));
        panic!("{INVARIANT_PREFIX}{m}");
    }
}

/// Checks one of the scenario's "must still work" properties (`Entry::must_still_work`), named
/// `name`: what a fix must keep doing besides keeping the invariant (every seat is sold, the
/// writer writes). When `holds` is false the execution fails with `message()`, and the report
/// names the property. Like [`invariant`], it is not a scheduling point. It is checked only
/// while a recorder records (every conclab check has one): the counts properties are built on
/// ([`noted`], [`peak_threads`]) are the recorder's bookkeeping, and read 0 without it.
#[track_caller]
pub fn property<B: Backend>(name: &'static str, holds: bool, message: impl FnOnce() -> String) {
    if !holds && trace::with(|_| ()).is_some() {
        let m = message();
        record::<B>(Op::Violation(format!("{name}: {m}")), "", Some(Location::caller()));
        panic!("{PROPERTY_PREFIX}{name}: {m}");
    }
}

/// How many of the current execution's notes (and declared `progress`) start with `prefix` (for [`property`] checks:
/// "both cars got through"). Bookkeeping only: not an event, not a scheduling point.
pub fn noted(prefix: &str) -> usize {
    trace::with(|r| r.noted(prefix)).unwrap_or(0)
}

/// The most spawned threads that were alive at once (spawned and not yet joined) in the current
/// execution: 1 when the threads were run one after the other. Bookkeeping only.
pub fn peak_threads() -> usize {
    trace::with(|r| r.peak_threads()).unwrap_or(0)
}

/// Adds the scenario's own words to the trace (e.g. `sells seat 1`).
#[track_caller]
pub fn note<B: Backend>(text: impl Into<String>) {
    op_start::<B>();
    // Kept with or without events: `noted` counts notes.
    let loc = Location::caller();
    trace::with(|r| r.step(|now| now.record_by(B::thread_index, Op::Note(text.into()), "", Some(loc))));
}

/// Spin-loop hint, recorded as a yield and passed to the checker.
#[track_caller]
pub fn spin_loop<B: Backend>() {
    op_start::<B>();
    record::<B>(Op::Yield, "", Some(Location::caller()));
    B::spin_loop();
}

/// A memory fence, passed to the checker (loom models fences; shuttle and real threads run it
/// as it is).
#[track_caller]
pub fn fence<B: Backend>(o: Ordering) {
    op_start::<B>();
    B::fence(o);
}

/// Yields the processor, recorded and passed to the checker.
#[track_caller]
pub fn yield_now<B: Backend>() {
    op_start::<B>();
    record::<B>(Op::Yield, "", Some(Location::caller()));
    B::yield_now();
}

/// Declares progress: what the scenario counts as getting somewhere (e.g. `crossed`). Any
/// thread's progress restarts every thread's retry count.
#[track_caller]
pub fn progress<B: Backend>(what: &'static str) {
    op_start::<B>();
    let loc = Location::caller();
    trace::with(|r| {
        r.progress();
        r.record(B::thread_index(), Op::Progress(what), "", Some(loc));
    });
}

/// Declares a retry: this thread backs off (`what`, e.g. `steps aside`) and tries again. When two
/// or more threads have each retried `rounds` times with no progress in between, the execution
/// fails as a livelock. Yielding is the caller's business, as it is in real code.
#[track_caller]
pub fn retry<B: Backend>(what: &'static str, rounds: usize) {
    op_start::<B>();
    let loc = Location::caller();
    let livelock = trace::with(|r| {
        let me = B::thread_index();
        r.record(me, Op::Retry(what), "", Some(loc));
        r.retry(me, what, rounds)
    });
    if let Some(Some(message)) = livelock {
        panic!("{message}");
    }
}

/// Declares that this thread starts waiting in `line` (a lock, a queue) whose fairness the
/// scenario bounds. Idempotent while it waits.
#[track_caller]
pub fn arrive<B: Backend>(line: &'static str) {
    op_start::<B>();
    let loc = Location::caller();
    trace::with(|r| {
        let me = B::thread_index();
        r.arrive(line, me);
        r.record(me, Op::Arrive, line, Some(loc));
    });
}

/// Declares that this thread got in at `line`. A thread still waiting there that has now been
/// overtaken more than `max_bypass` times starved: the execution fails as starvation.
#[track_caller]
pub fn enter<B: Backend>(line: &'static str, max_bypass: usize) {
    op_start::<B>();
    let loc = Location::caller();
    let starved = trace::with(|r| {
        let me = B::thread_index();
        r.record(me, Op::Enter, line, Some(loc));
        r.enter(line, me, max_bypass)
    });
    if let Some(Some(message)) = starved {
        panic!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use crate::rt::dynamic::EngineScope;
    use crate::rt::{spawn_thread, Dynamic};
    use crate::trace::{self, Recorder};
    use crate::vocab::Engine;

    #[test]
    fn unnamed_threads_get_columns_of_their_own() {
        let rec = Recorder::new();
        let current = trace::scoped(rec.clone());
        rec.begin_execution();
        let _engine = EngineScope::enter(Engine::Stress);
        let handles: Vec<_> = (0..2).map(|_| spawn_thread::<Dynamic, _, _>(None, || ())).collect();
        let names: Vec<String> = handles.iter().map(|h| h.name().to_string()).collect();
        for h in handles {
            h.join().unwrap();
        }
        drop(current);
        assert_eq!(names, ["thread-1", "thread-2"]);
        assert_eq!(rec.snapshot().threads, ["main", "thread-1", "thread-2"]);
    }
}
