//! Course assignments end to end: a course pack, moved after it is written, names neither where
//! it was written nor conclab's checkout; for every scenario, the generated crate builds against
//! the pack's copy of conclab and its `cargo test` fails on the buggy code with the expected
//! kind; the reference fix passes `conclab grade`; a "cheating" fix that only hides the bug is refused, naming the property it
//! broke. All crates share one target directory (`target/assignments`) and build `--offline`:
//! the first run builds loom, shuttle and conclab there once, later crates take seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use conclab::assign::{self, CheckVerdict, Grade, GRADED_BY};
use conclab::catalog;
use conclab::runner::{self, Checker};

fn conclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclab")).args(args).output().expect("conclab runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn grade_of(out: &Output) -> Grade {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), stderr(out)))
}

/// A fix that hides the bug instead of fixing it: `from` becomes `to` in the buggy `src/lib.rs`,
/// and the grade must fail the must-still-work property `breaks`.
struct Cheat {
    id: &'static str,
    from: &'static str,
    to: &'static str,
    breaks: &'static str,
}

const CHEATS: &[Cheat] = &[
    Cheat { id: "airplane-seat", from: "if left > 0 {", to: "if left > SEATS {", breaks: "every-seat-sold" },
    Cheat {
        id: "lost-update",
        from: "                .unwrap()\n        })\n        .collect();\n    for t in threads {\n        t.join().unwrap();\n    }",
        to: "                .unwrap()\n                .join()\n                .unwrap()\n        })\n        .collect();\n    for t in threads {\n        let () = t;\n    }",
        breaks: "threads-overlap",
    },
    Cheat {
        id: "lock-order-gridlock",
        from: "    let (first, second) = if east",
        to: "    if !east {\n        return;\n    }\n    let (first, second) = if east",
        breaks: "every-car-crosses",
    },
    Cheat {
        id: "polite-livelock",
        from: "    let (mine, other) = if starts_left",
        to: "    if !starts_left {\n        return;\n    }\n    let (mine, other) = if starts_left",
        breaks: "everyone-passes",
    },
    Cheat {
        id: "line-jumping-starvation",
        from: "    rt::liveness::arrive(LINE); // in line from the first attempt on\n    while c.locked.swap(true, Ordering::SeqCst) {\n        rt::hint::spin_loop();\n    }",
        to: "    let _ = c;",
        breaks: "one-at-a-time",
    },
    Cheat {
        id: "readers-writers-starvation",
        from: "    fn write(&self) {\n",
        to: "    fn write(&self) {\n        if READERS > 0 {\n            return;\n        }\n",
        breaks: "writer-writes",
    },
    Cheat { id: "job-list-reap", from: "    addjob(jobs, pid);\n", to: "", breaks: "every-job-tracked" },
    Cheat {
        id: "printf-signal-deadlock",
        from: "move |_| stdout.printf(\"interrupted\")",
        to: "move |_| drop(stdout.clone())",
        breaks: "interrupt-reported",
    },
    Cheat {
        id: "bounded-buffer",
        from: "    let item = q.pop_front();\n",
        to: "    let item = q.pop_front().or(Some(1));\n",
        breaks: "every-connection-served",
    },
    Cheat {
        id: "server-stats",
        from: "            i.map(|i| live.remove(i))",
        to: "            i.and(None::<ConnStats>)",
        breaks: "connections-close",
    },
];

/// Runs `cargo test` in a generated crate, as a student would, asking for the grade as JSON.
fn cargo_test(dir: &Path) -> Output {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--offline", "--quiet", "--", "--json"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", assign::default_target_dir())
        .output()
        .expect("cargo runs")
}

fn grade(dir: &Path) -> (Output, f64) {
    let started = Instant::now();
    let out = conclab(&["grade", dir.to_str().unwrap(), "--json"]);
    (out, started.elapsed().as_secs_f64())
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn fresh(dir: PathBuf) -> PathBuf {
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn every_scenario_is_an_assignment_that_grades_bug_fix_and_cheat() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("assign");
    // The pack is written in one place and moved to another before it is built and graded, as a
    // pack handed to students is: nothing in it may name where it was written, or conclab's checkout.
    let written = fresh(root.join("written"));
    let course = fresh(root.join("course"));
    let out = conclab(&["assign", "--all", written.to_str().unwrap(), "--stress-runs", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::rename(&written, &course).unwrap();
    for file in files_under(&course) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for place in [written.to_str().unwrap(), env!("CARGO_MANIFEST_DIR")] {
            assert!(!text.contains(place), "{} names {place}: the pack cannot move", file.display());
        }
    }
    let first = course.join(format!("01-{}", assign::course()[0].id()));
    let metadata = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--offline", "--no-deps", "--format-version", "1"])
        .current_dir(&first)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).expect("cargo metadata");
    std::fs::create_dir_all(course.join("target")).unwrap();
    let target = Path::new(metadata["target_directory"].as_str().unwrap()).canonicalize().unwrap();
    assert_eq!(target, course.join("target").canonicalize().unwrap(), "the pack's target directory");

    // The index lists the assignments in course order: races → deadlocks → liveness → signals.
    let index = std::fs::read_to_string(course.join("README.md")).unwrap();
    let order: Vec<&str> = assign::course().iter().map(|s| s.id()).collect();
    let positions: Vec<usize> = order.iter().map(|id| index.find(&format!("-{id}/README.md")).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{index}");
    assert!(index.find("## Races").unwrap() < index.find("## Deadlocks").unwrap());
    assert!(index.find("## Liveness").unwrap() < index.find("## Signals").unwrap());
    assert_eq!(CHEATS.len(), catalog::all().len(), "one cheat per scenario");

    let mut times = vec![];
    for (n, s) in assign::course().into_iter().enumerate() {
        let id = s.id();
        let e = s.entry;
        let dir = course.join(format!("{:02}-{id}", n + 1));

        // The student's view: `cargo test` in the generated crate fails with the expected kind.
        let out = cargo_test(&dir);
        assert!(!out.status.success(), "{id}: the buggy code passed `cargo test`");
        let g = grade_of(&out);
        assert!(!g.passed && g.score < 100, "{id}: {g:?}");
        for checker in GRADED_BY.iter().filter(|c| e.found_by.contains(c)) {
            let row = g.checks.iter().find(|c| c.checker == checker.name() && c.property == "invariant").unwrap();
            assert_eq!(row.verdict, CheckVerdict::Failed, "{id} / {}: {row:?}", checker.name());
            assert!(row.reason.starts_with(&format!("{}:", e.expected)), "{id}: wrong kind: {row:?}");
        }
        // A checker blind to the assignment's kind of bug (loom and a livelock through yields)
        // gets no credit for passing it.
        let blind =
            |c: &&Checker| runner::blind_spots(c.engine().unwrap()).iter().any(|b| b.hides() == Some(e.expected));
        for checker in GRADED_BY.iter().filter(blind) {
            let row = g.checks.iter().find(|c| c.checker == checker.name() && c.property == "invariant").unwrap();
            assert_eq!(row.verdict, CheckVerdict::NotCounted, "{id} / {}: {row:?}", checker.name());
        }

        // The instructor's copy passes, every checker on every property.
        let solution = fresh(root.join(format!("solution-{id}")));
        let out = conclab(&["assign", id, solution.to_str().unwrap(), "--with-solution", "--stress-runs", "0"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let (out, secs) = grade(&solution);
        let g = grade_of(&out);
        assert_eq!(out.status.code(), Some(0), "{id}: the reference fix fails: {g:#?}");
        assert!(g.passed && g.score == 100, "{id}: {g:?}");
        assert_eq!(g.checks.len(), GRADED_BY.len() * (e.must_still_work.len() + 2), "{id}");
        times.push((id, secs));

        // A fix that only hides the bug is refused, and the reason names what it broke.
        let cheat = CHEATS.iter().find(|c| c.id == id).unwrap();
        let dir_cheat = fresh(root.join(format!("cheat-{id}")));
        std::fs::create_dir_all(dir_cheat.join("src")).unwrap();
        std::fs::copy(dir.join("Cargo.toml"), dir_cheat.join("Cargo.toml")).unwrap();
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains(cheat.from), "{id}: the cheat's text is not in src/lib.rs");
        std::fs::write(dir_cheat.join("src/lib.rs"), lib.replacen(cheat.from, cheat.to, 1)).unwrap();
        let (out, _) = grade(&dir_cheat);
        let g = grade_of(&out);
        assert_eq!(out.status.code(), Some(1), "{id}: the cheat was not refused: {g:#?}");
        assert!(!g.passed, "{id}");
        assert!(
            g.checks.iter().any(|c| c.property == cheat.breaks && c.verdict == CheckVerdict::Failed),
            "{id}: the cheat should fail `{}`: {g:#?}",
            cheat.breaks
        );
    }
    // Measured per scenario (a student waits for this; the target is under 10 s after the first build).
    for (id, secs) in &times {
        eprintln!("conclab grade {id}: {secs:.1} s");
    }
}

#[test]
fn grade_refuses_a_directory_that_is_not_an_assignment() {
    let out = conclab(&["grade", env!("CARGO_MANIFEST_DIR")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not an assignment directory"), "{}", stderr(&out));
    let out = conclab(&["grade", "/nonexistent/conclab-assignment"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn assign_and_hint_answer_bad_input_clearly() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("assign-bad-input");
    let out = conclab(&["assign", "no-such-bug", dir.to_str().unwrap(), "--stress-runs", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("known scenarios: airplane-seat"), "{}", stderr(&out));

    // `--all` refuses, as a single assignment does, a folder whose crate (or index) it would
    // overwrite — before it writes anything.
    let pack = fresh(Path::new(env!("CARGO_TARGET_TMPDIR")).join("assign-over-a-crate"));
    let second = pack.join(format!("02-{}", assign::course()[1].id()));
    std::fs::create_dir_all(&second).unwrap();
    std::fs::write(second.join("Cargo.toml"), "[package]\nname = \"mine\"\n").unwrap();
    std::fs::write(second.join("README.md"), "my notes").unwrap();
    let out = conclab(&["assign", "--all", pack.to_str().unwrap(), "--stress-runs", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{} already holds a crate", second.display())), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(second.join("README.md")).unwrap(), "my notes");
    let written: Vec<_> = std::fs::read_dir(&pack).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(written, [second.file_name().unwrap()], "something was written beside the crate");
    std::fs::remove_dir_all(&second).unwrap();
    std::fs::write(pack.join("README.md"), "my course").unwrap();
    let out = conclab(&["assign", "--all", pack.to_str().unwrap(), "--stress-runs", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already holds README.md, which the assignment would replace"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(pack.join("README.md")).unwrap(), "my course");

    let out = conclab(&["hint", "airplane-seat", "1"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hint 1: "));
    let out = conclab(&["hint", "airplane-seat", "4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has hints 1 to 3"), "{}", stderr(&out));
}

#[test]
fn changing_a_handed_out_check_is_refused() {
    let s = catalog::find("airplane-seat").unwrap();
    let handed_out = assign::student_file(s.source_text, false);
    // Reformatting is fine; weakening the property is not.
    assert!(assign::changed_checks(&handed_out, &handed_out.replace("    ", "\t")).is_empty());
    let weakened = handed_out.replace("sold == SEATS.min(AGENTS)", "true");
    let refused = assign::changed_checks(&handed_out, &weakened);
    assert_eq!(refused.len(), 1);
    assert_eq!((refused[0].checker.as_str(), refused[0].property.as_str()), ("source", "every-seat-sold"));
}

/// A student's textbook fix: Peterson's lock around the check and the act, every access SeqCst.
/// It is correct under the Rust/C++ memory model, and every checker must say so (plain loom,
/// which models SeqCst as AcqRel, reported it buggy with a stale SeqCst load).
#[test]
fn a_correct_all_seqcst_peterson_fix_passes_every_checker() {
    let dir = fresh(Path::new(env!("CARGO_TARGET_TMPDIR")).join("assign-peterson"));
    let out = conclab(&["assign", "airplane-seat", dir.to_str().unwrap(), "--stress-runs", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let edits = [
        ("use rt::sync::atomic::{AtomicUsize, Ordering};", "use rt::sync::atomic::{AtomicBool, AtomicUsize, Ordering};"),
        ("    booking: Mutex<()>,\n}", "    booking: Mutex<()>,\n    flags: [AtomicBool; 2],\n    turn: AtomicUsize,\n}"),
        (
            "            booking: Mutex::new(()).named(\"booking\"),",
            "            booking: Mutex::new(()).named(\"booking\"),\n            flags: [AtomicBool::new(false).named(\"flag-1\"), \
             AtomicBool::new(false).named(\"flag-2\")],\n            turn: AtomicUsize::new(0).named(\"turn\"),",
        ),
        (
            "fn sell_buggy(flight: &Flight, agent: usize) {\n",
            "fn sell_buggy(flight: &Flight, agent: usize) {\n    let (me, other) = (agent - 1, 2 - agent);\n    \
             flight.flags[me].store(true, Ordering::SeqCst);\n    flight.turn.store(other, Ordering::SeqCst);\n    \
             while flight.flags[other].load(Ordering::SeqCst) && flight.turn.load(Ordering::SeqCst) == other {\n        \
             rt::hint::spin_loop();\n    }\n    sell_unlocked(flight, agent);\n    \
             flight.flags[me].store(false, Ordering::SeqCst);\n}\n\nfn sell_unlocked(flight: &Flight, agent: usize) {\n",
        ),
    ];
    let mut peterson = lib.clone();
    for (from, to) in edits {
        assert!(peterson.contains(from), "`{from}` is not in the handed-out src/lib.rs");
        peterson = peterson.replacen(from, to, 1);
    }
    std::fs::write(dir.join("src/lib.rs"), peterson).unwrap();
    let (out, _) = grade(&dir);
    let g = grade_of(&out);
    assert_eq!(out.status.code(), Some(0), "{g:#?}\n{}", stderr(&out));
    assert!(g.passed && g.score == 100, "{g:#?}");
}

/// A student's loop without end (`loop { spin_loop() }`, no facade call: no engine ever gets
/// control back) cannot keep `conclab grade` busy: each checker is stopped at the time budget,
/// its checks are scored as not passed ("timeout"), and grading goes on with the next checker.
#[test]
fn a_loop_without_end_is_graded_as_timeouts_and_grading_goes_on() {
    let dir = fresh(Path::new(env!("CARGO_TARGET_TMPDIR")).join("assign-spin"));
    let out = conclab(&["assign", "airplane-seat", dir.to_str().unwrap(), "--stress-runs", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let spin = lib.replacen(
        "pub fn run() {\n    buggy()\n}",
        "pub fn run() {\n    loop {\n        std::hint::spin_loop();\n    }\n}",
        1,
    );
    assert_ne!(spin, lib, "the handed-out `run` changed: update this test");
    std::fs::write(dir.join("src/lib.rs"), spin).unwrap();
    let out = conclab(&["grade", dir.to_str().unwrap(), "--json", "--timeout", "1"]);
    let g = grade_of(&out);
    assert_eq!(out.status.code(), Some(1), "{g:#?}");
    assert_eq!(g.score, 0, "{g:#?}");
    for checker in GRADED_BY {
        let rows: Vec<_> = g.checks.iter().filter(|c| c.checker == checker.name()).collect();
        assert!(!rows.is_empty(), "{}: no checks: {g:#?}", checker.name());
        for row in rows {
            assert_eq!(row.verdict, CheckVerdict::Failed, "{row:?}");
            assert!(row.reason.starts_with("timeout after 1 s (") && row.reason.ends_with(" executions)"), "{row:?}");
        }
    }
}

/// An instructor's own std file as an assignment: the story from its `//!` docs, the `fixed…`
/// functions kept as the key, `cargo test` in the crate grading `buggy` — failing with the
/// trace while the bug is there, passing once it is fixed, refusing a weakened assert.
#[test]
fn an_instructor_s_file_is_an_assignment_that_grades_bug_fix_and_cheat() {
    let root = fresh(Path::new(env!("CARGO_TARGET_TMPDIR")).join("assign-file"));
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("counter.rs");
    std::fs::write(
        &file,
        "//! # Hits lost\n//! Two threads count hits with a load and a store.\nuse std::sync::atomic::{AtomicUsize, Ordering};\n\
         use std::sync::Arc;\nuse std::thread;\n\nfn count(add: fn(&AtomicUsize)) {\n    let hits = Arc::new(AtomicUsize::new(0));\n    \
         let h = hits.clone();\n    let t = thread::spawn(move || add(&h));\n    add(&hits);\n    t.join().unwrap();\n    \
         assert_eq!(hits.load(Ordering::SeqCst), 2, \"a hit was lost\");\n}\n\npub fn buggy() {\n    count(|h| {\n        \
         let n = h.load(Ordering::SeqCst);\n        h.store(n + 1, Ordering::SeqCst);\n    })\n}\n\n\
         /// The key.\npub fn fixed() {\n    count(|h| {\n        h.fetch_add(1, Ordering::SeqCst);\n    })\n}\n",
    )
    .unwrap();
    let dir = root.join("hits");
    let target = assign::default_target_dir();
    let out =
        conclab(&["assign", file.to_str().unwrap(), dir.to_str().unwrap(), "--target-dir", target.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.contains("pub fn buggy()") && !lib.contains("fn fixed") && !lib.contains("The key"), "{lib}");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.starts_with("# Hits lost\n\nTwo threads count hits"), "{readme}");

    let test = |lib: &str| {
        std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
        let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["test", "--offline", "--quiet"])
            .current_dir(&dir)
            .env("CONCLAB_TARGET_DIR", &target)
            .output()
            .expect("cargo runs");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (passed, text) = test(&lib);
    assert!(
        !passed && text.contains("NOT PASSED") && text.contains("a hit was lost") && text.contains("step │"),
        "{text}"
    );
    // The trace names the student's file, not the scratch crate's copy of it.
    assert!(text.contains("src/lib.rs:") && !text.contains("src/model/"), "{text}");
    let fixed = lib.replace(
        "        let n = h.load(Ordering::SeqCst);\n        h.store(n + 1, Ordering::SeqCst);",
        "        h.fetch_add(1, Ordering::SeqCst);",
    );
    let (passed, text) = test(&fixed);
    assert!(passed && text.contains("PASSED  lib — score 100/100"), "{text}");
    let (passed, text) =
        test(&fixed.replace("2, \"a hit was lost\"", "hits.load(Ordering::SeqCst), \"a hit was lost\""));
    assert!(!passed && text.contains("the check `assert_eq!(hits.load(Ordering::SeqCst), 2"), "{text}");
}
