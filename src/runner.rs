//! The runner: `check(scenario, variant, checker) -> Report`. Every front end (CLI, tests,
//! bench, later fuzz and grading) goes through here.
//!
//! Checks that can kill their process — loom aborts on a deadlock while its `Arc`s are alive
//! (loom#291, #52), and a real-thread deadlock never returns — run in a child process of the
//! `conclab` binary (`conclab __worker`, fed a [`Job`] on stdin). The child's panic hook writes
//! the first failure to stdout *before* any abort, so the parent still gets a verdict and a trace.

use std::io::{BufRead, Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::catalog::{self, Engine, Scenario};
use crate::replay::{Playback, Point, Recording, Token};
use crate::report::{classify, limit_reached, BlindSpot, Coverage, Kind, Report, StressStats, Undecided, Verdict};
use crate::rt::{Backend, Loom, SeqCstModel, Shuttle, StdThreads};
use crate::trace::{self, Failure, Recorder, ReplayBase};

pub use crate::vocab::Checker;

/// Where a check runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// In a child process of this `conclab` binary (`conclab __worker`): loom's aborts and
    /// real-thread hangs cannot take the caller down, and the checkers' own stderr chatter
    /// stays out of the caller's output.
    Subprocess(PathBuf),
    /// In a child process that re-runs one test of this test binary (`exe <test> --exact`) with
    /// `env` set, so that the test's own call to [`crate::check`] becomes the worker
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

/// The largest `preemption_bound` accepted: far beyond what any model needs (bounds 2-3 find
/// the catalog's bugs; the unbounded search is `preemption_bound: None`).
pub const MAX_PREEMPTION_BOUND: usize = 1_000;

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
            on_fresh_thread(|| run_job(s, &job, false))
        }
        Isolation::InProcess => panic::catch_unwind(AssertUnwindSafe(|| run_job(s, &job, false))),
    };
    in_process.unwrap_or_else(|p| bail!("the check itself panicked: {}", panic_text(&*p)))
}

/// The default check's engines, in order of preference: loom (exhaustive, weak memory), then
/// shuttle PCT and random (sequentially consistent; they see livelocks loom cannot). No metadata
/// chooses them: the same three judge a catalog scenario and code conclab has never seen.
pub const PORTFOLIO: [Checker; 3] = [Checker::Loom, Checker::ShuttlePct, Checker::ShuttleRandom];

/// The default check. In child processes the engines run side by side, as many at once as the
/// machine has cores, and the first bug found wins (the others are stopped); in this process
/// (tests) they run one after the other, in [`PORTFOLIO`] order, until one finds a bug.
fn portfolio(s: &Scenario, variant: &str, options: &Options) -> Result<Report> {
    let started = Instant::now();
    let parallel = !matches!(options.isolation, Isolation::InProcess);
    let stage_options = |i: usize, checker: Checker| Options {
        checker,
        // Each stage gets what is left of the budget (at least a moment: it then reports a timeout).
        time_budget_ms: options.time_budget_ms.saturating_sub(started.elapsed().as_millis() as u64).max(1),
        // One progress bar: the first stage's.
        progress: options.progress && i == 0,
        ..options.clone()
    };
    // (stage, report), in the order the stages ended.
    let mut ended: Vec<(usize, Report)> = vec![];
    let mut stage_errors: Vec<String> = vec![];
    if parallel {
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = parking_lot::Mutex::new(Vec::new());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(PORTFOLIO.len());
        std::thread::scope(|scope| {
            for _ in 0..cores {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= PORTFOLIO.len() || cancel.load(Ordering::SeqCst) {
                        break;
                    }
                    let o = Options { cancel: Some(cancel.clone()), ..stage_options(i, PORTFOLIO[i]) };
                    let r = check_scenario(s, variant, &o);
                    // A timeout spent the budget the stages share: no time is left for the others.
                    let decided = r.as_ref().map_or(true, |r| {
                        r.found_bug() || r.interrupted() || r.inconclusive == Some(Undecided::Timeout)
                    });
                    done.lock().push((i, r));
                    if decided {
                        cancel.store(true, Ordering::SeqCst);
                    }
                });
            }
        });
        // A stage that could not run (its worker died without a word) does not hide another
        // stage's verdict: it is a note, unless no stage reported at all.
        let mut failed = vec![];
        for (i, r) in done.into_inner() {
            match r {
                Ok(r) => ended.push((i, r)),
                Err(e) => failed.push((i, e)),
            }
        }
        if ended.is_empty() {
            if let Some((_, e)) = failed.into_iter().next() {
                return Err(e);
            }
        } else {
            for (i, e) in failed {
                stage_errors.push(format!("{}: could not run: {e:#}", PORTFOLIO[i].name()));
            }
        }
    } else {
        for (i, checker) in PORTFOLIO.into_iter().enumerate() {
            let r = check_scenario(s, variant, &stage_options(i, checker))?;
            let decided = r.found_bug() || r.interrupted() || r.inconclusive == Some(Undecided::Timeout);
            ended.push((i, r));
            if decided {
                break;
            }
        }
    }
    // Per engine, in portfolio order: what it covered, and what it cannot see.
    let mut by_stage: Vec<&(usize, Report)> = ended.iter().collect();
    by_stage.sort_by_key(|(i, _)| *i);
    let mut notes: Vec<String> = by_stage
        .iter()
        .map(|(i, r)| {
            let name = PORTFOLIO[*i].name();
            let mut said = match r.inconclusive {
                _ if r.notes.iter().any(|n| n == CANCELLED) => {
                    format!("{name}: {} execution(s), {CANCELLED}", r.executions)
                }
                Some(Undecided::EngineLimit) => format!("{name}: {}", r.message.as_deref().unwrap_or("engine limit")),
                Some(why) => format!("{name}: {} execution(s), {}", r.executions, why.words()),
                None => format!("{name}: {} execution(s), {}", r.executions, r.coverage),
            };
            if !r.found_bug() && !r.not_covered.is_empty() {
                let blind: Vec<&str> = r.not_covered.iter().map(|b| b.words()).collect();
                said.push_str(&format!("; cannot see {}", blind.join(", ")));
            }
            said
        })
        .collect();
    notes.append(&mut stage_errors);
    let executions = ended.iter().map(|(_, r)| r.executions).sum();
    let decided = |r: &Report| !r.notes.iter().any(|n| n == CANCELLED);
    // The first bug found wins; then Ctrl-C; then a stage that could not decide (it keeps the
    // whole portfolio from passing); else a pass as strong as the strongest stage (loom's
    // exhaustive proof beats samples), with that stage's blind spots.
    let pick = ended
        .iter()
        .position(|(_, r)| r.found_bug())
        .or_else(|| ended.iter().position(|(_, r)| r.interrupted() && decided(r)))
        // An engine that cannot model the program judged nothing: the others decide.
        .or_else(|| {
            ended.iter().position(|(_, r)| r.is_inconclusive() && r.inconclusive != Some(Undecided::EngineLimit))
        })
        .or_else(|| {
            ended.iter().position(|(_, r)| {
                r.verdict == Verdict::Passed
                    && matches!(r.coverage, Coverage::Exhaustive | Coverage::PreemptionBounded { .. })
            })
        })
        .or_else(|| ended.iter().position(|(_, r)| r.verdict == Verdict::Passed))
        .unwrap_or(0);
    let (stage, mut r) = ended.swap_remove(pick);
    if r.found_bug() || r.is_inconclusive() {
        r.found_by = Some(PORTFOLIO[stage].name().to_string());
    }
    r.checker = Checker::Portfolio.name().into();
    r.executions = executions;
    r.elapsed_ms = started.elapsed().as_millis() as u64;
    // The stages' summary, then what the deciding stage said about its own run.
    notes.append(&mut r.notes);
    r.notes = notes;
    Ok(r)
}

/// The note of a portfolio stage stopped because another engine decided first.
const CANCELLED: &str = "stopped: another engine decided first";

/// Runs a job in a child `conclab __worker` and reads its report — or, if the child died
/// (loom's abort), the failure its panic hook wrote before dying. A child still running when the
/// job's time budget runs out is killed (see [`Options::time_budget_ms`]).
fn run_in_child(mut command: Command, job: &Job) -> Result<Report> {
    let started = Instant::now();
    let budget = Duration::from_millis(job.options.time_budget_ms);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start the worker `{}`", command.get_program().to_string_lossy()))?;
    crate::interrupt::register_child(child.id());
    let _registered = ChildRegistration(child.id());
    let mut stdin = child.stdin.take().expect("piped");
    // A child that ends without reading its job (a test that never reaches the check) is
    // reported below, with its output, as a worker that died before reporting.
    let _ = serde_json::to_writer(&mut stdin, job);
    drop(stdin);
    let mut stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // The worker's lines arrive on a channel, so that waiting for the next one can end at the budget.
    let stdout = child.stdout.take().expect("piped");
    let (lines_tx, lines) = crossbeam::channel::unbounded();
    let out_reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut report = None;
    let mut failure = None;
    let mut executions = 0;
    let bar = progress_bar(&job.options);
    let mut read = |line: String| match serde_json::from_str::<WorkerLine>(&line) {
        Ok(WorkerLine::Report(r)) => report = Some(*r),
        // The first failed execution is the one to report; a later line about that same
        // execution describes it better (a shuttle search's: with token, then with trace).
        Ok(WorkerLine::Failure(f)) => {
            if failure.as_ref().is_none_or(|first: &Failure| first.execution == f.execution) {
                failure = Some(f);
            }
        }
        Ok(WorkerLine::Progress(n)) => {
            executions = n;
            bar.set_position(n as u64);
        }
        Err(_) => {} // stray output of the model under test
    };
    // A budget beyond what an `Instant` can count is no deadline at all.
    let deadline = started.checked_add(budget);
    let mut timed_out = false;
    let mut cancelled = false;
    loop {
        // Wake at least every 50 ms while another engine may decide first.
        let tick = job.options.cancel.as_ref().map(|_| Instant::now() + Duration::from_millis(50));
        let wake = match (deadline, tick) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        };
        let next = match wake {
            Some(wake) => lines.recv_deadline(wake),
            None => lines.recv().map_err(|_| crossbeam::channel::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(line) => read(line),
            Err(crossbeam::channel::RecvTimeoutError::Disconnected) => break,
            Err(crossbeam::channel::RecvTimeoutError::Timeout)
                if job.options.cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) =>
            {
                cancelled = true;
                let _ = child.kill();
                lines.iter().for_each(&mut read);
                break;
            }
            Err(crossbeam::channel::RecvTimeoutError::Timeout) if deadline.is_none_or(|d| Instant::now() < d) => {}
            Err(crossbeam::channel::RecvTimeoutError::Timeout) => {
                // An execution that never ends never returns to the engine's checks: only a kill stops it.
                timed_out = true;
                let _ = child.kill();
                // What it wrote before it died still counts (a failure found is a bug).
                lines.iter().for_each(&mut read);
                break;
            }
        }
    }
    bar.finish_and_clear();
    let status = child.wait()?;
    let _ = out_reader.join();
    let stderr = err_reader.join().unwrap_or_default();
    if let Some(r) = report {
        return Ok(r);
    }
    let budget_words = format!("the time budget of {}", seconds(budget));
    if cancelled && failure.is_none() {
        let mut r = report_from(job, None, executions, Coverage::Interrupted { after: executions }, started);
        r.notes.push(CANCELLED.into());
        return Ok(r);
    }
    let Some(f) = failure else {
        if timed_out {
            return Ok(timed_out_report(job, executions, started));
        }
        if crate::interrupt::requested() {
            // Ctrl-C reached the worker before it could report: nothing was explored to speak of.
            return Ok(report_from(job, None, executions, Coverage::Interrupted { after: executions }, started));
        }
        let tail: String =
            stderr.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        bail!("the {} worker died ({status}) before reporting; its last output:\n{tail}", job.options.checker.name());
    };
    let mut r = report_from(job, Some(f.clone()), f.execution, Coverage::StoppedAtBug { after: f.execution }, started);
    r.notes.push(if cancelled {
        "the worker was stopped when another engine decided, after this failure was recorded".to_string()
    } else if timed_out {
        format!("the worker was stopped when {budget_words} ran out, after the failure was recorded")
    } else {
        format!(
            "the checker ended its process ({status}) after the failure was recorded; the report was captured before that"
        )
    });
    Ok(r)
}

/// A duration in seconds, as the budget is given: `600 s`, `0.25 s`.
pub(crate) fn seconds(d: Duration) -> String {
    match d.subsec_millis() {
        0 => format!("{} s", d.as_secs()),
        _ => format!("{} s", d.as_secs_f64()),
    }
}

/// The report of a worker killed at its time budget with no failure found: inconclusive, with
/// the executions it had begun (from its progress lines) as what was sampled.
fn timed_out_report(job: &Job, executions: usize, started: Instant) -> Report {
    let budget = seconds(Duration::from_millis(job.options.time_budget_ms));
    let mut r = report_from(job, None, executions, Coverage::Sampled { schedules: executions }, started);
    r.verdict = Verdict::Inconclusive;
    r.inconclusive = Some(Undecided::Timeout);
    r.message = Some(format!(
        "timeout after {budget} ({executions} execution(s) begun): the worker was stopped; no failure was found \
         before it (an execution that never ends — a loop without end — or a search longer than the budget; \
         `--timeout SECS` gives more time)"
    ));
    r
}

/// Forgets a worker for Ctrl-C forwarding when its run ends, however it ends.
struct ChildRegistration(u32);

impl Drop for ChildRegistration {
    fn drop(&mut self) {
        crate::interrupt::unregister_child(self.0);
    }
}

/// The CLI's progress bar for one check (hidden unless `options.progress`): executions, rate,
/// elapsed time; a bar when the number of executions is known (shuttle's schedules, stress runs).
fn progress_bar(o: &Options) -> indicatif::ProgressBar {
    if !o.progress {
        return indicatif::ProgressBar::hidden();
    }
    let total = match o.checker {
        Checker::ShuttleRandom | Checker::ShuttlePct => Some(o.iterations.unwrap_or(DEFAULT_SHUTTLE_ITERATIONS)),
        Checker::Stress => Some(o.iterations.unwrap_or(DEFAULT_STRESS_RUNS)),
        _ => None,
    };
    let name = o.checker.name();
    let (bar, template) = match total {
        Some(n) => (
            indicatif::ProgressBar::new(n as u64),
            format!("{name} {{elapsed_precise}} [{{bar:24}}] {{human_pos}}/{{human_len}} ({{rate}}) Ctrl-C stops"),
        ),
        None => (
            indicatif::ProgressBar::no_length(),
            format!("{name} {{spinner}} {{elapsed_precise}} {{human_pos}} executions ({{rate}}) Ctrl-C stops"),
        ),
    };
    let style = indicatif::ProgressStyle::with_template(&template)
        .expect("a valid template")
        .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", s.per_sec());
        })
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WorkerLine {
    Failure(Failure),
    Report(Box<Report>),
    /// Executions begun so far (sent every 100 ms).
    Progress(usize),
}

/// Entry point of `conclab __worker`: reads a [`Job`] from stdin, prints JSON lines.
pub fn worker_main() -> Result<()> {
    worker_main_with(|id| catalog::find(id).copied())
}

/// A worker for scenarios compiled outside the catalog: `find` resolves the job's scenario id.
/// An executable that passes itself as [`Isolation::Subprocess`] calls this when started with
/// the argument `__worker` (an assignment's test binary does).
pub fn worker_main_with(find: impl Fn(&str) -> Option<Scenario>) -> Result<()> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let job: Job = serde_json::from_str(&input).context("the worker's job is not valid JSON")?;
    let Some(s) = find(&job.scenario) else { bail!("this worker does not know the scenario `{}`", job.scenario) };
    work(&s, &job)
}

/// The worker's side of [`Isolation::TestChild`]: reads the [`Job`] from stdin and runs it on
/// `s` (the check the test reached), printing JSON lines as `conclab __worker` does.
pub fn work_on(s: &Scenario) -> Result<()> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let job: Job = serde_json::from_str(&input).context("the worker's job is not valid JSON")?;
    if job.scenario != s.id() {
        bail!("this worker was started for `{}`, but the test reached `{}`", job.scenario, s.id());
    }
    work(s, &job)
}

fn work(s: &Scenario, job: &Job) -> Result<()> {
    let report = run_job(s, job, true)?;
    PROGRESS_DONE.store(true, Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &WorkerLine::Report(Box::new(report)))?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

static PROGRESS_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// In a worker: a line with the execution count every 100 ms.
fn report_progress(rec: &Arc<Recorder>) {
    let rec = rec.clone();
    std::thread::spawn(move || {
        while !PROGRESS_DONE.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer(&mut out, &WorkerLine::Progress(rec.executions()));
            let _ = writeln!(out);
            let _ = out.flush();
        }
    });
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let Some(rec) = trace::current() else { return previous(info) };
            let message = panic_text(info.payload());
            let location = info.location().map(|l| trace::short_location(l)).unwrap_or_default();
            if let Some(f) = rec.fail(message, location) {
                if rec.emit_failures() {
                    emit_failure(&f);
                }
            }
        }));
    });
}

fn emit_failure(f: &Failure) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, &WorkerLine::Failure(f.clone()));
    let _ = writeln!(out);
    let _ = out.flush();
}

/// What one engine's search produced.
pub(crate) struct Outcome {
    pub(crate) failure: Option<Failure>,
    executions: usize,
    coverage: Coverage,
    stress: Option<StressStats>,
    notes: Vec<String>,
    /// Blind spots of this run beyond its engine's own (see [`blind_spots`]).
    blind: Vec<BlindSpot>,
}

/// Runs a job in this process. `worker`: this is a worker child (failures are streamed to stdout
/// and a real-thread hang may end the process).
fn run_job(s: &Scenario, job: &Job, worker: bool) -> Result<Report> {
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
    rec.set_emit_failures(worker);
    if worker {
        // The parent draws it (`progress`) and, should it stop this worker at the time budget,
        // reports how many executions were begun.
        report_progress(&rec);
    }
    // Scoped: loom and stress checks run on the caller's thread, which must get its recorder back.
    let current = trace::scoped(rec.clone());
    let started = Instant::now();
    let base = |point| Some(ReplayBase { scenario: job.scenario.clone(), variant: job.variant.clone(), point });
    let o = &job.options;
    let outcome = match (job.options.checker, token.map(|t| t.point)) {
        (_, Some(Point::Loom { bound, execution, acqrel })) => {
            rec.set_replay_base(base(Point::Loom { bound, execution: 0, acqrel }));
            Loom::set_seqcst_model(if acqrel { SeqCstModel::AcqRel } else { SeqCstModel::Exact });
            let out = run_loom(&rec, body, &[bound], execution);
            Loom::set_seqcst_model(SeqCstModel::Exact);
            // A failure of loom's own SeqCst model is, replayed, what it was when found: its
            // token says `loom-acqrel` again (see `in_loom_acqrel`).
            Outcome { notes: vec!["replayed".into()], ..out }
        }
        (_, Some(Point::Shuttle { choices })) => {
            rec.set_replay_base(base(Point::Shuttle { choices: vec![] }));
            let playback = Playback::new(choices, Arc::default());
            let fit = playback.fit();
            let mut out = run_shuttle(&rec, body, playback, o);
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
            rec.set_replay_base(base(Point::Loom { bound: None, execution: 0, acqrel: false }));
            run_loom_seqcst(&rec, body, &stages, o.iterations.unwrap_or(DEFAULT_LOOM_BUDGET))
        }
        (Checker::ShuttleRandom | Checker::ShuttlePct | Checker::ShuttleDfs, None) => {
            rec.set_replay_base(base(Point::Shuttle { choices: vec![] }));
            let n = o.iterations.unwrap_or(DEFAULT_SHUTTLE_ITERATIONS);
            let mut out = match o.checker {
                Checker::ShuttleRandom => {
                    run_shuttle(&rec, body, shuttle::scheduler::RandomScheduler::new_from_seed(o.seed, n), o)
                }
                Checker::ShuttlePct => {
                    run_shuttle(&rec, body, shuttle::scheduler::PctScheduler::new_from_seed(o.seed, o.pct_depth, n), o)
                }
                _ => run_shuttle(&rec, body, shuttle::scheduler::DfsScheduler::new(Some(n), false), o),
            };
            // A worker's panic hook streamed the search's failure without a timeline or token
            // (the search keeps neither); stream it again with its token, then with its trace, so
            // that a worker dying later (while shrinking) still leaves the parent the best one.
            let stream = |out: &Outcome| {
                if let Some(f) = out.failure.as_ref().filter(|_| rec.emit_failures()) {
                    emit_failure(f);
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
        (Checker::Stress, None) => run_stress(&rec, body, o, worker),
        (Checker::Portfolio, None) => unreachable!("handled by check"),
    };
    drop(current);
    Ok(finish(job, engine, body, outcome, started))
}

/// Turns a search's outcome into its report: a shuttle failure found by a search (not a replay)
/// is shrunk first; `elapsed_ms` stays the search's time (with, for a shuttle search that failed,
/// the one replay that records its trace), not the shrinking's (`bench` compares the checkers'
/// searches).
fn finish(job: &Job, engine: Engine, body: fn(), outcome: Outcome, started: Instant) -> Report {
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let o = &job.options;
    let shrunk = match (&outcome.failure, engine, &job.replay) {
        (Some(f), Engine::Shuttle, None) if o.minimize => {
            crate::minimize::shrink(&job.scenario, &job.variant, body, f, o)
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
        // `run_shuttle` gives a token to every failure that ended its run; one that did not
        // (a panic after the run) has no schedule to replay.
        out.notes.push("no trace: the failure's schedule was not recorded, so it could not be replayed".into());
        return;
    };
    let base = ReplayBase { scenario, variant, point: Point::Shuttle { choices: vec![] } };
    let diverged = Arc::new(parking_lot::Mutex::new(false));
    match traced_run(&base, body, Playback::new(choices, diverged.clone()), o) {
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

/// Runs the shuttle scheduler `scheduler` (one that replays a schedule) with a recorder that
/// keeps every event, on a fresh OS thread; its first failure, if any.
pub(crate) fn traced_run<S: shuttle::scheduler::Scheduler + Send + 'static>(
    base: &ReplayBase,
    body: fn(),
    scheduler: S,
    options: &Options,
) -> Option<Failure> {
    on_fresh_thread(|| {
        let rec = Recorder::new();
        rec.set_replay_base(Some(base.clone()));
        let _current = trace::scoped(rec.clone());
        run_shuttle(&rec, body, scheduler, options).failure
    })
    .ok()
    .flatten()
}

/// Runs `f` on a fresh OS thread and waits for it. A shuttle run that returned early on a panic
/// leaves its thread's panic count raised, and the next run on that thread would stop at once:
/// every in-process caller that runs one shuttle run after another (tests, the fuzzer, the
/// shrinker) goes through here.
pub(crate) fn on_fresh_thread<R: Send>(f: impl FnOnce() -> R + Send) -> std::thread::Result<R> {
    std::thread::scope(|scope| scope.spawn(f).join())
}

/// Runs variant `variant`'s shuttle compilation once per execution the caller's `scheduler`
/// asks for (the fuzzer's [`crate::fuzz::FuzzScheduler`]: one), in this process, and reports as
/// a shuttle check does: the first failure's trace, minimised, and a replay token of the
/// recorded choices. Unlike a search, it records every event of every execution (a fuzz input
/// is one execution: nothing to save by replaying it). `label` names the checker in the report
/// (`fuzz`).
pub fn check_with_scheduler<S: shuttle::scheduler::Scheduler + Send + 'static>(
    s: &Scenario,
    variant: &str,
    scheduler: S,
    label: &str,
    options: &Options,
) -> Result<Report> {
    on_fresh_thread(|| check_with_scheduler_here(s, variant, scheduler, label, options))
        .unwrap_or_else(|p| bail!("the check itself panicked: {}", panic_text(&*p)))
}

fn check_with_scheduler_here<S: shuttle::scheduler::Scheduler + 'static>(
    s: &Scenario,
    variant: &str,
    scheduler: S,
    label: &str,
    options: &Options,
) -> Result<Report> {
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
    let outcome = run_shuttle(&rec, body, scheduler, options);
    drop(current);
    let job = Job {
        scenario: s.id().to_string(),
        variant: variant.to_string(),
        options: Options { checker: Checker::ShuttleRandom, ..options.clone() },
        replay: None,
    };
    let mut r = finish(&job, Engine::Shuttle, body, outcome, started);
    r.checker = label.to_string();
    Ok(r)
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
/// after the exact one ([`run_loom_seqcst`]), or the replay of such a token. Every path that
/// reports a failure (a worker's report, its streamed failure line, a replay) comes through here.
fn in_loom_acqrel(f: &Failure) -> bool {
    f.replay
        .as_deref()
        .and_then(|t| t.parse::<Token>().ok())
        .is_some_and(|t| matches!(t.point, Point::Loom { acqrel: true, .. }))
}

/// What an engine cannot show, whatever its search covered.
pub fn blind_spots(engine: Engine) -> Vec<BlindSpot> {
    match engine {
        Engine::Loom => vec![BlindSpot::YieldLivelock],
        Engine::Shuttle => vec![BlindSpot::WeakMemory],
        // Real threads sample; they can show anything, rarely. Their coverage says so.
        Engine::Stress => vec![],
    }
}

/// One execution's lifetime: counted when it begins; the modelled process's signal state is
/// dropped when it ends (even by a panic), inside the engine's execution, as its objects must be.
struct Execution;

impl Execution {
    fn begin(rec: &Recorder) -> Execution {
        crate::rt::signal::reset();
        rec.begin_execution();
        Execution
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        crate::rt::signal::reset();
    }
}

/// loom with SeqCst given its meaning (see [`SeqCstModel`]). When the program also used weaker
/// orderings, the exact model may have hidden a real bug, so a passing search is followed by
/// plain loom's (SeqCst as AcqRel) on the rest of the budget; a failure only that search shows
/// is reported as what it is ([`Undecided::WeakSeqCst`]), never as a plain bug and never dropped.
fn run_loom_seqcst(rec: &Arc<Recorder>, body: fn(), stages: &[Option<usize>], budget: usize) -> Outcome {
    Loom::set_seqcst_model(SeqCstModel::Exact);
    let mut exact = run_loom(rec, body, stages, budget);
    if Loom::weak_loads_seen() {
        exact.blind.push(BlindSpot::WeakLoadInterleavings);
    }
    let decided = exact.failure.is_some() || matches!(exact.coverage, Coverage::Interrupted { .. });
    if decided || !Loom::mixed_orderings_seen() {
        return exact;
    }
    Loom::set_seqcst_model(SeqCstModel::AcqRel);
    let mut plain = run_loom(rec, body, stages, budget);
    // Read before the model is set back, which forgets what was seen.
    let weak_loads = Loom::weak_loads_seen();
    Loom::set_seqcst_model(SeqCstModel::Exact);
    let exact_searched = format!(
        "{} execution(s) with SeqCst exact ({}), then {} with SeqCst as AcqRel (loom's own model): \
         the program mixes SeqCst with weaker orderings, which the exact model may strengthen",
        exact.executions,
        exact.coverage,
        plain.executions - exact.executions
    );
    plain.notes.insert(0, exact_searched);
    plain.blind = exact.blind;
    // The plain model runs SeqCst loads as plain loads, which loom's DPOR compares poorly too.
    if weak_loads && !plain.blind.contains(&BlindSpot::WeakLoadInterleavings) {
        plain.blind.push(BlindSpot::WeakLoadInterleavings);
    }
    // A failure here has a `loom-acqrel` token, and `report_from` reports it as what it is.
    if plain.failure.is_none() && !matches!(exact.coverage, Coverage::Exhaustive | Coverage::PreemptionBounded { .. }) {
        plain.coverage = exact.coverage;
    }
    plain
}

/// loom, stage by stage (one preemption bound each), until a failure or the budget is spent.
fn run_loom(rec: &Arc<Recorder>, body: fn(), stages: &[Option<usize>], budget: usize) -> Outcome {
    let _engine = crate::rt::dynamic::EngineScope::enter(Engine::Loom);
    // Until a stage ends on its own, nothing is covered but what was sampled: a budget spent
    // before (or inside) a stage never reads as exhaustive.
    let mut coverage = Coverage::Sampled { schedules: 0 };
    for &bound in stages {
        let start = rec.executions();
        let remaining = budget.saturating_sub(start);
        if remaining == 0 {
            coverage = Coverage::Sampled { schedules: start };
            break;
        }
        rec.set_loom_stage(bound, start, Loom::seqcst_model() == SeqCstModel::AcqRel);
        let mut b = loom::model::Builder::new();
        b.preemption_bound = bound;
        // loom checks its cap before each execution, so N+1 lets N run; interval 1 makes it check every time.
        b.max_permutations = Some(remaining.saturating_add(1));
        b.checkpoint_interval = 1;
        b.checkpoint_file = None;
        b.log = false;
        let r2 = rec.clone();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            b.check(move || {
                if crate::interrupt::requested() {
                    // Ctrl-C: leave loom's search between executions (no panic hook sees this).
                    panic::resume_unwind(Box::new(crate::interrupt::Interrupted));
                }
                let _execution = Execution::begin(&r2);
                Loom::set_thread_index(0);
                body();
            })
        }));
        let ran = rec.executions() - start;
        if let Some(f) = rec.take_failure() {
            return Outcome {
                failure: Some(f),
                executions: rec.executions(),
                coverage: Coverage::StoppedAtBug { after: rec.executions() },
                stress: None,
                notes: vec![],
                blind: vec![],
            };
        }
        if result.as_ref().err().is_some_and(|p| p.is::<crate::interrupt::Interrupted>())
            || crate::interrupt::requested()
        {
            return Outcome {
                failure: None,
                executions: rec.executions(),
                coverage: Coverage::Interrupted { after: rec.executions() },
                stress: None,
                notes: vec![],
                blind: vec![],
            };
        }
        if let Err(p) = result {
            let failure = rec.fail(panic_text(&*p), String::new());
            return Outcome {
                failure,
                executions: rec.executions(),
                coverage: Coverage::StoppedAtBug { after: rec.executions() },
                stress: None,
                notes: vec![],
                blind: vec![],
            };
        }
        coverage = match bound {
            _ if ran >= remaining => Coverage::Sampled { schedules: rec.executions() },
            None => Coverage::Exhaustive,
            Some(b) => Coverage::PreemptionBounded { bound: b },
        };
        if ran >= remaining {
            break;
        }
    }
    Outcome { failure: None, executions: rec.executions(), coverage, stress: None, notes: vec![], blind: vec![] }
}

fn shuttle_config(o: &Options) -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.max_steps = shuttle::MaxSteps::FailAfter(o.max_steps);
    config.silence_warnings = true;
    config.ungraceful_shutdown_config.immediately_return_on_panic = true;
    config
}

pub(crate) fn run_shuttle<S: shuttle::scheduler::Scheduler + 'static>(
    rec: &Arc<Recorder>,
    body: fn(),
    scheduler: S,
    o: &Options,
) -> Outcome {
    let _engine = crate::rt::dynamic::EngineScope::enter(Engine::Shuttle);
    let (scheduler, choices) = Recording::new(scheduler);
    let runner = shuttle::Runner::new(scheduler, shuttle_config(o));
    let r2 = rec.clone();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        runner.run(move || {
            let _execution = Execution::begin(&r2);
            Shuttle::set_thread_index(0);
            body();
        })
    }));
    let executions = rec.executions();
    let mut failure =
        rec.take_failure().or_else(|| result.err().and_then(|p| rec.fail(panic_text(&*p), String::new())));
    if let Some(f) = failure.as_mut().filter(|f| f.execution == rec.executions()) {
        // The failure ended the run: the choices are the failing execution's.
        f.replay = rec.shuttle_token(&choices.borrow());
    }
    let coverage = match failure {
        Some(_) => Coverage::StoppedAtBug { after: executions },
        None if crate::interrupt::requested() => Coverage::Interrupted { after: executions },
        None => Coverage::Sampled { schedules: executions },
    };
    Outcome { failure, executions, coverage, stress: None, notes: vec![], blind: vec![] }
}

/// The model on real threads, run after run. In a worker, a watchdog turns a run that stops
/// making progress into a reported hang, naming what each blocked thread waits for.
fn run_stress(rec: &Arc<Recorder>, body: fn(), o: &Options, worker: bool) -> Outcome {
    let _engine = crate::rt::dynamic::EngineScope::enter(Engine::Stress);
    let runs = o.iterations.unwrap_or(DEFAULT_STRESS_RUNS);
    // Real threads can record millions of events in one run (a spin until the watchdog fires).
    rec.set_event_cap(Some(trace::STRESS_EVENT_CAP));
    let progress = Arc::new(AtomicU64::new(0));
    if worker {
        let (rec, progress, timeout) = (rec.clone(), progress.clone(), Duration::from_millis(o.hang_timeout_ms));
        std::thread::spawn(move || {
            let mut seen = progress.load(Ordering::Relaxed);
            let mut since = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(50).min(timeout));
                let now = progress.load(Ordering::Relaxed);
                if now != seen {
                    (seen, since) = (now, Instant::now());
                } else if since.elapsed() >= timeout {
                    let message =
                        format!("hung with threads blocked for {} ms (run {})", timeout.as_millis(), rec.executions());
                    let f = rec
                        .fail(message.clone(), String::new())
                        .unwrap_or_else(|| rec.failure_now(message, String::new()));
                    emit_failure(&f);
                    std::process::exit(3);
                }
            }
        });
    }
    let mut failing_runs = 0;
    let mut done = 0;
    for _ in 0..runs {
        if crate::interrupt::requested() {
            break;
        }
        done += 1;
        let execution = Execution::begin(rec);
        StdThreads::set_thread_index(0);
        let result = panic::catch_unwind(body);
        drop(execution);
        if result.is_err() || rec.failed_this_execution() {
            failing_runs += 1;
        }
        progress.fetch_add(1, Ordering::Relaxed);
    }
    let failure = rec.take_failure();
    let coverage =
        if done < runs { Coverage::Interrupted { after: done } } else { Coverage::Sampled { schedules: runs } };
    let runs = done;
    let notes = vec![
        "real threads: the trace's order is the order events were recorded, not a replayable schedule".to_string()
    ];
    Outcome {
        failure,
        executions: runs,
        coverage,
        stress: Some(StressStats { runs, failing_runs }),
        notes,
        blind: vec![],
    }
}

pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
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
    #[test]
    fn a_model_s_own_panic_is_an_assertion_and_a_crash_is_a_panic() {
        for checker in [Checker::Loom, Checker::ShuttleRandom] {
            let r = check_in_process("overdraw", panics_if_negative, checker, None);
            assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
            assert_eq!(r.message.as_deref(), Some("the balance went negative: -1"), "{}", r.render());
            assert!(r.render().contains("src/runner.rs:"), "the line of the panic: {}", r.render());
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
            assert!(mine.iter().all(|m| m.starts_with("mutex@src/runner.rs:")), "{mine:?}");
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
