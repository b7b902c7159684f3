//! Grading: the checkers on a student's code, one verdict per checker and property, a score.
//!
//! Two halves. Inside the student crate's test binary ([`checks_main`]): [`grade`] runs loom,
//! shuttle PCT and shuttle random on the student's model through [`runner::check_scenario`],
//! isolated in child processes of that same binary. On the instructor's side ([`grade_dir`],
//! `conclab grade <dir>`): the student's `src/lib.rs` is copied into a fresh crate with freshly
//! written glue (so edits to the generated files count for nothing), built in the shared target
//! directory, and its test binary is asked for the grade.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::source;
use crate::catalog::{self, Entry, Scenario, Variant};
use crate::report::{failed_property, Coverage, Report, Undecided};
use crate::runner::{self, Checker, Options};

/// The checkers that grade an assignment, in the order they run.
pub const GRADED_BY: [Checker; 3] = [Checker::Loom, Checker::ShuttlePct, Checker::ShuttleRandom];

/// The variant name of a student's code in reports.
const STUDENT: &str = "student";

/// The property every program keeps besides its own: it ends, with no failure of another kind.
const RUNS_TO_THE_END: &str = "runs-to-the-end";

/// loom's execution cap when grading (a fix that explodes the state space is cut, not waited for).
const LOOM_BUDGET: usize = 200_000;

/// The default wall-clock budget of each checker's run when grading: 60 s (a reference fix takes
/// a few seconds for all three checkers), so a fix that never ends keeps a grade busy for at
/// most three minutes.
const GRADE_TIME_BUDGET_MS: u64 = 60_000;

/// A check's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckVerdict {
    /// Every explored execution kept the property.
    Passed,
    /// An execution broke it.
    Failed,
    /// The checker stopped at another property's failure first.
    NotReached,
    /// The checker could decide neither way (a limit, the time budget, or loom's weakened
    /// SeqCst): not a pass, so the grade cannot pass.
    Inconclusive,
    /// The checker cannot show this kind of bug (loom and a livelock through yields): its pass
    /// says nothing, so it is neither credited nor held against the student.
    NotCounted,
}

/// One checker's verdict on one property.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `loom`, `shuttle-pct`, `shuttle-random`; `source` for a changed check, `cargo` for a build.
    pub checker: String,
    /// `invariant`, a must-still-work property, or `runs-to-the-end`.
    pub property: String,
    /// The verdict.
    pub verdict: CheckVerdict,
    /// Why, in words (what the checker reported, or what it covered).
    pub reason: String,
}

/// The grade of one assignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grade {
    /// Scenario id.
    pub scenario: String,
    /// Whether every check passed.
    pub passed: bool,
    /// Passed checks out of all, as a percentage (0–100).
    pub score: u32,
    /// One entry per checker and property.
    pub checks: Vec<Check>,
}

impl Grade {
    pub(super) fn new(scenario: &str, checks: Vec<Check>) -> Grade {
        let ok = checks.iter().filter(|c| c.verdict == CheckVerdict::Passed).count();
        let counted = checks.iter().filter(|c| c.verdict != CheckVerdict::NotCounted).count();
        let score = (100 * ok).checked_div(counted).unwrap_or(0) as u32;
        Grade { scenario: scenario.to_string(), passed: ok == counted && ok > 0, score, checks }
    }

    /// The grade as a table.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{}  {} — score {}/100\n",
            if self.passed { "PASSED" } else { "NOT PASSED" },
            self.scenario,
            self.score
        );
        let w = self.checks.iter().map(|c| c.property.len()).max().unwrap_or(0);
        for c in &self.checks {
            let v = match c.verdict {
                CheckVerdict::Passed => "passed",
                CheckVerdict::Failed => "FAILED",
                CheckVerdict::NotReached => "not reached",
                CheckVerdict::Inconclusive => "INCONCLUSIVE",
                CheckVerdict::NotCounted => "not counted",
            };
            out.push_str(&format!("  {:<14} {:<w$}  {:<11}  {}\n", c.checker, c.property, v, c.reason));
        }
        out
    }
}

/// A student's code as a scenario: the catalog's metadata for `id`, and the model `run` (one
/// compilation for every engine). Called by generated harnesses.
pub fn student_scenario(id: &str, run: fn(), source: &'static str) -> Scenario {
    let s = catalog::find(id).unwrap_or_else(|| panic!("this conclab has no scenario `{id}`"));
    let variants = vec![Variant { name: STUDENT, fixed: true, summary: "the code in src/lib.rs", run }];
    let entry = Box::leak(Box::new(Entry { variants: Box::leak(variants.into_boxed_slice()), ..*s.entry }));
    Scenario { entry, source_text: source }
}

fn options(checker: Checker, exe: &Path, time_budget_ms: u64) -> Options {
    let iterations = (checker == Checker::Loom).then_some(LOOM_BUDGET);
    Options { iterations, time_budget_ms, ..Options::new(checker, exe) }
}

/// Grades `s` (a [`student_scenario`]): each of [`GRADED_BY`] on every property, and the
/// checks of the handed-out file compared with the student's. `exe` must run
/// [`runner::worker_main_with`] for `s` when started as `exe __worker`. Each checker's run has
/// `time_budget_ms` (see [`Options::time_budget_ms`]): one that runs out is stopped, its checks
/// are not passed ("timeout"), and grading goes on with the next checker. Returns the grade and
/// the failing reports (for their traces).
pub fn grade(s: &Scenario, exe: &Path, time_budget_ms: u64) -> Result<(Grade, Vec<Report>)> {
    let e = s.entry;
    let properties: Vec<&str> =
        std::iter::once("invariant").chain(e.must_still_work.iter().map(|p| p.name)).chain([RUNS_TO_THE_END]).collect();
    let mut checks = vec![];
    let mut failing = vec![];
    for checker in GRADED_BY {
        let r = runner::check_scenario(s, STUDENT, &options(checker, exe, time_budget_ms))?;
        if r.inconclusive == Some(Undecided::Timeout) {
            let budget = runner::seconds(std::time::Duration::from_millis(time_budget_ms));
            let reason = format!("timeout after {budget} ({} executions)", r.executions);
            for &p in &properties {
                let (checker, property) = (checker.name().into(), p.into());
                checks.push(Check { checker, property, verdict: CheckVerdict::Failed, reason: reason.clone() });
            }
            continue;
        }
        let failed = r.found_bug().then(|| {
            let named = r.message.as_deref().and_then(failed_property).filter(|p| properties.contains(p));
            named.unwrap_or(if r.kind == Some(e.expected) { "invariant" } else { RUNS_TO_THE_END }).to_string()
        });
        // A pass from a checker blind to the assignment's kind of bug says nothing about it.
        let blind = r.not_covered.iter().find(|b| b.hides() == Some(e.expected));
        for &p in &properties {
            let (verdict, reason) = match &failed {
                _ if r.is_inconclusive() => (
                    CheckVerdict::Inconclusive,
                    match (r.inconclusive, &r.message) {
                        (Some(why), Some(m)) => format!("{}: {m}", why.words()),
                        (Some(why), None) => why.words().to_string(),
                        (None, _) => "inconclusive".to_string(),
                    },
                ),
                None if p == "invariant" && blind.is_some() => (
                    CheckVerdict::NotCounted,
                    format!("{} cannot show {}", checker.name(), blind.map_or("", |b| b.words())),
                ),
                None => (
                    CheckVerdict::Passed,
                    match r.coverage {
                        Coverage::Sampled { .. } => r.coverage.to_string(),
                        _ => format!("{} execution(s), {}", r.executions, r.coverage),
                    },
                ),
                Some(f) if f == p => {
                    let (kind, message) = (r.kind.map(|k| k.to_string()).unwrap_or_default(), r.message.as_deref());
                    let message = message.unwrap_or("");
                    // The facade's liveness and deadlock messages already start with their kind.
                    let reason = if message.starts_with(&format!("{kind}: ")) {
                        message.to_string()
                    } else {
                        format!("{kind}: {message}")
                    };
                    (CheckVerdict::Failed, reason)
                }
                Some(f) => (CheckVerdict::NotReached, format!("the search stopped at `{f}` first")),
            };
            checks.push(Check { checker: checker.name().into(), property: p.into(), verdict, reason });
        }
        if r.found_bug() {
            failing.push(r);
        }
    }
    let handed_out = source::student_file(catalog::find(e.id).map_or("", |c| c.source_text), false);
    checks.extend(changed_checks(&handed_out, s.source_text));
    Ok((Grade::new(e.id, checks), failing))
}

/// The checks of the `handed_out` file (see `source::checks`) that `theirs` no longer holds as
/// often, whitespace aside: one failed `source` check each.
pub fn changed_checks(handed_out: &str, theirs: &str) -> Vec<Check> {
    let theirs = source::squeeze(theirs);
    let checks = source::checks(handed_out);
    let mut out: Vec<Check> = vec![];
    for (i, (property, call)) in checks.iter().enumerate() {
        let squeezed = source::squeeze(call);
        let wanted = checks.iter().filter(|(_, c)| source::squeeze(c) == squeezed).count();
        let first = checks.iter().position(|(_, c)| source::squeeze(c) == squeezed) == Some(i);
        if first && theirs.matches(&squeezed).count() < wanted {
            out.push(Check {
                checker: "source".into(),
                property: property.clone(),
                verdict: CheckVerdict::Failed,
                reason: format!(
                    "the check `{} …` was changed or removed; the grader trusts only the checks as handed out",
                    call.lines().next().unwrap_or("").trim()
                ),
            });
        }
    }
    out
}

/// `main` of an assignment's test binary: `cargo test` grades the code and shows the trace of
/// a failure; `-- --json` prints the grade as JSON; `-- --replay TOKEN` replays a failure;
/// `__worker` runs one check for the parent (loom may abort it); `-- --timeout SECS` sets each
/// checker's time budget (default 60 s). Exit code 0 passed, 1 not,
/// 2 error.
///
/// `built_for` is the crate's directory at build time: cargo runs this binary with that crate's
/// `CARGO_MANIFEST_DIR`, and a copy of the crate under the same package name would otherwise
/// silently run the original's build (they share the target directory).
pub fn checks_main(s: Scenario, built_for: &str) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = (|| -> Result<bool> {
        if let Ok(now) = std::env::var("CARGO_MANIFEST_DIR") {
            if now != built_for {
                bail!(
                    "these checks were built for {built_for}, not for {now}: a copied assignment shares the \
                     target directory under the same package name; give it a name of its own in Cargo.toml"
                );
            }
        }
        if args.first().is_some_and(|a| a == "__worker") {
            runner::worker_main_with(|id| (id == s.id()).then_some(s))?;
            return Ok(true);
        }
        let exe = std::env::current_exe()?;
        let budget = match args.iter().position(|a| a == "--timeout") {
            Some(i) => {
                let secs = args.get(i + 1).context("--timeout needs a number of seconds")?;
                runner::parse_time_budget(secs).map_err(|e| anyhow::anyhow!("--timeout: {e}"))?
            }
            None => GRADE_TIME_BUDGET_MS,
        };
        let mut out = std::io::stdout();
        if let Some(i) = args.iter().position(|a| a == "--replay") {
            let token = args.get(i + 1).context("--replay needs the token a failing check printed")?;
            let r = runner::replay_scenario(&s, STUDENT, token, &options(Checker::Loom, &exe, budget))?;
            write!(out, "{}", student_render(&r))?;
            return Ok(!r.found_bug() && !r.is_inconclusive());
        }
        let (grade, failing) = grade(&s, &exe, budget)?;
        if args.iter().any(|a| a == "--json") {
            writeln!(out, "{}", serde_json::to_string_pretty(&grade)?)?;
        } else {
            write!(out, "{}", grade.render())?;
            if let Some(r) = failing.first() {
                writeln!(out, "\nThe first failure, step by step:\n")?;
                write!(out, "{}", student_render(r))?;
            }
        }
        Ok(grade.passed)
    })();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("checks: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A report with the replay line a student can use (`cargo test -- --replay …`).
fn student_render(r: &Report) -> String {
    let mut r = r.clone();
    let token = r.replay.take();
    let mut out = r.render();
    if let Some(t) = token {
        out.push_str(&format!("\nreplay: cargo test -- --replay {t}\n"));
    }
    out
}

/// The scenario an assignment directory was written for (`[package.metadata.conclab]`).
pub fn assignment_id(dir: &Path) -> Result<String> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).ok();
    let mut in_table = false;
    for line in text.as_deref().unwrap_or("").lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[package.metadata.conclab]";
        } else if let (true, Some(v)) = (in_table, line.strip_prefix("scenario")) {
            if let Some(id) = v.trim_start().strip_prefix('=').map(|v| v.trim().trim_matches('"')) {
                return Ok(id.to_string());
            }
        }
    }
    bail!(
        "{} is not an assignment directory: it has no Cargo.toml with [package.metadata.conclab] \
         (write one with `conclab assign <id> <dir>`)",
        dir.display()
    )
}

/// Writes `text` to `path` unless it already holds it (an unchanged file keeps its timestamp,
/// so cargo does not rebuild).
fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    super::write(path, text)
}

/// `conclab grade <dir>`: builds the student's `src/lib.rs` with fresh glue in a crate under
/// `target_dir/grading/`, runs its checks, and returns whether it passed and what to print (the
/// grade as JSON with `json`, else the table and the first failure's trace). Each check has
/// `time_budget_ms`.
pub fn grade_dir(dir: &Path, json: bool, target_dir: &Path, time_budget_ms: u64) -> Result<(bool, String)> {
    let id = assignment_id(dir)?;
    let s = catalog::lookup(&id, "buggy")?;
    let lib = std::fs::read_to_string(dir.join("src/lib.rs"))
        .with_context(|| format!("{} has no src/lib.rs to grade", dir.display()))?;
    let name = super::package_name(&format!("grade-{id}"), dir)?;
    let scratch = target_dir.join("grading").join(&name);
    for (path, text) in super::glue_files(s, &name, &super::conclab_dir(), target_dir, false) {
        write_if_changed(&scratch.join(path), &text)?;
    }
    write_if_changed(&scratch.join("src/lib.rs"), &lib)?;
    let exe = match build(&scratch, target_dir)? {
        Ok(exe) => exe,
        Err(errors) => {
            let reason = format!("src/lib.rs does not compile:\n{errors}");
            let check =
                Check { checker: "cargo".into(), property: "compiles".into(), verdict: CheckVerdict::Failed, reason };
            let grade = Grade::new(&id, vec![check]);
            let text = if json { serde_json::to_string_pretty(&grade)? + "\n" } else { grade.render() };
            return Ok((false, text));
        }
    };
    let mut cmd = Command::new(&exe);
    cmd.env_remove("CARGO_MANIFEST_DIR"); // not a `cargo test` run: no copied-crate check
    if json {
        cmd.arg("--json");
    }
    cmd.arg("--timeout").arg((time_budget_ms as f64 / 1000.0).to_string());
    let out = cmd.output().with_context(|| format!("could not run {}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    match out.status.code() {
        Some(0) | Some(1) if json => {
            let g: Grade = serde_json::from_str(&text).context("the checks printed no grade")?;
            Ok((g.passed, text))
        }
        Some(code @ (0 | 1)) => Ok((code == 0, text)),
        _ => bail!("the checks failed to run ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr)),
    }
}

/// Builds the crate's test binary; `Ok(Err(diagnostics))` when the student's code does not compile.
fn build(krate: &Path, target_dir: &Path) -> Result<std::result::Result<PathBuf, String>> {
    crate::file::cargo_build(krate, target_dir, &["test", "--no-run", "--test", "checks"], "checks")
}
