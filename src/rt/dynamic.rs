//! The engine chosen at run time: one compilation of a model runs under loom, shuttle or real
//! threads, whichever check is running. Each engine object binds to the engine of the check in
//! which it is made (a facade object makes its own at first use in each execution: see
//! [`super::bind`]); outside any check, objects are real threads'. An engine object used in a
//! check of another engine fails with a message that says so.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Backend, Loom, LoomAtomic, LoomAtomicPtr, RawAtomic, RawAtomicInt, Shuttle, StdThreads};
use crate::vocab::Engine;

/// The backend whose engine is the running check's ([`set_engine`]).
#[derive(Debug)]
pub struct Dynamic;

std::thread_local! {
    /// The engine of the check running on this OS thread: loom and shuttle run every model
    /// thread on it, and a real thread is handed its parent's at spawn.
    static ENGINE: Cell<Option<Engine>> = const { Cell::new(None) };
}

/// Sets the engine that objects created on this OS thread bind to (`None`: no check runs).
/// The runner calls it around each engine's search; returns the engine it replaces.
pub fn set_engine(engine: Option<Engine>) -> Option<Engine> {
    ENGINE.with(|e| e.replace(engine))
}

/// The engine of the check running on this OS thread, if any.
pub fn engine() -> Option<Engine> {
    ENGINE.with(Cell::get)
}

/// While alive, objects made on this OS thread bind to one engine; the previous engine is
/// restored when it drops. The runner holds one around each engine's search.
/// The scope also puts back the execution ([`super::bind`]) that ran on the thread before: a
/// search's last execution stays the thread's until its scope ends.
pub struct EngineScope(Option<Engine>, (u64, Option<std::sync::Arc<super::bind::Context>>));

impl EngineScope {
    /// Binds objects made on this OS thread to `engine` until the scope drops.
    pub fn enter(engine: Engine) -> EngineScope {
        EngineScope(set_engine(Some(engine)), super::bind::inherit())
    }
}

impl Drop for EngineScope {
    fn drop(&mut self) {
        set_engine(self.0);
        super::bind::adopt(std::mem::take(&mut self.1));
    }
}

impl std::fmt::Debug for EngineScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EngineScope").field(&self.0).finish_non_exhaustive()
    }
}

/// Makes objects for a program that runs on real threads outside any check — the echo server's
/// queue and books, which are the catalog's own fixed code — with real threads' engine, whose
/// objects (parking_lot locks, std atomics) may then be used on any real thread outside a check.
pub fn on_real_threads<R>(make: impl FnOnce() -> R) -> R {
    let _scope = EngineScope::enter(Engine::Stress);
    make()
}

/// The engine a new object binds to: the running check's, or real threads outside any check
/// (where the facade behaves as std, so a crate's other tests run unchanged).
#[inline]
fn engine_for(_what: &str) -> Engine {
    engine().unwrap_or(Engine::Stress)
}

#[cold]
#[track_caller]
fn foreign(what: &str, made: Engine) -> ! {
    let now = engine().map_or("no check".to_string(), |e| format!("a {e:?} check"));
    panic!(
        "a conclab {what} made in a {made:?} check was used in {now}: an object belongs to the check, and the \
         execution, that created it (keep it out of thread-locals shared between checks)"
    )
}

/// Fails unless the running check's engine is `made`. An object of real threads also works on a
/// real thread outside any check ([`on_real_threads`]).
#[inline]
#[track_caller]
fn same(what: &str, made: Engine) {
    let now = engine();
    if now != Some(made) && !(made == Engine::Stress && now.is_none()) {
        foreign(what, made)
    }
}

/// One of the three engines' versions of a type, chosen when it was made.
#[derive(Clone)]
pub enum Either<S, L, H> {
    /// Real threads.
    Std(S),
    /// loom.
    Loom(L),
    /// shuttle.
    Shuttle(H),
}

/// Applies the same expression to whichever engine's value `$e` holds.
macro_rules! each {
    ($e:expr, $x:ident => $body:expr) => {
        match $e {
            Either::Std($x) => $body,
            Either::Loom($x) => $body,
            Either::Shuttle($x) => $body,
        }
    };
}

impl<S, L, H> Either<S, L, H> {
    fn engine(&self) -> Engine {
        match self {
            Either::Std(_) => Engine::Stress,
            Either::Loom(_) => Engine::Loom,
            Either::Shuttle(_) => Engine::Shuttle,
        }
    }
}

/// A guard of one of the three engines' mutexes.
pub type Guard<'a, T> =
    Either<parking_lot::MutexGuard<'a, T>, ::loom::sync::MutexGuard<'a, T>, ::shuttle::sync::MutexGuard<'a, T>>;

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        each!(self, g => g)
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        each!(self, g => g)
    }
}

/// One of the three engines' mutexes.
pub type Mutex<T> = Either<parking_lot::Mutex<T>, ::loom::sync::Mutex<T>, ::shuttle::sync::Mutex<T>>;
/// One of the three engines' reader-writer locks.
pub type RwLock<T> = Either<parking_lot::RwLock<T>, ::loom::sync::RwLock<T>, ::shuttle::sync::RwLock<T>>;
/// A read guard of one of the three engines' reader-writer locks.
pub type ReadGuard<'a, T> = Either<
    parking_lot::RwLockReadGuard<'a, T>,
    ::loom::sync::RwLockReadGuard<'a, T>,
    ::shuttle::sync::RwLockReadGuard<'a, T>,
>;
/// A write guard of one of the three engines' reader-writer locks.
pub type WriteGuard<'a, T> = Either<
    parking_lot::RwLockWriteGuard<'a, T>,
    ::loom::sync::RwLockWriteGuard<'a, T>,
    ::shuttle::sync::RwLockWriteGuard<'a, T>,
>;

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        each!(self, g => g)
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        each!(self, g => g)
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        each!(self, g => g)
    }
}

/// One of the three engines' condition variables.
pub type Condvar = Either<parking_lot::Condvar, ::loom::sync::Condvar, ::shuttle::sync::Condvar>;
/// One of the three engines' join handles.
pub type JoinHandle<T> =
    Either<std::thread::JoinHandle<T>, ::loom::thread::JoinHandle<T>, ::shuttle::thread::JoinHandle<T>>;

impl Backend for Dynamic {
    type Mutex<T> = Mutex<T>;
    type Guard<'a, T: 'a> = Guard<'a, T>;
    type Condvar = Condvar;
    type JoinHandle<T: Send + 'static> = JoinHandle<T>;
    type AtomicUsize = DynAtomicUsize;

    fn own_os_threads() -> bool {
        engine() == Some(Engine::Stress)
    }
    fn weak_memory() -> bool {
        engine() == Some(Engine::Loom)
    }
    #[track_caller]
    fn mutex<T>(value: T) -> Self::Mutex<T> {
        match engine_for("Mutex") {
            Engine::Stress => Either::Std(StdThreads::mutex(value)),
            Engine::Loom => Either::Loom(Loom::mutex(value)),
            Engine::Shuttle => Either::Shuttle(Shuttle::mutex(value)),
        }
    }
    #[track_caller]
    fn lock<'a, T: 'a>(m: &'a Self::Mutex<T>) -> Self::Guard<'a, T> {
        same("Mutex", m.engine());
        match m {
            Either::Std(m) => Either::Std(StdThreads::lock(m)),
            Either::Loom(m) => Either::Loom(Loom::lock(m)),
            Either::Shuttle(m) => Either::Shuttle(Shuttle::lock(m)),
        }
    }
    #[track_caller]
    fn try_lock<'a, T: 'a>(m: &'a Self::Mutex<T>) -> Option<Self::Guard<'a, T>> {
        same("Mutex", m.engine());
        match m {
            Either::Std(m) => StdThreads::try_lock(m).map(Either::Std),
            Either::Loom(m) => Loom::try_lock(m).map(Either::Loom),
            Either::Shuttle(m) => Shuttle::try_lock(m).map(Either::Shuttle),
        }
    }
    fn into_inner<T>(m: Self::Mutex<T>) -> T {
        match m {
            Either::Std(m) => StdThreads::into_inner(m),
            Either::Loom(m) => Loom::into_inner(m),
            Either::Shuttle(m) => Shuttle::into_inner(m),
        }
    }
    fn get_mut<T>(m: &mut Self::Mutex<T>) -> &mut T {
        match m {
            Either::Std(m) => StdThreads::get_mut(m),
            Either::Loom(m) => Loom::get_mut(m),
            Either::Shuttle(m) => Shuttle::get_mut(m),
        }
    }
    type RwLock<T> = RwLock<T>;
    type ReadGuard<'a, T: 'a> = ReadGuard<'a, T>;
    type WriteGuard<'a, T: 'a> = WriteGuard<'a, T>;
    #[track_caller]
    fn rwlock<T>(value: T) -> Self::RwLock<T> {
        match engine_for("RwLock") {
            Engine::Stress => Either::Std(StdThreads::rwlock(value)),
            Engine::Loom => Either::Loom(Loom::rwlock(value)),
            Engine::Shuttle => Either::Shuttle(Shuttle::rwlock(value)),
        }
    }
    #[track_caller]
    fn read<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Self::ReadGuard<'a, T> {
        same("RwLock", l.engine());
        match l {
            Either::Std(l) => Either::Std(StdThreads::read(l)),
            Either::Loom(l) => Either::Loom(Loom::read(l)),
            Either::Shuttle(l) => Either::Shuttle(Shuttle::read(l)),
        }
    }
    #[track_caller]
    fn write<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Self::WriteGuard<'a, T> {
        same("RwLock", l.engine());
        match l {
            Either::Std(l) => Either::Std(StdThreads::write(l)),
            Either::Loom(l) => Either::Loom(Loom::write(l)),
            Either::Shuttle(l) => Either::Shuttle(Shuttle::write(l)),
        }
    }
    #[track_caller]
    fn try_read<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Option<Self::ReadGuard<'a, T>> {
        same("RwLock", l.engine());
        match l {
            Either::Std(l) => StdThreads::try_read(l).map(Either::Std),
            Either::Loom(l) => Loom::try_read(l).map(Either::Loom),
            Either::Shuttle(l) => Shuttle::try_read(l).map(Either::Shuttle),
        }
    }
    #[track_caller]
    fn try_write<'a, T: 'a>(l: &'a Self::RwLock<T>) -> Option<Self::WriteGuard<'a, T>> {
        same("RwLock", l.engine());
        match l {
            Either::Std(l) => StdThreads::try_write(l).map(Either::Std),
            Either::Loom(l) => Loom::try_write(l).map(Either::Loom),
            Either::Shuttle(l) => Shuttle::try_write(l).map(Either::Shuttle),
        }
    }
    fn rwlock_into_inner<T>(l: Self::RwLock<T>) -> T {
        match l {
            Either::Std(l) => StdThreads::rwlock_into_inner(l),
            Either::Loom(l) => Loom::rwlock_into_inner(l),
            Either::Shuttle(l) => Shuttle::rwlock_into_inner(l),
        }
    }
    fn rwlock_get_mut<T>(l: &mut Self::RwLock<T>) -> &mut T {
        match l {
            Either::Std(l) => StdThreads::rwlock_get_mut(l),
            Either::Loom(l) => Loom::rwlock_get_mut(l),
            Either::Shuttle(l) => Shuttle::rwlock_get_mut(l),
        }
    }
    #[track_caller]
    fn condvar() -> Self::Condvar {
        match engine_for("Condvar") {
            Engine::Stress => Either::Std(StdThreads::condvar()),
            Engine::Loom => Either::Loom(Loom::condvar()),
            Engine::Shuttle => Either::Shuttle(Shuttle::condvar()),
        }
    }
    #[track_caller]
    fn wait<'a, T: 'a>(c: &Self::Condvar, g: Self::Guard<'a, T>) -> Self::Guard<'a, T> {
        same("Condvar", c.engine());
        match (c, g) {
            (Either::Std(c), Either::Std(g)) => Either::Std(StdThreads::wait(c, g)),
            (Either::Loom(c), Either::Loom(g)) => Either::Loom(Loom::wait(c, g)),
            (Either::Shuttle(c), Either::Shuttle(g)) => Either::Shuttle(Shuttle::wait(c, g)),
            (c, _) => foreign("MutexGuard", c.engine()),
        }
    }
    #[track_caller]
    fn wait_timeout<'a, T: 'a>(c: &Self::Condvar, g: Self::Guard<'a, T>, dur: Duration) -> (Self::Guard<'a, T>, bool) {
        same("Condvar", c.engine());
        match (c, g) {
            (Either::Std(c), Either::Std(g)) => {
                let (g, t) = StdThreads::wait_timeout(c, g, dur);
                (Either::Std(g), t)
            }
            (Either::Loom(c), Either::Loom(g)) => {
                let (g, t) = Loom::wait_timeout(c, g, dur);
                (Either::Loom(g), t)
            }
            (Either::Shuttle(c), Either::Shuttle(g)) => {
                let (g, t) = Shuttle::wait_timeout(c, g, dur);
                (Either::Shuttle(g), t)
            }
            (c, _) => foreign("MutexGuard", c.engine()),
        }
    }
    #[track_caller]
    fn notify(c: &Self::Condvar, all: bool) {
        same("Condvar", c.engine());
        match c {
            Either::Std(c) => StdThreads::notify(c, all),
            Either::Loom(c) => Loom::notify(c, all),
            Either::Shuttle(c) => Shuttle::notify(c, all),
        }
    }
    #[track_caller]
    fn spawn<F, T>(name: impl FnOnce() -> String, f: F) -> Self::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let parent = engine();
        match engine_for("thread") {
            Engine::Stress => Either::Std(StdThreads::spawn(name, move || {
                // A real thread of the check (or of none): its objects bind as its parent's.
                set_engine(parent);
                f()
            })),
            Engine::Loom => Either::Loom(Loom::spawn(name, f)),
            Engine::Shuttle => Either::Shuttle(Shuttle::spawn(name, f)),
        }
    }
    fn join<T: Send + 'static>(h: Self::JoinHandle<T>) -> std::thread::Result<T> {
        match h {
            Either::Std(h) => StdThreads::join(h),
            Either::Loom(h) => Loom::join(h),
            Either::Shuttle(h) => Shuttle::join(h),
        }
    }
    type Thread = Either<std::thread::Thread, ::loom::thread::Thread, ::shuttle::thread::Thread>;
    #[track_caller]
    fn current_thread() -> Self::Thread {
        match engine_for("thread::current") {
            Engine::Stress => Either::Std(StdThreads::current_thread()),
            Engine::Loom => Either::Loom(Loom::current_thread()),
            Engine::Shuttle => Either::Shuttle(Shuttle::current_thread()),
        }
    }
    fn handle_thread<T: Send + 'static>(h: &Self::JoinHandle<T>) -> Self::Thread {
        match h {
            Either::Std(h) => Either::Std(StdThreads::handle_thread(h)),
            Either::Loom(h) => Either::Loom(Loom::handle_thread(h)),
            Either::Shuttle(h) => Either::Shuttle(Shuttle::handle_thread(h)),
        }
    }
    #[track_caller]
    fn park() {
        match engine_for("thread::park") {
            Engine::Stress => StdThreads::park(),
            Engine::Loom => Loom::park(),
            Engine::Shuttle => Shuttle::park(),
        }
    }
    #[track_caller]
    fn park_timeout(dur: Duration) {
        match engine_for("thread::park_timeout") {
            Engine::Stress => StdThreads::park_timeout(dur),
            Engine::Loom => Loom::park_timeout(dur),
            Engine::Shuttle => Shuttle::park_timeout(dur),
        }
    }
    #[track_caller]
    fn unpark(t: &Self::Thread) {
        same("Thread", t.engine());
        match t {
            Either::Std(t) => StdThreads::unpark(t),
            Either::Loom(t) => Loom::unpark(t),
            Either::Shuttle(t) => Shuttle::unpark(t),
        }
    }
    fn max_spawned() -> Option<usize> {
        match engine() {
            Some(Engine::Loom) => Loom::max_spawned(),
            Some(Engine::Shuttle) => Shuttle::max_spawned(),
            _ => StdThreads::max_spawned(),
        }
    }
    #[track_caller]
    fn yield_now() {
        match engine_for("yield_now") {
            Engine::Stress => StdThreads::yield_now(),
            Engine::Loom => Loom::yield_now(),
            Engine::Shuttle => Shuttle::yield_now(),
        }
    }
    #[track_caller]
    fn spin_loop() {
        match engine_for("spin_loop") {
            Engine::Stress => StdThreads::spin_loop(),
            Engine::Loom => Loom::spin_loop(),
            Engine::Shuttle => Shuttle::spin_loop(),
        }
    }
    #[track_caller]
    fn fence(o: Ordering) {
        match engine_for("fence") {
            Engine::Stress => StdThreads::fence(o),
            Engine::Loom => Loom::fence(o),
            Engine::Shuttle => Shuttle::fence(o),
        }
    }
    fn thread_index() -> usize {
        match engine() {
            Some(Engine::Loom) => Loom::thread_index(),
            Some(Engine::Shuttle) => Shuttle::thread_index(),
            _ => StdThreads::thread_index(),
        }
    }
    fn set_thread_index(index: usize) {
        match engine() {
            Some(Engine::Loom) => Loom::set_thread_index(index),
            Some(Engine::Shuttle) => Shuttle::set_thread_index(index),
            _ => StdThreads::set_thread_index(index),
        }
    }
}

macro_rules! dyn_atomics {
    ($($name:ident: $v:ty, $std:ty, $loom:ty, $shuttle:ty $(, $int:ident)?;)*) => {$(
        /// An atomic of whichever engine's check created it.
        pub struct $name(Either<$std, LoomAtomic<$loom>, $shuttle>);

        impl RawAtomic for $name {
            type Value = $v;
            #[track_caller]
            fn new(v: $v) -> Self {
                $name(match engine_for("atomic") {
                    Engine::Stress => Either::Std(<$std as RawAtomic>::new(v)),
                    Engine::Loom => Either::Loom(<LoomAtomic<$loom> as RawAtomic>::new(v)),
                    Engine::Shuttle => Either::Shuttle(<$shuttle as RawAtomic>::new(v)),
                })
            }
            fn new_late(v: $v) -> Self {
                $name(match engine_for("atomic") {
                    Engine::Stress => Either::Std(<$std as RawAtomic>::new(v)),
                    Engine::Loom => Either::Loom(<LoomAtomic<$loom> as RawAtomic>::new_late(v)),
                    Engine::Shuttle => Either::Shuttle(<$shuttle as RawAtomic>::new(v)),
                })
            }
            #[track_caller]
            fn load(&self, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomic::load(a, o))
            }
            #[track_caller]
            fn store(&self, v: $v, o: Ordering) {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomic::store(a, v, o))
            }
            #[track_caller]
            fn swap(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomic::swap(a, v, o))
            }
            #[track_caller]
            fn compare_exchange(&self, cur: $v, new: $v, s: Ordering, f: Ordering) -> Result<$v, $v> {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomic::compare_exchange(a, cur, new, s, f))
            }
            fn into_inner(self) -> $v {
                each!(self.0, a => RawAtomic::into_inner(a))
            }
            fn get_mut(&mut self) -> Option<&mut $v> {
                each!(&mut self.0, a => RawAtomic::get_mut(a))
            }
        }
        $(dyn_atomics!(@$int $name, $v);)?
    )*};
    (@int $name:ident, $v:ty) => {
        impl RawAtomicInt for $name {
            #[track_caller]
            fn fetch_add(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomicInt::fetch_add(a, v, o))
            }
            #[track_caller]
            fn fetch_sub(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomicInt::fetch_sub(a, v, o))
            }
            #[track_caller]
            fn fetch_and(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomicInt::fetch_and(a, v, o))
            }
            #[track_caller]
            fn fetch_or(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomicInt::fetch_or(a, v, o))
            }
            #[track_caller]
            fn fetch_xor(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomicInt::fetch_xor(a, v, o))
            }
            #[track_caller]
            fn fetch_nand(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomicInt::fetch_nand(a, v, o))
            }
            #[track_caller]
            fn fetch_max(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomicInt::fetch_max(a, v, o))
            }
            #[track_caller]
            fn fetch_min(&self, v: $v, o: Ordering) -> $v {
                same("atomic", self.0.engine());
                each!(&self.0, a => RawAtomicInt::fetch_min(a, v, o))
            }
        }
    };
}

dyn_atomics! {
    DynAtomicU8: u8, std::sync::atomic::AtomicU8, ::loom::sync::atomic::AtomicU8,
        ::shuttle::sync::atomic::AtomicU8, int;
    DynAtomicU16: u16, std::sync::atomic::AtomicU16, ::loom::sync::atomic::AtomicU16,
        ::shuttle::sync::atomic::AtomicU16, int;
    DynAtomicU32: u32, std::sync::atomic::AtomicU32, ::loom::sync::atomic::AtomicU32,
        ::shuttle::sync::atomic::AtomicU32, int;
    DynAtomicU64: u64, std::sync::atomic::AtomicU64, ::loom::sync::atomic::AtomicU64,
        ::shuttle::sync::atomic::AtomicU64, int;
    DynAtomicUsize: usize, std::sync::atomic::AtomicUsize, ::loom::sync::atomic::AtomicUsize,
        ::shuttle::sync::atomic::AtomicUsize, int;
    DynAtomicI8: i8, std::sync::atomic::AtomicI8, ::loom::sync::atomic::AtomicI8,
        ::shuttle::sync::atomic::AtomicI8, int;
    DynAtomicI16: i16, std::sync::atomic::AtomicI16, ::loom::sync::atomic::AtomicI16,
        ::shuttle::sync::atomic::AtomicI16, int;
    DynAtomicI32: i32, std::sync::atomic::AtomicI32, ::loom::sync::atomic::AtomicI32,
        ::shuttle::sync::atomic::AtomicI32, int;
    DynAtomicI64: i64, std::sync::atomic::AtomicI64, ::loom::sync::atomic::AtomicI64,
        ::shuttle::sync::atomic::AtomicI64, int;
    DynAtomicIsize: isize, std::sync::atomic::AtomicIsize, ::loom::sync::atomic::AtomicIsize,
        ::shuttle::sync::atomic::AtomicIsize, int;
    DynAtomicBool: bool, std::sync::atomic::AtomicBool, ::loom::sync::atomic::AtomicBool,
        ::shuttle::sync::atomic::AtomicBool;
}

/// An atomic pointer of whichever engine's check created it.
pub struct DynAtomicPtr<T>(
    Either<std::sync::atomic::AtomicPtr<T>, LoomAtomicPtr<T>, ::shuttle::sync::atomic::AtomicPtr<T>>,
);

impl<T> RawAtomic for DynAtomicPtr<T> {
    type Value = *mut T;
    #[track_caller]
    fn new(v: *mut T) -> Self {
        DynAtomicPtr(match engine_for("atomic") {
            Engine::Stress => Either::Std(RawAtomic::new(v)),
            Engine::Loom => Either::Loom(RawAtomic::new(v)),
            Engine::Shuttle => Either::Shuttle(RawAtomic::new(v)),
        })
    }
    fn new_late(v: *mut T) -> Self {
        DynAtomicPtr(match engine_for("atomic") {
            Engine::Stress => Either::Std(RawAtomic::new(v)),
            Engine::Loom => Either::Loom(RawAtomic::new_late(v)),
            Engine::Shuttle => Either::Shuttle(RawAtomic::new(v)),
        })
    }
    #[track_caller]
    fn load(&self, o: Ordering) -> *mut T {
        same("atomic", self.0.engine());
        each!(&self.0, a => RawAtomic::load(a, o))
    }
    #[track_caller]
    fn store(&self, v: *mut T, o: Ordering) {
        same("atomic", self.0.engine());
        each!(&self.0, a => RawAtomic::store(a, v, o))
    }
    #[track_caller]
    fn swap(&self, v: *mut T, o: Ordering) -> *mut T {
        same("atomic", self.0.engine());
        each!(&self.0, a => RawAtomic::swap(a, v, o))
    }
    #[track_caller]
    fn compare_exchange(&self, cur: *mut T, new: *mut T, s: Ordering, f: Ordering) -> Result<*mut T, *mut T> {
        same("atomic", self.0.engine());
        each!(&self.0, a => RawAtomic::compare_exchange(a, cur, new, s, f))
    }
    fn into_inner(self) -> *mut T {
        each!(self.0, a => RawAtomic::into_inner(a))
    }
    fn get_mut(&mut self) -> Option<&mut *mut T> {
        each!(&mut self.0, a => RawAtomic::get_mut(a))
    }
}
