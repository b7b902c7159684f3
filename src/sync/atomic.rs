//! `std::sync::atomic`, checked: the same names and signatures under the running check's engine.

pub use std::sync::atomic::Ordering;

use crate::rt::dynamic::{DynAtomicBool, DynAtomicUsize};
use crate::rt::{self, Dynamic};

/// `std::sync::atomic::AtomicUsize`, checked.
pub struct AtomicUsize {
    inner: rt::Atomic<DynAtomicUsize, Dynamic>,
}

/// `std::sync::atomic::AtomicBool`, checked.
pub struct AtomicBool {
    inner: rt::Atomic<DynAtomicBool, Dynamic>,
}

macro_rules! common {
    ($name:ident, $v:ty) => {
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
    };
}

common!(AtomicUsize, usize);
common!(AtomicBool, bool);

impl AtomicUsize {
    /// Adds, returning the old value.
    #[track_caller]
    pub fn fetch_add(&self, v: usize, order: Ordering) -> usize {
        self.inner.fetch_add(v, order)
    }

    /// Subtracts, returning the old value.
    #[track_caller]
    pub fn fetch_sub(&self, v: usize, order: Ordering) -> usize {
        self.inner.fetch_sub(v, order)
    }
}
