//! `std::sync::atomic`, checked: the same names and signatures under the running check's engine.

pub use std::sync::atomic::{compiler_fence, Ordering};

use crate::rt::dynamic::{
    DynAtomicBool, DynAtomicI16, DynAtomicI32, DynAtomicI64, DynAtomicI8, DynAtomicIsize, DynAtomicU16, DynAtomicU32,
    DynAtomicU64, DynAtomicU8, DynAtomicUsize,
};
use crate::rt::{self, Dynamic};

/// `std::sync::atomic::fence`: loom models it; shuttle, sequentially consistent, needs none.
#[track_caller]
pub fn fence(order: Ordering) {
    rt::fence::<Dynamic>(order)
}

macro_rules! common {
    ($name:ident, $raw:ty, $v:ty) => {
        #[doc = concat!("`std::sync::atomic::", stringify!($name), "`, checked.")]
        pub struct $name {
            inner: rt::Atomic<$raw, Dynamic>,
        }

        impl $name {
            /// A new atomic, bound to the engine of the running check.
            #[track_caller]
            pub fn new(v: $v) -> Self {
                $name { inner: rt::Atomic::new(v) }
            }

            /// Loads the value.
            #[track_caller]
            pub fn load(&self, order: Ordering) -> $v {
                self.inner.load(order)
            }

            /// Stores a value.
            #[track_caller]
            pub fn store(&self, v: $v, order: Ordering) {
                self.inner.store(v, order)
            }

            /// Stores a value, returning the old one.
            #[track_caller]
            pub fn swap(&self, v: $v, order: Ordering) -> $v {
                self.inner.swap(v, order)
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
                self.inner.compare_exchange(current, new, success, failure)
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
    };
}

macro_rules! ints {
    ($($name:ident: $raw:ty, $v:ty;)*) => {$(
        common!($name, $raw, $v);

        impl $name {
            /// Adds (wrapping), returning the old value.
            #[track_caller]
            pub fn fetch_add(&self, v: $v, order: Ordering) -> $v {
                self.inner.fetch_add(v, order)
            }

            /// Subtracts (wrapping), returning the old value.
            #[track_caller]
            pub fn fetch_sub(&self, v: $v, order: Ordering) -> $v {
                self.inner.fetch_sub(v, order)
            }

            /// Bitwise and, returning the old value.
            #[track_caller]
            pub fn fetch_and(&self, v: $v, order: Ordering) -> $v {
                self.inner.fetch_and(v, order)
            }

            /// Bitwise or, returning the old value.
            #[track_caller]
            pub fn fetch_or(&self, v: $v, order: Ordering) -> $v {
                self.inner.fetch_or(v, order)
            }

            /// Bitwise xor, returning the old value.
            #[track_caller]
            pub fn fetch_xor(&self, v: $v, order: Ordering) -> $v {
                self.inner.fetch_xor(v, order)
            }

            /// Maximum, returning the old value.
            #[track_caller]
            pub fn fetch_max(&self, v: $v, order: Ordering) -> $v {
                self.inner.fetch_max(v, order)
            }

            /// Minimum, returning the old value.
            #[track_caller]
            pub fn fetch_min(&self, v: $v, order: Ordering) -> $v {
                self.inner.fetch_min(v, order)
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
            pub fn named(mut self, name: &'static str) -> Self {
                self.inner.rename(name);
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
