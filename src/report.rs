//! What a check returns: the verdict and its kind, how much was explored, the trace and the
//! replay token — and how a failure's panic message maps to a kind.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::trace::{Blocked, Step, Trace};

/// The kind of bug an execution showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The scenario's invariant broke (`rt::invariant`).
    Assertion,
    /// Threads blocked forever waiting on each other (or on themselves).
    Deadlock,
    /// Threads kept running without progress.
    Livelock,
    /// A thread was overtaken without bound.
    Starvation,
    /// Any other panic: a bug in the scenario, or one the invariant does not name.
    Panic,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Assertion => "assertion",
            Kind::Deadlock => "deadlock",
            Kind::Livelock => "livelock",
            Kind::Starvation => "starvation",
            Kind::Panic => "panic",
        })
    }
}

/// How a report's message starts when a "must still work" property failed (`rt::property`):
/// `must still work [name]: …`.
pub const MUST_STILL_WORK: &str = "must still work ";

/// The "must still work" property a report's message names, if it is such a failure.
pub fn failed_property(message: &str) -> Option<&str> {
    message.strip_prefix(MUST_STILL_WORK)?.strip_prefix('[')?.split_once("]: ").map(|(name, _)| name)
}

/// Messages of std's own runtime checks (and of conclab's misuse errors): a panic with one of
/// them is a crash of the model's code, not a check the model makes — kind [`Kind::Panic`].
const RUNTIME_ERRORS: &[&str] = &[
    "called `Option::unwrap()`",
    "called `Result::unwrap()`",
    "called `Result::unwrap_err()`",
    "called `Result::expect_err()`",
    "index out of bounds",
    "attempt to ",
    "already borrowed",
    "already mutably borrowed",
    "RefCell already ",
    "removal index ",
    "insertion index ",
    "swap_remove index ",
    "copy_from_slice: ",
    "mid > len",
    "end byte index ",
    "start byte index ",
    "capacity overflow",
    "byte index ",
    "range start index ",
    "range end index ",
    "slice index starts",
    "not yet implemented",
    "not implemented",
    "a conclab ",
];

/// Whether a panic at `location` (as [`crate::trace::short_location`] prints it) was raised by
/// the model's own source: a path relative to the crate under test, not a dependency's or std's
/// (absolute), nor conclab's engine layer (`src/rt/`: relative only when conclab itself is the
/// crate under test, as in its own tests; a user's own `src/rt/` is theirs).
fn in_model_source(location: &str) -> bool {
    let conclab_is_the_crate = file!().starts_with("src/");
    let engine_layer = conclab_is_the_crate && location.starts_with("src/rt/");
    !(location.is_empty() || location.starts_with('/') || location.starts_with('<') || engine_layer)
}

/// Classifies a failure by its panic message and where it was raised; returns the kind and the
/// message to show. A failed `assert!`, `assert_eq!`, `assert_ne!`, `panic!`, `unreachable!` or
/// `expect` in the model's own source is a failed check of the model: [`Kind::Assertion`].
/// [`Kind::Panic`] is left for crashes that are no check of the model's (an `unwrap` of `None`,
/// an index out of bounds, an overflow, a panic inside a dependency or an engine).
pub fn classify(message: &str, location: &str) -> (Kind, String) {
    if let Some(m) = message.strip_prefix(INVARIANT_PREFIX) {
        return (Kind::Assertion, m.to_string());
    }
    if let Some(m) = message.strip_prefix(PROPERTY_PREFIX) {
        let (name, what) = m.split_once(": ").unwrap_or((m, ""));
        return (Kind::Assertion, format!("{MUST_STILL_WORK}[{name}]: {what}"));
    }
    // A model's own `assert!`, `assert_eq!` and `assert_ne!` (std's words for them).
    if message.starts_with("assertion failed") || message.starts_with("assertion `left") {
        return (Kind::Assertion, message.to_string());
    }
    // The facade's own liveness verdicts (see `liveness.rs`) say what they are.
    if message.starts_with("livelock: ") {
        return (Kind::Livelock, message.to_string());
    }
    if message.starts_with("starvation: ") {
        return (Kind::Starvation, message.to_string());
    }
    let lower = message.to_lowercase();
    if lower.starts_with("deadlock") || lower.contains("already holds") || lower.contains("hung with threads blocked") {
        return (Kind::Deadlock, message.to_string());
    }
    if in_model_source(location) && !RUNTIME_ERRORS.iter().any(|e| message.starts_with(e)) {
        return (Kind::Assertion, message.to_string());
    }
    (Kind::Panic, message.to_string())
}

/// Whether a failure message is an engine's own execution limit (shuttle's `max_steps`, loom's
/// branch limit) rather than a bug: such an execution was cut, not shown to fail, and a report
/// of it is [`Verdict::Inconclusive`] with [`Undecided::StepLimit`].
pub fn limit_reached(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("max_steps bound") || m.contains("maximum number of branches")
}

/// The prefix of every invariant failure's panic message: how a report tells an
/// `assertion` verdict from any other panic.
pub const INVARIANT_PREFIX: &str = "invariant violated: ";

/// The prefix of every "must still work" property failure's panic message (see `rt::property`).
pub const PROPERTY_PREFIX: &str = "property violated: ";

/// The prefix of conclab's own message when an engine cannot model the program (see
/// [`Undecided::EngineLimit`]).
pub const ENGINE_LIMIT_PREFIX: &str = "engine limit: ";

/// Whether a failure message says the engine cannot model the program at all (conclab's
/// [`ENGINE_LIMIT_PREFIX`]; shuttle PCT's refusal of a model without concurrency).
pub fn engine_cannot_model(message: &str) -> bool {
    message.starts_with(ENGINE_LIMIT_PREFIX) || message.contains("did not exercise any concurrency")
}

/// Passed, a bug was found, or neither could be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No explored execution failed.
    Passed,
    /// An execution failed; see `kind`.
    BugFound,
    /// The check neither found a bug nor ended its search: see the report's `inconclusive`.
    Inconclusive,
}

/// Why a check is [`Verdict::Inconclusive`]: what stopped it from showing a bug or a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undecided {
    /// An execution reached the engine's branch or step limit (a loop without end, or a model
    /// longer than the limit): it was cut, not shown to fail.
    StepLimit,
    /// The check's wall-clock budget ran out; the worker was stopped.
    Timeout,
    /// A failure that loom shows only because it models SeqCst loads and stores as AcqRel (its
    /// documented limit): under real SeqCst it may be impossible — or a real bug that mixes
    /// orderings on one atomic, which loom cannot tell apart.
    #[serde(rename = "weak_seqcst")]
    WeakSeqCst,
    /// The engine cannot model this program (loom: a 5th thread, an atomic's `get_mut`; shuttle
    /// PCT: a model without concurrency): it judged nothing. The default check lets the other
    /// engines judge.
    EngineLimit,
    /// The model started no thread through `conclab::thread` in any execution: the engines saw
    /// one thread, so nothing concurrent was checked (threads and locks of `std` itself are
    /// invisible to them). Not a pass.
    NoThreads,
}

impl Undecided {
    /// The reason in words, for the verdict line.
    pub fn words(self) -> &'static str {
        match self {
            Undecided::StepLimit => "inconclusive: the engine's branch/step limit was reached",
            Undecided::Timeout => "inconclusive: the check's time budget ran out",
            Undecided::WeakSeqCst => {
                "possible only if SeqCst were AcqRel: loom's documented limit (a false alarm, or a real bug \
                 of mixed orderings; loom cannot tell which)"
            }
            Undecided::EngineLimit => "inconclusive: this engine cannot model the program",
            Undecided::NoThreads => "inconclusive: the model started no thread, so nothing concurrent was checked",
        }
    }
}

/// A class of bugs an engine cannot show, whatever its coverage says (the `not_covered` list
/// of a report: a pass is silent about these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlindSpot {
    /// Weak-memory behaviour (stale reads under Relaxed/Acquire/Release): shuttle runs every
    /// atomic as SeqCst, real threads on x86 rarely show it.
    WeakMemory,
    /// A livelock of threads that back off with `yield_now`/`spin_loop` and retry: loom
    /// deprioritises a yielding thread and never drives such threads in lockstep.
    YieldLivelock,
    /// Some interleavings of loads weaker than SeqCst: loom 0.7.3's DPOR compares a store only
    /// with the last access before it (loom#166, #392), so a Relaxed/Acquire load may never run
    /// after another thread's store. Listed when the check ran such loads.
    WeakLoadInterleavings,
    /// A race with an atomic's making: an object is made at its first use, so loom counts each
    /// atomic as made when the execution began, and a thread that reads one another thread made
    /// and published through a raw pointer without synchronising (unsafe code: safe code cannot
    /// share an object unsynchronised) reads its first value, where loom alone reports a
    /// causality violation. Listed when the check used an `AtomicPtr`.
    UnsyncedMaking,
}

impl BlindSpot {
    /// What the blind spot is, in words.
    pub fn words(self) -> &'static str {
        match self {
            BlindSpot::WeakMemory => "weak-memory bugs (every atomic runs as SeqCst)",
            BlindSpot::YieldLivelock => {
                "livelocks of threads that yield and retry (loom deprioritises a yielding thread)"
            }
            BlindSpot::WeakLoadInterleavings => {
                "some interleavings of Relaxed/Acquire loads (loom's DPOR misses them: loom#166, #392)"
            }
            BlindSpot::UnsyncedMaking => {
                "reads racing with an atomic's making, when it was published through a raw pointer (an atomic \
                 counts as made when the execution began)"
            }
        }
    }

    /// The bug kind this blind spot hides, if one kind names it.
    pub fn hides(self) -> Option<Kind> {
        match self {
            BlindSpot::WeakMemory | BlindSpot::WeakLoadInterleavings | BlindSpot::UnsyncedMaking => None,
            BlindSpot::YieldLivelock => Some(Kind::Livelock),
        }
    }
}

/// What the explored executions cover: the honest statement behind a `passed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Coverage {
    /// Every execution of the model (loom without a bound, shuttle DFS run to the end).
    Exhaustive,
    /// Every execution with at most `bound` preemptions (loom's preemption bounding).
    PreemptionBounded {
        /// The preemption bound.
        bound: usize,
    },
    /// That many schedules were sampled (random, PCT, stress) or the exhaustive search was cut.
    Sampled {
        /// Schedules run.
        schedules: usize,
    },
    /// The search stopped at the first failing execution.
    StoppedAtBug {
        /// Executions explored, the failing one included.
        after: usize,
    },
    /// Stopped by Ctrl-C before the search ended: only these executions were explored.
    Interrupted {
        /// Executions explored before the stop.
        after: usize,
    },
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Coverage::Exhaustive => f.write_str("fully exhaustive"),
            Coverage::PreemptionBounded { bound } => write!(f, "exhaustive up to {bound} preemption(s)"),
            Coverage::Sampled { schedules } => write!(f, "{schedules} sampled schedule(s), not exhaustive"),
            Coverage::StoppedAtBug { after } => write!(f, "stopped at the first bug, after {after} execution(s)"),
            Coverage::Interrupted { after } => write!(f, "interrupted after {after} execution(s), not exhaustive"),
        }
    }
}

/// How often a bug showed on real threads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StressStats {
    /// Runs performed.
    pub runs: usize,
    /// Runs in which the bug showed.
    pub failing_runs: usize,
}

/// The result of one `check(scenario, variant, checker)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Scenario id.
    pub scenario: String,
    /// Variant name.
    pub variant: String,
    /// Checker name as on the command line.
    pub checker: String,
    /// For `portfolio`: the checker that decided the verdict.
    pub found_by: Option<String>,
    /// Passed or bug found.
    pub verdict: Verdict,
    /// The bug's kind; `None` when passed.
    pub kind: Option<Kind>,
    /// The failure message (the invariant's words, the deadlock, the panic).
    pub message: Option<String>,
    /// Executions explored (counted by the runner: loom has no API for it).
    pub executions: usize,
    /// Wall time of the check.
    pub elapsed_ms: u64,
    /// What was covered.
    pub coverage: Coverage,
    /// Bug classes the engine behind this verdict cannot show: its coverage says nothing of them.
    #[serde(default)]
    pub not_covered: Vec<BlindSpot>,
    /// Why the verdict is `inconclusive` (`None` otherwise).
    #[serde(default)]
    pub inconclusive: Option<Undecided>,
    /// The failing execution's steps (empty when passed).
    pub trace: Vec<Step>,
    /// The trace's thread names, in spawn order.
    pub threads: Vec<String>,
    /// Threads blocked when the failing execution stopped.
    pub blocked: Vec<Blocked>,
    /// Token that `conclab replay` turns back into the same execution.
    pub replay: Option<String>,
    /// The Rust file checked (`conclab check FILE.rs`), when the scenario is one: what
    /// `conclab replay` must be given instead of the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// How to replay it, when not with `conclab replay` (a `conclab::check` in a test:
    /// `CONCLAB_REPLAY='<token>' cargo test <test> -- --exact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_command: Option<String>,
    /// For `stress`: how often the bug showed.
    pub stress: Option<StressStats>,
    /// Anything the reader should know about how this report was obtained.
    pub notes: Vec<String>,
    /// How the shown trace was minimised, and the first-found trace's size beside it.
    #[serde(default)]
    pub minimised: Option<Minimised>,
}

impl Report {
    /// Names every source location under `from` (a path as the trace shows it) as `to` instead:
    /// a file checked in a scratch crate (`conclab check FILE.rs`) is shown under the path the
    /// user gave, not the copy's. Lines are kept as they are (the copy keeps the file's lines).
    pub fn relocate(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        // A location is `path:line`: only a path followed by its line is one.
        let (from, to) = (format!("{from}:"), format!("{to}:"));
        let fix = |s: &mut String| {
            if s.contains(&from) {
                *s = s.replace(&from, &to);
            }
        };
        self.message.iter_mut().for_each(fix);
        self.notes.iter_mut().for_each(fix);
        for step in &mut self.trace {
            fix(&mut step.location);
            fix(&mut step.object);
            fix(&mut step.op);
        }
        for b in &mut self.blocked {
            fix(&mut b.location);
            fix(&mut b.object);
            b.held_by.iter_mut().for_each(fix);
        }
    }

    /// The failing execution's trace.
    pub fn trace(&self) -> Trace {
        Trace { threads: self.threads.clone(), steps: self.trace.clone(), blocked: self.blocked.clone() }
    }

    /// What `conclab replay` is given to replay this report: the file checked, or the scenario id.
    pub fn replay_target(&self) -> &str {
        self.file.as_deref().unwrap_or(&self.scenario)
    }

    /// Whether a bug was found.
    pub fn found_bug(&self) -> bool {
        self.verdict == Verdict::BugFound
    }

    /// Whether the check could decide neither way (see [`Report::inconclusive`]).
    pub fn is_inconclusive(&self) -> bool {
        self.verdict == Verdict::Inconclusive
    }

    /// Whether Ctrl-C stopped the search before it ended (and found nothing).
    pub fn interrupted(&self) -> bool {
        matches!(self.coverage, Coverage::Interrupted { .. })
    }

    /// The report for people: verdict line, the timeline, and how to replay.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let by = self.found_by.as_deref().map(|b| format!(" (by {b})")).unwrap_or_default();
        match self.kind {
            _ if self.is_inconclusive() => {
                let why = self.inconclusive.map(Undecided::words).unwrap_or("inconclusive");
                let kind = self.kind.map(|k| format!(" ({k})")).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "INCONCLUSIVE{kind}  {} / {} with {}{by}: {why}",
                    self.scenario, self.variant, self.checker
                );
                if let Some(m) = &self.message {
                    let _ = writeln!(out, "  {m}");
                }
            }
            None if self.interrupted() => {
                let _ = writeln!(
                    out,
                    "INTERRUPTED  {} / {} with {}{by}: no bug so far",
                    self.scenario, self.variant, self.checker
                );
            }
            None => {
                let _ = writeln!(out, "PASSED  {} / {} with {}{by}", self.scenario, self.variant, self.checker);
            }
            Some(kind) => {
                let _ =
                    writeln!(out, "BUG FOUND ({kind})  {} / {} with {}{by}", self.scenario, self.variant, self.checker);
                if let Some(m) = &self.message {
                    let _ = writeln!(out, "  {m}");
                }
            }
        }
        let _ = writeln!(
            out,
            "  executions: {}   time: {} ms   coverage: {}",
            self.executions, self.elapsed_ms, self.coverage
        );
        if !self.not_covered.is_empty() && !self.found_bug() {
            let words: Vec<_> = self.not_covered.iter().map(|b| b.words()).collect();
            let _ = writeln!(out, "  not covered: {}", words.join("; "));
        }
        if let Some(s) = &self.stress {
            let _ = writeln!(out, "  on real threads the bug showed in {} of {} runs", s.failing_runs, s.runs);
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        if let Some(m) = self.minimised.as_ref().filter(|_| self.found_bug()) {
            let _ = writeln!(out, "  trace: {}", m.summary());
        }
        if self.found_bug() || (self.is_inconclusive() && !self.trace.is_empty()) {
            out.push('\n');
            out.push_str(&self.trace().render());
            match (&self.replay, &self.replay_command) {
                (Some(_), Some(command)) => {
                    let _ = writeln!(out, "\nreplay (runs exactly this execution, prints its trace):\n  {command}");
                }
                (Some(token), None) => {
                    let _ = writeln!(
                        out,
                        "\nreplay: conclab replay {} --variant {} {token}",
                        self.replay_target(),
                        self.variant
                    );
                }
                (None, _) => {}
            }
        }
        out
    }
}

/// The size of one failing execution's trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Steps in the trace.
    pub steps: usize,
    /// Preemptions: switches away from a thread that could have gone on (`None`: not measured,
    /// as for loom, whose bound is in [`Minimised::preemption_bound`]).
    pub preemptions: Option<usize>,
    /// Changes of the running thread between consecutive steps of the trace.
    pub switches: usize,
}

impl Shape {
    pub(crate) fn of(trace: &Trace, preemptions: Option<usize>) -> Shape {
        let switches = trace.steps.windows(2).filter(|w| w[0].thread != w[1].thread).count();
        Shape { steps: trace.steps.len(), preemptions, switches }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(f, "{}", plural(self.steps, "step", "steps"))?;
        if let Some(p) = self.preemptions {
            write!(f, ", {}", plural(p, "preemption", "preemptions"))?;
        }
        write!(f, ", {}", plural(self.switches, "thread switch", "thread switches"))
    }
}

/// How the shown trace was minimised, and how it compares with the first one found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minimised {
    /// The method in one sentence.
    pub method: String,
    /// The first failing execution the checker found.
    pub first: Shape,
    /// The trace shown in the report.
    pub shown: Shape,
    /// loom: the preemption bound under which the bug was found.
    pub preemption_bound: Option<usize>,
    /// Candidate schedules replayed (0 for loom).
    pub attempts: usize,
    /// The first-found execution's token, when it differs from the shown one.
    pub first_replay: Option<String>,
}

impl Minimised {
    /// One line for the human report.
    pub fn summary(&self) -> String {
        if self.first == self.shown {
            format!("{}; shown: {}", self.method, self.shown)
        } else {
            format!("{}; first found: {}; shown: {}", self.method, self.first, self.shown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_map_to_kinds() {
        let here = "src/bank.rs:12";
        assert_eq!(classify("invariant violated: seat 1 sold twice", here).0, Kind::Assertion);
        assert_eq!(
            classify("deadlock; threads = [(0, Blocked)]", "/root/.cargo/registry/loom/rt/mod.rs:1").0,
            Kind::Deadlock
        );
        assert_eq!(classify("deadlock! blocked tasks: [main]", "").0, Kind::Deadlock);
        assert!(limit_reached("exceeded max_steps bound 1000. this might be"));
        assert!(limit_reached("Model exceeded maximum number of branches. This is often caused"));
        assert!(!limit_reached("livelock: thread-1 and thread-2 retried 3 rounds"));
        assert_eq!(classify("assertion failed: seats <= 1", here).0, Kind::Assertion);
        assert_eq!(classify("assertion `left == right` failed\n  left: 1\n right: 2", here).0, Kind::Assertion);
        // The model's own `panic!`, `unreachable!`, `expect`: its checks.
        assert_eq!(classify("the balance went negative", here), (Kind::Assertion, "the balance went negative".into()));
        assert_eq!(classify("internal error: entered unreachable code", here).0, Kind::Assertion);
        assert_eq!(classify("scenarios/queue.rs panicked", "scenarios/queue.rs:3").0, Kind::Assertion);
        // Crashes that are no check of the model's.
        assert_eq!(classify("called `Option::unwrap()` on a `None` value", here).0, Kind::Panic);
        assert_eq!(classify("index out of bounds: the len is 2 but the index is 2", here).0, Kind::Panic);
        assert_eq!(classify("attempt to subtract with overflow", here).0, Kind::Panic);
        assert_eq!(classify("a conclab Mutex was used outside any check: …", here).0, Kind::Panic);
        assert_eq!(
            classify("too many threads", "/root/.cargo/registry/src/loom-0.7.3/src/rt/thread.rs:9").0,
            Kind::Panic
        );
        assert_eq!(classify("internal", "src/rt/dynamic.rs:60").0, Kind::Panic);
        assert_eq!(classify("no location", "").0, Kind::Panic);
    }

    /// std's own runtime checks, as this toolchain words them: each is a crash of the model's
    /// code (kind `panic`), though many point at the model's own line (`#[track_caller]`).
    #[test]
    #[allow(clippy::unnecessary_literal_unwrap, unconditional_panic)]
    fn std_s_runtime_errors_are_panics_not_assertions() {
        type Crash = (&'static str, Box<dyn Fn()>);
        let crashes: Vec<Crash> = vec![
            (
                "unwrap of None",
                Box::new(|| {
                    std::hint::black_box(None::<u8>.unwrap());
                }),
            ),
            (
                "unwrap of Err",
                Box::new(|| {
                    std::hint::black_box(Err::<u8, u8>(1).unwrap());
                }),
            ),
            (
                "index",
                Box::new(|| {
                    std::hint::black_box(std::hint::black_box(vec![1u8])[std::hint::black_box(3)]);
                }),
            ),
            (
                "RefCell",
                Box::new(|| {
                    let c = std::cell::RefCell::new(1);
                    let _a = c.borrow_mut();
                    let _b = c.borrow_mut();
                }),
            ),
            (
                "Vec::remove",
                Box::new(|| {
                    std::hint::black_box(std::hint::black_box(vec![1u8]).remove(3));
                }),
            ),
            (
                "Vec::insert",
                Box::new(|| {
                    let mut v = std::hint::black_box(vec![1u8]);
                    v.insert(3, 1);
                }),
            ),
            (
                "swap_remove",
                Box::new(|| {
                    std::hint::black_box(std::hint::black_box(vec![1u8]).swap_remove(3));
                }),
            ),
            ("copy_from_slice", Box::new(|| [0u8; 2].copy_from_slice(std::hint::black_box(&[1u8; 3][..])))),
            (
                "split_at",
                Box::new(|| {
                    std::hint::black_box(std::hint::black_box(&[1u8][..]).split_at(3));
                }),
            ),
            (
                "slice range",
                Box::new(|| {
                    std::hint::black_box(&std::hint::black_box(&[1u8][..])[..3]);
                }),
            ),
            (
                "str slice",
                Box::new(|| {
                    std::hint::black_box(&std::hint::black_box("é")[..1]);
                }),
            ),
            (
                "overflow",
                Box::new(|| {
                    std::hint::black_box(std::hint::black_box(255u8) + std::hint::black_box(1));
                }),
            ),
            (
                "division by zero",
                Box::new(|| {
                    std::hint::black_box(std::hint::black_box(1u8) / std::hint::black_box(0));
                }),
            ),
        ];
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let messages: Vec<(&str, Option<String>)> = crashes
            .into_iter()
            .map(|(what, crash)| {
                let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(crash)).err();
                (what, payload.map(|p| crate::engine::panic_text(&*p)))
            })
            .collect();
        std::panic::set_hook(hook);
        let misread: Vec<String> = messages
            .into_iter()
            .map(|(what, message)| (what, message.unwrap_or_else(|| panic!("{what} did not panic"))))
            .filter(|(_, message)| classify(message, "src/model.rs:3").0 != Kind::Panic)
            .map(|(what, message)| format!("{what}: `{message}`"))
            .collect();
        assert!(misread.is_empty(), "read as a check of the model's: {misread:#?}");
    }
}
