//! What the facade records during one execution, and how a failing execution is rendered as a
//! timeline with one column per thread.
//!
//! A [`Recorder`] is the context of one check: the facade finds it through a thread-local
//! (`loom` and `shuttle` run every model thread on the caller's OS thread; the real-thread
//! backend hands it to each thread it spawns). The current execution's state sits under one
//! lock, taken once per facade operation. A recorder made [`Recorder::without_events`] keeps
//! only what the checks themselves read (a shuttle search's; its failing schedule is replayed
//! with every event recorded).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::liveness::Liveness;
use crate::replay::{Point, Token};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// One operation a thread performed through the facade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Spawned the thread with this index (its column; named when rendered).
    Spawn(usize),
    /// Joined the thread with this index (it had finished).
    Join(usize),
    /// Acquired a mutex.
    Lock,
    /// Tried to acquire a mutex without blocking; `true` when it got it.
    TryLock(bool),
    /// Released a mutex (its guard was dropped).
    Unlock,
    /// Acquired a reader-writer lock for reading (shared).
    ReadLock,
    /// Acquired a reader-writer lock for writing (exclusive).
    WriteLock,
    /// Tried to take a reader-writer lock for reading without blocking; `true` when it did.
    TryRead(bool),
    /// Tried to take a reader-writer lock for writing without blocking; `true` when it did.
    TryWrite(bool),
    /// Released a reader-writer lock held for reading.
    ReadUnlock,
    /// Released a reader-writer lock held for writing.
    WriteUnlock,
    /// Released the mutex and went to sleep on a condition variable.
    Wait,
    /// Woke up from a condition-variable wait, holding the mutex again.
    Woken,
    /// Signalled a condition variable (`true`: all waiters).
    Notify(bool),
    /// Read an atomic.
    Load(u64),
    /// Wrote an atomic.
    Store(u64),
    /// Swapped an atomic: old value, new value.
    Swap(u64, u64),
    /// Compare-and-swap: expected, new, actual value seen; success when expected == actual.
    Cas(u64, u64, u64),
    /// Read-modify-write: the old value and the new one.
    Rmw(&'static str, u64, u64),
    /// Yielded the processor (a hint that it is spinning).
    Yield,
    /// A scenario's own annotation of what the thread is doing.
    Note(String),
    /// The scenario's invariant broke here.
    Violation(String),
    /// The thread's body returned.
    Finish,
    /// Backed off to try again (the scenario's declared retry).
    Retry(&'static str),
    /// Made progress (the scenario's declared progress).
    Progress(&'static str),
    /// Started waiting in a line (a lock, a queue) whose fairness the scenario declared.
    Arrive,
    /// Got in: left the line.
    Enter,
    /// Sent a signal to the process.
    Kill(&'static str),
    /// A pending signal was delivered: its handler runs now, on this thread.
    Deliver(&'static str),
    /// The signal's handler returned; the interrupted code goes on.
    HandlerReturn(&'static str),
    /// Changed the signal mask (`sigprocmask`), e.g. `block {SIGCHLD}`.
    Mask(String),
    /// Forked the child process run by the thread with this index.
    Fork(usize),
    /// Exited; the kernel raises SIGCHLD at the parent.
    Exit,
    /// `waitpid(-1, WNOHANG)`: the child it reaped, or none.
    Waitpid(Option<String>),
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Spawn(t) => write!(f, "spawn thread-{t}"),
            Op::Join(t) => write!(f, "join thread-{t}"),
            Op::Lock => f.write_str("lock"),
            Op::TryLock(true) => f.write_str("try_lock → ok"),
            Op::TryLock(false) => f.write_str("try_lock → busy"),
            Op::Unlock => f.write_str("unlock"),
            Op::ReadLock => f.write_str("read lock"),
            Op::WriteLock => f.write_str("write lock"),
            Op::TryRead(true) => f.write_str("try_read → ok"),
            Op::TryRead(false) => f.write_str("try_read → busy"),
            Op::TryWrite(true) => f.write_str("try_write → ok"),
            Op::TryWrite(false) => f.write_str("try_write → busy"),
            Op::ReadUnlock => f.write_str("read unlock"),
            Op::WriteUnlock => f.write_str("write unlock"),
            Op::Wait => f.write_str("wait"),
            Op::Woken => f.write_str("woken"),
            Op::Notify(false) => f.write_str("notify_one"),
            Op::Notify(true) => f.write_str("notify_all"),
            Op::Load(v) => write!(f, "load → {v}"),
            Op::Store(v) => write!(f, "store ← {v}"),
            Op::Swap(old, new) => write!(f, "swap {old} ← {new}"),
            Op::Cas(exp, new, actual) if exp == actual => write!(f, "cas {exp} → {new} ok"),
            Op::Cas(exp, _, actual) => write!(f, "cas {exp} → fail (was {actual})"),
            Op::Rmw(name, old, new) => write!(f, "{name} {old} → {new}"),
            Op::Yield => f.write_str("yield"),
            Op::Note(n) => f.write_str(n),
            Op::Violation(m) => write!(f, "✗ {m}"),
            Op::Finish => f.write_str("done"),
            Op::Retry(what) => write!(f, "↺ {what}"),
            Op::Progress(what) => write!(f, "✓ {what}"),
            Op::Arrive => f.write_str("arrives"),
            Op::Enter => f.write_str("gets in"),
            Op::Kill(sig) => write!(f, "kill → {sig}"),
            Op::Deliver(sig) => write!(f, "⚡ {sig} handler runs"),
            Op::HandlerReturn(sig) => write!(f, "↩ {sig} handler returns"),
            Op::Mask(m) => write!(f, "sigprocmask {m}"),
            Op::Fork(child) => write!(f, "fork thread-{child}"),
            Op::Exit => f.write_str("exit → SIGCHLD to parent"),
            Op::Waitpid(Some(child)) => write!(f, "waitpid → reaps {child}"),
            Op::Waitpid(None) => f.write_str("waitpid → none"),
        }
    }
}

/// What kind of facade object an [`ObjectId`] is: the first word of its derived name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    /// A [`crate::rt::Mutex`].
    Mutex,
    /// A [`crate::rt::RwLock`].
    RwLock,
    /// A [`crate::rt::Condvar`].
    Condvar,
    /// A [`crate::rt::Atomic`].
    Atomic,
}

impl ObjectKind {
    fn word(self) -> &'static str {
        match self {
            ObjectKind::Mutex => "mutex",
            ObjectKind::RwLock => "rwlock",
            ObjectKind::Condvar => "condvar",
            ObjectKind::Atomic => "atomic",
        }
    }
}

/// The next [`ObjectId`] serial: one counter for the process, so no two objects share one.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// The identity of one facade object (a mutex, condition variable or atomic): what traces,
/// deadlock cycles and stale marks tell objects apart by — never their names, which need not be
/// unique. Copied into every event that acts on the object (no allocation); resolved to a
/// readable name only by [`Recorder::snapshot`]: the name given ([`crate::rt::Mutex::named`]),
/// else where the object was made (`mutex@scenarios/bank.rs:12`), with `#2`, `#3`… when objects
/// of one execution's trace share that name (in the order they were made).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ObjectId {
    /// Unique in the process; orders objects by creation.
    serial: u64,
    kind: ObjectKind,
    /// The name given, if any.
    name: Option<&'static str>,
    /// Where the object was made.
    created: &'static Location<'static>,
}

impl PartialEq for ObjectId {
    fn eq(&self, other: &Self) -> bool {
        self.serial == other.serial
    }
}

impl Eq for ObjectId {}

impl ObjectId {
    /// A new identity, distinct from every other of the process: a `kind` object named `name`
    /// (or, without one, after `created`).
    pub(crate) fn new(kind: ObjectKind, name: Option<&'static str>, created: &'static Location<'static>) -> Self {
        ObjectId { serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed), kind, name, created }
    }

    /// Where the object was made: the same place in every execution of a model.
    pub(crate) fn created(&self) -> &'static Location<'static> {
        self.created
    }

    /// Gives the object the readable name `name` (`Mutex::new(v).named("ledger")`).
    pub(crate) fn rename(&mut self, name: &'static str) {
        self.name = Some(name);
    }

    /// The readable name, not yet told apart from others that share it: the name given, else
    /// `kind@file.rs:line` of where the object was made.
    pub(crate) fn base_name(&self) -> String {
        match self.name {
            Some(name) => name.to_string(),
            None => format!("{}@{}", self.kind.word(), short_location(self.created)),
        }
    }
}

/// What an event acted on: nothing (a thread-level operation), a line the scenario declared by
/// name (its identity), or a facade object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A thread-level operation (spawn, note, yield…).
    None,
    /// A liveness line (`arrive`/`enter`), known by its name.
    Line(&'static str),
    /// A facade object.
    Object(ObjectId),
}

impl From<&'static str> for Target {
    /// `""` is no target; any other text a line.
    fn from(name: &'static str) -> Self {
        if name.is_empty() {
            Target::None
        } else {
            Target::Line(name)
        }
    }
}

impl From<ObjectId> for Target {
    fn from(id: ObjectId) -> Self {
        Target::Object(id)
    }
}

/// One recorded event, as it was captured (cheap to make: no allocation on the common path).
#[derive(Clone, Debug)]
pub struct Event {
    thread: usize,
    op: Op,
    object: Target,
    location: Option<&'static Location<'static>>,
}

/// One step of a rendered trace, as reports and JSON carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// 1-based position in the execution.
    pub step: usize,
    /// Name of the thread that acted.
    pub thread: String,
    /// The operation with its values, e.g. `load → 1` (the object is in `object`).
    pub op: String,
    /// The object acted on, by its name in this trace (`seats`, `ledger`, or where an unnamed one
    /// was made: `mutex@scenarios/x.rs:12`, `#2` when several share that), empty for
    /// thread-level operations.
    pub object: String,
    /// `file:line` of the scenario source that performed it, empty when unknown (e.g. a guard drop).
    pub location: String,
}

/// A thread that could not go on when the execution stopped, and what it was waiting for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    /// The waiting thread.
    pub thread: String,
    /// What it was doing (`lock`, `join`, `wait`).
    pub op: String,
    /// The object it waits on.
    pub object: String,
    /// Who holds that object, when it is a lock held by known threads (a reader-writer lock's
    /// readers are joined with `and`).
    pub held_by: Option<String>,
    /// Where it waits.
    pub location: String,
}

/// The trace of one execution: its steps and, when it stopped with threads stuck, who waited on what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Thread names, in spawn order (`main` first): the timeline's columns.
    pub threads: Vec<String>,
    /// The steps, in execution order.
    pub steps: Vec<Step>,
    /// Threads that were blocked when the execution stopped (a deadlock's cycle).
    pub blocked: Vec<Blocked>,
}

/// Shortens a caller location to `file.rs:line` relative to the crate (`scenarios/x.rs:12`).
pub fn short_location(loc: &Location<'_>) -> String {
    let file = loc.file().replace('\\', "/");
    // Scenario files are compiled through `#[path]` (`src/catalog/../../scenarios/x.rs`).
    let file = file.rfind("scenarios/").map_or(file.as_str(), |i| &file[i..]);
    // An assignment compiles its `src/lib.rs` through `#[path]` too (`src/./lib.rs`).
    format!("{}:{}", file.replace("/./", "/"), loc.line())
}

impl Trace {
    /// Renders the trace as a timeline: one row per step, one column per thread, the source
    /// location at the right. Deterministic for a given trace.
    pub fn render(&self) -> String {
        if self.steps.is_empty() {
            return "(no steps recorded)\n".to_string();
        }
        let cells: Vec<String> = self
            .steps
            .iter()
            .map(|s| if s.object.is_empty() { s.op.clone() } else { format!("{} {}", s.object, s.op) })
            .collect();
        let col = |name: &str| self.threads.iter().position(|t| t == name).unwrap_or(0);
        let mut widths: Vec<usize> = self.threads.iter().map(|t| t.chars().count()).collect();
        for (s, cell) in self.steps.iter().zip(&cells) {
            let c = col(&s.thread);
            widths[c] = widths[c].max(cell.chars().count());
        }
        let step_w = self.steps.last().map_or(0, |s| s.step).to_string().len().max(4);
        let mut out = String::new();
        let row = |out: &mut String, step: usize, column: usize, text: &str, loc: &str| {
            let _ = write!(out, "{step:>step_w$} │");
            for (i, w) in widths.iter().enumerate() {
                let t = if i == column { text } else { "" };
                let pad = w.saturating_sub(t.chars().count());
                let _ = write!(out, " {t}{} │", " ".repeat(pad));
            }
            if !loc.is_empty() {
                let _ = write!(out, " {loc}");
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        };
        // Header row: thread names.
        let _ = write!(out, "{:>step_w$} │", "step");
        for (name, w) in self.threads.iter().zip(&widths) {
            let pad = w.saturating_sub(name.chars().count());
            let _ = write!(out, " {name}{} │", " ".repeat(pad));
        }
        out.push_str(" at\n");
        let rule: usize = step_w + 1 + widths.iter().map(|w| w + 3).sum::<usize>() + 4;
        out.push_str(&"─".repeat(rule));
        out.push('\n');
        for (s, cell) in self.steps.iter().zip(&cells) {
            row(&mut out, s.step, col(&s.thread), cell, &s.location);
        }
        if !self.blocked.is_empty() {
            out.push_str("\nblocked when the execution stopped:\n");
            for b in &self.blocked {
                let holder = b.held_by.as_deref().map(|h| format!(", held by {h}")).unwrap_or_default();
                let at = if b.location.is_empty() { String::new() } else { format!(" at {}", b.location) };
                let _ = writeln!(out, "  {} waits to {} {}{holder}{at}", b.thread, b.op, b.object);
            }
        }
        out
    }
}

/// The value `e` wrote to its object, and by which thread, if it wrote one.
fn written(e: &Event) -> Option<(u64, usize)> {
    match e.op {
        Op::Store(v) | Op::Swap(_, v) | Op::Rmw(_, _, v) => Some((v, e.thread)),
        Op::Cas(exp, new, actual) if exp == actual => Some((new, e.thread)),
        _ => None,
    }
}

/// The readable name of each object among `objects` (by serial): its [`ObjectId::base_name`],
/// followed by `#1`, `#2`… in creation order when several objects share that name, so that
/// every object of a trace has a name of its own.
fn object_names(objects: impl Iterator<Item = ObjectId>) -> HashMap<u64, String> {
    let mut unique: HashMap<u64, ObjectId> = HashMap::new();
    for o in objects {
        unique.entry(o.serial).or_insert(o);
    }
    let mut by_name: HashMap<String, Vec<ObjectId>> = HashMap::new();
    for o in unique.into_values() {
        by_name.entry(o.base_name()).or_default().push(o);
    }
    let mut names = HashMap::new();
    for (base, mut same) in by_name {
        if let [one] = same.as_slice() {
            names.insert(one.serial, base);
            continue;
        }
        same.sort_by_key(|o| o.serial);
        for (k, o) in same.iter().enumerate() {
            names.insert(o.serial, format!("{base}#{}", k + 1));
        }
    }
    names
}

/// The events a stress run keeps per execution: the last this many (a ring). Real threads can
/// fill an execution with millions of events (a spin that runs until the hang watchdog fires);
/// the trace then shows the last ones, numbered as they were recorded, and the report says the
/// earlier steps were not kept.
pub const STRESS_EVENT_CAP: usize = 10_000;

/// The current execution as the recorder sees it, under one lock so that a facade operation
/// takes it once: the thread table, the events so far, who waits for what and who holds which
/// lock (what names a deadlock's cycle) and the liveness bookkeeping.
#[derive(Default)]
pub(crate) struct Now {
    /// Whether every event is kept (see [`Recorder::without_events`]).
    events_on: bool,
    /// Thread names by index (`main` first): the timeline's columns.
    threads: Vec<String>,
    /// Whether any execution so far spawned a thread (through the facade): kept across executions.
    spawned_any: bool,
    /// The timeline: every event, or the last `cap` of them.
    events: VecDeque<Event>,
    /// At most this many events are kept (the oldest are dropped); `None`: all of them.
    cap: Option<usize>,
    /// Events dropped from the front of `events` this execution (for the steps' numbers).
    dropped: usize,
    /// The notes and declared progress among the dropped events: `noted` still counts them.
    dropped_notes: Vec<Event>,
    pending: Vec<Option<Pending>>,
    /// Held locks, their holding threads and how each holds it (a reader-writer lock can have
    /// several readers).
    holders: Vec<(ObjectId, usize, Hold)>,
    /// Whether the engine models weak memory (loom): only then may a load read an older value
    /// than the latest write to its object in the timeline, and `snapshot` mark it stale.
    weak_memory: bool,
    /// Spawned threads not joined yet, and the most there were at once (for the "must still
    /// work" properties of an assignment, e.g. that a fix does not run the threads one by one).
    live: usize,
    peak: usize,
    liveness: Liveness,
}

impl Now {
    /// Counts a spawn or join toward the live threads, and appends the event to the timeline
    /// when this recorder keeps events or the event is one the checks read (a note, progress).
    pub(crate) fn record(
        &mut self,
        thread: usize,
        op: Op,
        object: impl Into<Target>,
        location: Option<&'static Location<'static>>,
    ) {
        let object = object.into();
        match op {
            Op::Spawn(_) => {
                self.live += 1;
                self.peak = self.peak.max(self.live);
            }
            Op::Join(_) => self.live = self.live.saturating_sub(1),
            _ => {}
        }
        if self.keeps(&op) {
            if self.cap.is_some_and(|cap| self.events.len() >= cap) {
                if let Some(old) = self.events.pop_front() {
                    self.dropped += 1;
                    if matches!(old.op, Op::Note(_) | Op::Progress(_)) {
                        self.dropped_notes.push(old);
                    }
                }
            }
            self.events.push_back(Event { thread, op, object, location });
        }
    }

    /// Whether `op` is kept: every event is, or, without events, the notes and declared
    /// progress (`noted` counts them).
    fn keeps(&self, op: &Op) -> bool {
        self.events_on || matches!(op, Op::Note(_) | Op::Progress(_))
    }

    /// Whether every event is kept (see [`Recorder::without_events`]).
    pub(crate) fn events_on(&self) -> bool {
        self.events_on
    }

    /// [`Now::record`], asking `thread()` who acted only when the event is kept.
    pub(crate) fn record_by(
        &mut self,
        thread: fn() -> usize,
        op: Op,
        object: impl Into<Target>,
        location: Option<&'static Location<'static>>,
    ) {
        let thread = if self.keeps(&op) { thread() } else { 0 };
        self.record(thread, op, object, location);
    }

    /// Registers a thread about to be spawned (named `thread-<index>` when it has no name);
    /// returns its index, its column in the timeline.
    pub(crate) fn register_thread(&mut self, name: Option<String>) -> usize {
        let index = self.threads.len();
        self.spawned_any = true;
        self.threads.push(name.unwrap_or_else(|| format!("thread-{index}")));
        index
    }

    /// `thread` may block on `op object` at `location` (kept until [`Now::unblocked`]).
    pub(crate) fn set_pending(
        &mut self,
        thread: usize,
        op: &'static str,
        object: Waited,
        location: &'static Location<'static>,
    ) {
        if self.pending.len() <= thread {
            self.pending.resize(thread + 1, None);
        }
        self.pending[thread] = Some(Pending { op, object, location });
    }

    /// The thread stopped waiting; `acquired` is the lock it now holds.
    pub(crate) fn unblocked(&mut self, thread: usize, acquired: Option<ObjectId>) {
        if let Some(slot) = self.pending.get_mut(thread) {
            *slot = None;
        }
        if let Some(lock) = acquired {
            self.holders.push((lock, thread, Hold::Exclusive));
        }
    }

    /// The thread stopped waiting and now holds `lock` for reading, shared with other readers.
    pub(crate) fn unblocked_reading(&mut self, thread: usize, lock: ObjectId) {
        self.unblocked(thread, None);
        self.holders.push((lock, thread, Hold::Shared));
    }

    /// `thread` released `lock`.
    pub(crate) fn released(&mut self, lock: ObjectId, thread: usize) {
        if let Some(i) = self.holders.iter().rposition(|&(l, t, _)| l == lock && t == thread) {
            self.holders.remove(i);
        }
    }

    /// Whether `thread` holds `lock` (a second `lock()` would wait for itself).
    pub(crate) fn holds(&self, lock: ObjectId, thread: usize) -> bool {
        self.holders.iter().any(|&(l, t, _)| l == lock && t == thread)
    }

    /// How `thread` holds `lock`, if it does (the latest hold, should it hold it twice).
    pub(crate) fn hold(&self, lock: ObjectId, thread: usize) -> Option<Hold> {
        self.holders.iter().rev().find(|&&(l, t, _)| l == lock && t == thread).map(|&(_, _, h)| h)
    }
}

/// How a thread holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Alone: a mutex, or a reader-writer lock held for writing.
    Exclusive,
    /// A reader-writer lock held for reading, maybe with other readers.
    Shared,
}

/// The pending operations that wait to acquire a lock: a thread waiting in one for a lock it
/// holds itself deadlocked on its own (a signal handler, a nested call, a read guard kept
/// across `write()`).
const LOCKING_OPS: [&str; 3] = ["lock", "read lock", "write lock"];

/// What a blocked thread waits for: an object, or another thread (a join).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Waited {
    /// A lock or condition variable.
    Object(ObjectId),
    /// The thread with this index.
    Thread(usize),
}

/// What a thread is about to do when it may block: kept so a deadlock can name its cycle.
#[derive(Clone, Debug)]
struct Pending {
    op: &'static str,
    object: Waited,
    location: &'static Location<'static>,
}

/// How a check's execution failed, captured at the moment of the first panic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Failure {
    /// The panic message (`invariant violated: …`, loom's `deadlock; …`, shuttle's `deadlock! …`).
    pub message: String,
    /// Where the panic was raised.
    pub location: String,
    /// The thread that panicked (empty when unknown: a recorder without events).
    pub thread: String,
    /// Which execution of the check (1-based) failed.
    pub execution: usize,
    /// The failing execution's trace up to the failure.
    pub trace: Trace,
    /// The token that replays this execution, when the engine can replay.
    pub replay: Option<String>,
}

/// What a recorder needs to write a failing execution's replay token.
#[derive(Clone, Debug)]
pub struct ReplayBase {
    /// Scenario id.
    pub scenario: String,
    /// Variant name.
    pub variant: String,
    /// The engine; its position fields are filled in at the failure.
    pub point: Point,
}

/// The recording context of one check: events of the current execution, thread names, what
/// blocked threads wait for, the execution counter and the first failure.
pub struct Recorder {
    now: Mutex<Now>,
    /// See [`Recorder::without_events`]; fixed when the recorder is made.
    events_on: bool,
    executions: AtomicUsize,
    failure: Mutex<Option<Failure>>,
    failed_this_execution: AtomicBool,
    failure_sink: Mutex<Option<fn(&Failure)>>,
    replay_base: Mutex<Option<ReplayBase>>,
    loom_stage_start: AtomicUsize,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Recorder>>> = const { RefCell::new(None) };
    /// Whether the current recorder keeps every event: a plain flag, the cheapest thread-local
    /// to read, so that an operation that only feeds the timeline costs nothing without one.
    static EVENTS_ON: Cell<bool> = const { Cell::new(false) };
}

/// The recorder of the check running on this thread, if any.
pub fn current() -> Option<Arc<Recorder>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `rec` this thread's recorder (or clears it); returns the previous one.
pub fn set_current(rec: Option<Arc<Recorder>>) -> Option<Arc<Recorder>> {
    let on = rec.as_ref().is_some_and(|r| r.events_on);
    let previous = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), rec));
    EVENTS_ON.with(|e| e.set(on));
    previous
}

/// Makes `rec` this thread's recorder until the returned guard is dropped (by a panic too), then
/// restores the previous one: a check that runs on its caller's thread leaves nothing behind.
pub fn scoped(rec: Arc<Recorder>) -> Scoped {
    Scoped(set_current(Some(rec)))
}

/// See [`scoped`].
pub struct Scoped(Option<Arc<Recorder>>);

impl Drop for Scoped {
    fn drop(&mut self) {
        set_current(self.0.take());
    }
}

/// Runs `f` with the current recorder, if there is one. The facade's hot path.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&Recorder) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().as_deref().map(f))
}

/// Runs `f` with the current recorder if it keeps every event: for the operations that only
/// feed the timeline (a load, an unlock), not the checks' own bookkeeping.
#[inline]
pub(crate) fn with_events<R>(f: impl FnOnce(&Recorder) -> R) -> Option<R> {
    if EVENTS_ON.with(Cell::get) {
        with(f)
    } else {
        None
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::with_detail(true)
    }
}

impl Recorder {
    /// A fresh recorder that keeps every event, shareable with the threads of a check.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A fresh recorder that keeps only what the checks read — thread names, notes and declared
    /// progress, live threads, the liveness counts — not the timeline: what a shuttle search
    /// needs (its scheduler, wrapped in [`crate::replay::Recording`], keeps the schedule). A
    /// failure's trace then holds no steps; replaying its schedule with a [`Recorder::new`] one
    /// gives the full trace (shuttle's runs are determined by their schedule). A failure a
    /// recorder without events would have named better (a thread that locks a mutex it holds) is
    /// named by that replay.
    pub fn without_events() -> Arc<Self> {
        Arc::new(Self::with_detail(false))
    }

    fn with_detail(events_on: bool) -> Self {
        Recorder {
            now: Mutex::new(Now { events_on, ..Now::default() }),
            events_on,
            executions: AtomicUsize::new(0),
            failure: Mutex::new(None),
            failed_this_execution: AtomicBool::new(false),
            failure_sink: Mutex::new(None),
            replay_base: Mutex::new(None),
            loom_stage_start: AtomicUsize::new(0),
        }
    }

    /// Starts a new execution: clears the events and thread table, counts the execution.
    pub fn begin_execution(&self) -> usize {
        self.step(|now| {
            // Cleared, not rebuilt: shuttle runs ~100k executions a second, so allocations show;
            // the vectors keep their capacity from one execution to the next.
            now.threads.truncate(1);
            if now.threads.is_empty() {
                now.threads.push("main".to_string());
            }
            now.events.clear();
            now.dropped = 0;
            now.dropped_notes.clear();
            now.pending.clear();
            now.holders.clear();
            (now.live, now.peak) = (0, 0);
            now.liveness.reset();
        });
        self.failed_this_execution.store(false, Ordering::Relaxed);
        self.executions.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Executions begun so far.
    pub fn executions(&self) -> usize {
        self.executions.load(Ordering::Relaxed)
    }

    /// Forgets the executions begun after the first `to`: a search the engine abandoned and runs
    /// again from there (loom's, when an execution's pool of atomics ran short).
    pub fn rewind_executions(&self, to: usize) {
        self.executions.store(to, Ordering::Relaxed);
    }

    /// Where a failure goes the moment it is recorded, besides this recorder: a worker process
    /// writes it to its parent at once, so that it survives loom aborting the process. `None`
    /// (the default): nowhere else.
    pub fn set_failure_sink(&self, sink: Option<fn(&Failure)>) {
        *self.failure_sink.lock() = sink;
    }

    /// Hands `f` to the failure sink, if there is one ([`Recorder::set_failure_sink`]).
    pub fn sink(&self, f: &Failure) {
        let sink = *self.failure_sink.lock();
        if let Some(sink) = sink {
            sink(f);
        }
    }

    /// Whether the current execution has failed.
    pub fn failed_this_execution(&self) -> bool {
        self.failed_this_execution.load(Ordering::Relaxed)
    }

    /// Sets what replay tokens of failures name (scenario, variant, engine).
    pub fn set_replay_base(&self, base: Option<ReplayBase>) {
        *self.replay_base.lock() = base;
    }

    /// loom: a new bounded search (in loom's own SeqCst model when `acqrel`; with loads of
    /// atomics their own thread writes run as read-modify-writes when `own_loads`) starts after
    /// `start` executions; tokens count from there.
    pub fn set_loom_stage(&self, bound: Option<usize>, start: usize, acqrel: bool, own_loads: bool) {
        self.loom_stage_start.store(start, Ordering::Relaxed);
        if let Some(b) = self.replay_base.lock().as_mut() {
            b.point = Point::Loom { bound, execution: 0, acqrel, own_loads };
        }
    }

    /// The token of the current execution. A shuttle execution's is `None` here: its choices
    /// sit in the scheduler ([`crate::replay::Recording`]) until the run ends, when the runner
    /// completes the failure with [`Recorder::shuttle_token`].
    fn replay_token(&self) -> Option<String> {
        self.token(|point| match *point {
            Point::Loom { bound, acqrel, own_loads, .. } => Some(Point::Loom {
                bound,
                acqrel,
                own_loads,
                execution: self.executions() - self.loom_stage_start.load(Ordering::Relaxed),
            }),
            Point::Shuttle { .. } => None,
        })
    }

    /// The token of a shuttle execution that made `choices`, when this recorder's tokens name a
    /// shuttle schedule.
    pub fn shuttle_token(&self, choices: &[usize]) -> Option<String> {
        self.token(|point| matches!(point, Point::Shuttle { .. }).then(|| Point::Shuttle { choices: choices.to_vec() }))
    }

    /// A token for this recorder's scenario and variant at the point `at` makes of its base.
    fn token(&self, at: impl FnOnce(&Point) -> Option<Point>) -> Option<String> {
        let base = self.replay_base.lock().clone()?;
        let point = at(&base.point)?;
        Some(Token { scenario: base.scenario, variant: base.variant, point }.to_string())
    }

    /// Runs one facade operation's bookkeeping under the recorder's lock, taken once.
    #[inline]
    pub(crate) fn step<R>(&self, f: impl FnOnce(&mut Now) -> R) -> R {
        f(&mut self.now.lock())
    }

    /// Appends one event to the timeline, if this recorder keeps events or the event is one the
    /// checks read (a note, declared progress).
    #[inline]
    pub(crate) fn record(
        &self,
        thread: usize,
        op: Op,
        object: impl Into<Target>,
        location: Option<&'static Location<'static>>,
    ) {
        self.step(|now| now.record(thread, op, object, location));
    }

    /// How many notes (and declared progress) of the current execution start with `prefix`.
    pub fn noted(&self, prefix: &str) -> usize {
        self.step(|now| {
            now.dropped_notes
                .iter()
                .chain(&now.events)
                .filter(|e| match &e.op {
                    Op::Note(text) => text.starts_with(prefix),
                    Op::Progress(what) => what.starts_with(prefix),
                    _ => false,
                })
                .count()
        })
    }

    /// Whether any execution recorded so far spawned a thread through the facade. A model that
    /// never did ran one thread only, as far as any engine could see: nothing concurrent was
    /// checked (threads and locks of `std` are invisible to the engines).
    pub fn spawned_any(&self) -> bool {
        self.step(|now| now.spawned_any)
    }

    /// The most spawned threads alive at once (spawned, not yet joined) in the current execution.
    pub fn peak_threads(&self) -> usize {
        self.step(|now| now.peak)
    }

    pub(crate) fn thread_name(&self, i: usize) -> String {
        self.step(|now| now.threads.get(i).cloned()).unwrap_or_else(|| format!("thread-{i}"))
    }

    fn names(&self, threads: impl IntoIterator<Item = usize>) -> String {
        let names: Vec<String> = threads.into_iter().map(|t| self.thread_name(t)).collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }

    /// `thread` made the scenario's declared progress.
    pub(crate) fn progress(&self) {
        self.step(|now| now.liveness.progress());
    }

    /// `thread` retried; the livelock message when two or more threads have now each retried
    /// `rounds` times with no progress by anyone.
    pub(crate) fn retry(&self, thread: usize, what: &str, rounds: usize) -> Option<String> {
        let l = self.step(|now| now.liveness.retry(thread, rounds))?;
        let who = self.names(l.threads.iter().map(|&(t, _)| t));
        Some(format!(
            "livelock: {who} each retried ({what}) {rounds} times in a row, and no one made progress in between"
        ))
    }

    /// `thread` started waiting in `line`.
    pub(crate) fn arrive(&self, line: &'static str, thread: usize) {
        self.step(|now| now.liveness.arrive(line, thread));
    }

    /// `thread` got in; the starvation message when a waiter was overtaken more than `max_bypass` times.
    pub(crate) fn enter(&self, line: &'static str, thread: usize, max_bypass: usize) -> Option<String> {
        let s = self.step(|now| now.liveness.enter(line, thread, max_bypass))?;
        let mut by: Vec<usize> = s.overtaken_by.clone();
        by.dedup();
        Some(format!(
            "starvation: {} waited at {line} while {}, arriving later, went in ahead of it {} times \
             (the line allows {max_bypass})",
            self.thread_name(s.thread),
            self.names(by),
            s.overtaken_by.len(),
        ))
    }

    /// Tells the recorder whether its engine models weak memory (loom does; shuttle is
    /// sequentially consistent, and real threads' events are in recording order): only then are
    /// loads that read an older value than the latest write to their object marked `stale`.
    pub fn set_weak_memory(&self, on: bool) {
        self.step(|now| now.weak_memory = on);
    }

    /// Keeps at most `cap` events per execution, the latest ones (`None`: all of them). A stress
    /// run sets [`STRESS_EVENT_CAP`]; the dropped steps keep their place in the numbering, so a
    /// trace whose first step is not 1 was cut at the front.
    pub fn set_event_cap(&self, cap: Option<usize>) {
        self.step(|now| now.cap = cap.map(|c| c.max(1)));
    }

    /// The events of the current execution so far, as a [`Trace`] (at most the last
    /// [`Recorder::set_event_cap`] of them). Linear in the events kept.
    pub fn snapshot(&self) -> Trace {
        self.step(|now| Self::snapshot_of(now))
    }

    /// `id`'s readable name in the current execution's trace, as [`Recorder::snapshot`] gives
    /// it (`mutex@scenarios/x.rs:12#2` when objects of the trace share a name).
    pub(crate) fn object_name(&self, id: ObjectId) -> String {
        self.step(|now| {
            let events = if now.events_on { &now.events } else { &VecDeque::new() };
            Self::object_names_of(now, events).remove(&id.serial).unwrap_or_else(|| id.base_name())
        })
    }

    /// The readable names of the objects the trace of `now` mentions: in `events`, or waited for.
    fn object_names_of(now: &Now, events: &VecDeque<Event>) -> HashMap<u64, String> {
        let waited = now.pending.iter().flatten().filter_map(|p| match p.object {
            Waited::Object(o) => Some(o),
            Waited::Thread(_) => None,
        });
        let acted_on = events.iter().filter_map(|e| match e.object {
            Target::Object(o) => Some(o),
            _ => None,
        });
        object_names(acted_on.chain(waited))
    }

    fn snapshot_of(now: &Now) -> Trace {
        // Without events, the notes kept for `noted` alone would make a misleading timeline.
        let events = if now.events_on { &now.events } else { &VecDeque::new() };
        let threads = now.threads.clone();
        let name = |i: usize| threads.get(i).cloned().unwrap_or_else(|| format!("thread-{i}"));
        let objects = Self::object_names_of(now, events);
        let object = |o: &ObjectId| objects.get(&o.serial).cloned().unwrap_or_else(|| o.base_name());
        let target = |t: &Target| match t {
            Target::None => String::new(),
            Target::Line(line) => line.to_string(),
            Target::Object(o) => object(o),
        };
        // One pass: the latest write to each object among the events before this one, with its
        // thread and step (a write dropped by the cap is not known: a load right after the cut is
        // shown as it is). Kept only for an engine that models weak memory.
        let mut latest: HashMap<u64, (u64, usize, usize)> = HashMap::new();
        let steps = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let step = now.dropped + i + 1;
                let id = match e.object {
                    Target::Object(o) if now.weak_memory => Some(o.serial),
                    _ => None,
                };
                let op = match (&e.op, id.and_then(|id| latest.get(&id))) {
                    // A weak-memory checker (loom) may let a load read an older value than the
                    // last write to its object in this timeline: say which write it missed, or
                    // the trace seems to contradict itself.
                    (Op::Load(v), Some(&(w, by, at))) if *v != w => {
                        format!("{} (stale: {} wrote {w} at step {at})", e.op, name(by))
                    }
                    // Threads are recorded by index (no allocation on the hot path), named here.
                    (Op::Spawn(t), _) => format!("spawn {}", name(*t)),
                    (Op::Join(t), _) => format!("join {}", name(*t)),
                    (Op::Fork(t), _) => format!("fork {}", name(*t)),
                    (op, _) => op.to_string(),
                };
                if let (Some(id), Some((v, by))) = (id, written(e)) {
                    latest.insert(id, (v, by, step));
                }
                Step {
                    step,
                    thread: name(e.thread),
                    op,
                    object: target(&e.object),
                    location: e.location.map(short_location).unwrap_or_default(),
                }
            })
            .collect();
        let holders = &now.holders;
        let blocked = now
            .pending
            .iter()
            .enumerate()
            .filter_map(|(t, p)| p.as_ref().map(|p| (t, p)))
            .map(|(t, p)| Blocked {
                thread: name(t),
                op: p.op.to_string(),
                object: match &p.object {
                    Waited::Object(o) => object(o),
                    Waited::Thread(t) => name(*t),
                },
                // A thread can wait for a lock it holds itself: a signal handler's self-deadlock.
                // A reader-writer lock can have several holders, named in the order they took it.
                held_by: {
                    let mut by: Vec<String> = Vec::new();
                    for &(o, h, _) in holders {
                        let this = matches!(p.object, Waited::Object(w) if w == o);
                        if this && (h != t || LOCKING_OPS.contains(&p.op)) && !by.contains(&name(h)) {
                            by.push(name(h));
                        }
                    }
                    (!by.is_empty()).then(|| by.join(" and "))
                },
                location: short_location(p.location),
            })
            .collect();
        Trace { threads, steps, blocked }
    }

    /// Records a failure of the current execution. Later panics of the same execution
    /// (unwinding, teardown) and failures after the check's first are ignored; returns the
    /// failure when it is the check's first.
    pub fn fail(&self, message: String, location: String) -> Option<Failure> {
        if self.failed_this_execution.swap(true, Ordering::Relaxed) {
            return None;
        }
        let mut slot = self.failure.lock();
        if slot.is_some() {
            return None;
        }
        let failure = self.failure_now(message, location);
        *slot = Some(failure.clone());
        Some(failure)
    }

    /// A failure of the current execution as it stands, without recording it.
    pub fn failure_now(&self, message: String, location: String) -> Failure {
        let trace = self.snapshot();
        // The thread that acted last is the one that panicked (model threads run one at a time);
        // with no events kept, who acted last is unknown.
        let thread = match trace.steps.last() {
            Some(s) => s.thread.clone(),
            None if self.events_on => "main".to_string(),
            None => String::new(),
        };
        Failure { message, location, thread, execution: self.executions(), trace, replay: self.replay_token() }
    }

    /// The first failure of the check, if any execution failed.
    pub fn take_failure(&self) -> Option<Failure> {
        self.failure.lock().take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` objects of `kind`, unnamed, all made at one site (a loop, a helper).
    fn made_at_one_site(kind: ObjectKind, n: usize) -> Vec<ObjectId> {
        (0..n).map(|_| ObjectId::new(kind, None, Location::caller())).collect()
    }

    /// An atomic named `name`.
    fn atomic(name: &'static str) -> ObjectId {
        ObjectId::new(ObjectKind::Atomic, Some(name), Location::caller())
    }

    #[test]
    fn a_recorder_without_events_keeps_what_the_checks_read_and_no_timeline() {
        let rec = Recorder::without_events();
        let current = scoped(rec.clone());
        assert!(!EVENTS_ON.with(Cell::get), "the facade's fast check must see that no events are kept");
        rec.begin_execution();
        let agent = rec.step(|now| now.register_thread(Some("agent-1".into())));
        rec.record(0, Op::Spawn(agent), "", None);
        rec.record(agent, Op::Load(1), atomic("seats_left"), None);
        rec.record(agent, Op::Note("sells seat 1".into()), "", None);
        rec.record(agent, Op::Progress("sold"), "", None);
        assert_eq!(rec.noted("sells"), 1);
        assert_eq!(rec.noted("sold"), 1);
        assert_eq!(rec.peak_threads(), 1);
        assert_eq!(rec.thread_name(agent), "agent-1");
        let trace = rec.snapshot();
        assert_eq!(trace.threads, ["main", "agent-1"]);
        assert!(trace.steps.is_empty(), "{:?}", trace.steps);
        drop(current);

        let full = Recorder::new();
        let _current = scoped(full.clone());
        assert!(EVENTS_ON.with(Cell::get));
        full.begin_execution();
        full.record(0, Op::Load(1), atomic("seats_left"), None);
        assert_eq!(full.snapshot().steps.len(), 1);
    }

    /// The quadratic search `snapshot` did before it kept the latest writes in one pass: the
    /// reference its output must match.
    fn latest_write_by_scan(events: &[Event], object: Target) -> Option<(u64, usize, usize)> {
        let (i, e) = events.iter().enumerate().rev().find(|(_, e)| e.object == object && written(e).is_some())?;
        written(e).map(|(v, by)| (v, by, i + 1))
    }

    /// A timeline with loads that read older values than the last write (what loom shows),
    /// over a few objects and threads, and a flag that is only ever read (the scan's worst case:
    /// it searched every earlier event for a write).
    fn record_mixed(rec: &Recorder, n: usize) {
        let objects = [atomic("x"), atomic("y"), atomic("z")];
        let flag = atomic("flag");
        for i in 0..n {
            if i % 11 == 0 {
                rec.record(i % 3, Op::Load(0), flag, None);
                continue;
            }
            let (thread, object, v) = (i % 3, objects[i % objects.len()], (i / 2) as u64 % 5);
            let op = match i % 7 {
                0 => Op::Store(v),
                1 | 4 => Op::Load(v),
                2 => Op::Swap(v, v + 1),
                3 => Op::Cas(v, v + 2, if i % 2 == 0 { v } else { v + 1 }),
                5 => Op::Rmw("fetch_add", v, v + 1),
                _ => Op::Lock,
            };
            rec.record(thread, op, object, None);
        }
    }

    #[test]
    fn snapshot_marks_stale_loads_as_the_scan_over_all_earlier_events_did() {
        let rec = Recorder::new();
        rec.set_weak_memory(true);
        rec.begin_execution();
        rec.step(|now| {
            now.register_thread(None);
            now.register_thread(None);
        });
        record_mixed(&rec, 5_000);
        let events: Vec<Event> = rec.step(|now| now.events.iter().cloned().collect());
        let trace = rec.snapshot();
        assert_eq!(trace.steps.len(), events.len());
        let mut stale = 0;
        for (i, (e, step)) in events.iter().zip(&trace.steps).enumerate() {
            assert_eq!(step.step, i + 1);
            let expected = match (&e.op, latest_write_by_scan(&events[..i], e.object)) {
                (Op::Load(v), Some((w, by, at))) if *v != w => {
                    stale += 1;
                    format!("{} (stale: {} wrote {w} at step {at})", e.op, trace.threads[by])
                }
                (op, _) => op.to_string(),
            };
            assert_eq!(step.op, expected, "step {}", i + 1);
        }
        assert!(stale > 10, "the log must exercise the stale marking: {stale} stale loads");
    }

    #[test]
    fn a_capped_recorder_keeps_the_last_events_numbered_as_recorded_and_every_note() {
        let rec = Recorder::new();
        rec.set_weak_memory(true);
        rec.set_event_cap(Some(100));
        rec.begin_execution();
        rec.record(0, Op::Note("sells seat 1".into()), "", None);
        let x = atomic("x");
        for i in 0..1_000 {
            rec.record(0, Op::Store(i), x, None);
        }
        rec.record(0, Op::Load(998), x, None);
        let trace = rec.snapshot();
        assert_eq!(trace.steps.len(), 100, "the cap holds");
        assert_eq!(trace.steps.first().map(|s| s.step), Some(903), "numbered as recorded");
        assert_eq!(
            trace.steps.last().map(|s| (s.step, s.op.as_str())),
            Some((1002, "load → 998 (stale: main wrote 999 at step 1001)"))
        );
        assert_eq!(rec.noted("sells"), 1, "a dropped note is still counted");
        assert!(trace.render().contains("1002 │"), "{}", trace.render());
        // The next execution starts from step 1 again, with no notes.
        rec.begin_execution();
        rec.record(0, Op::Load(0), x, None);
        assert_eq!(rec.snapshot().steps.first().map(|s| s.step), Some(1));
        assert_eq!(rec.noted("sells"), 0);
    }

    /// Three unnamed mutexes made at one site, each thread holding one and waiting for the next:
    /// each waits for the one the next thread holds (told apart by identity, not by the name
    /// they share).
    #[test]
    fn three_unnamed_mutexes_in_a_cycle_name_the_right_holders() {
        let rec = Recorder::new();
        rec.begin_execution();
        let locks = made_at_one_site(ObjectKind::Mutex, 3);
        let here = locks[0].base_name();
        assert!(here.starts_with("mutex@src/trace.rs:"), "{here}");
        let threads: Vec<usize> = (0..3).map(|_| rec.step(|now| now.register_thread(None))).collect();
        let site = Location::caller();
        rec.step(|now| {
            for (i, &t) in threads.iter().enumerate() {
                now.set_pending(t, "lock", Waited::Object(locks[i]), site);
                now.unblocked(t, Some(locks[i]));
                now.record(t, Op::Lock, locks[i], None);
            }
            for (i, &t) in threads.iter().enumerate() {
                now.set_pending(t, "lock", Waited::Object(locks[(i + 1) % 3]), site);
            }
        });
        let trace = rec.snapshot();
        let lock_names: Vec<&str> = trace.steps.iter().map(|s| s.object.as_str()).collect();
        assert_eq!(lock_names, [format!("{here}#1"), format!("{here}#2"), format!("{here}#3")]);
        let cycle: Vec<(&str, &str, Option<&str>)> =
            trace.blocked.iter().map(|b| (b.thread.as_str(), b.object.as_str(), b.held_by.as_deref())).collect();
        assert_eq!(
            cycle,
            [
                ("thread-1", format!("{here}#2").as_str(), Some("thread-2")),
                ("thread-2", format!("{here}#3").as_str(), Some("thread-3")),
                ("thread-3", format!("{here}#1").as_str(), Some("thread-1")),
            ],
            "{}",
            trace.render()
        );
    }

    /// A writer waiting for a reader-writer lock that two readers hold is told both holders, in
    /// the order they took it; a reader that left is not one of them.
    #[test]
    fn a_writer_waiting_on_readers_names_every_reader() {
        let rec = Recorder::new();
        rec.begin_execution();
        let table = made_at_one_site(ObjectKind::RwLock, 1)[0];
        assert!(table.base_name().starts_with("rwlock@src/trace.rs:"), "{}", table.base_name());
        let [a, b, c, w] = [(); 4].map(|_| rec.step(|now| now.register_thread(None)));
        let site = Location::caller();
        rec.step(|now| {
            for t in [a, b, c] {
                now.unblocked_reading(t, table);
                now.record(t, Op::ReadLock, table, None);
            }
            now.released(table, b);
            now.record(b, Op::ReadUnlock, table, None);
            now.set_pending(w, "write lock", Waited::Object(table), site);
        });
        let trace = rec.snapshot();
        let ops: Vec<&str> = trace.steps.iter().map(|s| s.op.as_str()).collect();
        assert_eq!(ops, ["read lock", "read lock", "read lock", "read unlock"]);
        let blocked: Vec<(&str, &str, Option<&str>)> =
            trace.blocked.iter().map(|b| (b.thread.as_str(), b.op.as_str(), b.held_by.as_deref())).collect();
        assert_eq!(blocked, [("thread-4", "write lock", Some("thread-1 and thread-3"))], "{}", trace.render());
        assert!(trace.render().contains("thread-4 waits to write lock rwlock@src/trace.rs:"), "{}", trace.render());
    }

    /// A load that reads an older value than the latest write to its object is marked stale only
    /// by a recorder whose engine models weak memory (loom); a stress run records events in the
    /// order its threads reach the recorder, so the same timeline there is no weak-memory read.
    #[test]
    fn only_a_weak_memory_engine_marks_a_load_stale() {
        let x = atomic("x");
        let timeline = |weak: bool| {
            let rec = Recorder::new();
            rec.set_weak_memory(weak);
            rec.begin_execution();
            let t = rec.step(|now| now.register_thread(None));
            rec.record(t, Op::Store(1), x, None);
            rec.record(0, Op::Load(0), x, None);
            rec.snapshot().steps.iter().map(|s| s.op.clone()).collect::<Vec<_>>()
        };
        assert_eq!(timeline(false), ["store ← 1", "load → 0"]);
        assert_eq!(timeline(true), ["store ← 1", "load → 0 (stale: thread-1 wrote 1 at step 1)"]);
    }

    #[test]
    fn render_puts_each_step_in_its_thread_column() {
        let t = Trace {
            threads: vec!["main".into(), "a".into(), "b".into()],
            steps: vec![
                Step {
                    step: 1,
                    thread: "a".into(),
                    op: "load → 1".into(),
                    object: "x".into(),
                    location: "s.rs:1".into(),
                },
                Step {
                    step: 2,
                    thread: "b".into(),
                    op: "load → 1".into(),
                    object: "x".into(),
                    location: "s.rs:1".into(),
                },
            ],
            blocked: vec![],
        };
        let r = t.render();
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(lines.len(), 4, "{r}");
        // Step 2's text sits further right than step 1's: a different column.
        assert!(lines[3].find("x load").unwrap() > lines[2].find("x load").unwrap(), "{r}");
    }
}
