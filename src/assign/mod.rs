//! Course assignments: `conclab assign` writes a scenario as a standalone student crate,
//! `conclab grade` runs the checkers on the student's fix, `conclab hint` gives graded hints.
//!
//! A student crate holds the story and task (`README.md`), the buggy code (`src/lib.rs`, the one
//! file the student edits), and generated glue: `src/harness.rs` compiles `src/lib.rs` once per
//! engine, as `catalog.rs` compiles a scenario file, and `tests/checks.rs` is a test binary
//! without libtest (`harness = false`) that grades the code through [`grade`] — and doubles as
//! its own checker worker (`checks __worker`), so a loom abort on a deadlock ends a child
//! process, never the test. The course pack holds a copy of conclab's sources (`.conclab/`) that
//! its crates depend on by a relative path, gets conclab's `Cargo.lock` (same versions, builds
//! `--offline`) and one shared target directory in the pack: the pack builds wherever it is moved,
//! and loom, shuttle and conclab are built once for all its assignments.

mod from_file;
mod grade;
mod source;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::catalog::{self, Scenario, Unit};
use crate::runner::{self, Checker, Options};

pub use from_file::{file_checks_main, grade_file, write_file_assignment};
pub use grade::{
    changed_checks, checks_main, grade, grade_dir, student_scenario, Check, CheckVerdict, Grade, GRADED_BY,
};
pub use source::student_file;

pub use crate::file::{conclab_dir, default_target_dir, lock_file};

/// How to write an assignment.
#[derive(Clone, Debug)]
pub struct AssignOptions {
    /// Write the reference fix instead of the buggy code (for instructors).
    pub with_solution: bool,
    /// The shared target directory the crate's `.cargo/config.toml` names, as given; `None`:
    /// `target/` of the course pack, named relative to the crate so that the pack can move.
    pub target_dir: Option<PathBuf>,
    /// Real-thread runs measured for the questions (0: do not measure, leave the placeholders).
    pub stress_runs: usize,
    /// The `conclab` executable that runs the measuring checks (`conclab __worker`).
    pub exe: PathBuf,
    /// Wall-clock budget of each measuring check, in milliseconds (see
    /// [`Options::time_budget_ms`]): a check that runs out leaves its number out.
    pub time_budget_ms: u64,
}

/// The numbers `conclab check` measured on the buggy variant, for the questions.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Real-thread runs, and how many of them showed the bug.
    pub stress: Option<(usize, usize)>,
    /// The model checker that found the bug, and after how many executions.
    pub found: Option<(Checker, usize)>,
}

impl Measured {
    /// Fills a question's placeholders.
    pub fn fill(&self, question: &str) -> String {
        let mut q = question.to_string();
        if let Some((runs, failing)) = self.stress {
            q = q.replace("{stress_runs}", &thousands(runs)).replace("{stress_failing}", &thousands(failing));
        }
        if let Some((checker, n)) = self.found {
            q = q.replace("{found_by}", checker.name()).replace("{found_in}", &thousands(n));
        }
        q
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs the buggy variant under the first model checker that finds it and `stress_runs` times on
/// real threads: the numbers the questions quote. Each check has `time_budget_ms`; one that runs
/// out of it measures nothing.
pub fn measure(s: &Scenario, stress_runs: usize, exe: &Path, time_budget_ms: u64) -> Result<Measured> {
    let mut m = Measured::default();
    if stress_runs == 0 {
        return Ok(m);
    }
    let by =
        [Checker::Loom, Checker::ShuttlePct, Checker::ShuttleRandom].into_iter().find(|c| s.entry.found_by.contains(c));
    if let Some(checker) = by {
        let r = runner::check_scenario(s, "buggy", &Options { time_budget_ms, ..Options::new(checker, exe) })?;
        if r.found_bug() {
            m.found = Some((checker, r.executions));
        }
    }
    let opts = Options { iterations: Some(stress_runs), time_budget_ms, ..Options::new(Checker::Stress, exe) };
    let r = runner::check_scenario(s, "buggy", &opts)?;
    m.stress = match r.stress {
        Some(st) => Some((st.runs, st.failing_runs)),
        None if r.is_inconclusive() => None, // stopped at the time budget: nothing to quote
        None => Some((r.executions.max(1), 1)), // a run hung: the watchdog ended the check there
    };
    Ok(m)
}

/// A package name unique to the directory: crates in one shared target directory must not
/// share a name, or cargo takes one's build for the other's (it hashes a root package by name
/// and version, not by path).
fn package_name(prefix: &str, dir: &Path) -> Result<String> {
    let canonical = dir.canonicalize().with_context(|| format!("no directory {}", dir.display()))?;
    let hash = canonical
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    Ok(format!("{prefix}-{:08x}", hash as u32))
}

/// One paragraph of the scenario file's module docs (`**Story.**`, `**Learning goal.**`, …).
pub fn doc_paragraph(s: &Scenario, heading: &str) -> String {
    let mut out = vec![];
    let mut inside = false;
    for line in s.source_text.lines().take_while(|l| l.starts_with("//!")) {
        let text = line.trim_start_matches("//!").trim();
        if text.starts_with(heading) {
            inside = true;
            out.push(text.trim_start_matches(heading).trim().to_string());
        } else if inside && (text.is_empty() || text.starts_with("**")) {
            break;
        } else if inside {
            out.push(text.to_string());
        }
    }
    out.join(" ")
}

/// The scenario's title line from its file (`# The last seat on the plane`).
fn story_title(s: &Scenario) -> &'static str {
    s.source_text.lines().find_map(|l| l.strip_prefix("//! # ")).unwrap_or(s.entry.title)
}

/// The assignment's README: story, goal, task, what must still work, how it is graded, questions.
pub fn readme(s: &Scenario, measured: &Measured, with_solution: bool) -> String {
    let e = s.entry;
    let a = e.assignment;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", story_title(s));
    if with_solution {
        let _ = writeln!(out, "> **Instructor copy:** `src/lib.rs` holds the reference fix; `cargo test` passes.\n");
    }
    let _ = writeln!(out, "*Assignment `{}` — {} · {}*\n", e.id, a.unit.title(), e.source);
    let _ = writeln!(out, "## Story\n\n{}\n", doc_paragraph(s, "**Story.**"));
    let _ = writeln!(out, "## Learning goals\n\n{}\n", doc_paragraph(s, "**Learning goal.**"));
    let _ = writeln!(out, "## Your task\n\n{}\n", a.task);
    let _ = writeln!(out, "The invariant: **{}**.\n", e.invariant);
    let _ = writeln!(out, "A fix must still work — the grader refuses one that only hides the bug:\n");
    for p in e.must_still_work {
        let _ = writeln!(out, "- `{}`: {}", p.name, p.holds);
    }
    let _ = writeln!(
        out,
        "- and the program still ends: no deadlock, livelock or crash that the buggy code did not have.\n"
    );
    let _ = writeln!(out, "Edit only `src/lib.rs` (keep `pub fn run()`, which the checkers call, and leave the");
    let _ = writeln!(out, "`rt::invariant` and `rt::property` checks as they are: the grader compares them).\n");
    let _ = writeln!(out, "## Run the checkers\n");
    let _ = writeln!(out, "```sh\ncargo test                  # fails, with the interleaving, until the bug is fixed");
    let _ = writeln!(out, "cargo test -- --replay TOKEN # the same failing execution again");
    let _ = writeln!(out, "conclab grade .             # the grade: each checker, each property, a score");
    let _ = writeln!(out, "conclab hint {} 1   # up to {} hints, each giving more away\n```\n", e.id, a.hints.len());
    let checkers: Vec<&str> = GRADED_BY.iter().map(|c| c.name()).collect();
    let _ = writeln!(
        out,
        "The checkers ({}) explore the interleavings of your code: loom every one of them, shuttle\n\
         10,000 seeded schedules each. A pass is not luck, and a failure comes with its trace.\n",
        checkers.join(", ")
    );
    let _ = writeln!(out, "## Questions\n");
    for (i, q) in a.questions.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, measured.fill(q));
    }
    out
}

/// A hint, numbered from 1.
pub fn hint(id: &str, n: usize) -> Result<&'static str> {
    let s = catalog::lookup(id, "buggy")?;
    let hints = s.entry.assignment.hints;
    match n.checked_sub(1).and_then(|i| hints.get(i)) {
        Some(h) => Ok(h),
        None => bail!("`{id}` has hints 1 to {}; there is no hint {n}", hints.len()),
    }
}

/// The folder of a course pack that holds its copy of conclab's sources.
pub const VENDORED_DIR: &str = ".conclab";

/// What a course pack copies of conclab's sources: all that its library builds from. The
/// manifest is copied without its test and bench targets ([`library_manifest`]).
pub const VENDORED: [&str; 4] = ["Cargo.toml", "Cargo.lock", "src", "scenarios"];

/// conclab's manifest as a course pack needs it: without the `[[test]]`, `[[bench]]` and
/// `[[example]]` targets, whose files the pack does not carry (and a dependency never builds).
pub fn library_manifest(manifest: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in manifest.lines() {
        let header = line.trim_start();
        if header.starts_with('[') {
            skipping = ["[[test]]", "[[bench]]", "[[example]]"].iter().any(|t| header.starts_with(t));
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Copies conclab's sources ([`VENDORED`], from [`conclab_dir`]) into `into`.
fn vendor(into: &Path) -> Result<()> {
    let from = conclab_dir();
    if !from.join("Cargo.toml").is_file() {
        bail!(
            "conclab's sources are not at {} any more (a course pack carries a copy of them): run `conclab \
             assign` from a build of a conclab checkout",
            from.display()
        );
    }
    for part in VENDORED {
        copy_tree(&from.join(part), &into.join(part))?;
    }
    let manifest = into.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("could not read {}", manifest.display()))?;
    std::fs::write(&manifest, library_manifest(&text))
        .with_context(|| format!("could not write {}", manifest.display()))
}

/// Copies a file, or a folder with everything in it.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
        for entry in std::fs::read_dir(from).with_context(|| format!("could not read {}", from.display()))? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("could not create {}", parent.display()))?;
    }
    std::fs::copy(from, to).with_context(|| format!("could not copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// The generated files (everything but `src/lib.rs` and `README.md`): path and text. `conclab`
/// and `target_dir` are written as given: relative to the crate (a course pack's copy of conclab
/// and its shared target directory) or absolute.
fn glue_files(
    s: &Scenario,
    name: &str,
    conclab: &Path,
    target_dir: &Path,
    solution: bool,
) -> [(&'static str, String); 6] {
    let lib = name.replace('-', "_");
    // A copy of conclab inside the crate's folder must not join the crate's workspace.
    let exclude = match conclab.is_relative() && !conclab.starts_with("..") {
        true => format!("exclude = ['{}']\n", conclab.display()),
        false => String::new(),
    };
    let files = [
        (
            "Cargo.toml",
            format!(
                "# Written by `conclab assign {id}`. Only src/lib.rs is yours to edit.\n\
                 [package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
                 # src/harness.rs compiles your src/lib.rs once per checker (real threads, loom, shuttle).\n\
                 [lib]\npath = \"src/harness.rs\"\ntest = false\ndoctest = false\n\n\
                 # `cargo test` runs the checkers on your code.\n\
                 [[test]]\nname = \"checks\"\npath = \"tests/checks.rs\"\nharness = false\n\n\
                 [dependencies]\n# conclab's sources: the course pack's copy, or another checkout (once conclab is\n\
                 # published, this line can become: conclab = \"{version}\").\n\
                 conclab = {{ path = '{dep}' }}\n\n\
                 [package.metadata.conclab]\nscenario = \"{id}\"\nsolution = {solution}\n\n\
                 # A crate of its own, not a member of an enclosing workspace.\n[workspace]\n{exclude}\n\
                 # Model checkers run millions of tiny steps: optimise, as conclab does.\n\
                 [profile.dev]\nopt-level = 1\ndebug = 0\n\n[profile.dev.package.\"*\"]\nopt-level = 3\ndebug = 0\n",
                id = s.id(),
                version = env!("CARGO_PKG_VERSION"),
                dep = conclab.display(),
            ),
        ),
        ("Cargo.lock", lock_file().to_string()),
        (
            ".cargo/config.toml",
            format!(
                "# The assignments of a course pack share one target directory (a relative path is the\n\
                 # crate folder's): loom, shuttle and conclab are built once.\n\
                 [build]\ntarget-dir = '{}'\n",
                target_dir.display()
            ),
        ),
        (".gitignore", "/target\n".to_string()),
        (
            "src/harness.rs",
            format!(
                "//! Written by `conclab assign`: do not edit. Compiles your `src/lib.rs` as conclab's catalog\n\
                 //! compiles a scenario file (`rt` is `conclab::lab`) and hands it to conclab's checkers: one\n\
                 //! compilation, run under real threads, loom and shuttle.\n\n\
                 #[allow(clippy::duplicate_mod)]\n#[path = \".\"]\nmod compiled {{\n    use conclab::lab as rt;\n    \
                 #[allow(dead_code, unused_imports)]\n    #[path = \"lib.rs\"]\n    pub mod student;\n}}\n\n\
                 /// Your code as a conclab scenario: the catalog's metadata for `{id}`, your model.\n\
                 pub fn scenario() -> conclab::catalog::Scenario {{\n    \
                 conclab::assign::student_scenario(\"{id}\", compiled::student::run, include_str!(\"lib.rs\"))\n}}\n",
                id = s.id()
            ),
        ),
        (
            "tests/checks.rs",
            format!(
                "//! Written by `conclab assign`: do not edit. `cargo test` runs conclab's checkers on your\n\
                 //! `src/lib.rs`; it fails, showing the interleaving, until the bug is fixed and the fix still\n\
                 //! does its work. This binary is also its own checker worker (a loom abort ends a child).\n\n\
                 fn main() -> std::process::ExitCode {{\n    conclab::assign::checks_main({lib}::scenario(), env!(\"CARGO_MANIFEST_DIR\"))\n}}\n"
            ),
        ),
    ];
    files
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("could not create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

/// Refuses a directory that holds any of `files` (relative paths): writing there would replace
/// them. Called before anything is written or measured.
fn refuse_to_overwrite(dir: &Path, files: &[&str]) -> Result<()> {
    let found: Vec<&str> = files.iter().copied().filter(|f| dir.join(f).symlink_metadata().is_ok()).collect();
    if found.contains(&"Cargo.toml") {
        bail!("{} already holds a crate; choose an empty or new directory (nothing was written)", dir.display());
    }
    if !found.is_empty() {
        bail!(
            "{} already holds {}, which the assignment would replace; choose an empty or new directory \
             (nothing was written)",
            dir.display(),
            found.join(" and ")
        );
    }
    Ok(())
}

/// What an assignment crate's folder must not hold yet.
const CRATE_FILES: [&str; 3] = ["Cargo.toml", "README.md", "src/lib.rs"];

/// Writes scenario `id` as an assignment crate in `dir` (created; it must not hold a crate yet):
/// a course pack of one, with its copy of conclab in `dir/.conclab` and its target directory in
/// `dir/target` (unless `o.target_dir` names one).
pub fn write_assignment(id: &str, dir: &Path, o: &AssignOptions) -> Result<()> {
    let s = catalog::lookup(id, "buggy")?;
    refuse_to_overwrite(dir, &[&CRATE_FILES[..], &[VENDORED_DIR]].concat())?;
    let measured = measure(s, o.stress_runs, &o.exe, o.time_budget_ms)?;
    vendor(&dir.join(VENDORED_DIR))?;
    write_crate(s, dir, o, &measured, Path::new(VENDORED_DIR), Path::new("target"))
}

/// Writes the crate of scenario `s` in `dir`, depending on conclab at `conclab` and building in
/// `target_dir` (unless `o.target_dir` names one), both as seen from `dir`.
fn write_crate(
    s: &Scenario,
    dir: &Path,
    o: &AssignOptions,
    measured: &Measured,
    conclab: &Path,
    target_dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let name = package_name(s.id(), dir)?;
    let target_dir = o.target_dir.as_deref().unwrap_or(target_dir);
    for (path, text) in glue_files(s, &name, conclab, target_dir, o.with_solution) {
        write(&dir.join(path), &text)?;
    }
    write(&dir.join("src/lib.rs"), &student_file(s.source_text, o.with_solution))?;
    write(&dir.join("README.md"), &readme(s, measured, o.with_solution))?;
    Ok(())
}

/// The catalog in course order: by unit (races → deadlocks → liveness → signals → the server),
/// then in catalog order.
pub fn course() -> Vec<&'static Scenario> {
    let mut all: Vec<&Scenario> = catalog::all().iter().collect();
    all.sort_by_key(|s| s.entry.assignment.unit); // stable: catalog order within a unit
    all
}

/// The folder of the `n`-th assignment (from 0) of the course: `01-airplane-seat`.
fn course_folder(n: usize, s: &Scenario) -> String {
    format!("{:02}-{}", n + 1, s.id())
}

/// Writes every scenario as an assignment under `dir` (`01-airplane-seat/`, …) with an index
/// `README.md` in course order, one copy of conclab's sources (`dir/.conclab`) and one target
/// directory (`dir/target`) for all; returns the assignment directories.
pub fn write_course(dir: &Path, o: &AssignOptions) -> Result<Vec<PathBuf>> {
    let mut index = String::from("# Concurrency bugs: the course\n\n");
    index.push_str(
        "Each folder is one assignment: a story, buggy code in `src/lib.rs`, and checkers that grade\n\
         the fix (`cargo test` in the folder; `conclab grade <folder>`). Work through them in order.\n",
    );
    // Refuse before writing or measuring anything, as a single assignment does.
    refuse_to_overwrite(dir, &["Cargo.toml", "README.md", VENDORED_DIR])?;
    for (n, s) in course().into_iter().enumerate() {
        refuse_to_overwrite(&dir.join(course_folder(n, s)), &CRATE_FILES)?;
    }
    vendor(&dir.join(VENDORED_DIR))?;
    let mut dirs = vec![];
    let mut unit: Option<Unit> = None;
    for (n, s) in course().into_iter().enumerate() {
        let a = s.entry.assignment;
        if unit != Some(a.unit) {
            let _ = writeln!(index, "\n## {}\n", a.unit.title());
            unit = Some(a.unit);
        }
        let folder = course_folder(n, s);
        let measured = measure(s, o.stress_runs, &o.exe, o.time_budget_ms)?;
        let (conclab, target) = (Path::new("..").join(VENDORED_DIR), Path::new("../target"));
        write_crate(s, &dir.join(&folder), o, &measured, &conclab, target)?;
        let goal = doc_paragraph(s, "**Learning goal.**");
        let first = goal.find(". ").map_or(goal.as_str(), |i| &goal[..=i]);
        let _ = writeln!(index, "{}. [{}]({folder}/README.md) — {first}", n + 1, story_title(s));
        dirs.push(dir.join(folder));
    }
    write(&dir.join("README.md"), &index)?;
    if !dir.join(".gitignore").exists() {
        write(&dir.join(".gitignore"), "/target\n")?;
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    /// The pack's copy of conclab's manifest names no file the pack does not carry: a `[[test]]`
    /// target added to conclab (`tests/budget.rs`) once broke every course pack.
    #[test]
    fn the_vendored_manifest_keeps_the_library_and_drops_test_and_bench_targets() {
        let ours = std::fs::read_to_string(super::conclab_dir().join("Cargo.toml")).unwrap();
        assert!(ours.contains("[[test]]") || ours.contains("[[bench]]"), "nothing to drop: is the test still needed?");
        let theirs = super::library_manifest(&ours);
        for gone in ["[[test]]", "[[bench]]", "harness = false"] {
            assert!(!theirs.contains(gone), "{gone} kept:\n{theirs}");
        }
        for kept in ["[package]", "[dependencies]", "loom = ", "shuttle = ", "[profile.dev]"] {
            assert!(theirs.contains(kept), "{kept} dropped:\n{theirs}");
        }
    }
}
