//! The runner: `check(scenario, variant, options) -> Report`, the one orchestration entry point.
//! Every front end (CLI, `conclab::check`, tests, bench, fuzz, grading) goes through here; it
//! stands on the engine floor ([`crate::engine`]), which runs one model under one engine.
//!
//! Here: what a check may be told ([`Options`]), where it runs ([`Isolation`]), one engine's
//! search turned into a [`Report`] (shrunk by [`crate::minimize`], classified by
//! [`crate::report`]), the default check's engines side by side (`portfolio`, [`PORTFOLIO`]), and the worker
//! protocol ([`worker`]): checks that can kill their process — loom aborts on a deadlock while its
//! `Arc`s are alive (loom#291, #52), and a real-thread deadlock never returns — run in a child
//! process whose panic hook writes the first failure to stdout *before* any abort, so the parent
//! still gets a verdict and a trace.

mod portfolio;
pub mod worker;

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::catalog::{self, Scenario};
use crate::engine::{self, install_panic_hook, on_fresh_thread, panic_text, Outcome};
use crate::replay::{Playback, Point, Token};
use crate::report::{classify, limit_reached, Coverage, Kind, Report, Undecided, Verdict};
use crate::rt::{Loom, SeqCstModel};
use crate::trace::{self, Failure, Recorder, ReplayBase};
use ::shuttle::scheduler::{DfsScheduler, PctScheduler, RandomScheduler, Scheduler};

pub use crate::engine::blind_spots;
pub use crate::vocab::{Checker, Engine, MAX_PREEMPTION_BOUND};
use portfolio::portfolio;
pub use portfolio::PORTFOLIO;
use worker::run_in_child;
pub use worker::{work_on, worker_main, worker_main_with};

/// Where a check runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// In a child process of this `conclab` binary (`conclab __worker`): loom's aborts and
    /// real-thread hangs cannot take the caller down, and the checkers' own stderr chatter
    /// stays out of the caller's output.
    Subprocess(PathBuf),
    /// In a child process that re-runs one test of this test binary (`exe <test> --exact`) with
    /// `env` set, so that the test's own call to [`crate::check()`] becomes the worker
    /// ([`work_on`]): `conclab::check` in any crate's `cargo test`.
    TestChild {
        /// The test binary.
        exe: PathBuf,
        /// The test's full name, as libtest names it (`tests::transfer_keeps_the_total`).
        test: String,
        /// What tells the child which check it works for.
        env: Vec<(String, String)>,
    },
    /// In this process: only for checks that cannot abort or hang (shuttle; loom on fixed
    /// variants that cannot deadlock). Used by tests that want no process boundary.
    InProcess,
}

/// Default number of schedules for shuttle's random and PCT checkers.
pub const DEFAULT_SHUTTLE_ITERATIONS: usize = 10_000;
/// Default cap on loom executions (over all its bounding stages).
pub const DEFAULT_LOOM_BUDGET: usize = 1_000_000;
/// Default number of real-thread runs for `stress`.
pub const DEFAULT_STRESS_RUNS: usize = 1_000;
/// Default wall-clock budget of one check (`--timeout`): 10 minutes. A portfolio's stages share it.
pub const DEFAULT_TIME_BUDGET_MS: u64 = 10 * 60 * 1_000;

fn default_time_budget_ms() -> u64 {
    DEFAULT_TIME_BUDGET_MS
}

/// Parses a `--timeout SECS` value (whole or fractional seconds, e.g. `600` or `0.5`) into the
/// milliseconds of [`Options::time_budget_ms`]; refuses 0, negative and unreadable values.
pub fn parse_time_budget(secs: &str) -> std::result::Result<u64, String> {
    let s: f64 = secs.trim().parse().map_err(|_| format!("`{secs}` is not a number of seconds (e.g. 600 or 0.5)"))?;
    if !s.is_finite() || s < 0.001 {
        return Err(format!(
            "a time budget of {secs} s leaves no time to check anything; give at least 0.001 (the default is {})",
            DEFAULT_TIME_BUDGET_MS / 1000
        ));
    }
    Ok((s * 1000.0).round().min(u64::MAX as f64) as u64)
}

/// How to run a check.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Options {
    /// The checker.
    pub checker: Checker,
    /// Schedules (shuttle), runs (stress) or the execution cap (loom); `None`: the default.
    pub iterations: Option<usize>,
    /// Seed of the randomised checkers.
    pub seed: u64,
    /// loom: explore only this preemption bound.
    pub preemption_bound: Option<usize>,
    /// loom: skip the bounded stages (0, 1, 2) and run the unbounded search alone: the shortest
    /// way to verify a fix, the slower way to find a bug. Ignored with `preemption_bound`.
    #[serde(default)]
    pub unbounded_only: bool,
    /// PCT's bug depth.
    pub pct_depth: usize,
    /// shuttle's step bound per execution (exceeding it is reported as a livelock).
    pub max_steps: usize,
    /// stress: a run that makes no progress for this long is reported as a hang (deadlock).
    pub hang_timeout_ms: u64,
    /// Draw a progress bar on stderr while the check runs (the CLI sets it on a terminal).
    #[serde(default)]
    pub progress: bool,
    /// After a bug is found, search for a shorter failing schedule and show that one
    /// (see [`crate::minimize`]).
    #[serde(default)]
    pub minimize: bool,
    /// Wall-clock budget of the check, in milliseconds (default [`DEFAULT_TIME_BUDGET_MS`]). When
    /// it runs out the worker is killed and the report is [`Verdict::Inconclusive`] with
    /// [`Undecided::Timeout`] and what was covered — or the failure, if one was already found.
    /// The kill is the only bound on an execution that never ends (a loop inside one execution
    /// never returns to the engines' checks between executions), so the budget is enforced with
    /// [`Isolation::Subprocess`] only: an in-process check cannot be stopped.
    #[serde(default = "default_time_budget_ms")]
    pub time_budget_ms: u64,
    /// Where to run.
    #[serde(skip, default = "default_isolation")]
    pub isolation: Isolation,
    /// Set by the portfolio when another engine has decided: a check in a child process then
    /// stops it and reports what it covered.
    #[serde(skip)]
    pub cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
}

fn default_isolation() -> Isolation {
    Isolation::InProcess
}

impl Options {
    /// Defaults for `checker`, running the check in a child process of `exe` (the `conclab` binary).
    pub fn new(checker: Checker, exe: impl Into<PathBuf>) -> Self {
        Options {
            checker,
            iterations: None,
            seed: 0,
            preemption_bound: None,
            unbounded_only: false,
            pct_depth: 3,
            max_steps: 100_000,
            hang_timeout_ms: 10_000,
            minimize: true,
            progress: false,
            time_budget_ms: DEFAULT_TIME_BUDGET_MS,
            isolation: Isolation::Subprocess(exe.into()),
            cancel: None,
        }
    }
}

impl Options {
    /// Refuses values that cannot describe a search, before any work: a budget of 0 explores
    /// nothing (and would read as a pass), PCT needs a depth of at least 1, a step bound of 0
    /// cuts every execution.
    pub fn validate(&self) -> Result<()> {
        if self.iterations == Some(0) {
            bail!("--iterations 0 explores nothing; give at least 1 (or leave it out for the default)");
        }
        if self.pct_depth == 0 {
            bail!("--depth 0 is not a PCT depth; give at least 1 (the default is 3)");
        }
        if self.time_budget_ms == 0 {
            bail!("a time budget of 0 leaves no time to check anything; give at least 1 ms (`--timeout 0.001`; the default is 600 s)");
        }
        if self.max_steps == 0 {
            bail!("a step bound of 0 cuts every execution; give at least 1");
        }
        if let Some(b) = self.preemption_bound.filter(|&b| b > MAX_PREEMPTION_BOUND) {
            bail!(
                "--preemption-bound {b} is beyond any model's needs (at most {MAX_PREEMPTION_BOUND}); \
                 for no bound at all, leave it out (or use --unbounded-only)"
            );
        }
        Ok(())
    }
}

/// One unit of work for a worker process.
#[derive(Debug, Serialize, Deserialize)]
pub struct Job {
    /// Scenario id.
    pub scenario: String,
    /// Variant name.
    pub variant: String,
    /// How to check it.
    pub options: Options,
    /// Replay this token instead of searching.
    pub replay: Option<String>,
}

/// Checks one variant of one scenario with one checker.
pub fn check(scenario: &str, variant: &str, options: &Options) -> Result<Report> {
    check_scenario(catalog::lookup(scenario, variant)?, variant, options)
}

/// Checks one variant of a scenario the caller supplies — a registered one, or one compiled
/// elsewhere (a student's assignment crate). With [`Isolation::Subprocess`], the worker
/// executable must resolve the scenario's id to the same code: see [`worker_main_with`].
pub fn check_scenario(s: &Scenario, variant: &str, options: &Options) -> Result<Report> {
    options.validate()?;
    let scenario = s.id();
    if s.variant(variant).is_none() {
        bail!("scenario `{scenario}` has no variant `{variant}`; its variants: {}", s.variant_names().join(", "));
    }
    if options.checker == Checker::Portfolio {
        return portfolio(s, variant, options);
    }
    if options.checker == Checker::ShuttleDfs && s.entry.waits_by_spinning {
        bail!(
            "shuttle-dfs cannot explore `{scenario}`: its threads wait by spinning, and depth-first search \
             keeps scheduling the spinner forever; use loom (exhaustive) or shuttle-pct / shuttle-random"
        );
    }
    dispatch(s, Job { scenario: scenario.into(), variant: variant.into(), options: options.clone(), replay: None })
}

/// Replays a token: the same execution, the same trace.
pub fn replay(scenario: &str, variant: &str, token: &str, options: &Options) -> Result<Report> {
    replay_scenario(catalog::lookup(scenario, variant)?, variant, token, options)
}

/// [`replay`] on a scenario the caller supplies (see [`check_scenario`]). A token that does not
/// reproduce a failure of this program is an error that says why ([`crate::replay::reproduced`]).
pub fn replay_scenario(s: &Scenario, variant: &str, token: &str, options: &Options) -> Result<Report> {
    options.validate()?;
    let scenario = s.id();
    let t: Token = token.parse()?;
    if t.scenario != scenario || t.variant != variant {
        bail!(
            "this token was recorded for `{}` variant `{}`, not `{scenario}` variant `{variant}`; \
             run `conclab replay {} --variant {} {}`",
            t.scenario,
            t.variant,
            t.scenario,
            t.variant,
            crate::replay::shorten(token)
        );
    }
    let checker = match t.point {
        Point::Loom { .. } => Checker::Loom,
        Point::Shuttle { .. } => Checker::ShuttleRandom,
    };
    let options = Options { checker, ..options.clone() };
    let job = Job { scenario: scenario.into(), variant: variant.into(), options, replay: Some(token.to_string()) };
    let report = dispatch(s, job)?;
    crate::replay::reproduced(&t, &report)?;
    Ok(report)
}

fn dispatch(s: &Scenario, job: Job) -> Result<Report> {
    let in_process = match &job.options.isolation {
        Isolation::Subprocess(exe) => {
            let mut command = Command::new(exe);
            command.arg("__worker");
            return run_in_child(command, &job);
        }
        Isolation::TestChild { exe, test, env } => {
            let mut command = Command::new(exe);
            // `--include-ignored`: the parent runs this test, ignored or not.
            command.args([test.as_str(), "--exact", "--include-ignored", "--nocapture", "--test-threads", "1", "-q"]);
            command.envs(env.iter().map(|(k, v)| (k, v)));
            return run_in_child(command, &job);
        }
        // shuttle needs a thread of its own (see `on_fresh_thread`). loom and real threads run
        // here: on a second OS thread, loom checks ran about 6% slower (measured beside
        // `cargo bench --bench trace_overhead`; perf showed TLB-shootdown IPIs from unmapping
        // loom's per-execution stacks).
        Isolation::InProcess if job.options.checker.engine() == Some(Engine::Shuttle) => {
            on_fresh_thread(|| run_job(s, &job, Host::Caller))
        }
        Isolation::InProcess => panic::catch_unwind(AssertUnwindSafe(|| run_job(s, &job, Host::Caller))),
    };
    in_process.unwrap_or_else(|p| bail!("the check itself panicked: {}", panic_text(&*p)))
}

/// A duration in seconds, as the budget is given: `600 s`, `0.25 s`.
pub(crate) fn seconds(d: Duration) -> String {
    match d.subsec_millis() {
        0 => format!("{} s", d.as_secs()),
        _ => format!("{} s", d.as_secs_f64()),
    }
}

/// Which process runs a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Host {
    /// The caller's own ([`Isolation::InProcess`]).
    Caller,
    /// A worker child: failures and progress are streamed to the parent as they happen, and a
    /// real-thread hang ends the process (see [`engine::threads::run`]).
    Worker,
}

/// Runs a job in this process, on the engine its checker names.
fn run_job(s: &Scenario, job: &Job, host: Host) -> Result<Report> {
    let engine = job.options.checker.engine().context("the portfolio is run by `check`, not by a worker")?;
    let body = s.body(&job.variant).with_context(|| format!("`{}` has no variant `{}`", job.scenario, job.variant))?;
    install_panic_hook();
    let token = job.replay.as_deref().map(str::parse::<Token>).transpose()?;
    // A shuttle search records its schedules, not their events: its failing schedule is replayed
    // with every event recorded (`with_trace`). Everything else records every event.
    let shuttle_search = engine == Engine::Shuttle && token.is_none();
    let rec = if shuttle_search { Recorder::without_events() } else { Recorder::new() };
    // Only loom models weak memory: a load older than the latest write is possible (and marked
    // stale) there alone; shuttle is sequentially consistent, real threads' events are in
    // recording order.
    rec.set_weak_memory(engine == Engine::Loom);
    if host == Host::Worker {
        worker::stream(&rec);
    }
    // Scoped: loom and stress checks run on the caller's thread, which must get its recorder back.
    let current = trace::scoped(rec.clone());
    let started = Instant::now();
    let base = |point| Some(ReplayBase { scenario: job.scenario.clone(), variant: job.variant.clone(), point });
    let o = &job.options;
    let outcome = match (job.options.checker, token.map(|t| t.point)) {
        (_, Some(Point::Loom { bound, execution, acqrel, own_loads })) => {
            rec.set_replay_base(base(Point::Loom { bound, execution: 0, acqrel, own_loads }));
            // A `loom-own` token's loads are found again as the search found them.
            let loads = own_loads.then(|| engine::loom::own_write_loads(body).0);
            Loom::set_seqcst_model(if acqrel { SeqCstModel::AcqRel } else { SeqCstModel::Exact });
            Loom::set_own_write_loads(loads);
            let out = engine::loom::run(&rec, body, &[bound], execution);
            Loom::set_own_write_loads(None);
            Loom::set_seqcst_model(SeqCstModel::Exact);
            // A failure of loom's own SeqCst model is, replayed, what it was when found: its
            // token says `loom-acqrel` again (see `in_loom_acqrel`).
            Outcome { notes: vec!["replayed".into()], ..out }
        }
        (_, Some(Point::Shuttle { choices })) => {
            rec.set_replay_base(base(Point::Shuttle { choices: vec![] }));
            let playback = Playback::new(choices, Arc::default());
            let fit = playback.fit();
            let mut out = engine::shuttle::run(&rec, body, playback, o.max_steps);
            out.notes.push("replayed".into());
            // `replay_scenario` turns a misfit into an error that says why.
            if let Some(why) = fit.lock().why_not() {
                out.notes.push(format!("{}{why}", crate::replay::MISFIT));
            }
            out
        }
        (Checker::Loom, None) => {
            let stages: Vec<Option<usize>> = match o.preemption_bound {
                Some(b) => vec![Some(b)],
                None if o.unbounded_only => vec![None],
                None => vec![Some(0), Some(1), Some(2), None],
            };
            rec.set_replay_base(base(Point::Loom { bound: None, execution: 0, acqrel: false, own_loads: false }));
            engine::loom::run_seqcst(&rec, body, &stages, o.iterations.unwrap_or(DEFAULT_LOOM_BUDGET))
        }
        (Checker::ShuttleRandom | Checker::ShuttlePct | Checker::ShuttleDfs, None) => {
            rec.set_replay_base(base(Point::Shuttle { choices: vec![] }));
            let (n, steps) = (o.iterations.unwrap_or(DEFAULT_SHUTTLE_ITERATIONS), o.max_steps);
            let mut out = match o.checker {
                Checker::ShuttleRandom => {
                    engine::shuttle::run(&rec, body, RandomScheduler::new_from_seed(o.seed, n), steps)
                }
                Checker::ShuttlePct => {
                    engine::shuttle::run(&rec, body, PctScheduler::new_from_seed(o.seed, o.pct_depth, n), steps)
                }
                _ => engine::shuttle::run(&rec, body, DfsScheduler::new(Some(n), false), steps),
            };
            // A worker's panic hook streamed the search's failure without a timeline or token
            // (the search keeps neither); stream it again with its token, then with its trace, so
            // that a worker dying later (while shrinking) still leaves the parent the best one.
            let stream = |out: &Outcome| {
                if let Some(f) = &out.failure {
                    rec.sink(f);
                }
            };
            stream(&out);
            with_trace(&mut out, body, o);
            stream(&out);
            if o.checker == Checker::ShuttleDfs
                && out.failure.is_none()
                && out.executions < n
                && !matches!(out.coverage, Coverage::Interrupted { .. })
            {
                out.coverage = Coverage::Exhaustive;
            }
            out
        }
        (Checker::Stress, None) => {
            let watchdog = (host == Host::Worker).then(|| Duration::from_millis(o.hang_timeout_ms));
            engine::threads::run(&rec, body, o.iterations.unwrap_or(DEFAULT_STRESS_RUNS), watchdog)
        }
        (Checker::Portfolio, None) => unreachable!("handled by check"),
    };
    drop(current);
    let spawned = rec.spawned_any();
    Ok(finish(job, engine, body, outcome, started, spawned))
}

/// Turns a search's outcome into its report: a shuttle failure found by a search (not a replay)
/// is shrunk first; `elapsed_ms` stays the search's time (with, for a shuttle search that failed,
/// the one replay that records its trace), not the shrinking's (`bench` compares the checkers'
/// searches). A pass of a model that never started a thread (`spawned`: false) shows nothing
/// concurrent: it is [`Undecided::NoThreads`], not a pass.
fn finish(job: &Job, engine: Engine, body: fn(), outcome: Outcome, started: Instant, spawned: bool) -> Report {
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let o = &job.options;
    let shrunk = match (&outcome.failure, engine, &job.replay) {
        (Some(f), Engine::Shuttle, None) if o.minimize => {
            crate::minimize::shrink(&job.scenario, &job.variant, body, f, o.max_steps)
        }
        _ => None,
    };
    let (failure, minimised) = match shrunk {
        Some((f, m)) => (Some(f), Some(m)),
        None => (outcome.failure, None),
    };
    let mut r = report_from(job, failure, outcome.executions, outcome.coverage, started);
    r.elapsed_ms = elapsed_ms;
    r.minimised = minimised.or(r.minimised);
    r.stress = outcome.stress;
    r.notes.extend(outcome.notes);
    r.not_covered.extend(outcome.blind);
    if r.verdict == Verdict::Passed && !spawned && !r.interrupted() && r.executions > 0 {
        r.verdict = Verdict::Inconclusive;
        r.inconclusive = Some(Undecided::NoThreads);
        r.message = Some(format!(
            "the model started no thread in {} execution(s) (none through the facade's `thread::spawn`, \
             `thread::scope` or `Builder`): the engine saw one thread and one schedule, so nothing concurrent was \
             checked. Threads started any other way (`std::thread` itself in a `conclab::check`, a thread pool) \
             are invisible to the checkers",
            r.executions
        ));
    }
    r
}

/// A shuttle search without events found a failure: replays its schedule once with every event
/// recorded, and puts that replay's failure (its trace, and the facade's own words for it) in its
/// place. Should the replay not fail the same way — the program depends on more than its
/// schedule — the search's failure stays, without steps, and a note says why.
fn with_trace(out: &mut Outcome, body: fn(), o: &Options) {
    let Some(found) = &out.failure else { return };
    let Some(Ok(Token { scenario, variant, point: Point::Shuttle { choices } })) =
        found.replay.as_deref().map(str::parse::<Token>)
    else {
        // `engine::shuttle::run` gives a token to every failure that ended its run; one that did not
        // (a panic after the run) has no schedule to replay.
        out.notes.push("no trace: the failure's schedule was not recorded, so it could not be replayed".into());
        return;
    };
    let base = ReplayBase { scenario, variant, point: Point::Shuttle { choices: vec![] } };
    let diverged = Arc::new(parking_lot::Mutex::new(false));
    match engine::shuttle::traced_run(&base, body, Playback::new(choices, diverged.clone()), o.max_steps) {
        Some(traced)
            if !*diverged.lock()
                && classify(&traced.message, &traced.location).0 == classify(&found.message, &found.location).0 =>
        {
            out.failure = Some(Failure { execution: found.execution, ..traced });
        }
        // Ctrl-C stops every new execution, this replay's too.
        _ if crate::interrupt::requested() => {
            out.notes.push("no trace: interrupted before the failing schedule was replayed to record it".into())
        }
        _ => out.notes.push(
            "no trace: replaying the failing schedule with every event recorded did not fail the same way \
             (does the program depend on more than its schedule — a clock, a random number, a HashMap's order?)"
                .into(),
        ),
    }
}

/// Runs variant `variant`'s shuttle compilation once per execution the caller's `scheduler`
/// asks for (the fuzzer's [`crate::fuzz::FuzzScheduler`]: one), in this process, and reports as
/// a shuttle check does: the first failure's trace, minimised, and a replay token of the
/// recorded choices. Unlike a search, it records every event of every execution (a fuzz input
/// is one execution: nothing to save by replaying it). `label` names the checker in the report
/// (`fuzz`).
pub fn check_with_scheduler<S: Scheduler + Send + 'static>(
    s: &Scenario,
    variant: &str,
    scheduler: S,
    label: &str,
    options: &Options,
) -> Result<Report> {
    on_fresh_thread(|| -> Result<Report> {
        let body = s.body(variant).with_context(|| {
            format!("`{}` has no variant `{variant}`; its variants: {}", s.id(), s.variant_names().join(", "))
        })?;
        install_panic_hook();
        let rec = Recorder::new();
        let current = trace::scoped(rec.clone());
        let started = Instant::now();
        rec.set_replay_base(Some(ReplayBase {
            scenario: s.id().to_string(),
            variant: variant.to_string(),
            point: Point::Shuttle { choices: vec![] },
        }));
        let outcome = engine::shuttle::run(&rec, body, scheduler, options.max_steps);
        drop(current);
        let job = Job {
            scenario: s.id().to_string(),
            variant: variant.to_string(),
            options: Options { checker: Checker::ShuttleRandom, ..options.clone() },
            replay: None,
        };
        let mut r = finish(&job, Engine::Shuttle, body, outcome, started, rec.spawned_any());
        r.checker = label.to_string();
        Ok(r)
    })
    .unwrap_or_else(|p| bail!("the check itself panicked: {}", panic_text(&*p)))
}

fn report_from(job: &Job, failure: Option<Failure>, executions: usize, coverage: Coverage, started: Instant) -> Report {
    let mut r = Report {
        file: None,
        replay_command: None,
        scenario: job.scenario.clone(),
        variant: job.variant.clone(),
        checker: job.options.checker.name().to_string(),
        found_by: None,
        verdict: Verdict::Passed,
        kind: None,
        message: None,
        executions,
        elapsed_ms: started.elapsed().as_millis() as u64,
        coverage,
        not_covered: job.options.checker.engine().map(blind_spots).unwrap_or_default(),
        inconclusive: None,
        trace: vec![],
        threads: vec![],
        blocked: vec![],
        replay: None,
        stress: None,
        notes: vec![],
        minimised: None,
    };
    if let Some(first) = failure.as_ref().and_then(|f| f.trace.steps.first()).filter(|s| s.step > 1) {
        r.notes.push(format!(
            "trace truncated: showing the last {} events (the {} before them were not kept)",
            failure.as_ref().map_or(0, |f| f.trace.steps.len()),
            first.step - 1
        ));
    }
    if let Some(f) = failure.as_ref().filter(|f| limit_reached(&f.message)) {
        // The engine cut an execution that went on too long: nothing was shown either way.
        r.verdict = Verdict::Inconclusive;
        r.inconclusive = Some(Undecided::StepLimit);
        r.message = Some(format!(
            "execution {} did not end within the engine's limit (a loop without end — a spin or a livelock — \
             or a model longer than the limit); the engine said: {}",
            f.execution, f.message
        ));
        r.trace = f.trace.steps.clone();
        r.threads = f.trace.threads.clone();
        r.replay = f.replay.clone();
        // Cut, not stopped at a bug: what ran is all that was covered.
        r.coverage = Coverage::Sampled { schedules: executions };
        if in_loom_acqrel(f) {
            r.notes.push(
                "the limit was reached in loom's own model of SeqCst (as AcqRel), after the exact search passed".into(),
            );
        }
        return r;
    }
    if let Some(f) = failure.as_ref().filter(|f| crate::report::engine_cannot_model(&f.message)) {
        // The engine refused the program: it judged nothing (the portfolio lets the others).
        r.verdict = Verdict::Inconclusive;
        r.inconclusive = Some(Undecided::EngineLimit);
        r.message = Some(f.message.clone());
        r.coverage = Coverage::Sampled { schedules: executions.saturating_sub(1) };
        return r;
    }
    if let Some(f) = failure {
        let acqrel = in_loom_acqrel(&f);
        if job.replay.is_none() && job.options.checker == Checker::Loom && job.options.minimize {
            r.minimised =
                crate::minimize::loom_bound(&f, job.options.preemption_bound.is_none() && !job.options.unbounded_only);
        }
        let (kind, message) = classify(&f.message, &f.location);
        let cycle: Vec<String> = f
            .trace
            .blocked
            .iter()
            .filter_map(|b| b.held_by.as_ref().map(|h| format!("{} waits for {} held by {h}", b.thread, b.object)))
            .collect();
        r.verdict = Verdict::BugFound;
        r.kind = Some(kind);
        // The facade's own deadlock messages ("deadlock: …") already explain; an engine's gets the cycle.
        r.message = Some(if kind == Kind::Deadlock && !cycle.is_empty() && !message.starts_with("deadlock: ") {
            r.notes.push(format!("the checker said: {message}"));
            format!("deadlock: {}", cycle.join("; "))
        } else if (f.location.starts_with("scenarios/") || f.location.starts_with("src/lib.rs"))
            && kind != Kind::Assertion
        {
            match f.thread.as_str() {
                "" => format!("{message} (at {})", f.location),
                thread => format!("{message} (at {} in {thread})", f.location),
            }
        } else {
            message
        });
        r.trace = f.trace.steps;
        r.threads = f.trace.threads;
        // Who waits for whom explains a deadlock; after any other failure it is noise.
        r.blocked = if kind == Kind::Deadlock { f.trace.blocked } else { vec![] };
        r.replay = f.replay;
        if acqrel {
            // Shown only where SeqCst is weakened: not a bug shown, not to be dropped either.
            r.verdict = Verdict::Inconclusive;
            r.inconclusive = Some(Undecided::WeakSeqCst);
            r.coverage = Coverage::Sampled { schedules: executions };
            r.notes.push(
                "loom models SeqCst loads and stores as AcqRel: under real SeqCst this execution may be \
                 impossible (a false alarm), or it is a real bug from mixing SeqCst with weaker orderings; \
                 loom cannot tell which"
                    .into(),
            );
        }
    }
    r
}

/// Whether `f` was found in loom's own model of SeqCst (its token says `loom-acqrel`): the search
/// after the exact one ([`engine::loom::run_seqcst`]), or the replay of such a token. Every path that
/// reports a failure (a worker's report, its streamed failure line, a replay) comes through here.
fn in_loom_acqrel(f: &Failure) -> bool {
    f.replay
        .as_deref()
        .and_then(|t| t.parse::<Token>().ok())
        .is_some_and(|t| matches!(t.point, Point::Loom { acqrel: true, .. }))
}

/// Checks a model written for the test (see `catalog::ad_hoc`) in this process with `checker`,
/// at most `iterations` executions (`None`: the checker's default; loom ends its search).
#[cfg(test)]
pub(crate) fn check_in_process(name: &'static str, body: fn(), checker: Checker, iterations: Option<usize>) -> Report {
    let s = crate::catalog::ad_hoc(name, body);
    let o = Options { isolation: Isolation::InProcess, iterations, ..Options::new(checker, "") };
    check_scenario(&s, "model", &o).expect("the check runs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Undecided;
    use crate::sync::atomic::{AtomicBool, Ordering};
    use crate::thread;

    /// Waits for a flag nobody sets: every execution runs until the engine's step limit.
    fn spins_forever() {
        let flag = AtomicBool::new(false).named("never");
        while !flag.load(Ordering::SeqCst) {
            thread::yield_now();
        }
    }

    /// A withdrawal checks the balance, then takes the money: two can both pass the check.
    fn overdraw(check: fn(i64)) {
        let balance = std::sync::Arc::new(crate::sync::atomic::AtomicI64::new(1).named("balance"));
        let b = balance.clone();
        let t = thread::spawn(move || {
            if b.load(Ordering::SeqCst) >= 1 {
                b.fetch_sub(1, Ordering::SeqCst);
            }
        });
        if balance.load(Ordering::SeqCst) >= 1 {
            balance.fetch_sub(1, Ordering::SeqCst);
        }
        t.join().unwrap();
        check(balance.load(Ordering::SeqCst));
    }

    fn panics_if_negative() {
        overdraw(|b| {
            if b < 0 {
                panic!("the balance went negative: {b}");
            }
        })
    }

    fn unwraps_a_none() {
        overdraw(|b| {
            (b >= 0).then_some(()).unwrap();
        })
    }

    /// A model's own `panic!` is its check failing: an assertion, with its message and line; an
    /// `unwrap` of `None` in the same place is a crash, kind `panic` (issue 9, part 5).
    /// A ring of two slots with one producer and one consumer, each index written by its own
    /// side only; the producer publishes a slot by storing `tail`, the consumer frees one by
    /// storing `head`.
    fn ring(publish: Ordering, observe: Ordering) {
        use crate::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        let slots = Arc::new([AtomicUsize::new(0).named("slot-0"), AtomicUsize::new(0).named("slot-1")]);
        let (head, tail) = (Arc::new(AtomicUsize::new(0).named("head")), Arc::new(AtomicUsize::new(0).named("tail")));
        let (s, h, t) = (slots.clone(), head.clone(), tail.clone());
        let producer = thread::spawn(move || {
            for v in 1..=2usize {
                let at = t.load(Ordering::Relaxed);
                while at - h.load(observe) == 2 {
                    thread::yield_now();
                }
                s[at % 2].store(v * 10, Ordering::Relaxed);
                t.store(at + 1, publish);
            }
        });
        let mut got = vec![];
        while got.len() < 2 {
            let at = head.load(Ordering::Relaxed);
            if tail.load(observe) > at {
                got.push(slots[at % 2].load(Ordering::Relaxed));
                head.store(at + 1, publish);
            } else {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert_eq!(got, vec![10, 20], "a slot was read before its value was published");
    }

    /// loom 0.7.3 passes the Relaxed ring "fully exhaustively" (118 executions): its DPOR never
    /// runs the consumer's load of `tail` after the producer's load-then-store of it (loom#166).
    /// The second search, with each load of an atomic its own thread writes run as a
    /// read-modify-write, finds the stale slot; its `loom-own` token replays the same trace; the
    /// Release/Acquire ring passes both searches.
    #[test]
    fn loom_s_dpor_gap_is_searched_again_with_own_loads_as_read_modify_writes() {
        let r = check_in_process("ring", || ring(Ordering::Relaxed, Ordering::Relaxed), Checker::Loom, None);
        assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
        let token = r.replay.clone().expect("a token");
        assert!(token.contains(":loom-own:"), "{token}");
        let s = crate::catalog::ad_hoc("ring", || ring(Ordering::Relaxed, Ordering::Relaxed));
        let o = Options { isolation: Isolation::InProcess, ..Options::new(Checker::Loom, "") };
        let again = replay_scenario(&s, "model", &token, &o).expect("the token replays");
        assert_eq!(again.trace, r.trace, "{}", again.render());
        let r = check_in_process("ring", || ring(Ordering::Release, Ordering::Acquire), Checker::Loom, None);
        assert_eq!((r.verdict, r.coverage.clone()), (Verdict::Passed, Coverage::Exhaustive), "{}", r.render());
        assert!(r.notes.iter().any(|n| n.contains("run as a read-modify-write")), "{:?}", r.notes);
    }

    #[test]
    fn a_model_s_own_panic_is_an_assertion_and_a_crash_is_a_panic() {
        for checker in [Checker::Loom, Checker::ShuttleRandom] {
            let r = check_in_process("overdraw", panics_if_negative, checker, None);
            assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
            assert_eq!(r.message.as_deref(), Some("the balance went negative: -1"), "{}", r.render());
            assert!(r.render().contains("src/runner/mod.rs:"), "the line of the panic: {}", r.render());
            let r = check_in_process("overdraw", unwraps_a_none, checker, None);
            assert_eq!(r.kind, Some(Kind::Panic), "{}", r.render());
        }
    }

    #[test]
    fn an_execution_cut_by_the_step_limit_is_inconclusive_not_a_livelock() {
        let s = crate::catalog::ad_hoc("spin", spins_forever);
        let o = Options { isolation: Isolation::InProcess, max_steps: 500, ..Options::new(Checker::ShuttleRandom, "") };
        let r = check_scenario(&s, "model", &o).unwrap();
        assert_eq!(r.verdict, Verdict::Inconclusive, "{}", r.render());
        assert_eq!(r.inconclusive, Some(Undecided::StepLimit), "{}", r.render());
        assert_eq!(r.kind, None, "{}", r.render());
        assert!(matches!(r.coverage, Coverage::Sampled { .. }), "cut, not stopped at a bug: {}", r.render());
        assert!(r.render().starts_with("INCONCLUSIVE"), "{}", r.render());
    }

    #[test]
    fn a_portfolio_whose_stages_cannot_decide_is_inconclusive_not_passed() {
        let s = crate::catalog::ad_hoc("spin", spins_forever);
        let o = Options {
            isolation: Isolation::InProcess,
            iterations: Some(3),
            max_steps: 500,
            ..Options::new(Checker::Portfolio, "")
        };
        let r = check_scenario(&s, "model", &o).unwrap();
        assert_eq!(r.verdict, Verdict::Inconclusive, "{}", r.render());
        assert_eq!(r.inconclusive, Some(Undecided::StepLimit), "{}", r.render());
        assert_eq!(r.checker, "portfolio");
    }

    /// Every path that turns a failure into a report — the worker's own report, the failure line
    /// it streamed before loom aborted it or the budget killed it, a replay — reports a failure
    /// of loom's own SeqCst model as inconclusive, never as a bug.
    #[test]
    fn a_failure_with_a_loom_acqrel_token_is_inconclusive_on_every_path() {
        let job = Job {
            scenario: "s".into(),
            variant: "v".into(),
            options: Options { minimize: false, ..Options::new(Checker::Loom, "") },
            replay: None,
        };
        let failure = |token: &str| Failure {
            message: "invariant violated: both read 0".into(),
            location: String::new(),
            thread: "main".into(),
            execution: 3,
            trace: trace::Trace::default(),
            replay: Some(token.into()),
        };
        let stopped = Coverage::StoppedAtBug { after: 3 };
        let r = report_from(&job, Some(failure("s:v:loom-acqrel:b1:e3")), 3, stopped.clone(), Instant::now());
        assert_eq!((r.verdict, r.inconclusive), (Verdict::Inconclusive, Some(Undecided::WeakSeqCst)));
        assert_eq!(r.coverage, Coverage::Sampled { schedules: 3 }, "not `stopped at the first bug`");
        let r = report_from(&job, Some(failure("s:v:loom:b1:e3")), 3, stopped, Instant::now());
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)));
    }

    #[test]
    fn a_budget_of_zero_or_a_depth_of_zero_is_refused_before_any_work() {
        let s = crate::catalog::ad_hoc("spin", spins_forever);
        let base = Options { isolation: Isolation::InProcess, ..Options::new(Checker::Loom, "") };
        for (o, says) in [
            (Options { iterations: Some(0), ..base.clone() }, "--iterations 0"),
            (Options { iterations: Some(0), checker: Checker::Portfolio, ..base.clone() }, "--iterations 0"),
            (Options { pct_depth: 0, checker: Checker::ShuttlePct, ..base.clone() }, "--depth 0"),
            (Options { preemption_bound: Some(usize::MAX), ..base.clone() }, "--preemption-bound"),
        ] {
            let err = check_scenario(&s, "model", &o).expect_err("refused").to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    /// Identity, not names: objects made with `new` at one site share a readable name, and the
    /// trace still tells them apart.
    mod identity {
        use std::sync::atomic::Ordering::{Relaxed, SeqCst};

        use super::*;
        use crate::trace::Step;

        /// Three mutexes made at one site; thread-k locks lock k, then lock k+1 (mod 3).
        fn three_unnamed_locks_in_a_cycle() {
            use crate::sync::{Arc, Mutex};
            let locks: Arc<Vec<Mutex<()>>> = Arc::new((0..3).map(|_| Mutex::new(())).collect());
            let threads: Vec<_> = (0..3)
                .map(|i| {
                    let locks = locks.clone();
                    thread::spawn(move || {
                        let _mine = locks[i].lock();
                        let _next = locks[(i + 1) % 3].lock();
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }

        #[test]
        fn three_unnamed_mutexes_in_a_cycle_name_the_right_holders() {
            let r = check_in_process("cycle", three_unnamed_locks_in_a_cycle, Checker::ShuttleRandom, None);
            assert_eq!(r.kind, Some(Kind::Deadlock), "{}", r.render());
            // Each lock's name, from the step where its thread took it: thread-k's first lock.
            let first_lock =
                |thread: &str| r.trace.iter().find(|s| s.thread == thread && s.op == "lock").map(|s| s.object.clone());
            let mine: Vec<String> =
                ["thread-1", "thread-2", "thread-3"].iter().map(|t| first_lock(t).expect("took its lock")).collect();
            assert!(mine.iter().all(|m| m.starts_with("mutex@src/runner/mod.rs:")), "{mine:?}");
            assert_eq!(mine.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "{mine:?}");
            let cycle: Vec<(&str, &str, Option<&str>)> = r
                .blocked
                .iter()
                .filter(|b| b.op == "lock")
                .map(|b| (b.thread.as_str(), b.object.as_str(), b.held_by.as_deref()))
                .collect();
            assert_eq!(
                cycle,
                [
                    ("thread-1", mine[1].as_str(), Some("thread-2")),
                    ("thread-2", mine[2].as_str(), Some("thread-3")),
                    ("thread-3", mine[0].as_str(), Some("thread-1")),
                ],
                "{}",
                r.render()
            );
        }

        /// Two atomics made at one site: a thread writes 1 to the first, then main reads the
        /// second, which nobody wrote.
        fn a_write_to_one_unnamed_atomic_and_a_read_of_another() {
            use crate::sync::atomic::AtomicUsize;
            use crate::sync::Arc;
            let cells = Arc::new([(); 2].map(|_| AtomicUsize::new(0)));
            let c = cells.clone();
            thread::spawn(move || c[0].store(1, SeqCst)).join().unwrap();
            let other = cells[1].load(SeqCst);
            crate::lab::invariant(other == 1, || "the second cell was never written".into());
        }

        #[test]
        fn a_shuttle_trace_never_shows_stale() {
            let r = check_in_process(
                "two-cells",
                a_write_to_one_unnamed_atomic_and_a_read_of_another,
                Checker::ShuttleRandom,
                None,
            );
            assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
            let ops: Vec<(&str, &str)> = r
                .trace
                .iter()
                .filter(|s| s.op.starts_with("store") || s.op.starts_with("load"))
                .map(|s| (s.object.as_str(), s.op.as_str()))
                .collect();
            assert_eq!(ops.len(), 2, "{}", r.render());
            assert_eq!(ops[1].1, "load → 0", "{}", r.render());
            assert!(ops[0].0.ends_with("#1") && ops[1].0.ends_with("#2"), "told apart: {ops:?}");
            assert!(!r.render().contains("stale"), "{}", r.render());
        }

        /// Message passing with Relaxed over two atomics made at one site: `cells[0]` is the data
        /// (1), `cells[1]` the flag (2). Seeing the flag up, main may still read the data as 0.
        fn relaxed_message_passing_over_unnamed_atomics() {
            use crate::sync::atomic::AtomicUsize;
            use crate::sync::Arc;
            use crate::thread;
            let cells = Arc::new([(); 2].map(|_| AtomicUsize::new(0)));
            let c = cells.clone();
            let writer = thread::spawn(move || {
                c[0].store(1, Relaxed);
                c[1].store(2, Relaxed);
            });
            if cells[1].load(Relaxed) == 2 {
                let data = cells[0].load(Relaxed);
                crate::lab::invariant(data == 1, || "the flag was up but the data read was stale".into());
            }
            writer.join().unwrap();
        }

        #[test]
        fn a_loom_stale_read_names_the_write_it_missed() {
            let r = check_in_process("mp", relaxed_message_passing_over_unnamed_atomics, Checker::Loom, None);
            assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
            let step = |f: &dyn Fn(&Step) -> bool| r.trace.iter().find(|s| f(s)).cloned().expect("the step");
            let data_write = step(&|s| s.op == "store ← 1");
            let flag_write = step(&|s| s.op == "store ← 2");
            assert_ne!(data_write.object, flag_write.object, "{}", r.render());
            let read = step(&|s| s.op.starts_with("load → 0"));
            assert_eq!(read.object, data_write.object, "{}", r.render());
            assert_eq!(
                read.op,
                format!("load → 0 (stale: thread-1 wrote 1 at step {})", data_write.step),
                "{}",
                r.render()
            );
        }
    }
}
