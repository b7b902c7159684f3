//! The three engines behind the facade's raw seam: real threads (parking_lot locks), loom and
//! shuttle. Each is a few lines of forwarding; anything cleverer belongs in `rt/mod.rs`.

use std::cell::Cell;
use std::sync::atomic::Ordering;

use super::{Backend, RawAtomic, RawAtomicInt};

/// Real OS threads with parking_lot's mutex and condition variable.
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
    const OWN_OS_THREADS: bool = true;

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
    fn condvar() -> Self::Condvar {
        parking_lot::Condvar::new()
    }
    fn wait<'a, T: 'a>(c: &Self::Condvar, mut g: Self::Guard<'a, T>) -> Self::Guard<'a, T> {
        c.wait(&mut g);
        g
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
    fn yield_now() {
        std::thread::yield_now()
    }
    fn spin_loop() {
        std::hint::spin_loop()
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
    ($backend:ty, $krate:ident, $index:expr, $set_index:expr) => {
        impl Backend for $backend {
            type Mutex<T> = ::$krate::sync::Mutex<T>;
            type Guard<'a, T: 'a> = ::$krate::sync::MutexGuard<'a, T>;
            type Condvar = ::$krate::sync::Condvar;
            type JoinHandle<T: Send + 'static> = ::$krate::thread::JoinHandle<T>;
            type AtomicUsize = ::$krate::sync::atomic::AtomicUsize;
            const OWN_OS_THREADS: bool = false;

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
            fn condvar() -> Self::Condvar {
                ::$krate::sync::Condvar::new()
            }
            fn wait<'a, T: 'a>(c: &Self::Condvar, g: Self::Guard<'a, T>) -> Self::Guard<'a, T> {
                c.wait(g).unwrap_or_else(|p| p.into_inner())
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
            fn yield_now() {
                ::$krate::thread::yield_now()
            }
            fn spin_loop() {
                ::$krate::hint::spin_loop()
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

model_backend!(Loom, loom, || LOOM_INDEX.with(Cell::get), |i| LOOM_INDEX.with(|c| c.set(i)));
// shuttle numbers tasks in spawn order from 0 (main), exactly as the facade numbers threads,
// and its own task id is far cheaper to read than a task-local.
model_backend!(Shuttle, shuttle, || usize::from(::shuttle::current::me()), |i: usize| debug_assert_eq!(
    i,
    usize::from(::shuttle::current::me())
));

macro_rules! raw_atomics {
    ($($ty:ty: $v:ty $(, $int:ident)?;)*) => {$(
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
        }
        $(raw_atomics!(@$int $ty, $v);)?
    )*};
    (@int $ty:ty, $v:ty) => {
        impl RawAtomicInt for $ty {
            fn fetch_add(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_add(self, v, o)
            }
            fn fetch_sub(&self, v: $v, o: Ordering) -> $v {
                <$ty>::fetch_sub(self, v, o)
            }
        }
    };
}

raw_atomics! {
    std::sync::atomic::AtomicUsize: usize, int;
    std::sync::atomic::AtomicBool: bool;
    ::loom::sync::atomic::AtomicUsize: usize, int;
    ::loom::sync::atomic::AtomicBool: bool;
    ::shuttle::sync::atomic::AtomicUsize: usize, int;
    ::shuttle::sync::atomic::AtomicBool: bool;
}
