//! `std::thread_local!` and `std::thread::LocalKey`, checked: loom and shuttle run every model
//! thread on one OS thread, where std's thread-locals would be one value shared by all of them.
//! Here each model thread of an execution has its own value, made by the key's initialiser at
//! the thread's first access (dropped when the next execution begins if it has no drop glue;
//! else left, so that no `Drop` runs outside its execution); outside any check a key is
//! std's (one value per OS thread). Port with `use conclab::thread_local;` beside the other
//! `use` lines.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::rt::{self, Backend, Dynamic};

/// `std::thread::LocalKey`: a key whose value each thread of a check has its own of.
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

/// `std::thread::AccessError`: never returned here (a value is reachable as long as its
/// execution runs), kept for `try_with`'s signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError;

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("already destroyed")
    }
}

impl std::error::Error for AccessError {}

std::thread_local! {
    /// Outside any check: this OS thread's values, by key address (std's semantics).
    static OUTSIDE: RefCell<HashMap<usize, Box<dyn Any>>> = RefCell::new(HashMap::new());
}

impl<T: 'static> LocalKey<T> {
    /// A key whose values `init` makes ([`crate::thread_local!`] writes this).
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        LocalKey { init }
    }

    /// Runs `f` with this thread's value, made first if the thread has none yet.
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        let key = self as *const Self as usize;
        let thread = <Dynamic as Backend>::thread_index();
        if let Some(v) = rt::bind::thread_local(key, thread, self.init) {
            // SAFETY: the value lives until the execution ends, after the model code that alone
            // reaches it through this key; only this model thread reaches it.
            return f(unsafe { &*v });
        }
        let v: *const T = OUTSIDE.with(|m| {
            let mut m = m.borrow_mut();
            let b = m.entry(key).or_insert_with(|| Box::new((self.init)()));
            b.downcast_ref::<T>().expect("one key, one type") as *const T
        });
        // SAFETY: boxed in this OS thread's map, never removed before the thread ends.
        f(unsafe { &*v })
    }

    /// [`LocalKey::with`]; never an error here.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        Ok(self.with(f))
    }
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets this thread's value.
    pub fn set(&'static self, value: T) {
        self.with(|c| c.set(value))
    }

    /// This thread's value, copied.
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes this thread's value, leaving `T::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces this thread's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|c| c.replace(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Runs `f` with this thread's value borrowed.
    pub fn with_borrow<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.with(|c| f(&c.borrow()))
    }

    /// Runs `f` with this thread's value borrowed mutably.
    pub fn with_borrow_mut<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R,
    {
        self.with(|c| f(&mut c.borrow_mut()))
    }

    /// Sets this thread's value.
    pub fn set(&'static self, value: T) {
        self.with(|c| *c.borrow_mut() = value)
    }

    /// Takes this thread's value, leaving `T::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces this thread's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|c| c.replace(value))
    }
}

impl<T: 'static> std::fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// `std::thread_local!`: each thread of a check has its own value of each key (see
/// [`crate::thread::LocalKey`]). `static NAME: T = init;` and `static NAME: T = const { init };`,
/// with attributes and visibility, as std's.
#[macro_export]
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init; $($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block; $($rest:tt)*) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init; $($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::thread::LocalKey<$t> = {
            fn init() -> $t {
                $init
            }
            $crate::thread::LocalKey::new(init)
        };
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}

/// Thread-locals checked by loom, shuttle and real threads through one compilation.
#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use crate::report::{Coverage, Verdict};
    use crate::runner::{self, Checker};
    use crate::thread;

    crate::thread_local! {
        /// Calls made by this thread.
        static CALLS: Cell<u32> = const { Cell::new(0) };
        /// What this thread logged.
        static LOG: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
    }

    /// Two threads count their own calls and log their own steps, with scheduling points
    /// between: with one value for every model thread (std's thread-locals under loom and
    /// shuttle) the counts and logs mix; each execution starts from 0 and empty.
    fn each_thread_counts_its_own_calls() {
        let work = |steps: u32, name: &'static str| {
            for _ in 0..steps {
                CALLS.set(CALLS.get() + 1);
                LOG.with_borrow_mut(|l| l.push(name));
                thread::yield_now();
            }
            (CALLS.get(), LOG.with_borrow(Vec::len))
        };
        let t = thread::spawn(move || work(2, "worker"));
        assert_eq!(work(3, "main"), (3, 3), "main's thread-locals hold another thread's calls");
        assert_eq!(t.join().unwrap(), (2, 2), "the worker's thread-locals hold another thread's calls");
        assert!(LOG.take().iter().all(|n| *n == "main"));
    }

    #[test]
    fn each_model_thread_has_its_own_thread_locals_in_every_execution() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::Stress] {
            let r = runner::check_in_process("locals", each_thread_counts_its_own_calls, checker, Some(300));
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        let r = runner::check_in_process("locals", each_thread_counts_its_own_calls, Checker::Loom, None);
        assert_eq!(r.coverage, Coverage::Exhaustive, "{}", r.render());
    }

    #[test]
    fn outside_any_check_a_key_is_std_s() {
        CALLS.set(5);
        let other = std::thread::spawn(|| CALLS.get()).join().unwrap();
        assert_eq!((CALLS.get(), other), (5, 0));
    }
}
