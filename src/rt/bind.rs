//! Facade objects with a `const fn new`, so they may be `static`s as std's are: an object binds
//! to an engine object at its first use in an execution, and one that outlives an execution (a
//! `static`, or an object the model captured) gets a fresh engine object, made from its initial
//! value, in each execution — every execution starts from the program's initial state.
//!
//! An execution is what [`begin`] opens (each engine calls it per execution, through
//! `engine::Execution`); real threads of a run inherit it ([`inherit`]/[`adopt`]), and it stays
//! the thread's until the next one begins, so a thread nobody joined still runs in it after the
//! model's main function returns. Outside any check the objects bind once, to real threads, and
//! behave as std's.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::mem::{size_of, ManuallyDrop};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

/// The next execution's number (0 is "no execution": outside any check).
static NEXT_EXECUTION: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    /// The execution running on this OS thread (0: none).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// Its bindings of objects that outlive it.
    static CONTEXT: RefCell<Option<Arc<Context>>> = const { RefCell::new(None) };
}

/// What a binding is found by: the object's address (a `static`'s, or a captured object's,
/// which does not move while the model holds it) and its engine object's type (name, size and
/// alignment: a type name alone may be two closures' of one function).
type Key = (usize, &'static str, usize, usize);

/// The bindings of one execution for the objects that outlive it, and its thread-locals.
///
/// A binding that may have lent a reference to safe code (a lock's value through a guard that
/// may be leaked, a cell's `&'static T`) is never dropped, as std never drops a `static`: the
/// reference may be kept anywhere, past the execution. The others — an atomic's, a condition
/// variable's, a thread-local value without drop glue — are dropped when the next execution on
/// the thread begins and nothing else holds the context ([`begin`]): no model code of theirs
/// runs any more, and dropping them runs none. An object's own `Drop` (or `into_inner`) takes
/// its binding out.
#[derive(Default)]
pub struct Context {
    entries: parking_lot::Mutex<HashMap<Key, Entry>>,
    /// Each model thread's values of thread-local keys, by (thread, key address).
    locals: parking_lot::Mutex<HashMap<(usize, usize), Entry>>,
}

/// One engine object (or thread-local value), boxed, and the function that drops it when that
/// is sound once its execution is over (`None`: left).
struct Entry {
    ptr: *mut u8,
    reclaim: Option<unsafe fn(*mut u8)>,
}

/// SAFETY: `p` must come from `Box::<O>::into_raw`, once.
unsafe fn drop_box<O>(p: *mut u8) {
    drop(unsafe { Box::from_raw(p.cast::<O>()) })
}

// SAFETY: an entry is the engine object of a facade object that is `Sync` (a `static`, or one
// shared with the model's threads), or a thread's value only that thread reaches.
unsafe impl Send for Entry {}

impl Context {
    /// The value at `key` in `map`, made by `make` if there is none yet; `reclaim`: whether it
    /// may be dropped once its execution is over (see [`Context`]).
    fn in_map<K: std::hash::Hash + Eq + Copy, O>(
        map: &parking_lot::Mutex<HashMap<K, Entry>>,
        key: K,
        reclaim: bool,
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
                v.insert(Entry { ptr: made.cast(), reclaim: reclaim.then_some(drop_box::<O> as unsafe fn(*mut u8)) });
                made
            }
        }
    }

    /// Takes the binding at `key` out, if there is one.
    ///
    /// SAFETY: `O` must be the type the entry was made with (the key names it), and no
    /// reference to it may be alive.
    unsafe fn take<O>(&self, key: Key) -> Option<Box<O>> {
        let e = self.entries.lock().remove(&key)?;
        // SAFETY: made by `Box::<O>::into_raw` in `in_map`; removed, so taken once.
        Some(unsafe { Box::from_raw(e.ptr.cast::<O>()) })
    }
}

/// The value of the thread-local `key` (its address) for the running model thread `thread` in
/// the running execution, made by `init` at the thread's first access; `None` outside any
/// execution. It is dropped with the execution's bindings (see [`Context`]).
pub fn thread_local<T>(key: usize, thread: usize, init: impl FnOnce() -> T) -> Option<*const T> {
    let context = CONTEXT.with(|c| c.borrow().clone())?;
    // `with` lends the value only inside its closure; dropping one with drop glue would run
    // model code (its `Drop`) outside its execution: those are left.
    Some(Context::in_map(&context.locals, (thread, key), !std::mem::needs_drop::<T>(), init))
}

/// The bindings made outside any check, of objects first used in one.
static OUTSIDE: LazyLock<Context> = LazyLock::new(Context::default);

/// Runs `f` with the bindings of execution `now` (0: outside any check).
fn with_context<R>(now: u64, f: impl FnOnce(&Context) -> R) -> R {
    match CONTEXT.with(|c| c.borrow().clone()) {
        Some(c) if now != 0 => f(&c),
        _ => f(&OUTSIDE),
    }
}

/// Opens a new execution on this OS thread (each engine, before each execution of the model).
/// It stays this thread's until the next one, or until the search's [`crate::rt::dynamic::EngineScope`]
/// ends and puts back what was there before. The previous execution's bindings that may be
/// dropped are, if no other thread holds them (a real thread nobody joined may).
pub fn begin() {
    let id = NEXT_EXECUTION.fetch_add(1, Ordering::Relaxed);
    let previous = CONTEXT.with(|c| c.replace(Some(Arc::new(Context::default()))));
    CURRENT.with(|c| c.set(id));
    if let Some(context) = previous.and_then(|c| Arc::try_unwrap(c).ok()) {
        let entries = context.entries.into_inner().into_values().chain(context.locals.into_inner().into_values());
        for e in entries {
            if let Some(reclaim) = e.reclaim {
                // SAFETY: made by `Box::into_raw` with this function; its execution is over, no
                // reference to it was lent that could outlive it, and dropping it runs no model
                // code.
                unsafe { reclaim(e.ptr) }
            }
        }
    }
}

/// The execution running on this OS thread, for a real thread it spawns ([`adopt`]), or to put
/// back when a search ends.
pub fn inherit() -> (u64, Option<Arc<Context>>) {
    (current(), CONTEXT.with(|c| c.borrow().clone()))
}

/// Runs this OS thread in the execution `inherit` gave.
pub fn adopt((id, context): (u64, Option<Arc<Context>>)) {
    CURRENT.with(|c| c.set(id));
    CONTEXT.with(|c| *c.borrow_mut() = context);
}

/// The execution running on this OS thread; 0 outside any.
#[inline]
pub fn current() -> u64 {
    CURRENT.with(Cell::get)
}

/// Whether an object's initial value is known to be a constant, so that a bitwise copy of it
/// owns nothing.
const UNKNOWN: u8 = 0;
const CONSTANT: u8 = 1;
const NOT_CONSTANT: u8 = 2;

/// A facade object's initial value and, once used, its engine object `O`.
pub struct Bind<I, O> {
    /// What `new` was given. Read (copied) for each binding; never dropped once read, except
    /// through a binding.
    init: UnsafeCell<ManuallyDrop<I>>,
    name: Option<&'static str>,
    made: &'static Location<'static>,
    /// The binding made at first use, with its execution.
    local: OnceLock<(u64, O)>,
    /// `init` may own memory or be unique (a copy of its bits would share it): false for plain
    /// data (an atomic's integer, a pointer, `()`, an empty cell's `None`).
    owns: bool,
    /// The engine object may lend safe code a reference that outlives its execution (a lock's
    /// guard, a cell's `&T`): then its bindings are never dropped (see [`Context`]).
    lends: bool,
    /// `init` was moved into a binding: it may own memory and is no constant.
    moved: AtomicBool,
    /// The object has bindings in executions' contexts (its `Drop` takes them out).
    shared: AtomicBool,
    /// Whether `init` is a `static`'s constant ([`UNKNOWN`] until asked).
    constant: AtomicU8,
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
            lends: true,
            moved: AtomicBool::new(false),
            shared: AtomicBool::new(false),
            constant: AtomicU8::new(UNKNOWN),
        }
    }

    /// As [`Bind::new`], for an initial value that is plain data (an integer, a `bool`, a raw
    /// pointer, `()`, `None`): every execution may copy it.
    /// Its engine object lends no reference either (an atomic's, a condition variable's).
    pub const fn plain(init: I, made: &'static Location<'static>) -> Self {
        let mut b = Bind::new(init, made);
        b.owns = false;
        b.lends = false;
        b
    }

    /// Says the engine object lends references ([`Bind::plain`] says it does not).
    pub const fn lending(&mut self) {
        self.lends = true;
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
            Some((e, _)) => self.shared(now, *e, make),
            None => self.first(now, make),
        }
    }

    /// The object's first use: its binding stays with it (and moves with it).
    #[cold]
    fn first(&self, now: u64, make: impl FnOnce(Option<&'static str>, &'static Location<'static>, I) -> O) -> &O {
        let mut make = Some(make);
        let (e, o) = self.local.get_or_init(|| {
            let make = make.take().expect("called once");
            // A first binding whose making unwound left the value moved (and dropped).
            if self.moved.load(Ordering::Acquire) {
                self.refuse_unless_fresh(now, now);
            }
            (now, make(self.name, self.made, self.take_init()))
        });
        match make {
            Some(make) if *e != now => self.shared(now, *e, make),
            _ => o,
        }
    }

    /// An object used in an execution other than the one that first used it: the execution's
    /// own binding, made from the initial value.
    #[cold]
    fn shared(
        &self,
        now: u64,
        first: u64,
        make: impl FnOnce(Option<&'static str>, &'static Location<'static>, I) -> O,
    ) -> &O {
        self.refuse_unless_fresh(now, first);
        self.shared.store(true, Ordering::Release);
        let o = with_context(now, |c| {
            Context::in_map(&c.entries, self.key(), !self.lends, || make(self.name, self.made, self.read_init()))
        });
        // SAFETY: a binding is never dropped while its object lives (see `Context`) but by the
        // object's own `Drop` or `into_inner`, which take it by `&mut`/value: no `&O` from
        // `&self` is alive then.
        unsafe { &*o }
    }

    /// Panics, saying why (an engine limit: the check cannot model the program as written, which
    /// is no bug of it), unless each execution can start from a fresh copy of the initial value: it must be copyable (plain data, or a `static`'s constant, and not moved into a
    /// binding), and an object that is no `static`, used outside any check first, would start
    /// from its initial value, not from what that use left (which a test that sets it up before
    /// the check means).
    fn refuse_unless_fresh(&self, now: u64, first: u64) {
        if self.moved.load(Ordering::Acquire) || (self.owns && !self.is_constant()) {
            panic!(
                "engine limit: a conclab object made at {} was used in more than one execution, and its initial \
                 value may own \
                 memory (it is no atomic's, nor a `static`'s constant), so it cannot be copied for each execution, \
                 which must start from it. Make the object inside the model, or make it a `static` with a \
                 constant initial value (a conclab object kept in std's `LazyLock`, `OnceLock` or `lazy_static!` \
                 is made at run time: use conclab's `LazyLock`/`OnceLock`, which start afresh in every execution)",
                self.made
            );
        }
        if first == 0 && now != 0 && !self.is_constant() {
            panic!(
                "engine limit: a conclab object made at {} was used outside any check and then in one: each \
                 execution of the \
                 check starts from the object's initial value, not from what the use outside left. Make and set \
                 it up inside the model",
                self.made
            );
        }
    }

    /// The key of this object's bindings.
    fn key(&self) -> Key {
        (self as *const Self as usize, std::any::type_name::<O>(), size_of::<O>(), std::mem::align_of::<O>())
    }

    /// The initial value for the first binding: copied if it is plain data or a `static`'s
    /// constant (a copy of either owns nothing), else moved (and a second execution refused).
    fn take_init(&self) -> I {
        if self.owns && !self.is_constant() {
            self.moved.store(true, Ordering::Release);
        }
        self.read_init()
    }

    /// Whether `init` is a `static`'s constant: it lies in a loaded program image and its bytes
    /// are the image's, but for pointers the loader relocated to read-only data (a value made at
    /// run time and kept in a static cell is not: the image holds the empty cell).
    fn is_constant(&self) -> bool {
        match self.constant.load(Ordering::Acquire) {
            CONSTANT => true,
            NOT_CONSTANT => false,
            _ => {
                let at = self.init.get() as usize;
                let constant = size_of::<I>() == 0 || image_holds(at, size_of::<I>());
                self.constant.store(if constant { CONSTANT } else { NOT_CONSTANT }, Ordering::Release);
                constant
            }
        }
    }

    /// A bitwise copy of the initial value.
    fn read_init(&self) -> I {
        // SAFETY: `init` is never written through `&self`; a copy is sound for a type without
        // drop glue, for a `static`'s constant, and once for a value that is then marked moved.
        unsafe { std::ptr::read(&**self.init.get()) }
    }

    /// The value, exclusively: `bound` of the running execution's binding, if the object has
    /// one, else `unbound` of the initial value.
    pub fn get_mut<'a, R>(&'a mut self, bound: impl FnOnce(&'a mut O) -> R, unbound: impl FnOnce(&'a mut I) -> R) -> R {
        let now = current();
        let first = match self.local.get() {
            Some((e, _)) if *e == now => {
                let (_, o) = self.local.get_mut().expect("bound");
                return bound(o);
            }
            Some((e, _)) => *e,
            None => {
                // Written through, it is no constant any more.
                *self.constant.get_mut() = NOT_CONSTANT;
                return unbound(self.init.get_mut());
            }
        };
        if self.shared.load(Ordering::Acquire) {
            let key = self.key();
            if let Some(p) = with_context(now, |c| c.entries.lock().get(&key).map(|e| e.ptr.cast::<O>())) {
                // SAFETY: this execution's binding of this object, borrowed exclusively with it.
                return bound(unsafe { &mut *p });
            }
        }
        // Not used in this execution yet: its value here is the initial one.
        self.refuse_unless_fresh(now, first);
        *self.constant.get_mut() = NOT_CONSTANT;
        unbound(self.init.get_mut())
    }

    /// The value, consumed: the running execution's binding's, if the object has one, else the
    /// initial value.
    pub fn into_inner(self, bound: impl FnOnce(O) -> I) -> I {
        let now = current();
        let this = ManuallyDrop::new(self);
        // Its bindings go with it, in this execution and outside any (another object may be
        // made at its address).
        let (here, outside) = if this.shared.load(Ordering::Acquire) {
            let key = this.key();
            // SAFETY: the key names `O`; `self` was taken by value, so no reference is alive.
            (with_context(now, |c| unsafe { c.take::<O>(key) }), unsafe { OUTSIDE.take::<O>(key) })
        } else {
            (None, None)
        };
        drop(outside);
        // SAFETY: `this` is never used or dropped again; `local` is taken once here.
        let local = unsafe { std::ptr::read(&this.local) }.into_inner();
        let first = match local {
            Some((e, o)) if e == now => return bound(o),
            // Another execution's engine object: left, as that execution's values are.
            Some((e, o)) => {
                std::mem::forget(o);
                Some(e)
            }
            None => None,
        };
        if let Some(o) = here {
            return bound(*o);
        }
        if let Some(first) = first {
            this.refuse_unless_fresh(now, first);
        }
        // SAFETY: not moved (checked above, or never bound), and taken once.
        unsafe { std::ptr::read(&**this.init.get()) }
    }
}

impl<I, O> Drop for Bind<I, O> {
    fn drop(&mut self) {
        let now = current();
        if *self.shared.get_mut() {
            // Its bindings in this execution and outside any go with it (another object may be
            // made at its address).
            let key = self.key();
            // SAFETY: the key names `O`; `self` is borrowed exclusively, so no `&O` is alive.
            drop(with_context(now, |c| unsafe { c.take::<O>(key) }));
            drop(unsafe { OUTSIDE.take::<O>(key) });
        }
        match self.local.take() {
            Some((e, o)) if e == now => drop(o),
            // Another execution's engine object: left, as that execution's values are (its
            // engine's drop may need that execution).
            Some((_, o)) => std::mem::forget(o),
            // Unused, the initial value is still the object's own.
            None if !*self.moved.get_mut() => {
                // SAFETY: never dropped before, and `self` is going.
                unsafe { ManuallyDrop::drop(self.init.get_mut()) }
            }
            None => {}
        }
    }
}

/// A loaded segment of a program image: where it is, whether it is writable, and where its bytes
/// come from.
struct Segment {
    start: usize,
    end: usize,
    writable: bool,
    /// The image file, and the file offset and length of the segment's bytes (the rest of it is
    /// zeros: `.bss`).
    file: std::path::PathBuf,
    offset: u64,
    file_len: usize,
}

/// The loaded segments of the program images (seen at the first call: a library loaded later
/// has none here, so its statics count as values made at run time — refused in a second
/// execution, never copied).
#[cfg(target_os = "linux")]
fn segments() -> &'static [Segment] {
    static SEGMENTS: OnceLock<Vec<Segment>> = OnceLock::new();
    unsafe extern "C" fn each(info: *mut libc::dl_phdr_info, _: libc::size_t, data: *mut libc::c_void) -> libc::c_int {
        // SAFETY: the loader passes a valid `info`, and `data` is the vector below.
        let (info, segments) = unsafe { (&*info, &mut *data.cast::<Vec<Segment>>()) };
        let name = if info.dlpi_name.is_null() {
            Default::default()
        } else {
            // SAFETY: a NUL-terminated path from the loader.
            unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }.to_string_lossy().into_owned()
        };
        // The program itself has no name here.
        let file = if name.is_empty() { "/proc/self/exe".into() } else { std::path::PathBuf::from(name) };
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: `dlpi_phdr` holds `dlpi_phnum` headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            // RELRO is read-only once relocated (`&'static` data with pointers: `&["a", "b"]`).
            if ph.p_type == libc::PT_LOAD || ph.p_type == libc::PT_GNU_RELRO {
                let start = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
                segments.push(Segment {
                    start,
                    end: start.wrapping_add(ph.p_memsz as usize),
                    writable: ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_W != 0,
                    file: file.clone(),
                    // `u32` on 32-bit targets.
                    #[allow(clippy::unnecessary_cast)]
                    offset: ph.p_offset as u64,
                    file_len: ph.p_filesz as usize,
                });
            }
        }
        0
    }
    SEGMENTS.get_or_init(|| {
        let mut segments: Vec<Segment> = Vec::new();
        // SAFETY: `each` only reads the headers and pushes onto `segments`.
        unsafe { libc::dl_iterate_phdr(Some(each), (&mut segments as *mut Vec<Segment>).cast()) };
        segments
    })
}

/// Elsewhere no address counts as a `static`'s.
#[cfg(not(target_os = "linux"))]
fn segments() -> &'static [Segment] {
    &[]
}

/// The loaded writable segment that holds `addr..addr + len`, if one does.
fn writable_segment(addr: usize, len: usize) -> Option<&'static Segment> {
    segments().iter().find(|s| s.writable && s.start <= addr && addr.checked_add(len).is_some_and(|e| e <= s.end))
}

/// Whether the `len` bytes at `addr` are what the program image holds there: a `static`'s
/// constant, never written since the image was loaded — but for pointer-sized words the loader
/// relocated, which must point into a read-only segment (string literals, `&'static` data,
/// functions: sharing those is sound). A value made at run time and kept in a static cell is
/// not: the image holds the cell's empty state, and its heap pointers point into no image.
fn image_holds(addr: usize, len: usize) -> bool {
    let Some(s) = writable_segment(addr, len) else {
        return false;
    };
    // SAFETY: inside a loaded segment: `len` readable bytes, initialised (from the file, or
    // zeros).
    let memory = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
    let at = addr - s.start;
    let mut image = vec![0u8; len];
    let from_file = s.file_len.saturating_sub(at).min(len);
    if from_file > 0 {
        use std::os::unix::fs::FileExt;
        let read =
            std::fs::File::open(&s.file).and_then(|f| f.read_exact_at(&mut image[..from_file], s.offset + at as u64));
        if read.is_err() {
            return false;
        }
    }
    const WORD: usize = size_of::<usize>();
    let mut i = 0;
    while i < len {
        if memory[i] == image[i] {
            i += 1;
            continue;
        }
        // A difference: only a relocated pointer may make one — a whole aligned word, inside
        // the value, pointing into read-only data.
        let word = (addr + i) & !(WORD - 1);
        if word < addr || word + WORD > addr + len {
            return false;
        }
        let w = word - addr;
        let value = usize::from_ne_bytes(memory[w..w + WORD].try_into().expect("a word"));
        if !segments().iter().any(|s| !s.writable && (s.start..s.end).contains(&value)) {
            return false;
        }
        i = w + WORD;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{image_holds, writable_segment};

    /// Whether `addr` lies in a writable segment of a loaded program image.
    fn in_static_memory(addr: usize) -> bool {
        writable_segment(addr, 1).is_some()
    }

    /// A constant holding a pointer the loader relocates (a string literal's).
    static NAMED: std::sync::Mutex<(u64, &str)> = std::sync::Mutex::new((7, "seven"));

    static IN_DATA: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0x5eed);
    static IN_BSS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static WRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

    fn at<T>(v: &T) -> (usize, usize) {
        (v as *const T as usize, std::mem::size_of::<T>())
    }

    #[test]
    fn statics_are_told_from_the_stack_and_the_heap_and_constants_from_values_made_later() {
        assert!(in_static_memory(&IN_DATA as *const _ as usize));
        assert!(in_static_memory(&IN_BSS as *const _ as usize));
        let on_stack = 5u64;
        assert!(!in_static_memory(&on_stack as *const _ as usize));
        let on_heap = Box::new(5u64);
        assert!(!in_static_memory(&*on_heap as *const _ as usize));
        // The image holds a static's constant, in `.data` or `.bss`; not a value written since.
        let holds = |(addr, len): (usize, usize)| image_holds(addr, len);
        assert!(holds(at(&IN_DATA)));
        assert!(holds(at(&IN_BSS)));
        assert!(holds(at(&NAMED)), "a relocated pointer to a string literal is part of a constant");
        WRITTEN.store(2, std::sync::atomic::Ordering::Relaxed);
        assert!(!holds(at(&WRITTEN)));
        assert!(!holds(at(&on_stack)));
        // A heap pointer written into a static is no constant.
        NAMED.lock().unwrap().1 = Box::leak(String::from("heap").into_boxed_str());
        assert!(!holds(at(&NAMED)));
    }
}
