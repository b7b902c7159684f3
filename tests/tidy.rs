//! Architecture invariants, checked as tests rather than remembered by reviewers.

use std::fs;
use std::path::{Path, PathBuf};

use conclab::catalog;
use conclab::runner::Checker;

fn scenario_files() -> Vec<(String, String)> {
    let mut files: Vec<_> = fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// Architecture Invariant: scenarios get every concurrency primitive from `rt`, so the same
/// file means the same thing on every backend.
#[test]
fn scenarios_name_only_the_facade() {
    for (name, text) in scenario_files() {
        for forbidden in ["std::sync", "std::thread", "loom::", "shuttle::", "parking_lot", "crossbeam", "unsafe"] {
            assert!(!text.contains(forbidden), "scenarios/{name}.rs names `{forbidden}`: use `rt` instead");
        }
    }
}

/// Architecture Invariant: every file in `scenarios/` is registered, and only those.
#[test]
fn every_scenario_file_is_registered() {
    let files: Vec<_> = scenario_files().into_iter().map(|(n, _)| n).collect();
    let mut registered: Vec<_> = catalog::MODULES.iter().map(|m| m.to_string()).collect();
    registered.sort();
    assert_eq!(files, registered);
}

/// Architecture Invariant: every scenario is complete teaching material: story, a buggy
/// variant with its `// BUG:` line, at least one fix, metadata, and a snapshot of its trace.
#[test]
fn every_scenario_is_complete() {
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for s in catalog::all() {
        let e = s.entry;
        let id = e.id;
        assert_eq!(e.variants.first().map(|v| (v.name, v.fixed)), Some(("buggy", false)), "{id}: buggy first");
        assert!(e.variants.iter().any(|v| v.fixed), "{id}: no fixed variant");
        assert!(e.variants.iter().all(|v| v.name.starts_with(if v.fixed { "fixed" } else { "buggy" })), "{id}");
        for (what, text) in [("title", e.title), ("source", e.source), ("invariant", e.invariant)] {
            assert!(!text.trim().is_empty(), "{id}: empty {what}");
        }
        assert!(!e.found_by.is_empty(), "{id}: which checkers find it?");
        for part in ["**Story.**", "**Learning goal.**", "**Source.**", "**Invariant.**", "// BUG:"] {
            assert!(s.source_text.contains(part), "{id}: its file lacks {part}");
        }
        let shown: Vec<&str> = e
            .found_by
            .iter()
            .filter_map(|c| match c {
                Checker::Loom => Some("loom"),
                Checker::ShuttlePct => Some("pct"),
                Checker::ShuttleRandom => Some("random"),
                _ => None,
            })
            .collect();
        assert!(!shown.is_empty(), "{id}: loom, shuttle-pct or shuttle-random must find it, to show its trace");
        for checker in shown {
            let snap = snapshots.join(format!("traces__{id}__{checker}.snap"));
            assert!(snap.exists(), "{id}: no trace snapshot {}", snap.display());
        }
    }
}

/// Architecture Invariant: the ids are the CLI contract: lowercase words joined by `-`, unique.
#[test]
fn scenario_ids_are_stable_kebab_case_and_unique() {
    let mut ids: Vec<_> = catalog::all().iter().map(|s| s.id()).collect();
    for id in &ids {
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{id}");
    }
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

/// Architecture Invariant: a real-signal demo is the same story as its catalog scenario: same id,
/// same variants, same expected kind.
#[test]
fn every_demo_matches_its_catalog_scenario() {
    for d in conclab::demo::DEMOS {
        let s = catalog::find(d.id).unwrap_or_else(|| panic!("demo `{}` has no catalog scenario", d.id));
        assert_eq!(d.variants, s.variant_names().as_slice(), "{}", d.id);
        assert_eq!(d.expected, s.entry.expected, "{}", d.id);
    }
}

/// Architecture Invariant: every scenario is an assignment: it declares what a fix must still do
/// (each property checked in its file with `rt::property`, and every such check declared), a
/// task, one to three hints and questions, and its file cuts into a student's file (the buggy
/// code under `// Buggy…` section rules, the entry under `// Catalog entry.`).
#[test]
fn every_scenario_declares_what_a_fix_must_still_do() {
    for s in catalog::all() {
        let e = s.entry;
        let id = e.id;
        assert!(!e.must_still_work.is_empty(), "{id}: declare its `must_still_work` properties");
        for p in e.must_still_work {
            assert!(!p.holds.trim().is_empty(), "{id}: property {} says nothing", p.name);
            let call = format!("rt::property(\"{}\"", p.name);
            assert!(s.source_text.contains(&call), "{id}: `{}` is declared but never checked ({call}, …)", p.name);
        }
        for (i, _) in s.source_text.match_indices("rt::property(\"") {
            let name = s.source_text[i + 14..].split('"').next().unwrap();
            assert!(e.must_still_work.iter().any(|p| p.name == name), "{id}: `{name}` is checked but not declared");
        }
        let a = e.assignment;
        let student = conclab::assign::student_file(s.source_text, false);
        assert!(student.contains("pub fn buggy()"), "{id}: no `// Buggy…` section holds `pub fn buggy()`");
        assert!(!student.contains("pub const ENTRY"), "{id}: the entry is not under `// Catalog entry.`");
        assert!(!a.task.trim().is_empty(), "{id}: no task");
        assert!((1..=3).contains(&a.hints.len()), "{id}: one to three hints");
        assert!(!a.questions.is_empty(), "{id}: no questions");
    }
}

/// Architecture Invariant: one facade. Outside the engine layer (`src/rt/`) nothing builds
/// objects of one engine (`rt::Mutex<T, Loom>`, `spawn_thread::<Shuttle, …>`): scenarios,
/// assignments, the server and users all go through `Dynamic`, the engine of the running check.
#[test]
fn nothing_outside_the_engine_layer_names_one_engine_s_objects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    let mut dirs = vec![root.join("src"), root.join("scenarios"), root.join("benches"), root.join("tests")];
    while let Some(dir) = dirs.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.ends_with("src/rt") {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("tests/tidy.rs") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 40, "walked {} files", files.len());
    for p in files {
        let text = fs::read_to_string(&p).unwrap();
        for engine in ["Loom", "Shuttle", "StdThreads"] {
            for form in [format!("::<{engine}"), format!(", {engine}>")] {
                assert!(!text.contains(&form), "{} names `{form}`: use the facade (`Dynamic`)", p.display());
            }
        }
    }
}

/// The crate's floors, lowest first (ARCHITECTURE.md, "Layers"): a module may import its own
/// floor and those below, never one above.
const FLOORS: &[(&str, &[&str])] = &[
    ("vocabulary", &["vocab", "interrupt", "liveness"]),
    ("records", &["replay", "trace", "report"]),
    ("facade", &["rt", "sync", "thread", "hint", "lab"]),
    ("engines", &["engine"]),
    ("catalog and shrinker", &["catalog", "minimize"]),
    ("pages", &["explain", "html"]),
    ("orchestration", &["runner"]),
    ("entry points", &["check", "file"]),
    ("applications", &["assign", "bench", "fuzz", "demo", "server", "load", "litmus"]),
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|(_, modules)| modules.contains(&module))
}

/// The `crate::` modules a file's code names, with their lines: its own `#[cfg(test)] mod
/// tests` and comments (doc links name what they explain) left out; a group (`crate::{a, b::c}`,
/// over several lines too) names each of its members.
fn imports(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    let code: String = code.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
    let module = |path: &str| -> String {
        path.trim_start().chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect()
    };
    let mut found = vec![];
    for (i, _) in code.match_indices("crate::") {
        let line = 1 + code[..i].matches('\n').count();
        let rest = &code[i + "crate::".len()..];
        let names: Vec<String> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(group.len())].split(',').map(module).collect(),
            None => vec![module(rest)],
        };
        found.extend(names.into_iter().filter(|m| !m.is_empty()).map(|m| (line, m)));
    }
    found
}

/// Architecture Invariant: layers import downward ([`FLOORS`]). The engines know nothing of
/// options, portfolios or workers; the shrinker stands on the engines, not on the runner; the
/// catalog and the scenarios know nothing of what runs them; nothing below the applications
/// knows an application. Every module of `src/` has a floor.
#[test]
fn layers_import_downward() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(PathBuf, String)> = vec![];
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root.join("src")).unwrap().to_path_buf();
            let module =
                rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !["lib", "main"].contains(&module.as_str()) {
                // `sync/ported.rs` and `sync/statics.rs` are test modules of their own
                // (`#[cfg(test)] mod ported;`, `mod statics;`).
                if !p.ends_with("sync/ported.rs") && !p.ends_with("sync/statics.rs") {
                    files.push((p, module));
                }
            }
        }
    }
    for (name, _) in scenario_files() {
        files.push((root.join("scenarios").join(format!("{name}.rs")), "catalog".to_string()));
    }
    assert!(files.len() > 50, "walked {} files", files.len());
    let mut upward = vec![];
    for (path, module) in &files {
        let Some(floor) = floor_of(module) else {
            upward.push(format!("{}: module `{module}` has no floor in FLOORS", path.display()));
            continue;
        };
        for (line, name) in imports(&fs::read_to_string(path).unwrap()) {
            match floor_of(&name) {
                Some(f) if f > floor => upward.push(format!(
                    "{}:{line}: `{module}` ({}) imports `crate::{name}` ({}), a floor above it",
                    path.display(),
                    FLOORS[floor].0,
                    FLOORS[f].0
                )),
                _ => {}
            }
        }
    }
    assert!(upward.is_empty(), "layers import downward (ARCHITECTURE.md):\n{}", upward.join("\n"));
}
