//! `conclab check FILE.rs`: a Rust file written against `std::sync`/`std::thread`/`std::hint` (or
//! conclab's facade) checked as a catalog scenario is. Each argument-less `pub fn` is a variant.
//! The file is compiled against conclab in a cached scratch crate (as `grade` builds a student's:
//! conclab's lock file, offline, one shared target directory), with std's concurrency paths
//! mapped to the facade; the built binary is the checks' worker.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

use crate::catalog::{self, Scenario};
use crate::report::Report;

/// The lock file every assignment gets: the versions conclab itself was built and tested with.
const LOCK_FILE: &str = include_str!("../Cargo.lock");

/// conclab's own lock file: the versions a crate built around a user's file gets.
pub fn lock_file() -> &'static str {
    LOCK_FILE
}

/// Where conclab's own sources are: what a course pack copies (see `assign::VENDORED`), and the
/// dependency of the crates `conclab grade` builds.
pub fn conclab_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory `conclab grade` builds in (and the tests build assignments in):
/// `$CONCLAB_TARGET_DIR`, or `target/assignments` of this checkout.
pub fn default_target_dir() -> PathBuf {
    std::env::var_os("CONCLAB_TARGET_DIR").map_or_else(|| conclab_dir().join("target/assignments"), PathBuf::from)
}

/// The largest file `check FILE.rs` reads: a model, not a program.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Where a file's model sits in its scratch crate, as a trace names it: a report shows it under
/// the file's own path instead ([`crate::report::Report::relocate`]).
pub fn model_path(id: &str) -> String {
    format!("src/model/{id}.rs")
}

/// A report on a file's model, shown as the user knows the file: under `path` (the path they
/// gave, or `src/lib.rs` in an assignment), in every location and in [`Report::file`].
pub fn shown_as(mut report: Report, id: &str, path: &str) -> Report {
    report.relocate(&model_path(id), path);
    report.file = Some(path.to_string());
    report
}

/// Whether a `check`/`replay`/`explain` argument names a file rather than a catalog id.
pub fn is_file(arg: &str) -> bool {
    arg.ends_with(".rs")
}

/// A file made ready to check: its scenario (metadata, its text, bodies that run in the worker
/// only) and the worker executable built from it.
#[derive(Debug)]
pub struct Prepared {
    /// The file as a scenario: id from the file name, a variant per argument-less `pub fn`.
    pub scenario: Scenario,
    /// The worker: checks run in its child processes (`exe __worker`).
    pub exe: PathBuf,
}

/// Reads, compiles and prepares `path`. A file that is missing, too large, has no argument-less
/// `pub fn`, or does not compile is an error that says so (with the compiler's diagnostics).
pub fn prepare(path: &Path) -> Result<Prepared> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    if meta.len() > MAX_FILE_BYTES {
        bail!("{} is {} bytes; a model file may have at most {MAX_FILE_BYTES}", path.display(), meta.len());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let variants = variants(&text);
    if variants.is_empty() {
        bail!(
            "{} has no variant to check: write each as an argument-less `pub fn` at the top level \
             (`pub fn buggy() {{ … }}`)",
            path.display()
        );
    }
    if let Some((line, group)) = unmapped_group(&text) {
        bail!(
            "{}:{line}: `{group}` names std's concurrency modules in a grouped import, which conclab does not \
             map; write one `use std::sync::…;` (`std::thread`, `std::hint`) per module",
            path.display()
        );
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let id: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let exe = build(path, &id, &text, &variants)?;
    let id: &'static str = Box::leak(id.into_boxed_str());
    let variants: Vec<&'static str> = variants.into_iter().map(|v| &*Box::leak(v.into_boxed_str())).collect();
    let source: &'static str = Box::leak(text.into_boxed_str());
    let bodies: Vec<(&'static str, fn())> = variants.iter().map(|&v| (v, in_worker_only as fn())).collect();
    Ok(Prepared { scenario: catalog::of_bodies(id, &bodies, source), exe })
}

/// The variant a `--variant` names, or the file's only one when the default (`buggy`) is absent.
pub fn variant<'a>(p: &'a Prepared, asked: &'a str) -> Result<&'a str> {
    let names = p.scenario.variant_names();
    if names.contains(&asked) {
        return Ok(asked);
    }
    if asked == "buggy" && names.len() == 1 {
        return Ok(names[0]);
    }
    bail!("{} has no variant `{asked}`; its variants (argument-less `pub fn`s): {}", p.scenario.id(), names.join(", "))
}

fn in_worker_only() {
    panic!("a file's model runs in its worker process only");
}

/// `main` of a file's worker binary (written by [`prepare`]): `__worker` runs one job.
pub fn worker_main(id: &'static str, bodies: &[(&'static str, fn())], source: &'static str) -> ExitCode {
    if std::env::args().nth(1).as_deref() != Some("__worker") {
        eprintln!("this binary is conclab's worker for {id}.rs; run `conclab check {id}.rs`");
        return ExitCode::from(2);
    }
    let s = catalog::of_bodies(id, bodies, source);
    match crate::runner::worker_main_with(|asked| (asked == id).then_some(s)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conclab worker: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The names of the argument-less `pub fn`s at the top level of `text` (a line that starts
/// with `pub fn name()`).
pub fn variants(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("pub fn "))
        .filter_map(|rest| {
            let (name, after) = rest.split_once('(')?;
            let name = name.trim();
            let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (ok && after.trim_start().starts_with(')')).then(|| name.to_string())
        })
        .collect()
}

/// `text` with std's concurrency modules mapped to conclab's facade: `std::sync`, `std::thread`
/// and `std::hint` (also `::std::…`), and `core::sync`, become `conclab::…`, and
/// `thread_local!` (std's prelude macro, or `std::thread_local!`) conclab's. Lines keep their
/// numbers.
pub fn map_std(text: &str) -> String {
    map_thread_local(&map_crate(&map_crate(text, "std::"), "core::"))
}

/// `thread_local!` as conclab's: `std::thread_local!` and the prelude's unqualified one.
fn map_thread_local(text: &str) -> String {
    const MACRO: &str = "thread_local!";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(MACRO) {
        let before = &rest[..i];
        let (kept, path) = match before.strip_suffix("std::") {
            Some(b) if b.chars().next_back().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_')) => {
                (b.strip_suffix("::").unwrap_or(b), "::conclab::")
            }
            _ if before.chars().next_back().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) => {
                (before, "::conclab::")
            }
            _ => (before, ""),
        };
        out.push_str(kept);
        out.push_str(path);
        out.push_str(MACRO);
        rest = &rest[i + MACRO.len()..];
    }
    out.push_str(rest);
    out
}

fn map_crate(text: &str, krate: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(krate) {
        let before = &rest[..i];
        let after = &rest[i + krate.len()..];
        // `std` as a whole path segment: not `my_std::`, not `rstd::`.
        let whole = before.chars().next_back().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let module = ["sync", "thread", "hint"].into_iter().find(|m| {
            after.starts_with(m)
                && after[m.len()..].chars().next().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
        });
        let module = module.filter(|m| krate == "std::" || *m == "sync");
        out.push_str(before);
        out.push_str(if whole && module.is_some() { "conclab::" } else { krate });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A grouped import of std that names `sync`, `thread` or `hint` (`use std::{sync::Mutex,
/// thread};`), with its line: left as it is, it would reach std's real types, which no engine
/// sees.
fn unmapped_group(text: &str) -> Option<(usize, String)> {
    for (n, line) in text.lines().enumerate() {
        let Some(i) = line.find("std::{") else { continue };
        let group = &line[i..];
        let names_one = ["sync", "thread", "hint"].iter().any(|m| {
            group.match_indices(m).any(|(j, _)| {
                let before = group[..j].chars().next_back();
                let after = group[j + m.len()..].chars().next();
                before.is_some_and(|c| c == '{' || c == ',' || c == ' ')
                    && after.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
            })
        });
        if names_one {
            return Some((n + 1, group.trim_end_matches(';').to_string()));
        }
    }
    None
}

/// Writes the scratch crate for `path` and builds it; returns the worker executable.
fn build(path: &Path, id: &str, text: &str, variants: &[String]) -> Result<PathBuf> {
    let target_dir = default_target_dir();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).hash(&mut h);
    let name = format!("conclab-file-{}-{:016x}", id.to_lowercase().replace('_', "-"), h.finish());
    let krate = target_dir.join("files").join(&name);
    let bodies: String = variants.iter().map(|v| format!("        (\"{v}\", model::{v} as fn()),\n")).collect();
    let main = format!(
        "//! Written by `conclab check {file}`: the file's model and its checks' worker.\n\n\
         #[allow(dead_code, unused_imports, clippy::all)]\n#[path = \"model/{id}.rs\"]\nmod model;\n\n\
         fn main() -> std::process::ExitCode {{\n    conclab::file::worker_main(\n        \"{id}\",\n        &[\n{bodies}        ],\n        \
         include_str!(\"model/{id}.rs\"),\n    )\n}}\n",
        file = path.display()
    );
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nconclab = {{ path = '{dep}' }}\n\n[workspace]\n\n\
         [profile.dev]\nopt-level = 1\ndebug = 0\n\n[profile.dev.package.\"*\"]\nopt-level = 3\ndebug = 0\n",
        dep = conclab_dir().display()
    );
    let files = [
        ("Cargo.toml", manifest),
        ("Cargo.lock", lock_file().to_string()),
        ("src/main.rs", main),
        (&*model_path(id), map_std(text)),
    ];
    for (rel, content) in files {
        let p = krate.join(rel);
        if std::fs::read_to_string(&p).ok().as_deref() != Some(content.as_str()) {
            std::fs::create_dir_all(p.parent().expect("a file in the crate"))?;
            std::fs::write(&p, content).with_context(|| format!("cannot write {}", p.display()))?;
        }
    }
    match cargo_build(&krate, &target_dir, &["build"], &name)? {
        Ok(exe) => Ok(exe),
        Err(diagnostics) => bail!(
            "{} does not compile against conclab (std::sync, std::thread and std::hint are conclab's \
             facade here; the file is compiled as {}):\n{diagnostics}",
            path.display(),
            krate.join("src/model").join(format!("{id}.rs")).display(),
        ),
    }
}

/// Runs `cargo <command> --offline` on the crate in `krate` with `target_dir` and returns the
/// executable of its target `target` — or `Ok(Err(diagnostics))` when the crate does not compile.
/// Shared by `check FILE.rs` and `grade`.
pub(crate) fn cargo_build(
    krate: &Path,
    target_dir: &Path,
    command: &[&str],
    target: &str,
) -> Result<std::result::Result<PathBuf, String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(command)
        .args(["--offline", "--quiet", "--message-format=json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(krate.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .context("could not run cargo")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exe = stdout.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find_map(|m| {
        (m["reason"] == "compiler-artifact" && m["target"]["name"] == target)
            .then(|| m["executable"].as_str().map(PathBuf::from))
            .flatten()
    });
    match (out.status.success(), exe) {
        (true, Some(exe)) => Ok(Ok(exe)),
        _ => Ok(Err(String::from_utf8_lossy(&out.stderr).into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_s_concurrency_paths_map_to_the_facade_and_nothing_else_does() {
        let text = "use std::sync::{Arc, Mutex};\nuse std::thread;\nuse ::std::hint::spin_loop;\n\
                    use std::collections::HashMap;\nuse my_std::sync::X;\nlet t = std::thread::spawn(f);\nstd::synced();\n\
                    use core::sync::atomic::AtomicU8;\nuse core::hint::black_box;";
        assert_eq!(
            map_std(text),
            "use conclab::sync::{Arc, Mutex};\nuse conclab::thread;\nuse ::conclab::hint::spin_loop;\n\
             use std::collections::HashMap;\nuse my_std::sync::X;\nlet t = conclab::thread::spawn(f);\nstd::synced();\n\
             use conclab::sync::atomic::AtomicU8;\nuse core::hint::black_box;"
        );
    }

    #[test]
    fn thread_local_maps_to_the_facade_s_qualified_or_not() {
        let text = "thread_local! {\n  static A: u8 = 0;\n}\nstd::thread_local!(static B: u8 = 0);\n\
                    ::std::thread_local!(static C: u8 = 0);\nconclab::thread_local!(static D: u8 = 0);\nmy_thread_local!();";
        assert_eq!(
            map_std(text),
            "::conclab::thread_local! {\n  static A: u8 = 0;\n}\n::conclab::thread_local!(static B: u8 = 0);\n\
             ::conclab::thread_local!(static C: u8 = 0);\nconclab::thread_local!(static D: u8 = 0);\nmy_thread_local!();"
        );
    }

    #[test]
    fn a_grouped_import_of_std_s_concurrency_is_refused_with_its_line() {
        assert_eq!(
            unmapped_group("//! x\nuse std::{sync::{Arc, Mutex}, thread};\n"),
            Some((2, "std::{sync::{Arc, Mutex}, thread}".into()))
        );
        assert_eq!(unmapped_group("use std::{collections::HashMap, fmt};\nuse std::{io, synchronised};"), None);
    }

    #[test]
    fn each_top_level_argument_less_pub_fn_is_a_variant() {
        let text = "pub fn buggy() {\n}\n    pub fn nested() {}\npub fn fixed_order() -> () {}\npub fn with(x: u8) {}\nfn private() {}\npub fn fixed ( ) {}";
        assert_eq!(variants(text), ["buggy", "fixed_order", "fixed"]);
    }
}
