//! `conclab assign FILE.rs DIR`: an instructor's own std file as an assignment. The story is the
//! file's `//!` docs; every top-level `pub fn` whose name starts with `fixed` is the key (left
//! out of the student's copy); the student fixes `buggy` in `src/lib.rs`, and `cargo test` grades
//! it: loom, shuttle PCT and shuttle random must each pass it, and the file's asserts must stay
//! as handed out.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};

use super::grade::{Check, CheckVerdict, Grade, GRADED_BY};
use super::{lock_file, refuse_to_overwrite, vendor, write, AssignOptions, VENDORED_DIR};
use crate::runner::{self, Options};

/// The variant a student fixes.
const BUGGY: &str = "buggy";

/// Writes `file` as an assignment crate in `dir` (created; it must not hold a crate yet).
pub fn write_file_assignment(file: &Path, dir: &Path, o: &AssignOptions) -> Result<()> {
    // It must be checkable as it is (a regular file of at most 1 MiB that compiles and has its
    // variants): `prepare` says why not before anything else reads it.
    let prepared = crate::file::prepare(file)?;
    let text = prepared.scenario.source_text;
    if prepared.scenario.variant(BUGGY).is_none() {
        bail!("{} has no `pub fn buggy()`: that is the function a student fixes", file.display());
    }
    refuse_to_overwrite(dir, &["Cargo.toml", "README.md", "src/lib.rs", VENDORED_DIR])?;
    vendor(&dir.join(VENDORED_DIR))?;
    let id = prepared.scenario.id();
    let handed_out = without_key(text);
    let target = o.target_dir.as_deref().unwrap_or(Path::new("target"));
    let files = [
        (
            "Cargo.toml",
            format!(
                "[package]\nname = \"assignment-{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\nconclab = {{ path = '{VENDORED_DIR}' }}\n\n\
                 # `cargo test` grades src/lib.rs (the binary is its own checker worker).\n\
                 [[test]]\nname = \"checks\"\nharness = false\n\n[workspace]\n\n\
                 [profile.dev]\nopt-level = 1\ndebug = 0\n\n[profile.dev.package.\"*\"]\nopt-level = 3\ndebug = 0\n",
                name = id.to_lowercase().replace('_', "-")
            ),
        ),
        ("Cargo.lock", lock_file().to_string()),
        (".cargo/config.toml", format!("[build]\ntarget-dir = '{}'\n", target.display())),
        (".gitignore", "/target\n".to_string()),
        ("README.md", readme(id, text)),
        ("src/lib.rs", handed_out.clone()),
        ("tests/handed_out.rs.txt", handed_out),
        (
            "tests/checks.rs",
            "//! Written by `conclab assign`: do not edit. `cargo test` grades `src/lib.rs` with conclab's\n\
             //! checkers and prints the trace of a failure.\n\n\
             fn main() -> std::process::ExitCode {\n    conclab::assign::file_checks_main(\n        \
             concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/src/lib.rs\"),\n        include_str!(\"handed_out.rs.txt\"),\n    )\n}\n"
                .to_string(),
        ),
    ];
    for (path, content) in files {
        write(&dir.join(path), &content)?;
    }
    Ok(())
}

/// `main` of a file assignment's `tests/checks.rs`: grades `lib` (the student's file) against
/// `handed_out`. Exit code 0 passed, 1 not, 2 the checks could not run.
pub fn file_checks_main(lib: &str, handed_out: &str) -> ExitCode {
    match grade_file(Path::new(lib), handed_out) {
        Ok((grade, failure)) => {
            print!("{}", grade.render());
            if let Some(text) = failure {
                println!("\nThe first failure, step by step:\n\n{text}");
            }
            if grade.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("checks: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Grades the student's file: every handed-out assert still there, then each of [`GRADED_BY`]
/// on `buggy`. Returns the grade and the first failure's report, rendered.
pub fn grade_file(lib: &Path, handed_out: &str) -> Result<(Grade, Option<String>)> {
    // `prepare` reads the file within its bound (a regular file, at most 1 MiB) and builds it.
    let prepared = match crate::file::prepare(lib) {
        Ok(p) => p,
        Err(e) => {
            let reason = format!("{e:#}");
            let check =
                Check { checker: "cargo".into(), property: "compiles".into(), verdict: CheckVerdict::Failed, reason };
            return Ok((Grade::new(&id_of(lib), vec![check]), None));
        }
    };
    let mut checks = changed_asserts(handed_out, prepared.scenario.source_text);
    let mut failure = None;
    for checker in GRADED_BY {
        let o = Options { checker, ..Options::new(checker, &prepared.exe) };
        let id = prepared.scenario.id();
        let r = crate::file::shown_as(runner::check_scenario(&prepared.scenario, BUGGY, &o)?, id, "src/lib.rs");
        let verdict = if r.verdict == crate::report::Verdict::Passed {
            CheckVerdict::Passed
        } else if r.is_inconclusive() {
            CheckVerdict::Inconclusive
        } else {
            CheckVerdict::Failed
        };
        let first_line = |m: &str| m.lines().next().unwrap_or("").to_string();
        let reason = match (&r.kind, r.inconclusive, &r.message) {
            (Some(kind), _, Some(m)) => format!("{kind}: {}", first_line(m)),
            (_, Some(why), Some(m)) => format!("{}: {}", why.words(), first_line(m)),
            (_, Some(why), None) => why.words().to_string(),
            _ => r.coverage.to_string(),
        };
        if verdict != CheckVerdict::Passed && failure.is_none() {
            failure = Some(r.render());
        }
        checks.push(Check { checker: checker.name().into(), property: "asserts".into(), verdict, reason });
    }
    Ok((Grade::new(prepared.scenario.id(), checks), failure))
}

fn id_of(lib: &Path) -> String {
    lib.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The student's copy: `text` without the key (each top-level `pub fn fixed…` and the doc
/// comments and attributes right above it).
pub fn without_key(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut keep = vec![true; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("pub fn fixed") {
            let mut start = i;
            while start > 0 && (lines[start - 1].starts_with("///") || lines[start - 1].starts_with("#[")) {
                start -= 1;
            }
            // To the closing brace at the start of a line (rustfmt's style), or the line itself
            // for a one-line function.
            let mut end = i;
            if !lines[i].trim_end().ends_with('}') {
                while end + 1 < lines.len() && !lines[end].starts_with('}') {
                    end += 1;
                }
            }
            keep[start..=end].iter_mut().for_each(|k| *k = false);
            // The blank line after it, so the file keeps its spacing.
            if end + 1 < lines.len() && lines[end + 1].trim().is_empty() {
                keep[end + 1] = false;
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    let mut out: String = lines.iter().zip(keep).filter(|(_, k)| *k).map(|(l, _)| format!("{l}\n")).collect();
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

/// The asserts of `handed_out` (`assert!`, `assert_eq!`, `assert_ne!`) that `theirs` changed or
/// removed: the grader trusts only the checks as handed out.
fn changed_asserts(handed_out: &str, theirs: &str) -> Vec<Check> {
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    let theirs = squeeze(theirs);
    let asserts: Vec<String> = handed_out
        .lines()
        .map(str::trim)
        .filter(|l| ["assert!(", "assert_eq!(", "assert_ne!("].iter().any(|a| l.starts_with(a)))
        .map(str::to_string)
        .collect();
    asserts
        .iter()
        .filter(|a| theirs.matches(&squeeze(a)).count() < asserts.iter().filter(|b| squeeze(b) == squeeze(a)).count())
        .map(|a| Check {
            checker: "source".into(),
            property: "asserts".into(),
            verdict: CheckVerdict::Failed,
            reason: format!("the check `{a}` was changed or removed; the grader trusts only the checks as handed out"),
        })
        .collect()
}

/// The README: the file's story (its `//!` docs) and the task.
fn readme(id: &str, text: &str) -> String {
    let docs: Vec<&str> =
        text.lines().take_while(|l| l.starts_with("//!")).map(|l| l.trim_start_matches("//!").trim_start()).collect();
    let title = docs.iter().find_map(|l| l.strip_prefix("# ")).map_or_else(|| id.to_string(), str::to_string);
    let story: Vec<&str> = docs.iter().copied().filter(|l| !l.starts_with("# ")).collect();
    format!(
        "# {title}\n\n{}\n\n## Your task\n\n`src/lib.rs` holds `buggy`: fix it, in that file, so that `cargo test` passes. \
         The checkers — loom (exhaustive, weak memory), shuttle PCT and shuttle random — must each pass it, \
         and the file's `assert!`s must stay as they are handed out. A failing check prints the \
         interleaving that breaks your code, step by step.\n",
        story.join("\n").trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_left_out_with_its_docs_and_nothing_else() {
        let text = "//! Story.\nuse std::sync::Mutex;\n\npub fn buggy() {\n    a();\n}\n\n/// The fix.\n#[inline]\npub fn fixed() {\n    b();\n}\n\npub fn fixed_too() { c(); }\n\nfn helper() {}\n";
        assert_eq!(
            without_key(text),
            "//! Story.\nuse std::sync::Mutex;\n\npub fn buggy() {\n    a();\n}\n\nfn helper() {}\n"
        );
    }

    #[test]
    fn a_changed_or_removed_assert_is_refused() {
        let handed = "fn f() {\n    assert_eq!(n, 2, \"lost\");\n    assert!(ok);\n}\n";
        assert!(changed_asserts(handed, "fn f() {\n  assert_eq!(n,  2, \"lost\");\n    assert!(ok);\n}\n").is_empty());
        let refused = changed_asserts(handed, "fn f() {\n    assert_eq!(n, n, \"lost\");\n    assert!(ok);\n}\n");
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].reason.contains("assert_eq!(n, 2, \"lost\");"));
    }
}
