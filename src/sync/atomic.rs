//! `std::sync::atomic`, checked: the same names and signatures under the running check's engine.
//!
//! Every type has std's methods, `into_inner` and `get_mut` included. Two limits of the engines:
//! shuttle runs every access as `SeqCst` (no weak memory: a bug that needs a stale read is not
//! there, and its report says so), and loom cannot lend an atomic's value (`get_mut` panics
//! under loom, naming the limit: loom has only a closure-based `with_mut`; use `into_inner`,
//! or `load`/`store`, or check the model with shuttle).

pub use std::sync::atomic::{compiler_fence, Ordering};

use crate::rt::dynamic::{
    DynAtomicBool, DynAtomicI16, DynAtomicI32, DynAtomicI64, DynAtomicI8, DynAtomicIsize, DynAtomicPtr, DynAtomicU16,
    DynAtomicU32, DynAtomicU64, DynAtomicU8, DynAtomicUsize,
};
use std::panic::Location;

use crate::rt::bind::Bind;
use crate::rt::{self, Dynamic};

/// The message of `get_mut` under loom.
#[cold]
#[track_caller]
fn cannot_lend() -> ! {
    panic!(
        "engine limit: an atomic's `get_mut` cannot be checked by loom: loom lends an atomic's value only inside a closure \
         (`with_mut`), never as `&mut`; use `into_inner`, or `load` and `store`, or check this model with shuttle"
    )
}

/// `std::sync::atomic::fence`: loom models it; shuttle, sequentially consistent, needs none.
#[track_caller]
pub fn fence(order: Ordering) {
    rt::fence::<Dynamic>(order)
}

macro_rules! common {
    ($name:ident, $raw:ty, $v:ty) => {
        #[doc = concat!("`std::sync::atomic::", stringify!($name), "`, checked.")]
        pub struct $name {
            inner: Bind<$v, rt::Atomic<$raw, Dynamic>>,
        }

        impl $name {
            /// A new atomic (`const`, as std's). It binds to the engine of the running check
            /// when first used.
            #[track_caller]
            pub const fn new(v: $v) -> Self {
                $name { inner: Bind::plain(v, Location::caller()) }
            }

            /// The running execution's atomic.
            #[inline]
            fn raw(&self) -> &rt::Atomic<$raw, Dynamic> {
                self.inner.get(rt::Atomic::at)
            }

            /// Loads the value.
            #[track_caller]
            pub fn load(&self, order: Ordering) -> $v {
                self.raw().load(order)
            }

            /// Stores a value.
            #[track_caller]
            pub fn store(&self, v: $v, order: Ordering) {
                self.raw().store(v, order)
            }

            /// Stores a value, returning the old one.
            #[track_caller]
            pub fn swap(&self, v: $v, order: Ordering) -> $v {
                self.raw().swap(v, order)
            }

            /// Stores `new` if the value is `current`: `Ok(old)` when it did, `Err(actual)` otherwise.
            #[track_caller]
            pub fn compare_exchange(
                &self,
                current: $v,
                new: $v,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$v, $v> {
                self.raw().compare_exchange(current, new, success, failure)
            }

            /// As [`Self::compare_exchange`]; the checkers never fail it spuriously.
            #[track_caller]
            pub fn compare_exchange_weak(&self, current: $v, new: $v, s: Ordering, f: Ordering) -> Result<$v, $v> {
                self.compare_exchange(current, new, s, f)
            }

            /// Applies `f` until a compare-exchange succeeds or `f` returns `None`.
            #[track_caller]
            pub fn fetch_update<F>(&self, set: Ordering, fetch: Ordering, mut f: F) -> Result<$v, $v>
            where
                F: FnMut($v) -> Option<$v>,
            {
                let mut prev = self.load(fetch);
                while let Some(next) = f(prev) {
                    match self.compare_exchange_weak(prev, next, set, fetch) {
                        Ok(v) => return Ok(v),
                        Err(now) => prev = now,
                    }
                }
                Err(prev)
            }

            /// [`Self::fetch_update`] under its newer name (std 1.95).
            #[track_caller]
            pub fn try_update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                f: impl FnMut($v) -> Option<$v>,
            ) -> Result<$v, $v> {
                self.fetch_update(set_order, fetch_order, f)
            }

            /// Applies `f` until a compare-exchange succeeds; returns the old value (std 1.95).
            #[track_caller]
            pub fn update(&self, set_order: Ordering, fetch_order: Ordering, mut f: impl FnMut($v) -> $v) -> $v {
                self.fetch_update(set_order, fetch_order, |v| Some(f(v))).unwrap_or_else(|v| v)
            }

            /// Consumes the atomic, returning its value.
            pub fn into_inner(self) -> $v {
                self.inner.into_inner(rt::Atomic::into_inner)
            }

            /// The value, borrowed mutably: no other thread can access it meanwhile. Panics
            /// under loom, which cannot lend it (see the module docs).
            #[track_caller]
            pub fn get_mut(&mut self) -> &mut $v {
                self.inner.get_mut(rt::Atomic::get_mut, Some).unwrap_or_else(|| cannot_lend())
            }
        }

        impl Default for $name {
            #[track_caller]
            fn default() -> Self {
                $name::new(<$v>::default())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }

        impl From<$v> for $name {
            /// A new atomic holding `v` (as [`Self::new`]).
            #[track_caller]
            fn from(v: $v) -> Self {
                $name::new(v)
            }
        }
    };
}

macro_rules! ints {
    ($($name:ident: $raw:ty, $v:ty;)*) => {$(
        common!($name, $raw, $v);

        impl $name {
            /// Adds (wrapping), returning the old value.
            #[track_caller]
            pub fn fetch_add(&self, v: $v, order: Ordering) -> $v {
                self.raw().fetch_add(v, order)
            }

            /// Subtracts (wrapping), returning the old value.
            #[track_caller]
            pub fn fetch_sub(&self, v: $v, order: Ordering) -> $v {
                self.raw().fetch_sub(v, order)
            }

            /// Bitwise and, returning the old value.
            #[track_caller]
            pub fn fetch_and(&self, v: $v, order: Ordering) -> $v {
                self.raw().fetch_and(v, order)
            }

            /// Bitwise or, returning the old value.
            #[track_caller]
            pub fn fetch_or(&self, v: $v, order: Ordering) -> $v {
                self.raw().fetch_or(v, order)
            }

            /// Bitwise xor, returning the old value.
            #[track_caller]
            pub fn fetch_xor(&self, v: $v, order: Ordering) -> $v {
                self.raw().fetch_xor(v, order)
            }

            /// Bitwise nand (`!(old & v)`), returning the old value.
            #[track_caller]
            pub fn fetch_nand(&self, v: $v, order: Ordering) -> $v {
                self.raw().fetch_nand(v, order)
            }

            /// Maximum, returning the old value.
            #[track_caller]
            pub fn fetch_max(&self, v: $v, order: Ordering) -> $v {
                self.raw().fetch_max(v, order)
            }

            /// Minimum, returning the old value.
            #[track_caller]
            pub fn fetch_min(&self, v: $v, order: Ordering) -> $v {
                self.raw().fetch_min(v, order)
            }
        }
    )*};
}

ints! {
    AtomicU8: DynAtomicU8, u8;
    AtomicU16: DynAtomicU16, u16;
    AtomicU32: DynAtomicU32, u32;
    AtomicU64: DynAtomicU64, u64;
    AtomicUsize: DynAtomicUsize, usize;
    AtomicI8: DynAtomicI8, i8;
    AtomicI16: DynAtomicI16, i16;
    AtomicI32: DynAtomicI32, i32;
    AtomicI64: DynAtomicI64, i64;
    AtomicIsize: DynAtomicIsize, isize;
}

common!(AtomicBool, DynAtomicBool, bool);

impl AtomicBool {
    /// Logical and, returning the old value (a compare-exchange loop under the checkers).
    #[track_caller]
    pub fn fetch_and(&self, v: bool, order: Ordering) -> bool {
        self.fetch_update(order, load_part(order), |x| Some(x & v)).unwrap_or_else(|x| x)
    }

    /// Logical or, returning the old value (a compare-exchange loop under the checkers).
    #[track_caller]
    pub fn fetch_or(&self, v: bool, order: Ordering) -> bool {
        self.fetch_update(order, load_part(order), |x| Some(x | v)).unwrap_or_else(|x| x)
    }

    /// Logical xor, returning the old value (a compare-exchange loop under the checkers).
    #[track_caller]
    pub fn fetch_xor(&self, v: bool, order: Ordering) -> bool {
        self.fetch_update(order, load_part(order), |x| Some(x ^ v)).unwrap_or_else(|x| x)
    }

    /// Logical nand (`!(old && v)`), returning the old value (a compare-exchange loop under
    /// the checkers).
    #[track_caller]
    pub fn fetch_nand(&self, v: bool, order: Ordering) -> bool {
        self.fetch_update(order, load_part(order), |x| Some(!(x && v))).unwrap_or_else(|x| x)
    }

    /// Logical not, returning the old value (std 1.81; a compare-exchange loop under the
    /// checkers).
    #[track_caller]
    pub fn fetch_not(&self, order: Ordering) -> bool {
        self.fetch_update(order, load_part(order), |x| Some(!x)).unwrap_or_else(|x| x)
    }
}

/// The ordering with which a read-modify-write of ordering `o` reads.
fn load_part(o: Ordering) -> Ordering {
    match o {
        Ordering::Release => Ordering::Relaxed,
        Ordering::AcqRel => Ordering::Acquire,
        other => other,
    }
}

/// `.named(..)`, conclab's one addition to std's atomics: a readable name for traces.
macro_rules! named {
    ($($name:ident),*) => {$(
        impl $name {
            /// Names the atomic `name` in traces (`AtomicUsize::new(0).named("seats_left")`),
            /// instead of after where it was made (`atomic@src/bank.rs:14`).
            pub const fn named(mut self, name: &'static str) -> Self {
                self.inner.name(name);
                self
            }
        }
    )*};
}

named!(
    AtomicBool,
    AtomicU8,
    AtomicU16,
    AtomicU32,
    AtomicU64,
    AtomicUsize,
    AtomicI8,
    AtomicI16,
    AtomicI32,
    AtomicI64,
    AtomicIsize
);

/// `std::sync::atomic::AtomicPtr`, checked: the pointer is atomic, what it points to is the
/// model's own business (as with std's). Traces show a pointer as its address.
pub struct AtomicPtr<T> {
    inner: Bind<*mut T, rt::Atomic<DynAtomicPtr<T>, Dynamic>>,
}

impl<T> AtomicPtr<T> {
    /// Names the atomic `name` in traces, instead of after where it was made.
    pub const fn named(mut self, name: &'static str) -> Self {
        self.inner.name(name);
        self
    }
}

// SAFETY: as std's `AtomicPtr<T>`: only the pointer is shared, through atomic accesses; each
// engine's atomic pointer is a cell accessed only through its atomic operations.
unsafe impl<T> Send for AtomicPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for AtomicPtr<T> {}

impl<T> AtomicPtr<T> {
    /// A new atomic pointer (`const`, as std's). It binds to the engine of the running check
    /// when first used.
    #[track_caller]
    pub const fn new(p: *mut T) -> Self {
        AtomicPtr { inner: Bind::plain(p, Location::caller()) }
    }

    /// The running execution's atomic.
    #[inline]
    fn raw(&self) -> &rt::Atomic<DynAtomicPtr<T>, Dynamic> {
        self.inner.get(rt::Atomic::at)
    }

    /// Loads the pointer.
    #[track_caller]
    pub fn load(&self, order: Ordering) -> *mut T {
        self.raw().load(order)
    }

    /// Stores a pointer.
    #[track_caller]
    pub fn store(&self, p: *mut T, order: Ordering) {
        self.raw().store(p, order)
    }

    /// Stores a pointer, returning the old one.
    #[track_caller]
    pub fn swap(&self, p: *mut T, order: Ordering) -> *mut T {
        self.raw().swap(p, order)
    }

    /// Stores `new` if the pointer is `current`: `Ok(old)` when it did, `Err(actual)` otherwise.
    #[track_caller]
    pub fn compare_exchange(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        self.raw().compare_exchange(current, new, success, failure)
    }

    /// As [`Self::compare_exchange`]; the checkers never fail it spuriously.
    #[track_caller]
    pub fn compare_exchange_weak(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        self.compare_exchange(current, new, success, failure)
    }

    /// Applies `f` until a compare-exchange succeeds or `f` returns `None`.
    #[track_caller]
    pub fn fetch_update<F>(&self, set: Ordering, fetch: Ordering, mut f: F) -> Result<*mut T, *mut T>
    where
        F: FnMut(*mut T) -> Option<*mut T>,
    {
        let mut prev = self.load(fetch);
        while let Some(next) = f(prev) {
            match self.compare_exchange_weak(prev, next, set, fetch) {
                Ok(p) => return Ok(p),
                Err(now) => prev = now,
            }
        }
        Err(prev)
    }

    /// [`Self::fetch_update`] under its newer name (std 1.95).
    #[track_caller]
    pub fn try_update(
        &self,
        set_order: Ordering,
        fetch_order: Ordering,
        f: impl FnMut(*mut T) -> Option<*mut T>,
    ) -> Result<*mut T, *mut T> {
        self.fetch_update(set_order, fetch_order, f)
    }

    /// Applies `f` until a compare-exchange succeeds; returns the old pointer (std 1.95).
    #[track_caller]
    pub fn update(&self, set_order: Ordering, fetch_order: Ordering, mut f: impl FnMut(*mut T) -> *mut T) -> *mut T {
        self.fetch_update(set_order, fetch_order, |p| Some(f(p))).unwrap_or_else(|p| p)
    }

    /// Applies `f` to the pointer atomically: a compare-exchange loop under the checkers, as
    /// [`AtomicBool`]'s logical operations are.
    #[track_caller]
    fn rmw(&self, order: Ordering, f: impl Fn(*mut T) -> *mut T) -> *mut T {
        self.update(order, load_part(order), f)
    }

    /// Offsets the pointer by `val` elements (wrapping), returning the old one (std 1.91).
    #[track_caller]
    pub fn fetch_ptr_add(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.wrapping_add(val))
    }

    /// Offsets the pointer back by `val` elements (wrapping), returning the old one (std 1.91).
    #[track_caller]
    pub fn fetch_ptr_sub(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.wrapping_sub(val))
    }

    /// Offsets the pointer by `val` bytes (wrapping), returning the old one (std 1.91).
    #[track_caller]
    pub fn fetch_byte_add(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.wrapping_byte_add(val))
    }

    /// Offsets the pointer back by `val` bytes (wrapping), returning the old one (std 1.91).
    #[track_caller]
    pub fn fetch_byte_sub(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.wrapping_byte_sub(val))
    }

    /// Bitwise or of the address with `val` (tag bits), returning the old pointer (std 1.91).
    #[track_caller]
    pub fn fetch_or(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.map_addr(|a| a | val))
    }

    /// Bitwise and of the address with `val`, returning the old pointer (std 1.91).
    #[track_caller]
    pub fn fetch_and(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.map_addr(|a| a & val))
    }

    /// Bitwise xor of the address with `val`, returning the old pointer (std 1.91).
    #[track_caller]
    pub fn fetch_xor(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, |p| p.map_addr(|a| a ^ val))
    }

    /// Consumes the atomic, returning the pointer.
    pub fn into_inner(self) -> *mut T {
        self.inner.into_inner(rt::Atomic::into_inner)
    }

    /// The pointer, borrowed mutably. Panics under loom, which cannot lend it (module docs).
    #[track_caller]
    pub fn get_mut(&mut self) -> &mut *mut T {
        self.inner.get_mut(rt::Atomic::get_mut, Some).unwrap_or_else(|| cannot_lend())
    }
}

impl<T> Default for AtomicPtr<T> {
    /// A null pointer.
    #[track_caller]
    fn default() -> Self {
        AtomicPtr::new(std::ptr::null_mut())
    }
}

impl<T> From<*mut T> for AtomicPtr<T> {
    /// A new atomic pointer holding `p` (as [`Self::new`]).
    #[track_caller]
    fn from(p: *mut T) -> Self {
        AtomicPtr::new(p)
    }
}

impl<T> std::fmt::Debug for AtomicPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AtomicPtr")
    }
}

/// Atomic pointers, `into_inner` and `get_mut`, checked by loom and shuttle through one
/// compilation.
#[cfg(test)]
mod tests {
    use super::{AtomicPtr, AtomicUsize, Ordering::*};
    use crate::report::{BlindSpot, Coverage, Kind, Report, Verdict};
    use crate::runner::{self, Checker};
    use crate::sync::{Arc, Mutex, RwLock};
    use crate::thread;

    /// A message a writer publishes through an [`AtomicPtr`].
    struct Msg {
        value: AtomicUsize,
    }

    /// A writer publishes a message; the reader (`main`) waits for the pointer and checks the
    /// message is whole, then frees it after the join.
    fn publish(init_first: bool, store: super::Ordering, load: super::Ordering) {
        let slot = Arc::new(AtomicPtr::<Msg>::default());
        let s2 = slot.clone();
        let writer = thread::spawn(move || {
            let msg = Box::into_raw(Box::new(Msg { value: AtomicUsize::new(0) }));
            if init_first {
                // SAFETY: `msg` is live until `main` frees it, after the join.
                unsafe { &*msg }.value.store(42, Relaxed);
                s2.store(msg, store);
            } else {
                s2.store(msg, store); // BUG: published before it is initialised
                unsafe { &*msg }.value.store(42, Relaxed);
            }
        });
        // The reader waits for the pointer, then reads the message.
        let p = loop {
            let p = slot.load(load);
            if !p.is_null() {
                break p;
            }
            crate::hint::spin_loop();
        };
        // SAFETY: as above.
        assert_eq!(unsafe { &*p }.value.load(Relaxed), 42, "the reader saw the message half-made");
        writer.join().unwrap();
        let p = Arc::try_unwrap(slot).expect("the writer is done").into_inner();
        // SAFETY: made by `Box::into_raw` above, freed once.
        drop(unsafe { Box::from_raw(p) });
    }

    fn published_before_initialised() {
        publish(false, Release, Acquire)
    }

    fn published_relaxed() {
        publish(true, Relaxed, Relaxed)
    }

    fn published_with_release_acquire() {
        publish(true, Release, Acquire)
    }

    /// Two threads count; `main` then reads every value through `into_inner` and `get_mut`.
    fn owned_access(atomic_get_mut: bool) {
        let (count, log, table) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(0)), Arc::new(RwLock::new(0)));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (count, log, table) = (count.clone(), log.clone(), table.clone());
                thread::spawn(move || {
                    count.fetch_add(1, Relaxed);
                    *log.lock().unwrap() += 1;
                    *table.write().unwrap() += 1;
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let mut log = Arc::try_unwrap(log).expect("threads done");
        assert!(!log.is_poisoned());
        log.clear_poison();
        *log.get_mut().unwrap() += 10;
        assert_eq!(log.into_inner().unwrap(), 12);
        let mut table = Arc::try_unwrap(table).expect("threads done");
        *table.get_mut().unwrap() += 10;
        assert_eq!(*table.read().unwrap(), 12);
        let mut count = Arc::try_unwrap(count).expect("threads done");
        if atomic_get_mut {
            *count.get_mut() += 10;
            assert_eq!(count.into_inner(), 12);
        } else {
            assert_eq!(count.into_inner(), 2);
        }
        let mut p = AtomicPtr::new(std::ptr::null_mut::<u8>());
        if atomic_get_mut {
            assert!(p.get_mut().is_null());
        }
    }

    fn check(body: fn(), checker: Checker) -> Report {
        // loom runs to the end of its search; shuttle samples.
        runner::check_in_process("atomic-model", body, checker, (checker != Checker::Loom).then_some(500))
    }

    #[test]
    fn an_atomic_ptr_published_before_its_message_is_made_is_found_and_the_fix_passes() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(published_before_initialised, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("half-made"), "{}", r.render());
            let r = check(published_with_release_acquire, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        assert_eq!(check(published_with_release_acquire, Checker::Loom).coverage, Coverage::Exhaustive);
        // Relaxed publication: a weak-memory bug, loom's alone. The reader sees the pointer but
        // not the message's value stored before it (it reads the value the message was made
        // with). shuttle says it cannot see such bugs.
        let r = check(published_relaxed, Checker::Loom);
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
        assert!(r.message.as_deref().unwrap_or("").contains("half-made"), "{}", r.render());
        // A pass through a pointer says what the pool of atomics cannot show.
        let r = check(published_with_release_acquire, Checker::Loom);
        assert!(r.not_covered.contains(&BlindSpot::UnsyncedMaking), "{}", r.render());
        let r = check(published_relaxed, Checker::ShuttleRandom);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        assert!(r.not_covered.contains(&BlindSpot::WeakMemory), "{}", r.render());
    }

    /// Two threads each flip a flag (`fetch_not`) and invert a byte (`fetch_nand` with all
    /// ones, which is `!old`): flipped twice, both are back where they began. `racy` does each
    /// flip as a load and a store instead: one flip can be lost.
    fn flip_twice(racy: bool) {
        use super::{AtomicBool, AtomicU8};
        let (flag, byte) = (Arc::new(AtomicBool::from(false)), Arc::new(AtomicU8::from(0x0f)));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (flag, byte) = (flag.clone(), byte.clone());
                thread::spawn(move || {
                    if racy {
                        let (f, b) = (flag.load(SeqCst), byte.load(SeqCst));
                        flag.store(!f, SeqCst); // BUG: the other thread may have flipped meanwhile
                        byte.store(!b, SeqCst); // what fetch_nand(0xff) does, in two steps
                    } else {
                        flag.fetch_not(AcqRel);
                        byte.fetch_nand(0xff, AcqRel);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!((flag.load(SeqCst), byte.load(SeqCst)), (false, 0x0f), "a flip was lost");
        // One thread: nand and the newer update calls, against std's own answers.
        let b = AtomicBool::new(true);
        assert!(b.fetch_nand(true, SeqCst) && !b.load(SeqCst), "true nand true is false");
        assert!(!b.fetch_nand(false, SeqCst) && b.load(SeqCst), "false nand false is true");
        let n = AtomicU8::new(0b1100);
        assert_eq!((n.fetch_nand(0b1010, SeqCst), n.load(SeqCst)), (0b1100, !0b1000));
        assert_eq!(n.update(SeqCst, SeqCst, |v| v.wrapping_add(1)), !0b1000);
        assert_eq!(n.try_update(SeqCst, SeqCst, |_| None), Err(!0b1000u8 + 1));
    }

    #[test]
    fn fetch_not_and_fetch_nand_flip_atomically_and_a_load_then_store_flip_is_lost() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(|| flip_twice(true), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("a flip was lost"), "{}", r.render());
            let r = check(|| flip_twice(false), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        assert_eq!(check(|| flip_twice(false), Checker::Loom).coverage, Coverage::Exhaustive);
    }

    /// Two threads each set a tag bit in the low bits of an aligned pointer: with `fetch_or`
    /// both bits stay; `racy` sets them by a load and a store, and one can be lost.
    fn tag_a_pointer(racy: bool) {
        let target = Box::into_raw(Box::new(0u64));
        let slot = Arc::new(AtomicPtr::from(target));
        let handles: Vec<_> = [1usize, 2]
            .into_iter()
            .map(|bit| {
                let slot = slot.clone();
                thread::spawn(move || {
                    if racy {
                        let p = slot.load(SeqCst);
                        slot.store(p.map_addr(|a| a | bit), SeqCst); // BUG: the other's tag may be lost
                    } else {
                        slot.fetch_or(bit, AcqRel);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let tagged = slot.load(SeqCst);
        assert_eq!(tagged.addr() & 3, 3, "a tag was lost");
        assert_eq!(slot.fetch_and(!3, SeqCst), tagged);
        assert_eq!(slot.fetch_ptr_add(1, SeqCst), target);
        assert_eq!(slot.fetch_byte_sub(8, SeqCst), target.wrapping_add(1));
        assert_eq!(slot.update(SeqCst, SeqCst, |p| p.wrapping_add(2)), target);
        assert_eq!(slot.fetch_ptr_sub(2, SeqCst), target.wrapping_add(2));
        assert_eq!((slot.fetch_xor(1, SeqCst), slot.fetch_byte_add(0, SeqCst)), (target, target.map_addr(|a| a ^ 1)));
        // SAFETY: made by `Box::into_raw` above, freed once.
        drop(unsafe { Box::from_raw(target) });
    }

    #[test]
    fn an_atomic_ptr_s_tag_bits_set_by_fetch_or_stay_and_a_load_then_store_loses_one() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(|| tag_a_pointer(true), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("a tag was lost"), "{}", r.render());
            let r = check(|| tag_a_pointer(false), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
    }

    #[test]
    fn into_inner_and_get_mut_read_what_the_threads_left_and_loom_names_its_limit() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::Stress] {
            let r = check(|| owned_access(false), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
        }
        for checker in [Checker::ShuttleRandom, Checker::Stress] {
            let r = check(|| owned_access(true), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
        }
        let r = check(|| owned_access(true), Checker::Loom);
        assert_eq!(r.inconclusive, Some(crate::report::Undecided::EngineLimit), "not a bug: {}", r.render());
        assert!(r.message.as_deref().unwrap_or("").contains("cannot be checked by loom"), "{}", r.render());
    }
}
