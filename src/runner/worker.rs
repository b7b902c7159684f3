//! The worker protocol: a check run in a child process (`conclab __worker`, or a test binary
//! re-running one test) is fed its [`Job`] on stdin and answers with JSON lines on stdout — its
//! progress, its first failure the moment it is recorded (before loom can abort the process),
//! then its report. The parent (`run_in_child`) reads them, draws the progress bar, and kills
//! the child at the time budget or when another engine of the portfolio has decided.

use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::portfolio::CANCELLED;
use super::{report_from, run_job, seconds, Checker, Host, Job, Options};
use super::{DEFAULT_SHUTTLE_ITERATIONS, DEFAULT_STRESS_RUNS};
use crate::catalog::{self, Scenario};
use crate::report::{Coverage, Report, Undecided, Verdict};
use crate::trace::{Failure, Recorder};

/// Runs a job in a child `conclab __worker` and reads its report — or, if the child died
/// (loom's abort), the failure its panic hook wrote before dying. A child still running when the
/// job's time budget runs out is killed (see [`Options::time_budget_ms`]).
pub(super) fn run_in_child(mut command: Command, job: &Job) -> Result<Report> {
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
/// An executable that passes itself as [`super::Isolation::Subprocess`] calls this when started with
/// the argument `__worker` (an assignment's test binary does).
pub fn worker_main_with(find: impl Fn(&str) -> Option<Scenario>) -> Result<()> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let job: Job = serde_json::from_str(&input).context("the worker's job is not valid JSON")?;
    let Some(s) = find(&job.scenario) else { bail!("this worker does not know the scenario `{}`", job.scenario) };
    work(&s, &job)
}

/// The worker's side of [`super::Isolation::TestChild`]: reads the [`Job`] from stdin and runs it on
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
    let report = run_job(s, job, Host::Worker)?;
    PROGRESS_DONE.store(true, Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &WorkerLine::Report(Box::new(report)))?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

static PROGRESS_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// In a worker, before the search: every failure `rec` records goes to the parent at once, and
/// a line with the execution count every 100 ms (the parent draws its progress bar from them
/// and, should it stop this worker at the time budget, reports how many executions were begun).
pub(super) fn stream(rec: &Arc<Recorder>) {
    rec.set_failure_sink(Some(emit_failure));
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

fn emit_failure(f: &Failure) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, &WorkerLine::Failure(f.clone()));
    let _ = writeln!(out);
    let _ = out.flush();
}
