//! The three engines behind the facade's raw seam: real threads (parking_lot locks), loom and
//! shuttle. Each is a few lines of forwarding; anything cleverer belongs in `rt/mod.rs`.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Backend, RawAtomic, RawAtomicInt};

/// Real OS threads with parking_lot's mutex, reader-writer lock and condition variable.
#[derive(Debug)]
pub struct StdThreads;
/// loom's threads, locks and weak-memory atomics.
#[derive(Debug)]
pub struct Loom;
/// shuttle's threads, locks and (sequentially consistent) atomics.
#[derive(Debug)]
pub struct Shuttle;

std::thread_local! {
    static STD_INDEX: Cell<usize> = const { Cell::new(0) };
    /// The facade's index of each shuttle task, by task id (see `set_shuttle_index`).
    static SHUTTLE_INDEX: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn shuttle_index() -> usize {
    let me = usize::from(::shuttle::current::me());
    SHUTTLE_INDEX.with(|t| t.borrow().get(me).copied().unwrap_or(0))
}

fn set_shuttle_index(index: usize) {
    let me = usize::from(::shuttle::current::me());
    SHUTTLE_INDEX.with(|t| {
        let mut t = t.borrow_mut();
        if t.len() <= me {
            t.resize(me + 1, 0);
        }
        t[me] = index;
    })
}
::loom::thread_local! {
    static LOOM_INDEX: Cell<usize> = Cell::new(0);
}

impl Backend for StdThreads {
    type Mutex<T> = parking_lot::Mutex<T>;
    type Guard<'a, T: 'a> = parking_lot::MutexGuard<'a, T>;
    type Condvar = parking_lot::Condvar;
    type JoinHandle<T: Send + 'static> = std::thread::JoinHandle<T>;
    type AtomicUsize = std::sync::atomic::AtomicUsize;
    fn own_os_threads() -> bool {
        true
    }

    fn mutex<T>(value: T) -> Self::Mutex<T> {
        parking_lot::Mutex::new(value)
    }
    fn lock<'a, T: 'a>(m: &'a Self::Mutex<T>) -> Self::Guard<'a, T> {
        m.lock()
    }
    fn try_lock<'a, T: 'a>(m: &'a Self::Mutex<T>) -> Option<Self::Guard<'a, T>> {
        m.try_lock()
    }
    fn into_inner<T>(m: Self::Mutex<T>) -> T {
        m.into_inner()
    }
    fn get_mut<T>(m: &mut Self::Mutex<T>) -> &mut T {
        m.get_mut()
    }
    type RwLock<T> = parking_lot::RwLock<T>;
    type ReadGuard<'a, T: 'a> = parking_lot::RwLockReadGuard<'a, T>;
    type WriteGuard<'a, T: 'a> = parking_lot::RwLockWriteGuard<'a, T>;
    fn rwlock<T>(value: T) -> Self::RwLock<T> {
        parking_lot::RwLock::new(value)
    }
    fn read<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Self::ReadGuard<'a, T> {
        l.read()
    }
    fn write<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Self::WriteGuard<'a, T> {
        l.write()
    }
    fn try_read<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Option<Self::ReadGuard<'a, T>> {
        l.try_read()
    }
    fn try_write<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Option<Self::WriteGuard<'a, T>> {
        l.try_write()
    }
    fn rwlock_into_inner<T>(l: Self::RwLock<T>) -> T {
        l.into_inner()
    }
    fn rwlock_get_mut<T>(l: &mut Self::RwLock<T>) -> &mut T {
        l.get_mut()
    }
    fn condvar() -> Self::Condvar {
        parking_lot::Condvar::new()
    }
    fn wait<'a, T: 'a>(c: &Self::Condvar, mut g: Self::Guard<'a, T>) -> Self::Guard<'a, T> {
        c.wait(&mut g);
        g
    }
    fn wait_timeout<'a, T: 'a>(
        c: &Self::Condvar,
        mut g: Self::Guard<'a, T>,
        dur: Duration,
    ) -> (Self::Guard<'a, T>, bool) {
        let timed_out = c.wait_for(&mut g, dur).timed_out();
        (g, timed_out)
    }
    fn notify(c: &Self::Condvar, all: bool) {
        if all {
            c.notify_all();
        } else {
            c.notify_one();
        }
    }
    fn spawn<F, T>(name: impl FnOnce() -> String, f: F) -> Self::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        std::thread::Builder::new().name(name()).spawn(f).expect("the OS could not spawn a thread")
    }
    fn join<T: Send + 'static>(h: Self::JoinHandle<T>) -> std::thread::Result<T> {
        h.join()
    }
    type Thread = std::thread::Thread;
    fn current_thread() -> Self::Thread {
        std::thread::current()
    }
    fn handle_thread<T: Send + 'static>(h: &Self::JoinHandle<T>) -> Self::Thread {
        h.thread().clone()
    }
    fn park() {
        std::thread::park()
    }
    fn park_timeout(dur: Duration) {
        std::thread::park_timeout(dur)
    }
    fn unpark(t: &Self::Thread) {
        t.unpark()
    }
    fn max_spawned() -> Option<usize> {
        None
    }
    fn yield_now() {
        std::thread::yield_now()
    }
    fn spin_loop() {
        std::hint::spin_loop()
    }
    fn fence(o: Ordering) {
        std::sync::atomic::fence(o)
    }
    fn thread_index() -> usize {
        STD_INDEX.with(Cell::get)
    }
    fn set_thread_index(index: usize) {
        STD_INDEX.with(|c| c.set(index))
    }
}

/// loom and shuttle mirror std's poisoning API; a poisoned lock here only means another model
/// thread panicked, which the runner has already recorded as the failure.
macro_rules! model_backend {
    ($backend:ty, $krate:ident, $max_spawned:expr, $index:expr, $set_index:expr) => {
        impl Backend for $backend {
            type Mutex<T> = ::$krate::sync::Mutex<T>;
            type Guard<'a, T: 'a> = ::$krate::sync::MutexGuard<'a, T>;
            type Condvar = ::$krate::sync::Condvar;
            type JoinHandle<T: Send + 'static> = ::$krate::thread::JoinHandle<T>;
            type AtomicUsize = ::$krate::sync::atomic::AtomicUsize;
            fn own_os_threads() -> bool {
                false
            }
            fn weak_memory() -> bool {
                stringify!($krate) == "loom"
            }

            fn mutex<T>(value: T) -> Self::Mutex<T> {
                ::$krate::sync::Mutex::new(value)
            }
            fn lock<'a, T: 'a>(m: &'a Self::Mutex<T>) -> Self::Guard<'a, T> {
                m.lock().unwrap_or_else(|p| p.into_inner())
            }
            fn try_lock<'a, T: 'a>(m: &'a Self::Mutex<T>) -> Option<Self::Guard<'a, T>> {
                match m.try_lock() {
                    Ok(g) => Some(g),
                    Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                    Err(std::sync::TryLockError::WouldBlock) => None,
                }
            }
            fn into_inner<T>(m: Self::Mutex<T>) -> T {
                m.into_inner().unwrap_or_else(|p| p.into_inner())
            }
            fn get_mut<T>(m: &mut Self::Mutex<T>) -> &mut T {
                m.get_mut().unwrap_or_else(|p| p.into_inner())
            }
            type RwLock<T> = ::$krate::sync::RwLock<T>;
            type ReadGuard<'a, T: 'a> = ::$krate::sync::RwLockReadGuard<'a, T>;
            type WriteGuard<'a, T: 'a> = ::$krate::sync::RwLockWriteGuard<'a, T>;
            fn rwlock<T>(value: T) -> Self::RwLock<T> {
                ::$krate::sync::RwLock::new(value)
            }
            fn read<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Self::ReadGuard<'a, T> {
                l.read().unwrap_or_else(|p| p.into_inner())
            }
            fn write<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Self::WriteGuard<'a, T> {
                l.write().unwrap_or_else(|p| p.into_inner())
            }
            fn try_read<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Option<Self::ReadGuard<'a, T>> {
                match l.try_read() {
                    Ok(g) => Some(g),
                    Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                    Err(std::sync::TryLockError::WouldBlock) => None,
                }
            }
            fn try_write<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Option<Self::WriteGuard<'a, T>> {
                match l.try_write() {
                    Ok(g) => Some(g),
                    Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                    Err(std::sync::TryLockError::WouldBlock) => None,
                }
            }
            fn rwlock_into_inner<T>(l: Self::RwLock<T>) -> T {
                l.into_inner().unwrap_or_else(|p| p.into_inner())
            }
            fn rwlock_get_mut<T>(l: &mut Self::RwLock<T>) -> &mut T {
                l.get_mut().unwrap_or_else(|p| p.into_inner())
            }
            fn condvar() -> Self::Condvar {
                ::$krate::sync::Condvar::new()
            }
            fn wait<'a, T: 'a>(c: &Self::Condvar, g: Self::Guard<'a, T>) -> Self::Guard<'a, T> {
                c.wait(g).unwrap_or_else(|p| p.into_inner())
            }
            /// The engine's own: it never times out (the recording layer does not call it).
            fn wait_timeout<'a, T: 'a>(
                c: &Self::Condvar,
                g: Self::Guard<'a, T>,
                dur: Duration,
            ) -> (Self::Guard<'a, T>, bool) {
                let (g, r) = c.wait_timeout(g, dur).unwrap_or_else(|p| p.into_inner());
                (g, r.timed_out())
            }
            fn notify(c: &Self::Condvar, all: bool) {
                if all {
                    c.notify_all();
                } else {
                    c.notify_one();
                }
            }
            fn spawn<F, T>(_name: impl FnOnce() -> String, f: F) -> Self::JoinHandle<T>
            where
                F: FnOnce() -> T + Send + 'static,
                T: Send + 'static,
            {
                ::$krate::thread::spawn(f)
            }
            fn join<T: Send + 'static>(h: Self::JoinHandle<T>) -> std::thread::Result<T> {
                h.join()
            }
            type Thread = ::$krate::thread::Thread;
            fn current_thread() -> Self::Thread {
                ::$krate::thread::current()
            }
            fn handle_thread<T: Send + 'static>(h: &Self::JoinHandle<T>) -> Self::Thread {
                h.thread().clone()
            }
            fn park() {
                ::$krate::thread::park()
            }
            /// No clock: a yield (a spurious return, which std allows).
            fn park_timeout(_dur: Duration) {
                ::$krate::thread::yield_now()
            }
            fn unpark(t: &Self::Thread) {
                t.unpark()
            }
            fn max_spawned() -> Option<usize> {
                $max_spawned
            }
            fn yield_now() {
                ::$krate::thread::yield_now()
            }
            fn spin_loop() {
                ::$krate::hint::spin_loop()
            }
            fn fence(o: Ordering) {
                ::$krate::sync::atomic::fence(o)
            }
            fn thread_index() -> usize {
                $index()
            }
            fn set_thread_index(index: usize) {
                $set_index(index)
            }
        }
    };
}

model_backend!(Loom, loom, Some(::loom::MAX_THREADS - 1), || LOOM_INDEX.with(Cell::get), |i| LOOM_INDEX
    .with(|c| c.set(i)));
// shuttle numbers tasks in the order it creates them, which is not always the order the facade
// numbers threads: its spawn is a scheduling point before the task is made, so two threads that
// spawn at once can be numbered in the other order. Each task therefore notes its facade index
// under its task id when it starts (`main`, task 0, is 0); reading it is one thread-local
// lookup. Entries left by an earlier execution are overwritten before they are read: a task
// notes its own first thing, and only reads its own.
model_backend!(Shuttle, shuttle, None, shuttle_index, set_shuttle_index);

macro_rules! raw_atomics {
    ($($ty:ty: $v:ty, $lend:ident $(, $int:ident)?;)*) => {$(
        impl RawAtomic for $ty {
            type Value = $v;
            fn new(v: $v) -> Self {
                <$ty>::new(v)
            }
            fn load(&self, o: Ordering) -> $v {
                <$ty>::load(self, o)
            }
            fn store(&self, v: $v, o: Ordering) {
                <$ty>::store(self, v, o)
            }
            fn swap(&self, v: $v, o: Ordering) -> $v {
                <$ty>::swap(self, v, o)
            }
            fn compare_exchange(&self, cur: $v, new: $v, s: Ordering, f: Ordering) -> Result<$v, $v> {
                <$ty>::compare_exchange(self, cur, new, s, f)
            }
            fn into_inner(self) -> $v {
                <$ty>::into_inner(self)
            }
            raw_atomics!(@$lend $ty, $v);
        }
        $(raw_atomics!(@$int $ty, $v);)?
    )*};
    (@lend $ty:ty, $v:ty) => {
        fn get_mut(&mut self) -> Option<&mut $v> {
            Some(<$ty>::get_mut(self))
        }
    };
    // loom has no `get_mut`, only `with_mut` (a closure).
    (@no_lend $ty:ty, $v:ty) => {
        fn get_mut(&mut self) -> Option<&mut $v> {
            None
        }
    };
    (@int $ty:ty, $v:ty) => {
        impl RawAtomicInt for $ty {
            fn fetch_add(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_add(self, v, o)
            }
            fn fetch_sub(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_sub(self, v, o)
            }
            fn fetch_and(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_and(self, v, o)
            }
            fn fetch_or(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_or(self, v, o)
            }
            fn fetch_xor(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_xor(self, v, o)
            }
            fn fetch_nand(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_nand(self, v, o)
            }
            fn fetch_max(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_max(self, v, o)
            }
            fn fetch_min(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_min(self, v, o)
            }
        }
    };
}

raw_atomics! {
    std::sync::atomic::AtomicU8: u8, lend, int;
    std::sync::atomic::AtomicU16: u16, lend, int;
    std::sync::atomic::AtomicU32: u32, lend, int;
    std::sync::atomic::AtomicU64: u64, lend, int;
    std::sync::atomic::AtomicUsize: usize, lend, int;
    std::sync::atomic::AtomicI8: i8, lend, int;
    std::sync::atomic::AtomicI16: i16, lend, int;
    std::sync::atomic::AtomicI32: i32, lend, int;
    std::sync::atomic::AtomicI64: i64, lend, int;
    std::sync::atomic::AtomicIsize: isize, lend, int;
    std::sync::atomic::AtomicBool: bool, lend;
    ::loom::sync::atomic::AtomicU8: u8, no_lend, int;
    ::loom::sync::atomic::AtomicU16: u16, no_lend, int;
    ::loom::sync::atomic::AtomicU32: u32, no_lend, int;
    ::loom::sync::atomic::AtomicU64: u64, no_lend, int;
    ::loom::sync::atomic::AtomicUsize: usize, no_lend, int;
    ::loom::sync::atomic::AtomicI8: i8, no_lend, int;
    ::loom::sync::atomic::AtomicI16: i16, no_lend, int;
    ::loom::sync::atomic::AtomicI32: i32, no_lend, int;
    ::loom::sync::atomic::AtomicI64: i64, no_lend, int;
    ::loom::sync::atomic::AtomicIsize: isize, no_lend, int;
    ::loom::sync::atomic::AtomicBool: bool, no_lend;
    ::shuttle::sync::atomic::AtomicU8: u8, lend, int;
    ::shuttle::sync::atomic::AtomicU16: u16, lend, int;
    ::shuttle::sync::atomic::AtomicU32: u32, lend, int;
    ::shuttle::sync::atomic::AtomicU64: u64, lend, int;
    ::shuttle::sync::atomic::AtomicUsize: usize, lend, int;
    ::shuttle::sync::atomic::AtomicI8: i8, lend, int;
    ::shuttle::sync::atomic::AtomicI16: i16, lend, int;
    ::shuttle::sync::atomic::AtomicI32: i32, lend, int;
    ::shuttle::sync::atomic::AtomicI64: i64, lend, int;
    ::shuttle::sync::atomic::AtomicIsize: isize, lend, int;
    ::shuttle::sync::atomic::AtomicBool: bool, lend;
}

/// How loom runs the facade's `SeqCst` accesses.
///
/// loom 0.7.3 models a SeqCst load or store as Acquire/Release only (its README: false alarms,
/// loom#180): a correct all-SeqCst Peterson lock fails, and a trace may show a SeqCst load
/// reading a stale value with no interleaving at all. [`SeqCstModel::Exact`] runs every SeqCst
/// load as an Acquire read-modify-write that writes back what it read, and every SeqCst store as
/// a Release swap. loom lets a read-modify-write read only the newest value and places its write
/// last, so the SeqCst loads and stores of each atomic happen in the order of the interleaving:
/// an all-SeqCst program has exactly its SeqCst behaviours (store buffering, 2+2W, Dekker and
/// Peterson pass; random programs have exactly their interleavings' outcomes: `src/litmus.rs`)
/// and its traces read as interleavings, while Relaxed/Acquire/Release accesses keep loom's
/// full weak memory. The read-modify-writes synchronise exactly as the accesses they stand for
/// (Acquire for a load, Release for a store); what they add is only that a SeqCst load or store
/// sees the newest value. So every execution of `Exact` is one the program can have, and a
/// failure it shows is a bug. (SeqCst fences around the accesses, which loom does model, were
/// tried first: they removed the false alarms, but loom orders two threads' stores only by what
/// each has seen, so a trace could still show a SeqCst load reading the older of two stores; and
/// fences strengthen every access of the thread.)
///
/// What `Exact` adds can hide a real bug of a program that mixes SeqCst loads or stores with
/// weaker orderings (a SeqCst load may read a stale Relaxed store, e.g. store buffering with
/// Relaxed stores and SeqCst loads), and plain loom ([`SeqCstModel::AcqRel`]) shows such bugs
/// beside its false alarms. The runner therefore searches `Exact` first and, when the check saw
/// both ([`Loom::mixed_orderings_seen`]), `AcqRel` after it; a failure only `AcqRel` shows is
/// reported as what it is: a false alarm or a real bug of mixed orderings, loom cannot tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqCstModel {
    /// SeqCst loads and stores run as read-modify-writes: SeqCst has its meaning.
    Exact,
    /// loom's own model: SeqCst loads and stores behave as Acquire/Release.
    AcqRel,
}

/// An atomic of a model, the same in every execution: where it was made, and the model thread
/// that accesses it (see [`Loom::dpor_gap_seen`]).
type Access = (usize, usize);

/// What a loom check's atomics did, as bits of `ORDERINGS_SEEN` (see [`Loom::mixed_orderings_seen`]).
const SAW_SEQCST: u8 = 1;
const SAW_WEAKER: u8 = 2;
/// A load with an ordering weaker than SeqCst (loom's DPOR misses some of their interleavings).
const SAW_WEAK_LOAD: u8 = 4;
/// An atomic pointer was accessed ([`Loom::pointers_seen`]).
const SAW_POINTER: u8 = 8;

// Plain (not loom) thread-locals: loom runs every model thread on the check's OS thread.
std::thread_local! {
    static SEQCST_MODEL: Cell<SeqCstModel> = const { Cell::new(SeqCstModel::Exact) };
    static ORDERINGS_SEEN: Cell<u8> = const { Cell::new(0) };
    /// Where the atomic being accessed now was made (set by the facade just before the access).
    static ACCESS_SITE: Cell<usize> = const { Cell::new(0) };
    /// The plain (not read-modify-write) loads seen, by atomic and thread.
    static PLAIN_LOADS: std::cell::RefCell<HashSet<Access>> = std::cell::RefCell::new(HashSet::new());
    /// The plain loads whose thread later wrote the same atomic.
    static LOADS_THEN_WRITES: std::cell::RefCell<HashSet<Access>> = std::cell::RefCell::new(HashSet::new());
    /// The threads that wrote each atomic (by where it was made) in the current execution.
    static WRITERS: std::cell::RefCell<HashMap<usize, HashSet<usize>>> = std::cell::RefCell::new(HashMap::new());
    /// The atomics that more than one thread wrote in one execution.
    static SHARED_WRITES: std::cell::RefCell<HashSet<usize>> = std::cell::RefCell::new(HashSet::new());
    /// While set, loads of these atomics by these threads, and every store to these atomics, run
    /// as read-modify-writes (see [`Loom::set_own_write_loads`]).
    static OWN_WRITE_LOADS: std::cell::RefCell<Option<(HashSet<Access>, HashSet<usize>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Tells loom's atomics which atomic the next access is to: the facade calls it just before
/// every access, with where the atomic was made (no scheduling point lies in between).
pub(crate) fn access_site(made: &'static std::panic::Location<'static>) {
    ACCESS_SITE.with(|s| s.set(made as *const _ as usize));
}

/// The atomic and thread of the access under way.
fn access() -> Access {
    (ACCESS_SITE.with(Cell::get), LOOM_INDEX.with(Cell::get))
}

/// Notes a plain load (`load`) or a write of the atomic under way, for [`Loom::dpor_gap_seen`].
fn note_access(load: bool) {
    let a = access();
    if load {
        PLAIN_LOADS.with(|l| l.borrow_mut().insert(a));
        return;
    }
    let shared = WRITERS.with(|w| {
        let mut w = w.borrow_mut();
        let writers = w.entry(a.0).or_default();
        writers.insert(a.1);
        writers.len() > 1
    });
    if shared {
        SHARED_WRITES.with(|s| s.borrow_mut().insert(a.0));
    }
    if PLAIN_LOADS.with(|l| l.borrow().contains(&a)) {
        LOADS_THEN_WRITES.with(|w| w.borrow_mut().insert(a));
    }
}

impl Loom {
    /// Sets how this thread's loom checks run SeqCst accesses, and forgets the orderings seen.
    pub fn set_seqcst_model(model: SeqCstModel) {
        SEQCST_MODEL.with(|m| m.set(model));
        ORDERINGS_SEEN.with(|s| s.set(0));
        PLAIN_LOADS.with(|l| l.borrow_mut().clear());
        LOADS_THEN_WRITES.with(|w| w.borrow_mut().clear());
        WRITERS.with(|w| w.borrow_mut().clear());
        SHARED_WRITES.with(|s| s.borrow_mut().clear());
    }

    /// A new execution begins: who wrote what is counted per execution.
    pub fn begin_execution() {
        WRITERS.with(|w| w.borrow_mut().clear());
    }

    /// The accesses of loom's DPOR gap seen ([`Loom::dpor_gap_seen`]): each thread's plain
    /// loads of an atomic it later wrote, and whether each such atomic had one writer in every
    /// execution (then the thread that loads it is that writer, or it was never written yet).
    pub fn own_write_loads() -> (HashSet<(usize, usize)>, bool) {
        let loads = LOADS_THEN_WRITES.with(|w| w.borrow().clone());
        let single = SHARED_WRITES.with(|s| {
            let s = s.borrow();
            loads.iter().all(|(site, _)| !s.contains(site))
        });
        (loads, single)
    }

    /// Runs these loads ([`Loom::own_write_loads`]) as read-modify-writes that write back what
    /// they read, with their own ordering, and every store to their atomics as a swap with its
    /// own ordering (`None`: as they are). A load that reads the newest value and a store placed
    /// last are what a load and a store may do; and with every write to the atomic a
    /// read-modify-write, loom (which orders a plain store only by what its thread has seen) keeps
    /// one modification order that each read-modify-write reads the end of. So every execution is
    /// one the program can have (plain stores beside the read-modify-writes gave false alarms: a
    /// thread's load reading older than its own store). loom's DPOR, which compares
    /// read-modify-writes fully, then runs the other threads' loads after these threads' writes,
    /// which it never does after a plain load-then-write (loom#166). What it gives up is a stale
    /// read by those loads — none when their thread is the atomic's only writer (it reads its own
    /// last write) — and a store placed before another thread's.
    pub fn set_own_write_loads(loads: Option<HashSet<(usize, usize)>>) {
        let with_sites = loads.map(|loads| {
            let sites = loads.iter().map(|&(site, _)| site).collect();
            (loads, sites)
        });
        OWN_WRITE_LOADS.with(|w| *w.borrow_mut() = with_sites);
    }

    /// Whether loads of atomics their own thread writes run as read-modify-writes now
    /// ([`Loom::set_own_write_loads`]).
    pub fn own_write_loads_on() -> bool {
        OWN_WRITE_LOADS.with(|w| w.borrow().is_some())
    }

    /// Whether, since [`Loom::set_seqcst_model`], the program had the shape loom 0.7.3's DPOR
    /// explores incompletely: a thread loads an atomic (a plain load) and later writes it, and
    /// another thread loads it plainly too. loom then never runs the other thread's load after
    /// the first thread's load-then-write (loom#166, #392; measured in `src/litmus.rs`), and a
    /// bug that needs that order — a Relaxed publication through a single-producer index, say —
    /// passes a search that ended on its own. Such a search is not exhaustive.
    pub fn dpor_gap_seen() -> bool {
        LOADS_THEN_WRITES.with(|w| {
            let w = w.borrow();
            PLAIN_LOADS.with(|l| l.borrow().iter().any(|&(site, t)| w.iter().any(|&(s, t1)| s == site && t1 != t)))
        })
    }

    /// How this thread's loom checks run SeqCst accesses now.
    pub fn seqcst_model() -> SeqCstModel {
        SEQCST_MODEL.with(Cell::get)
    }

    /// Whether, since [`Loom::set_seqcst_model`], the facade's atomics saw both a SeqCst load or
    /// store (which the two models run differently) and an access with a weaker ordering: then
    /// the exact model may hide a real bug.
    pub fn mixed_orderings_seen() -> bool {
        ORDERINGS_SEEN.with(Cell::get) & (SAW_SEQCST | SAW_WEAKER) == SAW_SEQCST | SAW_WEAKER
    }

    /// Whether a load weaker than SeqCst ran since [`Loom::set_seqcst_model`]: loom 0.7.3's DPOR
    /// may have missed some of its interleavings (loom#166, #392; `src/litmus.rs`).
    pub fn weak_loads_seen() -> bool {
        ORDERINGS_SEEN.with(Cell::get) & SAW_WEAK_LOAD != 0
    }

    /// Whether an atomic pointer was accessed since [`Loom::set_seqcst_model`]: a pointer may
    /// publish an object without synchronising, which [`LoomAtomic`]'s pool cannot tell from
    /// an object made before the execution began.
    pub fn pointers_seen() -> bool {
        ORDERINGS_SEEN.with(Cell::get) & SAW_POINTER != 0
    }
}

/// A loom atomic whose SeqCst accesses follow the thread's [`SeqCstModel`].
///
/// A facade atomic is made at its first use ([`super::bind`]), maybe by another thread than
/// the one that made it in the program, and loom requires an atomic's making to happen before
/// every access to it. So such an atomic is a loom atomic made at the start of the execution, on
/// its main thread (before any other thread exists), holding 0 — one of the execution's
/// [`pool`] — and offset by the value the program made it with: its value is the cell's plus
/// `base` (xor for a `bool`). Its first value is then the program's, and reading it
/// synchronises with nothing the program did.
#[derive(Debug)]
pub struct LoomAtomic<A> {
    cell: std::sync::Arc<A>,
    base: u64,
}

impl<A> LoomAtomic<A> {
    fn own(a: A) -> Self {
        LoomAtomic { cell: std::sync::Arc::new(a), base: 0 }
    }
}

/// A value's offset from a pooled cell's ([`LoomAtomic`]).
trait Offset: Copy {
    /// The offset that makes a cell holding 0 read as `self`.
    fn base(self) -> u64;
    /// The value a cell holding `self` stands for.
    fn up(self, base: u64) -> Self;
    /// The cell value that stands for `self`.
    fn down(self, base: u64) -> Self;
}

macro_rules! offset_ints {
    ($($t:ty),*) => {$(
        impl Offset for $t {
            fn base(self) -> u64 {
                self as u64
            }
            fn up(self, base: u64) -> Self {
                self.wrapping_add(base as $t)
            }
            fn down(self, base: u64) -> Self {
                self.wrapping_sub(base as $t)
            }
        }
    )*};
}
offset_ints!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl Offset for bool {
    fn base(self) -> u64 {
        u64::from(self)
    }
    fn up(self, base: u64) -> Self {
        self ^ (base != 0)
    }
    fn down(self, base: u64) -> Self {
        self ^ (base != 0)
    }
}

/// The loom atomics made at the start of each loom execution for the facade's atomics
/// ([`LoomAtomic`]): how many of each type to make, and this execution's.
pub mod pool {
    use std::any::{Any, TypeId};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::Arc;

    /// A pooled type: made holding 0.
    pub(super) trait Zeroed: Any + Send + Sync {
        fn zeroed() -> Self;
    }

    /// A pooled atomic, type-erased.
    type Cell = Arc<dyn Any + Send + Sync>;
    /// An execution's atomics of one type, and how many are handed out.
    type Made = (Vec<Cell>, usize);
    /// How many atomics of one type an execution makes, and how to make one.
    type Want = (usize, fn() -> Cell);

    #[derive(Default)]
    struct Pool {
        /// How many of each type an execution makes (grown when one runs short), and how.
        want: HashMap<TypeId, Want>,
        /// The running execution's atomics, and how many are handed out; `None` outside a
        /// loom execution that the engine began.
        made: Option<HashMap<TypeId, Made>>,
        /// The running execution ran short: whatever it does now is not the model's (the model
        /// may even have caught the unwinding), and the search is run again.
        abandoned: bool,
    }

    std::thread_local! {
        static POOL: RefCell<Pool> = RefCell::new(Pool::default());
    }

    /// The payload of the unwinding that ends a loom execution whose pool ran short: the engine
    /// runs the search again, from its start, with a larger pool (the schedules it explores do
    /// not depend on the pool, so its executions, and their replay tokens, stay the same).
    #[derive(Debug)]
    pub struct RanShort;

    /// Starts a search with no pool: its size then depends on the search alone, so that a
    /// replay makes the same loom objects in the same order as the search did.
    pub fn reset() {
        POOL.with(|p| *p.borrow_mut() = Pool::default());
    }

    /// Makes this loom execution's pool: call on its main thread, before the model runs.
    pub fn fill() {
        POOL.with(|p| {
            let mut p = p.borrow_mut();
            let mut types: Vec<(TypeId, Want)> = p.want.iter().map(|(t, w)| (*t, *w)).collect();
            // Always made in one order.
            types.sort_by_key(|(t, _)| *t);
            let made = types.into_iter().map(|(t, (n, make))| (t, ((0..n).map(|_| make()).collect(), 0))).collect();
            p.made = Some(made);
            p.abandoned = false;
        })
    }

    /// Lets go of this execution's pool (when it ends, inside loom's execution).
    pub fn drain() {
        let made = POOL.with(|p| p.borrow_mut().made.take());
        drop(made);
    }

    /// Whether the running execution ran short of atomics: the engine runs the search again,
    /// and nothing it does now (a failure included) counts.
    pub fn abandoned() -> bool {
        POOL.with(|p| p.borrow().abandoned)
    }

    /// A loom atomic of type `A` from the running execution's pool; `None` outside a loom
    /// execution the engine began (an atomic is then made at its first use). When the pool has
    /// none left, the execution is abandoned and unwinds with [`RanShort`] — once: a `Drop` that
    /// runs while it unwinds must not unwind again (that aborts the process), and a model that
    /// caught the unwinding goes on with atomics made at their first use, in an execution that
    /// does not count.
    pub(super) fn take<A: Zeroed>() -> Option<Arc<A>> {
        let got = POOL.with(|p| {
            let mut p = p.borrow_mut();
            let made = p.made.as_mut()?;
            let (cells, next) = made.entry(TypeId::of::<A>()).or_default();
            let cell = cells.get(*next).cloned();
            *next += 1;
            let needed = *next;
            let mut raise = false;
            if cell.is_none() {
                let want = p.want.entry(TypeId::of::<A>()).or_insert((0, || Arc::new(A::zeroed())));
                want.0 = want.0.saturating_mul(2).max(needed).max(4);
                raise = !p.abandoned && !std::thread::panicking();
                p.abandoned = true;
            }
            Some((cell, raise))
        })?;
        match got {
            (Some(cell), _) => Some(cell.downcast::<A>().unwrap_or_else(|_| unreachable!("pooled by its type"))),
            (None, true) => std::panic::resume_unwind(Box::new(RanShort)),
            (None, false) => None,
        }
    }
}

/// Notes a read-modify-write, compare-exchange or a load/store weaker than SeqCst: the same in
/// both models, only a weaker one counts for [`Loom::mixed_orderings_seen`].
#[inline]
fn note(o: Ordering) {
    if o != Ordering::SeqCst {
        ORDERINGS_SEEN.with(|s| s.set(s.get() | SAW_WEAKER));
    }
    note_access(false);
}

/// The ordering of the read-modify-write a load or store with ordering `o` runs as, if it runs
/// as one: a SeqCst load (Acquire) or store (Release) in the [`SeqCstModel::Exact`] model, and a
/// load of an atomic its own thread writes while [`Loom::set_own_write_loads`] says so (with its
/// own ordering). Notes the ordering, a load the plain model leaves to loom's DPOR gap
/// ([`Loom::weak_loads_seen`]), and the access ([`Loom::dpor_gap_seen`]).
#[inline]
fn as_rmw(o: Ordering, load: bool) -> Option<Ordering> {
    let exact = SEQCST_MODEL.with(Cell::get) == SeqCstModel::Exact;
    let bits = match o {
        Ordering::SeqCst if load && !exact => SAW_SEQCST | SAW_WEAK_LOAD,
        Ordering::SeqCst => SAW_SEQCST,
        _ if load => SAW_WEAKER | SAW_WEAK_LOAD,
        _ => SAW_WEAKER,
    };
    ORDERINGS_SEEN.with(|s| s.set(s.get() | bits));
    let rmw = match o {
        Ordering::SeqCst if exact => Some(if load { Ordering::Acquire } else { Ordering::Release }),
        _ if OWN_WRITE_LOADS.with(|w| {
            w.borrow().as_ref().is_some_and(|(loads, sites)| {
                let a = access();
                if load {
                    loads.contains(&a)
                } else {
                    sites.contains(&a.0)
                }
            })
        }) =>
        {
            Some(o)
        }
        _ => None,
    };
    // A load run as a read-modify-write is no plain load; a store is a write either way.
    if !(load && rmw.is_some()) {
        note_access(load);
    }
    rmw
}

macro_rules! loom_atomics {
    ($($ty:ty: $v:ty, $identity:expr $(, $int:ident)?;)*) => {$(
        impl pool::Zeroed for $ty {
            fn zeroed() -> Self {
                <$ty>::new(<$v>::default())
            }
        }

        impl RawAtomic for LoomAtomic<$ty> {
            type Value = $v;
            fn new(v: $v) -> Self {
                LoomAtomic::own(<$ty>::new(v))
            }
            fn new_late(v: $v) -> Self {
                match pool::take::<$ty>() {
                    Some(cell) => LoomAtomic { cell, base: v.base() },
                    None => Self::new(v),
                }
            }
            fn load(&self, o: Ordering) -> $v {
                if let Some(o) = as_rmw(o, true) {
                    // A read-modify-write that writes back what it read reads the newest value;
                    // Acquire for a SeqCst load: it releases nothing a SeqCst load would not.
                    return $identity(&*self.cell, o).up(self.base);
                }
                self.cell.load(o).up(self.base)
            }
            fn store(&self, v: $v, o: Ordering) {
                let v = v.down(self.base);
                if let Some(o) = as_rmw(o, false) {
                    // Release, as the store is: it acquires nothing a SeqCst store would not.
                    self.cell.swap(v, o);
                } else {
                    self.cell.store(v, o)
                }
            }
            fn swap(&self, v: $v, o: Ordering) -> $v {
                note(o);
                self.cell.swap(v.down(self.base), o).up(self.base)
            }
            fn compare_exchange(&self, cur: $v, new: $v, s: Ordering, f: Ordering) -> Result<$v, $v> {
                // loom runs every compare-exchange as a read-modify-write, failed ones too.
                note(s);
                note(f);
                let b = self.base;
                self.cell.compare_exchange(cur.down(b), new.down(b), s, f).map(|v| v.up(b)).map_err(|v| v.up(b))
            }
            fn into_inner(self) -> $v {
                let b = self.base;
                match std::sync::Arc::try_unwrap(self.cell) {
                    Ok(a) => a.into_inner().up(b),
                    // SAFETY: owning the facade atomic, this thread is its only user.
                    Err(a) => unsafe { a.unsync_load() }.up(b),
                }
            }
            fn get_mut(&mut self) -> Option<&mut $v> {
                None
            }
        }
        $(loom_atomics!(@$int $ty, $v);)?
    )*};
    (@int $ty:ty, $v:ty) => {
        impl LoomAtomic<$ty> {
            /// `op` as a compare-exchange loop, for an offset cell: `op` of the values is not
            /// `op` of the cells (the facade's `AtomicBool` does the same for its logic).
            fn rmw_loop(&self, o: Ordering, op: impl Fn($v) -> $v) -> $v {
                let read = match o {
                    Ordering::Release => Ordering::Relaxed,
                    Ordering::AcqRel => Ordering::Acquire,
                    other => other,
                };
                let mut old = RawAtomic::load(self, read);
                loop {
                    match RawAtomic::compare_exchange(self, old, op(old), o, read) {
                        Ok(v) => return v,
                        Err(now) => old = now,
                    }
                }
            }
        }

        impl RawAtomicInt for LoomAtomic<$ty> {
            fn fetch_add(&self, v: $v, o: Ordering) -> $v {
                note(o);
                self.cell.fetch_add(v, o).up(self.base)
            }
            fn fetch_sub(&self, v: $v, o: Ordering) -> $v {
                note(o);
                self.cell.fetch_sub(v, o).up(self.base)
            }
            fn fetch_and(&self, v: $v, o: Ordering) -> $v {
                if self.base != 0 {
                    return self.rmw_loop(o, |x| x & v);
                }
                note(o);
                self.cell.fetch_and(v, o)
            }
            fn fetch_or(&self, v: $v, o: Ordering) -> $v {
                if self.base != 0 {
                    return self.rmw_loop(o, |x| x | v);
                }
                note(o);
                self.cell.fetch_or(v, o)
            }
            fn fetch_xor(&self, v: $v, o: Ordering) -> $v {
                if self.base != 0 {
                    return self.rmw_loop(o, |x| x ^ v);
                }
                note(o);
                self.cell.fetch_xor(v, o)
            }
            fn fetch_nand(&self, v: $v, o: Ordering) -> $v {
                if self.base != 0 {
                    return self.rmw_loop(o, |x| !(x & v));
                }
                note(o);
                self.cell.fetch_nand(v, o)
            }
            fn fetch_max(&self, v: $v, o: Ordering) -> $v {
                if self.base != 0 {
                    return self.rmw_loop(o, |x| x.max(v));
                }
                note(o);
                self.cell.fetch_max(v, o)
            }
            fn fetch_min(&self, v: $v, o: Ordering) -> $v {
                if self.base != 0 {
                    return self.rmw_loop(o, |x| x.min(v));
                }
                note(o);
                self.cell.fetch_min(v, o)
            }
        }
    };
}

loom_atomics! {
    ::loom::sync::atomic::AtomicU8: u8, |a: &::loom::sync::atomic::AtomicU8, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicU16: u16, |a: &::loom::sync::atomic::AtomicU16, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicU32: u32, |a: &::loom::sync::atomic::AtomicU32, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicU64: u64, |a: &::loom::sync::atomic::AtomicU64, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicUsize: usize, |a: &::loom::sync::atomic::AtomicUsize, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicI8: i8, |a: &::loom::sync::atomic::AtomicI8, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicI16: i16, |a: &::loom::sync::atomic::AtomicI16, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicI32: i32, |a: &::loom::sync::atomic::AtomicI32, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicI64: i64, |a: &::loom::sync::atomic::AtomicI64, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicIsize: isize, |a: &::loom::sync::atomic::AtomicIsize, o| a.fetch_add(0, o), int;
    ::loom::sync::atomic::AtomicBool: bool, |a: &::loom::sync::atomic::AtomicBool, o| a.fetch_or(false, o);
}

/// Atomic pointers of real threads and shuttle, forwarded as they are.
macro_rules! raw_atomic_ptrs {
    ($($ty:ident),*) => {$(
        impl<T> RawAtomic for $ty<T> {
            type Value = *mut T;
            fn new(v: *mut T) -> Self {
                $ty::new(v)
            }
            fn load(&self, o: Ordering) -> *mut T {
                $ty::load(self, o)
            }
            fn store(&self, v: *mut T, o: Ordering) {
                $ty::store(self, v, o)
            }
            fn swap(&self, v: *mut T, o: Ordering) -> *mut T {
                $ty::swap(self, v, o)
            }
            fn compare_exchange(&self, cur: *mut T, new: *mut T, s: Ordering, f: Ordering) -> Result<*mut T, *mut T> {
                $ty::compare_exchange(self, cur, new, s, f)
            }
            fn into_inner(self) -> *mut T {
                $ty::into_inner(self)
            }
            fn get_mut(&mut self) -> Option<&mut *mut T> {
                Some($ty::get_mut(self))
            }
        }
    )*};
}

use ::shuttle::sync::atomic::AtomicPtr as ShuttleAtomicPtr;
use std::sync::atomic::AtomicPtr as StdAtomicPtr;
raw_atomic_ptrs!(StdAtomicPtr, ShuttleAtomicPtr);

impl pool::Zeroed for ::loom::sync::atomic::AtomicPtr<()> {
    fn zeroed() -> Self {
        ::loom::sync::atomic::AtomicPtr::new(std::ptr::null_mut())
    }
}

/// The pointer a pooled cell holding `p` stands for ([`LoomAtomicPtr`]).
fn ptr_up<T>(p: *mut (), base: u64) -> *mut T {
    if base == 0 {
        return p.cast();
    }
    std::ptr::with_exposed_provenance_mut(p.expose_provenance().wrapping_add(base as usize))
}

/// A loom atomic pointer ([`LoomAtomic`] of untyped pointers, so that it can be pooled): a pooled
/// one made with a pointer other than null holds addresses offset by it, each exposed (as an
/// `as` cast would) so that the pointer read back has its provenance.
#[derive(Debug)]
pub struct LoomAtomicPtr<T>(LoomAtomic<::loom::sync::atomic::AtomicPtr<()>>, std::marker::PhantomData<*mut T>);

// SAFETY: as std's `AtomicPtr<T>`: only the pointer is shared, through loom's atomic accesses.
unsafe impl<T> Send for LoomAtomicPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for LoomAtomicPtr<T> {}

impl<T> LoomAtomicPtr<T> {
    fn up(&self, p: *mut ()) -> *mut T {
        ptr_up(p, self.0.base)
    }
    fn down(&self, p: *mut T) -> *mut () {
        if self.0.base == 0 {
            return p.cast();
        }
        std::ptr::with_exposed_provenance_mut(p.expose_provenance().wrapping_sub(self.0.base as usize))
    }
}

impl<T> RawAtomic for LoomAtomicPtr<T> {
    type Value = *mut T;
    fn new(v: *mut T) -> Self {
        LoomAtomicPtr(LoomAtomic::own(::loom::sync::atomic::AtomicPtr::new(v.cast())), std::marker::PhantomData)
    }
    fn new_late(v: *mut T) -> Self {
        match pool::take::<::loom::sync::atomic::AtomicPtr<()>>() {
            Some(cell) => {
                LoomAtomicPtr(LoomAtomic { cell, base: v.expose_provenance() as u64 }, std::marker::PhantomData)
            }
            None => Self::new(v),
        }
    }
    fn load(&self, o: Ordering) -> *mut T {
        ORDERINGS_SEEN.with(|s| s.set(s.get() | SAW_POINTER));
        if let Some(o) = as_rmw(o, true) {
            // loom's pointers have no fetch_add: a compare-exchange, failed or not, is a
            // read-modify-write that reads the newest value and writes back what it read.
            let null = std::ptr::null_mut();
            return match self.0.cell.compare_exchange(null, null, o, o) {
                Ok(v) | Err(v) => self.up(v),
            };
        }
        self.up(self.0.cell.load(o))
    }
    fn store(&self, v: *mut T, o: Ordering) {
        let v = self.down(v);
        if let Some(o) = as_rmw(o, false) {
            self.0.cell.swap(v, o);
        } else {
            self.0.cell.store(v, o)
        }
    }
    fn swap(&self, v: *mut T, o: Ordering) -> *mut T {
        note(o);
        self.up(self.0.cell.swap(self.down(v), o))
    }
    fn compare_exchange(&self, cur: *mut T, new: *mut T, s: Ordering, f: Ordering) -> Result<*mut T, *mut T> {
        note(s);
        note(f);
        self.0.cell.compare_exchange(self.down(cur), self.down(new), s, f).map(|v| self.up(v)).map_err(|v| self.up(v))
    }
    fn into_inner(self) -> *mut T {
        let p = match std::sync::Arc::try_unwrap(self.0.cell) {
            Ok(a) => a.into_inner(),
            // SAFETY: owning the facade atomic, this thread is its only user.
            Err(a) => unsafe { a.unsync_load() },
        };
        ptr_up(p, self.0.base)
    }
    fn get_mut(&mut self) -> Option<&mut *mut T> {
        None
    }
}
