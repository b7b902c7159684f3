//! `conclab demo`: the two signal scenarios run for real — a child process, real POSIX signals,
//! real `fork`/`waitpid` — repeated until the race shows or a bound is hit, under a watchdog.
//!
//! The parent ([`run`]) re-executes the `conclab` binary as `conclab __demo-child <id> <variant>`
//! ([`child_main`]) in its own process group. The child reports each attempt as a JSON line on
//! stdout; a child that stays silent for `--timeout-ms` is hung: the parent shows where its
//! threads sleep (`/proc`), kills the whole group and reaps it. Linux only.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::report::{Kind, Verdict};

#[cfg(target_os = "linux")]
mod job_list_reap;
#[cfg(target_os = "linux")]
mod printf_signal;
#[cfg(target_os = "linux")]
mod supervise;

/// A scenario that has a real-signal demo.
#[derive(Clone, Copy, Debug)]
pub struct Demo {
    /// The catalog id (`job-list-reap`).
    pub id: &'static str,
    /// The variants, buggy first, named as in the catalog.
    pub variants: &'static [&'static str],
    /// What runs: one line for the report's header.
    pub what: &'static str,
    /// Default bound on attempts (`--runs`).
    pub default_runs: usize,
    /// What one attempt is, for the report ("fork", "signal").
    pub attempt: &'static str,
    /// The kind of failure the buggy variant shows.
    pub expected: Kind,
    /// Why a model checker finds the bug deterministically while a real run depends on timing.
    pub why: &'static str,
}

/// Every scenario with a real-signal demo.
pub const DEMOS: &[Demo] = &[
    Demo {
        id: "job-list-reap",
        variants: &["buggy", "fixed"],
        what: "a shell process forks children and reaps them in a SIGCHLD handler (CS:APP §8.5.6)",
        default_runs: 10_000,
        attempt: "fork",
        expected: Kind::Assertion,
        why: "a model checker runs the SIGCHLD handler at every point of the loop, so it finds the early reap in \
              a few executions; a real run needs the child to exit and the signal to land in the few instructions \
              between fork and the block, which depends on timing",
    },
    Demo {
        id: "printf-signal-deadlock",
        variants: &["buggy", "fixed", "fixed-mask"],
        what: "main prints under a non-reentrant lock while a second thread sends it SIGUSR1 (CS:APP §8.5.5)",
        default_runs: 1_000,
        attempt: "signal",
        expected: Kind::Deadlock,
        why: "a model checker lets the handler interrupt main at every step, so it finds the handler inside the \
              locked section deterministically; a real signal must land while main holds the lock — made likely \
              here (the lock is held nearly all the time), never certain",
    },
];

/// Default silence after which the child counts as hung (`--timeout-ms`).
pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;

/// How to run a demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Bound on attempts; `None`: the demo's default.
    pub runs: Option<usize>,
    /// A child silent for this long is hung: a deadlock.
    pub timeout_ms: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { runs: None, timeout_ms: DEFAULT_TIMEOUT_MS }
    }
}

/// One thread of a hung child, as `/proc` showed it before the child was killed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadState {
    /// Thread id.
    pub tid: u32,
    /// `main` for the main thread, else the thread's name.
    pub name: String,
    /// The state letter of `/proc/<pid>/task/<tid>/stat` (`S` sleeping, `R` running, …).
    pub state: String,
    /// The kernel function it sleeps in (`/proc/…/wchan`), empty when unknown or running.
    pub wchan: String,
}

impl ThreadState {
    /// Whether the thread is asleep (blocked), not running or spinning.
    pub fn asleep(&self) -> bool {
        matches!(self.state.as_str(), "S" | "D")
    }
}

/// What a demo run showed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemoReport {
    /// Scenario id.
    pub scenario: String,
    /// Variant name.
    pub variant: String,
    /// `bug_found` when the race showed, else `passed`.
    pub verdict: Verdict,
    /// `assertion` (a dead job left in the list) or `deadlock` (a hung child); `None` when passed.
    pub kind: Option<Kind>,
    /// Attempts completed (forks, signals handled).
    pub attempts: usize,
    /// The bound on attempts (`--runs`).
    pub runs: usize,
    /// The attempt in which the bug showed.
    pub showed_in_attempt: Option<usize>,
    /// Wall time, the watchdog's wait included.
    pub elapsed_ms: u64,
    /// What happened, in one sentence.
    pub detail: String,
    /// Process id of the child that ran the demo (gone when the report is returned).
    pub child_pid: u32,
    /// A hung child's threads, as `/proc` showed them before the kill; empty otherwise.
    pub threads: Vec<ThreadState>,
    /// How the child ended and was cleaned up.
    pub cleanup: String,
    /// Why a model checker finds the bug deterministically while this run depends on timing.
    pub why: String,
}

impl DemoReport {
    /// Whether the bug showed.
    pub fn found_bug(&self) -> bool {
        self.verdict == Verdict::BugFound
    }

    /// The report for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let demo = find(&self.scenario);
        let what = demo.map(|d| d.what).unwrap_or_default();
        let attempt = demo.map(|d| d.attempt).unwrap_or("attempt");
        let verdict = match self.kind {
            None => "PASSED".to_string(),
            Some(kind) => format!("BUG SHOWN ({kind})"),
        };
        let _ = writeln!(out, "{verdict}  {} / {} on real signals", self.scenario, self.variant);
        let _ = writeln!(out, "  ran: {what}; child pid {}", self.child_pid);
        let _ = writeln!(out, "  {}", self.detail);
        let showed = self.showed_in_attempt.map(|n| format!("   showed in {attempt} {n}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} of at most {} {attempt}s completed{showed}   time: {} ms",
            self.attempts, self.runs, self.elapsed_ms
        );
        for t in &self.threads {
            let wchan = if t.wchan.is_empty() { String::new() } else { format!(" in {}", t.wchan) };
            let how = if t.asleep() { "asleep, not spinning" } else { "not asleep" };
            let _ = writeln!(out, "  thread {} (tid {}): state {}{wchan} — {how}", t.name, t.tid, t.state);
        }
        let _ = writeln!(out, "  cleanup: {}", self.cleanup);
        if !self.found_bug() {
            let _ = writeln!(out, "  note: a pass on real signals is a sample of timings, not a proof");
        }
        let _ = writeln!(out, "  why: {}", self.why);
        out
    }
}

/// The demo for `id`, if it has one.
pub fn find(id: &str) -> Option<&'static Demo> {
    DEMOS.iter().find(|d| d.id == id)
}

/// Looks up a demo and variant, with an error that says what exists.
pub fn lookup(id: &str, variant: &str) -> Result<&'static Demo> {
    let ids = || DEMOS.iter().map(|d| d.id).collect::<Vec<_>>().join(", ");
    let Some(demo) = find(id) else {
        if crate::catalog::find(id).is_some() {
            bail!(
                "scenario `{id}` has no real-signal demo: demos exist only for the two signal scenarios ({}); \
                 explore `{id}` with `conclab check {id}`",
                ids()
            );
        }
        bail!("unknown demo `{id}`; scenarios with a real-signal demo: {}", ids());
    };
    if !demo.variants.contains(&variant) {
        bail!("demo `{id}` has no variant `{variant}`; its variants: {}", demo.variants.join(", "));
    }
    Ok(demo)
}

/// Runs variant `variant` of demo `id` in a child process of `exe` (the `conclab` binary) and
/// reports what happened. Nothing is left running when it returns: the child runs in its own
/// process group, which is killed and reaped (this process becomes a child subreaper for that,
/// so grandchildren orphaned by the kill are reaped here too). Call it from a thread that
/// outlives the child: the child gets SIGKILL when the thread that spawned it exits.
pub fn run(id: &str, variant: &str, options: &DemoOptions, exe: &Path) -> Result<DemoReport> {
    let demo = lookup(id, variant)?;
    let runs = options.runs.unwrap_or(demo.default_runs);
    if runs == 0 || options.timeout_ms == 0 {
        bail!("--runs and --timeout-ms must be at least 1");
    }
    #[cfg(target_os = "linux")]
    return supervise::supervise(demo, variant, runs, std::time::Duration::from_millis(options.timeout_ms), exe);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = exe;
        bail!("`conclab demo` runs real processes with POSIX signals and is Linux only")
    }
}

/// Entry point of the hidden `conclab __demo-child <id> <variant> --runs N`: runs the demo
/// program in this process and reports attempts as JSON lines on stdout.
pub fn child_main(id: &str, variant: &str, runs: usize) -> Result<()> {
    let demo = lookup(id, variant)?;
    #[cfg(target_os = "linux")]
    match demo.id {
        "job-list-reap" => job_list_reap::main(variant == "fixed", runs),
        _ => printf_signal::main(variant, runs),
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (demo, runs);
        bail!("`conclab demo` runs real processes with POSIX signals and is Linux only")
    }
}

/// What the child tells the parent, one JSON line each.
#[cfg(target_os = "linux")]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event {
    /// `n` attempts are complete and fine: also the heartbeat the watchdog waits for.
    Attempt { n: usize },
    /// The bug showed in attempt `showed_in`, found after `attempts` attempts.
    Bug { attempts: usize, showed_in: usize, detail: String },
    /// Every attempt ran without the bug.
    Done { attempts: usize, detail: String },
}

/// Writes one event line to stdout and flushes it (the parent's watchdog reads it at once).
#[cfg(target_os = "linux")]
fn emit(event: &Event) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, event)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
