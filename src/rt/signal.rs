//! Signals in the model: one process whose `main` thread takes signals, handlers that run inline
//! on it, a blocked mask (`sigprocmask`), `kill`, and forked children whose exit raises SIGCHLD.
//!
//! A signal sent with [`kill`] (or by a child's exit) is *pending* until `main` reaches a
//! delivery point — the start of any facade operation, the return from a blocking one, or an
//! unblocking `sigprocmask` — where its handler runs before the operation, as on a real kernel.
//! Pending flags are the engine's own atomics, so loom and shuttle explore every delivery point:
//! the reason these bugs hide on a real machine and cannot hide here. Like real signals, a
//! pending signal is a bit, not a count: two SIGCHLDs before a delivery run the handler once.
//!
//! The model's other threads stand for the kernel, other processes or children; only `main`
//! takes signals (CS:APP's processes are single-threaded).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use super::{op_start, spawn_recorded, Backend, RawAtomic};
use crate::trace::{self, Op};

/// A signal the model knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// A child process stopped or exited.
    SIGCHLD,
    /// The user pressed Ctrl-C.
    SIGINT,
    /// A user-defined signal.
    SIGUSR1,
}

use Signal::*;

const ALL: [Signal; 3] = [SIGCHLD, SIGINT, SIGUSR1];

impl Signal {
    fn index(self) -> usize {
        self as usize
    }

    /// The C name (`SIGCHLD`).
    pub fn name(self) -> &'static str {
        match self {
            SIGCHLD => "SIGCHLD",
            SIGINT => "SIGINT",
            SIGUSR1 => "SIGUSR1",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of signals: a mask for `sigprocmask`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(u8);

impl SigSet {
    /// No signals (`sigemptyset`).
    pub const EMPTY: SigSet = SigSet(0);
    /// Every signal (`sigfillset`).
    pub const ALL: SigSet = SigSet((1 << ALL.len()) - 1);

    /// Exactly these signals.
    pub fn of(signals: &[Signal]) -> SigSet {
        SigSet(signals.iter().fold(0, |m, s| m | 1 << s.index()))
    }

    /// Whether `sig` is in the set (`sigismember`).
    pub fn contains(self, sig: Signal) -> bool {
        self.0 & (1 << sig.index()) != 0
    }

    fn with(self, other: SigSet) -> SigSet {
        SigSet(self.0 | other.0)
    }
}

impl fmt::Display for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == SigSet::ALL {
            return f.write_str("{all}");
        }
        let names: Vec<&str> = ALL.iter().filter(|s| self.contains(**s)).map(|s| s.name()).collect();
        write!(f, "{{{}}}", names.join(", "))
    }
}

/// A child process's id, as `fork` returns it (1, 2, … in fork order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(pub usize);

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.0)
    }
}

type Handler = Arc<dyn Fn(Signal) + Send + Sync>;

/// One modelled process's signal state, for one execution.
struct Process<B: Backend> {
    /// Pending flags, one per signal: the engine's atomics, so delivery races are explored.
    pending: Vec<B::AtomicUsize>,
    /// The blocked mask; only `main` reads or writes it.
    blocked: AtomicU8,
    handlers: parking_lot::Mutex<Vec<Option<Handler>>>,
    children: parking_lot::Mutex<Vec<Child<B>>>,
}

struct Child<B: Backend> {
    pid: Pid,
    name: String,
    exited: Arc<B::AtomicUsize>,
    handle: Option<B::JoinHandle<()>>,
    reaped: bool,
}

thread_local! {
    /// The process of the execution running on this OS thread (loom and shuttle run every
    /// model thread on one OS thread; real threads are handed it at spawn).
    static PROCESS: RefCell<Option<Arc<dyn Any + Send + Sync>>> = const { RefCell::new(None) };
    /// Whether a process exists at all: the facade's fast path for scenarios without signals.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

fn process<B: Backend>() -> Option<Arc<Process<B>>> {
    if !ACTIVE.with(Cell::get) {
        return None;
    }
    PROCESS.with(|p| p.borrow().clone()).and_then(|p| p.downcast::<Process<B>>().ok())
}

fn process_or_start<B: Backend>() -> Arc<Process<B>> {
    if let Some(p) = process::<B>() {
        return p;
    }
    let p = Arc::new(Process::<B> {
        pending: ALL.iter().map(|_| B::AtomicUsize::new(0)).collect(),
        blocked: AtomicU8::new(0),
        handlers: parking_lot::Mutex::new(vec![None; ALL.len()]),
        children: parking_lot::Mutex::new(vec![]),
    });
    adopt(Some(p.clone()));
    p
}

/// The process a new thread should see (handed to real threads at spawn).
pub(crate) fn inherit() -> Option<Arc<dyn Any + Send + Sync>> {
    PROCESS.with(|p| p.borrow().clone())
}

/// Makes `process` this OS thread's process, when there is one.
pub(crate) fn adopt(process: Option<Arc<dyn Any + Send + Sync>>) {
    if let Some(p) = process {
        PROCESS.with(|slot| *slot.borrow_mut() = Some(p));
        ACTIVE.with(|a| a.set(true));
    }
}

/// Ends the current execution's process (the runner calls this around every execution).
pub fn reset() {
    ACTIVE.with(|a| a.set(false));
    // Taken out first: dropping the engine's objects must not happen under the borrow.
    let old = PROCESS.with(|p| p.borrow_mut().take());
    drop(old);
}

/// A delivery point: on `main`, runs the handler of every pending, unblocked, handled signal.
/// Every facade operation starts here, so the check for "no signals in this scenario" is inlined
/// and the delivery itself is not.
#[inline(always)]
pub(crate) fn deliver<B: Backend>() {
    if ACTIVE.with(Cell::get) {
        deliver_pending::<B>();
    }
}

#[inline(never)]
fn deliver_pending<B: Backend>() {
    if B::thread_index() != 0 {
        return;
    }
    let Some(p) = process::<B>() else { return };
    'again: loop {
        let blocked = SigSet(p.blocked.load(Ordering::Relaxed));
        let handlers = p.handlers.lock().clone();
        for sig in ALL {
            let Some(handler) = &handlers[sig.index()] else { continue };
            if blocked.contains(sig) {
                continue;
            }
            // One read-modify-write: it reads the newest flag (a plain load may read a stale
            // one under loom's memory model, and the kernel's pending set is never stale).
            if p.pending[sig.index()].swap(0, Ordering::SeqCst) == 1 {
                trace::with_events(|r| r.record(0, Op::Deliver(sig.name()), "", None));
                // While its handler runs, a signal is blocked (sigaction's default).
                p.blocked.store(blocked.with(SigSet::of(&[sig])).0, Ordering::Relaxed);
                handler(sig);
                p.blocked.store(blocked.0, Ordering::Relaxed);
                trace::with_events(|r| r.record(0, Op::HandlerReturn(sig.name()), "", None));
                continue 'again;
            }
        }
        break;
    }
}

/// Records a note: every recorder keeps notes (the checks read them).
fn note<B: Backend>(text: String, location: &'static Location<'static>) {
    trace::with(|r| r.record(B::thread_index(), Op::Note(text), "", Some(location)));
}

/// Records a timeline-only operation: `op` is built only when the recorder keeps events.
fn record<B: Backend>(op: impl FnOnce() -> Op, location: &'static Location<'static>) {
    trace::with_events(|r| r.record(B::thread_index(), op(), "", Some(location)));
}

/// Installs `handler` for `sig` (`sigaction`). Install handlers before spawning the threads
/// that send signals, as a real program calls `sigaction` before `fork`.
#[track_caller]
pub fn signal<B: Backend>(sig: Signal, handler: impl Fn(Signal) + Send + Sync + 'static) {
    op_start::<B>();
    let p = process_or_start::<B>();
    p.handlers.lock()[sig.index()] = Some(Arc::new(handler));
    note::<B>(format!("sigaction({sig}, handler)"), Location::caller());
}

/// Sends `sig` to the process (`kill(pid, sig)`): pending until `main` takes it.
#[track_caller]
pub fn kill<B: Backend>(sig: Signal) {
    op_start::<B>();
    let p = process_or_start::<B>();
    record::<B>(|| Op::Kill(sig.name()), Location::caller());
    p.pending[sig.index()].swap(1, Ordering::SeqCst);
}

/// `sigprocmask(SIG_BLOCK, set, &old)`: blocks `set` as well; returns the old mask.
#[track_caller]
pub fn block<B: Backend>(set: SigSet) -> SigSet {
    op_start::<B>();
    let p = process_or_start::<B>();
    let old = SigSet(p.blocked.load(Ordering::Relaxed));
    p.blocked.store(old.with(set).0, Ordering::Relaxed);
    record::<B>(|| Op::Mask(format!("block {set}")), Location::caller());
    old
}

/// `sigprocmask(SIG_SETMASK, set, NULL)`: the blocked mask becomes `set`; a pending signal it
/// unblocks is delivered before this returns.
#[track_caller]
pub fn set_mask<B: Backend>(set: SigSet) {
    op_start::<B>();
    let p = process_or_start::<B>();
    p.blocked.store(set.0, Ordering::Relaxed);
    record::<B>(|| Op::Mask(format!("setmask {set}")), Location::caller());
    deliver::<B>();
}

/// Forks a child process named `name` running `body`; when it exits, the kernel raises SIGCHLD
/// at the parent. Returns the child's pid.
#[track_caller]
pub fn fork<B: Backend>(name: &str, body: impl FnOnce() + Send + 'static) -> Pid {
    op_start::<B>();
    let p = process_or_start::<B>();
    let exited = Arc::new(B::AtomicUsize::new(0));
    let flag = exited.clone();
    let handle = spawn_recorded::<B, _, _>(Some(name.to_string()), Op::Fork, move || {
        body();
        trace::with_events(|r| r.record(B::thread_index(), Op::Exit, "", None));
        flag.store(1, Ordering::SeqCst);
        if let Some(p) = process::<B>() {
            p.pending[SIGCHLD.index()].swap(1, Ordering::SeqCst);
        }
    });
    let mut children = p.children.lock();
    let pid = Pid(children.len() + 1);
    children.push(Child { pid, name: name.to_string(), exited, handle: Some(handle.raw), reaped: false });
    pid
}

/// `waitpid(-1, &status, WNOHANG)`: reaps one child that has exited, or returns `None`.
#[track_caller]
pub fn waitpid_nohang<B: Backend>() -> Option<Pid> {
    op_start::<B>();
    let p = process_or_start::<B>();
    let loc = Location::caller();
    let candidates: Vec<(usize, Arc<B::AtomicUsize>)> =
        p.children.lock().iter().enumerate().filter(|(_, c)| !c.reaped).map(|(i, c)| (i, c.exited.clone())).collect();
    for (i, exited) in candidates {
        if exited.load(Ordering::SeqCst) == 1 {
            let (pid, name, handle) = {
                let mut children = p.children.lock();
                let c = &mut children[i];
                c.reaped = true;
                (c.pid, c.name.clone(), c.handle.take())
            };
            // It has exited; joining only lets the engine see the thread end.
            if let Some(h) = handle {
                let _ = B::join(h);
            }
            record::<B>(|| Op::Waitpid(Some(name)), loc);
            return Some(pid);
        }
    }
    record::<B>(|| Op::Waitpid(None), loc);
    None
}

/// Waits until every child has exited (a `sigsuspend` loop), taking signals as they come.
#[track_caller]
pub fn wait_for_children<B: Backend>() {
    op_start::<B>();
    let p = process_or_start::<B>();
    note::<B>("waits for every child to exit".into(), Location::caller());
    loop {
        let next = p.children.lock().iter_mut().find_map(|c| c.handle.take());
        let Some(h) = next else { break };
        let _ = B::join(h);
        deliver::<B>();
    }
}
