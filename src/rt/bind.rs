//! Facade objects with a `const fn new`, so they may be `static`s as std's are: an object binds
//! to an engine object at its first use in an execution, and one that outlives an execution (a
//! `static`, or an object the model captured) gets a fresh engine object, made from its initial
//! value, in each execution — every execution starts from the program's initial state.
//!
//! An execution is what [`begin`] opens (each engine calls it per execution, through
//! `engine::Execution`); real threads of a run inherit it ([`inherit`]/[`adopt`]). Outside any
//! check the objects bind once, to real threads, and behave as std's.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::mem::{needs_drop, ManuallyDrop};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

/// The next execution's number (0 is "no execution": outside any check).
static NEXT_EXECUTION: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    /// The execution running on this OS thread (0: none).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// Its bindings of objects that outlive it.
    static CONTEXT: RefCell<Option<Arc<Context>>> = const { RefCell::new(None) };
}

/// The bindings of one execution for the objects that outlive it, by address (a `static`'s, or
/// a captured object's, which does not move while the model holds it).
#[derive(Default)]
pub struct Context {
    entries: parking_lot::Mutex<HashMap<usize, Entry>>,
    /// Each model thread's values of thread-local keys, by (thread, key address).
    locals: parking_lot::Mutex<HashMap<(usize, usize), Entry>>,
}

/// One engine object, boxed, with the function that drops it.
struct Entry {
    ptr: *mut u8,
    drop: unsafe fn(*mut u8),
}

// SAFETY: an entry is the engine object of a facade object that is `Sync` (a `static`, or one
// shared with the model's threads), so it may be dropped on whichever thread ends the execution.
unsafe impl Send for Entry {}

impl Drop for Context {
    fn drop(&mut self) {
        let mut entries: Vec<Entry> = std::mem::take(&mut *self.locals.lock()).into_values().collect();
        entries.extend(std::mem::take(&mut *self.entries.lock()).into_values());
        // An execution that ended in a panic (a bug, or the engine's own abort) may have left the
        // engine unable to drop its objects: they are leaked instead.
        if std::thread::panicking() {
            std::mem::forget(entries);
            return;
        }
        for e in entries {
            // SAFETY: `ptr` came from `Box::<O>::into_raw` and `drop` is `drop_box::<O>`.
            unsafe { (e.drop)(e.ptr) }
        }
    }
}

/// SAFETY: `p` must come from `Box::<O>::into_raw`, once.
unsafe fn drop_box<O>(p: *mut u8) {
    drop(unsafe { Box::from_raw(p.cast::<O>()) })
}

impl Context {
    /// The engine object bound at `key`, made by `make` if there is none yet.
    fn get_or_make<O>(&self, key: usize, make: impl FnOnce() -> O) -> *const O {
        Self::in_map(&self.entries, key, make)
    }

    /// The value at `key` in `map`, made by `make` if there is none yet.
    fn in_map<K: std::hash::Hash + Eq + Copy, O>(
        map: &parking_lot::Mutex<HashMap<K, Entry>>,
        key: K,
        make: impl FnOnce() -> O,
    ) -> *const O {
        if let Some(e) = map.lock().get(&key) {
            return e.ptr.cast_const().cast();
        }
        // Made without the lock held: making may bind other objects.
        let made = Box::into_raw(Box::new(make()));
        let mut entries = map.lock();
        match entries.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => {
                // SAFETY: just made above, and not shared.
                drop(unsafe { Box::from_raw(made) });
                e.get().ptr.cast_const().cast()
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry { ptr: made.cast(), drop: drop_box::<O> });
                made
            }
        }
    }
}

/// The value of the thread-local `key` (its address) for the running model thread `thread` in
/// the running execution, made by `init` at the thread's first access; `None` outside any
/// execution. It lives until the execution ends.
pub fn thread_local<T>(key: usize, thread: usize, init: impl FnOnce() -> T) -> Option<*const T> {
    let context = CONTEXT.with(|c| c.borrow().clone())?;
    Some(Context::in_map(&context.locals, (thread, key), init))
}

/// The bindings made outside any check: they last as long as the process.
static OUTSIDE: LazyLock<Context> = LazyLock::new(Context::default);

/// While alive, an execution runs on this OS thread; its bindings go when the last thread that
/// runs it lets go of them.
pub struct ExecutionScope {
    previous: (u64, Option<Arc<Context>>),
}

/// Opens a new execution on this OS thread (each engine, before each execution of the model).
pub fn begin() -> ExecutionScope {
    let id = NEXT_EXECUTION.fetch_add(1, Ordering::Relaxed);
    let context = CONTEXT.with(|c| c.replace(Some(Arc::new(Context::default()))));
    ExecutionScope { previous: (CURRENT.with(|c| c.replace(id)), context) }
}

impl Drop for ExecutionScope {
    fn drop(&mut self) {
        let (id, context) = (self.previous.0, self.previous.1.take());
        CURRENT.with(|c| c.set(id));
        let mine = CONTEXT.with(|c| c.replace(context));
        drop(mine);
    }
}

/// The execution running on this OS thread, for a real thread it spawns ([`adopt`]).
pub fn inherit() -> (u64, Option<Arc<Context>>) {
    (current(), CONTEXT.with(|c| c.borrow().clone()))
}

/// Runs this (new) OS thread in its parent's execution ([`inherit`]).
pub fn adopt((id, context): (u64, Option<Arc<Context>>)) {
    CURRENT.with(|c| c.set(id));
    CONTEXT.with(|c| *c.borrow_mut() = context);
}

/// The execution running on this OS thread; 0 outside any.
#[inline]
pub fn current() -> u64 {
    CURRENT.with(Cell::get)
}

/// A facade object's initial value and, once used, its engine object `O`.
pub struct Bind<I, O> {
    /// What `new` was given. Read (copied) for each binding; never dropped once read, except
    /// through a binding.
    init: UnsafeCell<ManuallyDrop<I>>,
    name: Option<&'static str>,
    made: &'static Location<'static>,
    /// The binding made at first use, with its execution.
    local: OnceLock<(u64, O)>,
    /// `init` may own memory (a copy of its bits would share it): false for a value known to
    /// own none, such as an empty cell's `None`.
    owns: bool,
    /// `init` was moved into a binding: it may own memory and this object is not a `static`.
    moved: AtomicBool,
}

// SAFETY: sharing a `Bind` shares `O` (hence `Send + Sync`) and lets any thread read `init` into
// a binding of its own (hence `I: Send`): `std::sync::Mutex<I>`'s conditions.
unsafe impl<I: Send, O: Send + Sync> Sync for Bind<I, O> {}

impl<I, O> Bind<I, O> {
    /// An object that will start from `init`, made at `made`.
    pub const fn new(init: I, made: &'static Location<'static>) -> Self {
        Bind {
            init: UnsafeCell::new(ManuallyDrop::new(init)),
            name: None,
            made,
            local: OnceLock::new(),
            owns: true,
            moved: AtomicBool::new(false),
        }
    }

    /// As [`Bind::new`], for an initial value that owns no memory whatever its type (`None`):
    /// every execution may copy it.
    pub const fn owning_nothing(init: I, made: &'static Location<'static>) -> Self {
        let mut b = Bind::new(init, made);
        b.owns = false;
        b
    }

    /// Names the object in traces; bindings made from now on carry the name.
    pub const fn name(&mut self, name: &'static str) {
        self.name = Some(name);
    }

    /// The engine object of the running execution, made by `make(name, made, init)` at the
    /// object's first use in it.
    #[inline]
    pub fn get(&self, make: impl FnOnce(Option<&'static str>, &'static Location<'static>, I) -> O) -> &O {
        let now = current();
        match self.local.get() {
            Some((e, o)) if *e == now => o,
            Some(_) => self.shared(now, make),
            None => self.first(now, make),
        }
    }

    /// The object's first use: its binding stays with it (and moves with it).
    #[cold]
    fn first(&self, now: u64, make: impl FnOnce(Option<&'static str>, &'static Location<'static>, I) -> O) -> &O {
        let mut make = Some(make);
        let (e, o) = self.local.get_or_init(|| {
            let make = make.take().expect("called once");
            (now, make(self.name, self.made, self.take_init()))
        });
        match make {
            Some(make) if *e != now => self.shared(now, make),
            _ => o,
        }
    }

    /// An object used in an execution other than the one that first used it: the execution's
    /// own binding, made from the initial value.
    #[cold]
    fn shared(&self, now: u64, make: impl FnOnce(Option<&'static str>, &'static Location<'static>, I) -> O) -> &O {
        if now == 0 && crate::rt::dynamic::engine().is_some_and(|e| e != crate::vocab::Engine::Stress) {
            panic!(
                "a conclab object made at {} was used after the model's main function returned: a model's statics \
                 (and the objects it captures) start afresh in each execution, and last until its main function \
                 returns; join the threads that use them",
                self.made
            );
        }
        if self.moved.load(Ordering::Acquire) {
            panic!(
                "a conclab object made at {} was used in more than one execution, and its initial value owns memory \
                 that the first execution consumed: each execution must start from the initial value. Make the \
                 object inside the model, or make it a `static` (whose initial value is a constant)",
                self.made
            );
        }
        let key = self as *const Self as usize;
        let make = || make(self.name, self.made, self.read_init());
        let o = if now == 0 {
            OUTSIDE.get_or_make(key, make)
        } else {
            let context = CONTEXT.with(|c| c.borrow().clone());
            match context {
                Some(c) => c.get_or_make(key, make),
                None => OUTSIDE.get_or_make(key, make),
            }
        };
        // SAFETY: the binding lives until its execution's context is dropped, which happens
        // after the execution's model code (which alone uses this object in it) has returned;
        // outside any check it lives as long as the process.
        unsafe { &*o }
    }

    /// The initial value for the first binding: moved if it owns memory and this is no
    /// `static` (whose initial value is a constant, so a copy of its bits owns nothing).
    fn take_init(&self) -> I {
        if needs_drop::<I>() && self.owns && !in_static_memory(self as *const Self as usize) {
            self.moved.store(true, Ordering::Release);
        }
        self.read_init()
    }

    /// A bitwise copy of the initial value.
    fn read_init(&self) -> I {
        // SAFETY: `init` is never written through `&self`; a copy is sound for a type without
        // drop glue, for a `static`'s constant, and once for a value that is then marked moved.
        unsafe { std::ptr::read(&**self.init.get()) }
    }

    /// The value, exclusively: `bound` of the binding, if the object was used, else `unbound`
    /// of the initial value.
    pub fn get_mut<'a, R>(&'a mut self, bound: impl FnOnce(&'a mut O) -> R, unbound: impl FnOnce(&'a mut I) -> R) -> R {
        match self.local.get_mut() {
            Some((_, o)) => bound(o),
            None => unbound(self.init.get_mut()),
        }
    }

    /// The value, consumed: the binding's, if the object was used, else the initial value.
    pub fn into_inner(self, bound: impl FnOnce(O) -> I) -> I {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; each field is taken once.
        let local = unsafe { std::ptr::read(&this.local) };
        match local.into_inner() {
            Some((_, o)) => bound(o),
            None => unsafe { ManuallyDrop::take(this.init.get_mut()) },
        }
    }

    /// Where the object was made.
    pub fn made(&self) -> &'static Location<'static> {
        self.made
    }
}

impl<I, O> Drop for Bind<I, O> {
    fn drop(&mut self) {
        // Unused, the initial value is still the object's own (a used one moved it or copied
        // bits that own nothing).
        if self.local.get().is_none() && !*self.moved.get_mut() {
            // SAFETY: never dropped before, and `self` is going.
            unsafe { ManuallyDrop::drop(self.init.get_mut()) }
        }
    }
}

/// Whether `addr` lies in a writable segment of a loaded program image: where a `static` with
/// interior mutability lives. Images loaded after the first call are not seen (their statics
/// then count as other objects: refused in a second execution if their value owns memory).
#[cfg(target_os = "linux")]
fn in_static_memory(addr: usize) -> bool {
    static RANGES: OnceLock<Vec<(usize, usize)>> = OnceLock::new();
    unsafe extern "C" fn each(info: *mut libc::dl_phdr_info, _: libc::size_t, data: *mut libc::c_void) -> libc::c_int {
        // SAFETY: the loader passes a valid `info`, and `data` is the vector below.
        let (info, ranges) = unsafe { (&*info, &mut *data.cast::<Vec<(usize, usize)>>()) };
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: `dlpi_phdr` holds `dlpi_phnum` headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_W != 0 {
                let start = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
                ranges.push((start, start.wrapping_add(ph.p_memsz as usize)));
            }
        }
        0
    }
    let ranges = RANGES.get_or_init(|| {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        // SAFETY: `each` only reads the headers and pushes onto `ranges`.
        unsafe { libc::dl_iterate_phdr(Some(each), (&mut ranges as *mut Vec<(usize, usize)>).cast()) };
        ranges
    });
    ranges.iter().any(|&(start, end)| (start..end).contains(&addr))
}

/// Elsewhere no address counts as a `static`'s.
#[cfg(not(target_os = "linux"))]
fn in_static_memory(_: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::in_static_memory;

    static IN_DATA: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    static IN_BSS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[test]
    fn statics_are_told_from_the_stack_and_the_heap() {
        assert!(in_static_memory(&IN_DATA as *const _ as usize));
        assert!(in_static_memory(&IN_BSS as *const _ as usize));
        let on_stack = 5u64;
        assert!(!in_static_memory(&on_stack as *const _ as usize));
        let on_heap = Box::new(5u64);
        assert!(!in_static_memory(&*on_heap as *const _ as usize));
    }
}
