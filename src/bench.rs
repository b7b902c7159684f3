//! `conclab bench`: every checker on every scenario's buggy and fixed variants, SCTBench's method
//! applied to the catalog — how often each checker finds each bug, how soon, and what a fix costs to verify.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::catalog::{self, Scenario};
use crate::html::{esc, inline_md, page as html_page, PALETTE};
use crate::minimize::Shape;
use crate::report::{Coverage, Kind, Report, Verdict};
use crate::runner::{self, Checker, Options};

/// The checkers compared when none is named: every single checker (the portfolio only composes them).
pub const CHECKERS: [Checker; 5] =
    [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct, Checker::ShuttleDfs, Checker::Stress];

/// Default number of seeds per randomised checker.
pub const DEFAULT_SEEDS: u64 = 20;

/// What to run: scenarios × checkers, and how many seeds a randomised checker gets.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenarios, in the order given (the catalog's order by default).
    pub scenarios: Vec<&'static Scenario>,
    /// The checkers, in the order given ([`CHECKERS`] by default).
    pub checkers: Vec<Checker>,
    /// Each randomised checker runs once per seed `0..seeds` on a buggy variant.
    pub seeds: u64,
    /// The `conclab` binary: every check runs in its `__worker` (loom may abort on a deadlock).
    pub exe: PathBuf,
}

impl Plan {
    /// Checks the scenario ids against the catalog (the same errors as `conclab check`); empty
    /// lists mean the whole catalog and [`CHECKERS`]. Duplicates are dropped.
    pub fn new(scenarios: &[String], checkers: &[Checker], seeds: u64, exe: impl Into<PathBuf>) -> Result<Plan> {
        let mut picked: Vec<&'static Scenario> = vec![];
        for id in scenarios {
            let s = catalog::lookup(id, "buggy")?;
            if !picked.iter().any(|p| p.id() == s.id()) {
                picked.push(s);
            }
        }
        if scenarios.is_empty() {
            picked = catalog::all().iter().collect();
        }
        let mut chosen = vec![];
        for &c in if checkers.is_empty() { &CHECKERS[..] } else { checkers } {
            if !chosen.contains(&c) {
                chosen.push(c);
            }
        }
        anyhow::ensure!(seeds > 0, "--seeds must be at least 1");
        Ok(Plan { scenarios: picked, checkers: chosen, seeds, exe: exe.into() })
    }

    /// How many checks the plan runs (the progress bar's length).
    pub fn checks(&self) -> u64 {
        let mut n = 0;
        for s in &self.scenarios {
            let fixes = s.entry.variants.iter().filter(|v| v.fixed).count() as u64;
            for &c in self.checkers.iter().filter(|c| !refused(s, **c)) {
                n += if randomised(c) { self.seeds } else { 1 } + fixes;
            }
        }
        n
    }

    fn options(&self, checker: Checker, seed: u64) -> Options {
        Options { seed, ..Options::new(checker, self.exe.clone()) }
    }
}

/// Whether a checker's outcome depends on its seed (it then runs once per seed).
pub fn randomised(checker: Checker) -> bool {
    matches!(checker, Checker::ShuttleRandom | Checker::ShuttlePct | Checker::Portfolio)
}

/// Whether the scenario's `found_by` names `checker` (for the portfolio: any checker it
/// composes — loom, shuttle-pct or shuttle-random).
pub fn expected(s: &Scenario, checker: Checker) -> bool {
    match checker {
        Checker::Portfolio => {
            s.entry.found_by.iter().any(|c| matches!(c, Checker::Loom | Checker::ShuttlePct | Checker::ShuttleRandom))
        }
        c => s.entry.found_by.contains(&c),
    }
}

/// Whether the runner refuses `checker` on `s` (shuttle's DFS on a model that spins).
fn refused(s: &Scenario, checker: Checker) -> bool {
    checker == Checker::ShuttleDfs && s.entry.waits_by_spinning
}

/// The whole comparison: how it was measured, and one row per scenario × checker.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Seeds, budgets, statistics and machine.
    pub method: Method,
    /// Scenario-major, checkers in the plan's order.
    pub rows: Vec<Row>,
}

/// How the numbers were obtained.
#[derive(Clone, Debug, Serialize)]
pub struct Method {
    /// The method in one paragraph (also printed above the Markdown table).
    pub summary: String,
    /// Seeds per randomised checker on a buggy variant (`0..seeds`).
    pub seeds: u64,
    /// shuttle-random / shuttle-pct / shuttle-dfs: schedules per check.
    pub shuttle_iterations: usize,
    /// shuttle-pct: the bug depth.
    pub pct_depth: usize,
    /// loom: cap on executions over its bounding stages (0, 1, 2, unbounded).
    pub loom_budget: usize,
    /// stress: real-thread runs per check.
    pub stress_runs: usize,
    /// stress: a run stuck this long counts as a deadlock and ends the check.
    pub hang_timeout_ms: u64,
    /// How medians are taken.
    pub median: String,
    /// What the times measure.
    pub time: String,
    /// Where it ran.
    pub machine: Machine,
    /// Wall time of the whole comparison.
    pub wall_time_ms: u64,
    /// Ctrl-C stopped the comparison: the rows are those finished before it.
    pub interrupted: bool,
}

/// The machine the comparison ran on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Operating system (`linux`).
    pub os: String,
    /// CPU architecture (`x86_64`).
    pub arch: String,
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// The CPU model, where the OS tells it.
    pub cpu: Option<String>,
    /// `release` or `dev` (both optimised; `dev` keeps debug assertions).
    pub build: String,
    /// conclab's version.
    pub conclab: String,
}

/// One scenario under one checker: the buggy variant's runs, then each fix.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Scenario id.
    pub scenario: String,
    /// The checker.
    pub checker: Checker,
    /// Whether the scenario's `found_by` names this checker's engine (it ran either way).
    pub expected: bool,
    /// The buggy variant.
    pub buggy: Buggy,
    /// Each fixed variant, in the scenario's order.
    pub fixed: Vec<Fixed>,
    /// Anything unexpected: another kind than the scenario's, a search that ended without the
    /// bug, a real-thread hang, a fix that failed.
    pub notes: Vec<String>,
}

/// What `runs` counts in a [`Buggy`] result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunUnit {
    /// One check per seed (randomised checkers).
    Seed,
    /// One check (deterministic checkers: the seed changes nothing).
    Check,
    /// Real-thread runs inside one stress check.
    RealThreadRun,
}

/// The buggy variant under one checker.
#[derive(Clone, Debug, Serialize)]
pub struct Buggy {
    /// Runs made: seeds, one check, or real-thread runs (see `unit`).
    pub runs: usize,
    /// What a run is.
    pub unit: RunUnit,
    /// Runs that showed the bug.
    pub found: usize,
    /// The kind found (the most frequent one, if runs differ); `None` when never found.
    pub kind: Option<Kind>,
    /// Median executions to the first bug, over the runs that found it (`None` for stress).
    pub executions_median: Option<usize>,
    /// Most executions any finding run needed.
    pub executions_max: Option<usize>,
    /// Median checker time over all runs, in ms.
    pub time_ms_median: u64,
    /// The trace of the first run (lowest seed) that found the bug: its first-found and its
    /// minimised size (see [`crate::minimize`]).
    pub trace: Option<TraceSize>,
}

/// Steps and preemptions of a found bug's trace, as first found and as shown after minimising.
#[derive(Clone, Debug, Serialize)]
pub struct TraceSize {
    /// The first failing execution found.
    pub first: Shape,
    /// The minimised one, shown in reports.
    pub minimised: Shape,
    /// loom: the preemption bound it was found under (its minimisation).
    pub preemption_bound: Option<usize>,
}

/// One fixed variant under one checker (seed 0).
#[derive(Clone, Debug, Serialize)]
pub struct Fixed {
    /// Variant name.
    pub variant: String,
    /// `passed`, or `bug_found` if the fix is broken.
    pub verdict: Verdict,
    /// The kind, when the fix failed.
    pub kind: Option<Kind>,
    /// Executions explored.
    pub executions: usize,
    /// What a `passed` covers.
    pub coverage: Coverage,
    /// Checker time, in ms.
    pub time_ms: u64,
}

/// Runs the plan; `progress`: draw a progress bar on stderr.
pub fn run(plan: &Plan, progress: bool) -> Result<Comparison> {
    let bar = if progress {
        let style = indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> ");
        indicatif::ProgressBar::new(plan.checks()).with_style(style)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut rows = vec![];
    'plan: for s in &plan.scenarios {
        for &checker in &plan.checkers {
            let r = row(plan, s, checker, &bar)?;
            if crate::interrupt::requested() {
                break 'plan; // Ctrl-C: the row it cut short is left out; the finished ones stand.
            }
            rows.push(r);
        }
    }
    bar.finish_and_clear();
    let mut method = method(plan, started.elapsed().as_millis() as u64);
    method.interrupted = crate::interrupt::requested();
    if method.interrupted {
        method.summary.push_str(" Interrupted by Ctrl-C: only the rows finished before it are shown.");
    }
    Ok(Comparison { method, rows })
}

/// One check, labelled for the progress bar and for errors.
fn check(
    plan: &Plan,
    s: &Scenario,
    variant: &str,
    checker: Checker,
    seed: u64,
    bar: &indicatif::ProgressBar,
) -> Result<Report> {
    let seeded = if randomised(checker) { format!(" / seed {seed}") } else { String::new() };
    let what = format!("{} / {variant} / {}{seeded}", s.id(), checker.name());
    bar.set_message(what.clone());
    let r = runner::check(s.id(), variant, &plan.options(checker, seed)).with_context(|| what)?;
    bar.inc(1);
    Ok(r)
}

fn row(plan: &Plan, s: &Scenario, checker: Checker, bar: &indicatif::ProgressBar) -> Result<Row> {
    if refused(s, checker) {
        return Ok(Row {
            scenario: s.id().to_string(),
            checker,
            expected: false,
            buggy: Buggy {
                runs: 0,
                unit: RunUnit::Check,
                found: 0,
                kind: None,
                executions_median: None,
                executions_max: None,
                time_ms_median: 0,
                trace: None,
            },
            fixed: vec![],
            notes: vec!["not run: its threads wait by spinning, which depth-first search cannot explore".into()],
        });
    }
    let seeds = if randomised(checker) { plan.seeds } else { 1 };
    let reports = (0..seeds).map(|seed| check(plan, s, "buggy", checker, seed, bar)).collect::<Result<Vec<_>>>()?;
    let mut notes = vec![];
    let buggy = summarise(s, checker, &reports, &mut notes);
    let mut fixed = vec![];
    for v in s.entry.variants.iter().filter(|v| v.fixed) {
        let r = check(plan, s, v.name, checker, 0, bar)?;
        if r.found_bug() {
            notes.push(format!("the fix `{}` failed: {}", v.name, r.message.as_deref().unwrap_or("(no message)")));
        }
        fixed.push(Fixed {
            variant: v.name.to_string(),
            verdict: r.verdict,
            kind: r.kind,
            executions: r.executions,
            coverage: r.coverage,
            time_ms: r.elapsed_ms,
        });
    }
    Ok(Row { scenario: s.id().to_string(), checker, expected: expected(s, checker), buggy, fixed, notes })
}

fn summarise(s: &Scenario, checker: Checker, reports: &[Report], notes: &mut Vec<String>) -> Buggy {
    let found: Vec<&Report> = reports.iter().filter(|r| r.found_bug()).collect();
    let mut kinds: Vec<(Kind, usize)> = vec![];
    for k in found.iter().filter_map(|r| r.kind) {
        match kinds.iter_mut().find(|(seen, _)| *seen == k) {
            Some((_, n)) => *n += 1,
            None => kinds.push((k, 1)),
        }
    }
    // The most frequent kind; on a tie, the first seen.
    let kind = kinds.iter().fold(None, |best: Option<(Kind, usize)>, &(k, n)| match best {
        Some((_, m)) if m >= n => best,
        _ => Some((k, n)),
    });
    let kind = kind.map(|(k, _)| k);
    if kinds.len() > 1 {
        let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        notes.push(format!("kinds found: {}", list.join(", ")));
    }
    if let Some(k) = kind.filter(|&k| k != s.entry.expected) {
        notes.push(format!("found a {k}, the scenario expects a {}", s.entry.expected));
    }
    let time_ms_median = median(reports.iter().map(|r| r.elapsed_ms).collect()).unwrap_or(0);
    let trace = found.iter().find_map(|r| r.minimised.as_ref()).map(|m| TraceSize {
        first: m.first,
        minimised: m.shown,
        preemption_bound: m.preemption_bound,
    });
    if checker == Checker::Stress {
        // One check; its stats count the real-thread runs. A hang ends the worker before the
        // stats are written, so then the report only says in which run it hung.
        let r = &reports[0];
        let (runs, failing) = match (&r.stress, r.found_bug()) {
            (Some(st), _) => (st.runs, st.failing_runs),
            (None, true) => {
                notes.push(format!("real threads hung in run {}; the watchdog ended the check there", r.executions));
                (r.executions, 1)
            }
            (None, false) => (r.executions, 0),
        };
        return Buggy {
            runs,
            unit: RunUnit::RealThreadRun,
            found: failing,
            kind,
            executions_median: None,
            executions_max: None,
            time_ms_median,
            trace: None,
        };
    }
    if found.is_empty() && !randomised(checker) {
        let r = &reports[0];
        let blind: Vec<&str> = r.not_covered.iter().map(|b| b.words()).collect();
        notes.push(match (r.inconclusive, blind.is_empty()) {
            (Some(why), _) => format!("not found; {}", why.words()),
            (None, true) => format!("not found; searched: {}", r.coverage),
            (None, false) => format!("not found; searched: {}; not covered: {}", r.coverage, blind.join("; ")),
        });
    }
    let executions: Vec<usize> = found.iter().map(|r| r.executions).collect();
    Buggy {
        runs: reports.len(),
        unit: if randomised(checker) { RunUnit::Seed } else { RunUnit::Check },
        found: found.len(),
        kind,
        executions_median: median(executions.clone()),
        executions_max: executions.into_iter().max(),
        time_ms_median,
        trace,
    }
}

/// The lower median (the lower of the two middle values for an even count), so that it is always a value that occurred.
fn median<T: Ord + Copy>(mut v: Vec<T>) -> Option<T> {
    v.sort_unstable();
    v.get(v.len().checked_sub(1)? / 2).copied()
}

fn method(plan: &Plan, wall_time_ms: u64) -> Method {
    let defaults = Options::new(Checker::Loom, plan.exe.clone());
    let machine = Machine {
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        cpu: cpu_model(),
        build: if cfg!(debug_assertions) { "dev" } else { "release" }.to_string(),
        conclab: env!("CARGO_PKG_VERSION").to_string(),
    };
    let median = "lower median (the lower middle value for an even count)".to_string();
    let time = "the checker's own time, measured in its worker process (process start excluded)".to_string();
    let mut m = Method {
        summary: String::new(),
        seeds: plan.seeds,
        shuttle_iterations: runner::DEFAULT_SHUTTLE_ITERATIONS,
        pct_depth: defaults.pct_depth,
        loom_budget: runner::DEFAULT_LOOM_BUDGET,
        stress_runs: runner::DEFAULT_STRESS_RUNS,
        hang_timeout_ms: defaults.hang_timeout_ms,
        median,
        time,
        machine,
        wall_time_ms,
        interrupted: false,
    };
    m.summary = summary(&m);
    m
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

fn summary(m: &Method) -> String {
    let mc = &m.machine;
    format!(
        "Method (after SCTBench, Thomson, Donaldson and Betts, PPoPP 2014): each checker ran every scenario's buggy \
         variant — shuttle-random and shuttle-pct (depth {}) once per seed, seeds 0–{}, at most {} schedules each; loom (preemption \
         bound 0, 1, 2, then unbounded; at most {} executions) and shuttle-dfs (at most {} schedules) once, since they \
         are deterministic; stress once, {} real-thread runs (a run stuck {} s counts as a deadlock and ends the \
         check). *found*: runs that showed the bug (seeds; for stress, real-thread runs). *executions to bug*: median \
         / max over the runs that found it. *time*: median over all runs of the checker's own time (in its worker \
         process). Each fix: one run (seed 0) per checker, with what its pass covers. *expected*: the scenario's \
         metadata names the checker; the others ran too. Medians are lower medians. Machine: {} {}, {} \
         CPU(s){}, {} build, conclab {}; total {:.1} s.",
        m.pct_depth,
        m.seeds - 1,
        thousands(m.shuttle_iterations),
        thousands(m.loom_budget),
        thousands(m.shuttle_iterations),
        thousands(m.stress_runs),
        m.hang_timeout_ms / 1000,
        mc.os,
        mc.arch,
        mc.cpus,
        mc.cpu.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
        mc.build,
        mc.conclab,
        m.wall_time_ms as f64 / 1000.0,
    )
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A coverage in a few words, for the table and the CSV (the counts are in the executions beside it).
pub fn coverage_short(c: &Coverage) -> String {
    match c {
        Coverage::Exhaustive => "exhaustive".into(),
        Coverage::PreemptionBounded { bound } => format!("≤{bound} preemptions"),
        Coverage::Sampled { .. } => "sampled".into(),
        Coverage::StoppedAtBug { .. } => "stopped at the bug".into(),
        Coverage::Interrupted { .. } => "interrupted".into(),
    }
}

fn ms(t: u64) -> String {
    if t == 0 {
        "<1 ms".into()
    } else {
        format!("{t} ms")
    }
}

impl Buggy {
    /// `found` for people: `20/20 seeds`, `yes`, `7/1,000 runs`.
    pub fn found_text(&self) -> String {
        match self.unit {
            RunUnit::Seed => format!("{}/{} seeds", self.found, self.runs),
            RunUnit::Check if self.runs == 0 => "not run".into(),
            RunUnit::Check => if self.found > 0 { "yes" } else { "no" }.into(),
            RunUnit::RealThreadRun => format!("{}/{} runs", thousands(self.found), thousands(self.runs)),
        }
    }

    /// Executions to the bug for people: `3 / 11` (median / max).
    pub fn executions_text(&self) -> String {
        match (self.executions_median, self.executions_max) {
            (Some(m), Some(x)) if m == x => thousands(m),
            (Some(m), Some(x)) => format!("{} / {}", thousands(m), thousands(x)),
            _ => "—".into(),
        }
    }
}

impl TraceSize {
    fn side(shape: &Shape, bound: Option<usize>) -> String {
        match (shape.preemptions, bound) {
            (Some(p), _) => format!("{}/{p}", shape.steps),
            (None, Some(b)) => format!("{}/≤{b}", shape.steps),
            (None, None) => format!("{}/—", shape.steps),
        }
    }
}

impl Buggy {
    /// Trace steps/preemptions, first found → minimised (`13/4 → 13/1`; loom: `4/≤1`, its bound).
    pub fn trace_text(&self) -> String {
        let Some(t) = &self.trace else { return "—".into() };
        let (first, shown) =
            (TraceSize::side(&t.first, t.preemption_bound), TraceSize::side(&t.minimised, t.preemption_bound));
        if first == shown {
            shown
        } else {
            format!("{first} → {shown}")
        }
    }
}

impl Fixed {
    fn text(&self) -> String {
        match (self.verdict, self.kind) {
            (Verdict::BugFound, kind) => format!(
                "`{}` **FAILED** ({}) after {}, {}",
                self.variant,
                kind.map(|k| k.to_string()).unwrap_or_default(),
                thousands(self.executions),
                ms(self.time_ms)
            ),
            (Verdict::Inconclusive, _) => format!(
                "`{}` **inconclusive** after {}, {}",
                self.variant,
                thousands(self.executions),
                ms(self.time_ms)
            ),
            (Verdict::Passed, _) => format!(
                "`{}` {} ({}), {}",
                self.variant,
                thousands(self.executions),
                coverage_short(&self.coverage),
                ms(self.time_ms)
            ),
        }
    }
}

impl Comparison {
    /// The method paragraph, a Markdown table (one row per scenario × checker) and the notes.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.method.summary);
        out.push_str(
            "| scenario | checker | expected | buggy: found | kind | executions to bug (median / max) | time (median) \
             | trace steps/preemptions (first → minimised) | fixes: executions to verify (coverage), time |\n",
        );
        out.push_str("|---|---|---|---:|---|---:|---:|---:|---|\n");
        for r in &self.rows {
            let fixes: Vec<String> = r.fixed.iter().map(Fixed::text).collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                r.checker.name(),
                if r.expected { "yes" } else { "no" },
                r.buggy.found_text(),
                r.buggy.kind.map(|k| k.to_string()).unwrap_or_else(|| "—".into()),
                r.buggy.executions_text(),
                ms(r.buggy.time_ms_median),
                r.buggy.trace_text(),
                fixes.join("; "),
            );
        }
        let notes: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| r.notes.iter().map(move |n| format!("- `{}` / {}: {n}", r.scenario, r.checker.name())))
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(out, "\nNotes:\n\n{}", notes.join("\n"));
        }
        out
    }

    /// One CSV record per scenario × checker, with a header; a row's fixes are `;`-joined in order.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "scenario,checker,expected,buggy_runs,buggy_unit,buggy_found,buggy_kind,executions_median,executions_max,\
             time_ms_median,fixed_variants,fixed_verdicts,fixed_executions,fixed_coverage,fixed_time_ms,notes\n",
        );
        let opt = |v: Option<usize>| v.map(|n| n.to_string()).unwrap_or_default();
        let each = |r: &Row, f: &dyn Fn(&Fixed) -> String| r.fixed.iter().map(f).collect::<Vec<_>>().join(";");
        for r in &self.rows {
            let b = &r.buggy;
            let fields = [
                r.scenario.clone(),
                r.checker.name().to_string(),
                r.expected.to_string(),
                b.runs.to_string(),
                json_word(&b.unit),
                b.found.to_string(),
                b.kind.map(|k| k.to_string()).unwrap_or_default(),
                opt(b.executions_median),
                opt(b.executions_max),
                b.time_ms_median.to_string(),
                each(r, &|f| f.variant.clone()),
                each(r, &|f| json_word(&f.verdict)),
                each(r, &|f| f.executions.to_string()),
                each(r, &|f| coverage_short(&f.coverage)),
                each(r, &|f| f.time_ms.to_string()),
                r.notes.join("; "),
            ];
            let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            let _ = writeln!(out, "{}", quoted.join(","));
        }
        out
    }
}

/// A unit enum's serde name (`bug_found`, `real_thread_run`).
fn json_word(v: &impl Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Log-scale x position of `n` executions in a chart `width` wide whose axis ends at `max`.
fn log_x(n: usize, max: usize, width: f64) -> f64 {
    let top = (max.max(10) as f64).log10().ceil().max(1.0);
    ((n.max(1) as f64).log10() / top * width).max(2.0)
}

/// The checker comparison as a page: the method, a chart of executions to the first bug (log
/// scale, median bar and max tick per checker), and the full table.
pub fn page(c: &Comparison) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<h1>conclab — checker comparison</h1>");
    let _ = writeln!(
        b,
        "<p>The SCTBench method (Thomson, Donaldson and Betts, PPoPP 2014) applied to conclab's catalog: \
         every checker runs every scenario's buggy variant, seeded, and each fix; the chart shows how many \
         executions each needed to find each bug.</p>\n<section id=\"method\"><h2>Method</h2><p>{}</p></section>",
        inline_md(&c.method.summary)
    );
    chart(&mut b, c);
    let _ = writeln!(b, "<h2>Results</h2>\n<table id=\"results\">\n<thead><tr><th>scenario</th><th>checker</th>\
         <th>expected</th><th>buggy: found</th><th>kind</th><th>executions to bug (median / max)</th>\
         <th>time (median)</th><th>trace steps / preemptions (first → minimised)</th><th>fixes</th></tr></thead>\n<tbody>");
    for r in &c.rows {
        let fixes: Vec<String> = r
            .fixed
            .iter()
            .map(|f| format!("{} {} ({}), {} ms", f.variant, f.executions, coverage_short(&f.coverage), f.time_ms))
            .collect();
        let _ = writeln!(
            b,
            "<tr data-scenario=\"{}\" data-checker=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} ms</td><td>{}</td><td>{}</td></tr>",
            esc(&r.scenario),
            r.checker.name(),
            esc(&r.scenario),
            r.checker.name(),
            if r.expected { "yes" } else { "no" },
            esc(&r.buggy.found_text()),
            r.buggy.kind.map(|k| k.to_string()).unwrap_or_else(|| "—".into()),
            esc(&r.buggy.executions_text()),
            r.buggy.time_ms_median,
            esc(&r.buggy.trace_text()),
            esc(&fixes.join("; "))
        );
    }
    let _ = writeln!(b, "</tbody>\n</table>");
    let notes: Vec<String> = c
        .rows
        .iter()
        .flat_map(|r| {
            r.notes
                .iter()
                .map(move |n| format!("<li><code>{}</code> / {}: {}</li>", esc(&r.scenario), r.checker.name(), esc(n)))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(b, "<h2>Notes</h2>\n<ul>{}</ul>", notes.join("\n"));
    }
    html_page("conclab — checker comparison", &b)
}

fn chart(b: &mut String, c: &Comparison) {
    let checkers: Vec<Checker> = {
        let mut v = vec![];
        for r in &c.rows {
            if !v.contains(&r.checker) {
                v.push(r.checker);
            }
        }
        v
    };
    let mut scenarios: Vec<&str> = vec![];
    for r in &c.rows {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let max = c.rows.iter().filter_map(|r| r.buggy.executions_max).max().unwrap_or(10);
    let (label_w, plot_w, bar_h) = (210.0, 560.0, 11.0);
    let group_h = bar_h * checkers.len() as f64 + 12.0;
    let height = 40.0 + group_h * scenarios.len() as f64 + 30.0;
    let width = label_w + plot_w + 130.0;
    let _ = writeln!(b, "<h2>Executions to the first bug (log scale)</h2>");
    let _ = writeln!(
        b,
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"system-ui,sans-serif\" font-size=\"11\">"
    );
    // Decades: 1, 10, 100, …
    let top = (max.max(10) as f64).log10().ceil() as u32;
    for d in 0..=top {
        let x = label_w + log_x(10usize.pow(d), max, plot_w).max(0.0) * f64::from(u8::from(d > 0));
        let _ = writeln!(
            b,
            "<line x1=\"{x:.1}\" y1=\"30\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#dde\"/><text x=\"{x:.1}\" y=\"22\" \
             text-anchor=\"middle\" fill=\"#666\">{}</text>",
            height - 30.0,
            10usize.pow(d)
        );
    }
    for (g, s) in scenarios.iter().enumerate() {
        let y0 = 36.0 + group_h * g as f64;
        let _ = writeln!(
            b,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"600\">{}</text>",
            label_w - 8.0,
            y0 + group_h / 2.0,
            esc(s)
        );
        for (k, ch) in checkers.iter().enumerate() {
            let y = y0 + bar_h * k as f64;
            let colour = PALETTE[k % PALETTE.len()];
            let Some(r) = c.rows.iter().find(|r| r.scenario == *s && r.checker == *ch) else { continue };
            match (r.buggy.executions_median, r.buggy.executions_max) {
                (Some(m), x) => {
                    let w = log_x(m, max, plot_w);
                    let _ = writeln!(
                        b,
                        "<rect class=\"bar\" data-scenario=\"{}\" data-checker=\"{}\" x=\"{label_w}\" y=\"{y:.1}\" \
                         width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{} / {}: median {m}, max {}</title></rect>",
                        esc(s),
                        ch.name(),
                        bar_h - 2.0,
                        esc(s),
                        ch.name(),
                        x.unwrap_or(m)
                    );
                    if let Some(x) = x.filter(|&x| x > m) {
                        let xm = label_w + log_x(x, max, plot_w);
                        let _ = writeln!(
                            b,
                            "<line x1=\"{xm:.1}\" y1=\"{y:.1}\" x2=\"{xm:.1}\" y2=\"{:.1}\" stroke=\"#222\" stroke-width=\"2\"/>",
                            y + bar_h - 2.0
                        );
                    }
                }
                (None, _) => {
                    let why = if r.buggy.runs == 0 {
                        "not run"
                    } else if r.buggy.found > 0 {
                        "found (no count)"
                    } else {
                        "not found"
                    };
                    let _ = writeln!(
                        b,
                        "<text class=\"miss\" x=\"{:.1}\" y=\"{:.1}\" fill=\"#999\">{} — {why}</text>",
                        label_w + 4.0,
                        y + bar_h - 3.0,
                        ch.name()
                    );
                }
            }
        }
    }
    let ly = height - 12.0;
    for (k, ch) in checkers.iter().enumerate() {
        let x = label_w + 120.0 * k as f64;
        let _ = writeln!(
            b,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{ly:.1}\">{}</text>",
            ly - 9.0,
            PALETTE[k % PALETTE.len()],
            x + 14.0,
            ch.name()
        );
    }
    let _ = writeln!(b, "</svg>\n<p class=\"meta\">Bars: median executions to the first bug over the seeds that found it; tick: the maximum. Stress counts real-thread runs, not executions, and has no bar.</p>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_values_that_occurred() {
        assert_eq!(median::<u64>(vec![]), None);
        assert_eq!(median(vec![7]), Some(7));
        assert_eq!(median(vec![9, 1, 5]), Some(5));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2));
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("airplane-seat"), "airplane-seat");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn big_numbers_get_thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn a_plan_defaults_to_the_catalog_and_the_single_checkers() {
        let p = Plan::new(&[], &[], 3, "conclab").unwrap();
        assert_eq!(p.scenarios.len(), catalog::all().len());
        assert_eq!(p.checkers, CHECKERS);
        let id = catalog::all()[0].id().to_string();
        let p = Plan::new(&[id.clone(), id], &[Checker::Loom, Checker::Loom], 3, "conclab").unwrap();
        assert_eq!((p.scenarios.len(), p.checkers.len()), (1, 1));
        let err = Plan::new(&["no-such-bug".into()], &[], 3, "conclab").unwrap_err().to_string();
        assert!(err.contains("unknown scenario `no-such-bug`"), "{err}");
    }

    #[test]
    fn log_scale_grows_by_decades() {
        let (a, b, c) = (log_x(1, 1000, 300.0), log_x(10, 1000, 300.0), log_x(1000, 1000, 300.0));
        assert!(a < b && b < c && (c - 300.0).abs() < 1e-9, "{a} {b} {c}");
    }
}
