//! The command-line contract other tools depend on: JSON shapes, exit codes (0 passed, 1 bug
//! found, 2 usage or input error, 3 inconclusive), friendly answers to bad input, and verdicts
//! that claim no more than was shown.

use std::process::{Command, Output};

use serde_json::Value;

fn conclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclab")).args(args).output().expect("conclab runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn list_json_names_every_scenario_with_its_contract_fields() {
    let out = conclab(&["list", "--json"]);
    assert!(out.status.success());
    let list = json(&out);
    let ids: Vec<_> = list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.contains(&"airplane-seat".to_string()));
    for s in list.as_array().unwrap() {
        for field in ["id", "title", "category", "expected", "checkers"] {
            assert!(!s[field].is_null(), "{field} missing in {s}");
        }
    }
    insta::assert_json_snapshot!("list", list);
}

#[test]
fn check_json_reports_a_bug_with_exit_code_1() {
    let out =
        conclab(&["check", "airplane-seat", "--variant", "buggy", "--checker", "shuttle-pct", "--seed", "1", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["verdict"], "bug_found");
    assert_eq!(r["kind"], "assertion");
    for field in ["scenario", "variant", "checker", "executions", "elapsed_ms", "coverage", "trace", "replay"] {
        assert!(r.get(field).is_some(), "{field} missing");
    }
    for step in r["trace"].as_array().unwrap() {
        for field in ["step", "thread", "op", "location"] {
            assert!(step.get(field).is_some(), "{field} missing in {step}");
        }
    }
    // Source lines as `LL`: moving a scenario's lines changes no snapshot (see tests/traces.rs).
    insta::with_settings!({ filters => vec![(r"\.rs:\d+", ".rs:LL")] }, {
        insta::assert_json_snapshot!("check_buggy_shuttle_pct", r, { ".elapsed_ms" => "[ms]" });
    });
}

#[test]
fn check_of_a_fix_passes_with_exit_code_0() {
    let out = conclab(&["check", "airplane-seat", "--variant", "fixed", "--checker", "loom", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["verdict"], "passed");
    assert!(r["kind"].is_null());
    assert_eq!(r["coverage"]["kind"], "exhaustive");
    assert!(r["replay"].is_null());
}

#[test]
fn the_human_report_shows_the_timeline_and_how_to_replay() {
    let out = conclab(&["check", "airplane-seat", "--checker", "shuttle-pct", "--seed", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("BUG FOUND (assertion)"), "{text}");
    assert!(text.contains("agent-1") && text.contains("agent-2") && text.contains("seats_left load → 1"), "{text}");
    assert!(text.contains("conclab replay airplane-seat --variant buggy airplane-seat:buggy:shuttle:"), "{text}");
}

#[test]
fn replay_prints_the_same_trace_as_the_check() {
    let first = json(&conclab(&["check", "airplane-seat", "--checker", "loom", "--json"]));
    let token = first["replay"].as_str().unwrap();
    let out = conclab(&["replay", "airplane-seat", "--variant", "buggy", token, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["trace"], first["trace"]);
}

#[test]
fn an_unknown_scenario_lists_the_known_ones() {
    let out = conclab(&["check", "no-such-bug"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown scenario `no-such-bug`") && err.contains("airplane-seat"), "{err}");
}

#[test]
fn an_unknown_variant_lists_the_variants() {
    let out = conclab(&["check", "airplane-seat", "--variant", "fixd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("its variants: buggy, fixed, fixed-cas"), "{}", stderr(&out));
}

#[test]
fn a_malformed_replay_token_is_explained() {
    for (token, says) in [
        ("garbage", "1 part(s)"),
        ("airplane-seat:buggy:shuttle:??", "`?` at position 1 of the schedule is not a thread letter"),
        ("airplane-seat:buggy:shuttle:zzzz", "continues a run of `z`"),
        ("airplane-seat:buggy:shuttle:a01", "starts with 0"),
        ("airplane-seat:buggy:loom:b1", "a loom token ends in `b<bound>:e<execution>`"),
        ("airplane-seat:buggy:loom:b0", "a loom token ends in `b<bound>:e<execution>`"),
        ("airplane-seat:buggy:loom:b1:e0", "executions are counted from 1"),
    ] {
        let out = conclab(&["replay", "airplane-seat", token]);
        assert_eq!(out.status.code(), Some(2), "{token}");
        let err = stderr(&out);
        assert!(err.contains("malformed replay token") && err.contains(says), "{token}: {err}");
        assert!(!err.contains("panicked") && !err.contains("unknown engine"), "{token}: {err}");
        assert!(out.stdout.is_empty(), "{token}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

/// A well-formed token that names no failing execution of the program is refused (exit 2,
/// nothing on stdout), with the reason, and a long one is quoted shortened.
#[test]
fn a_token_that_does_not_reproduce_a_failure_is_refused() {
    let found = json(&conclab(&["check", "airplane-seat", "--checker", "shuttle-pct", "--seed", "1", "--json"]));
    let token = found["replay"].as_str().unwrap();
    let out = conclab(&["replay", "airplane-seat", token, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{token} does not replay: {}", stderr(&out));
    assert_eq!(json(&out)["trace"], found["trace"]);

    // The schedule without its last run of one thread, and with a run of another thread added.
    let last_run = token.rfind(|c: char| c.is_ascii_lowercase()).unwrap();
    let truncated = &token[..last_run];
    let other = if token.as_bytes()[last_run] == b'a' { "b3" } else { "a3" };
    let extended = format!("{token}{other}");
    let long = format!("airplane-seat:buggy:shuttle:{}", "ab".repeat(60_000));
    for (args, says) in [
        (vec!["airplane-seat", truncated], "the schedule ran out after its"),
        (vec!["airplane-seat", &extended], "does not reproduce"),
        (vec!["airplane-seat", "airplane-seat:buggy:shuttle:z4"], "choice 1 names thread `z`, which cannot run there"),
        (vec!["airplane-seat", "--variant", "fixed", "airplane-seat:fixed:loom:bx:e5"], "execution 5 runs to the end"),
        (
            vec!["airplane-seat", "--variant", "fixed", "airplane-seat:fixed:loom:bx:e5000"],
            "there is no execution 5000",
        ),
        (vec!["airplane-seat", "airplane-seat:buggy:loom:b1:e5"], "loom's search fails at execution 3 first"),
        (vec!["airplane-seat", &long], "(120028 characters)"),
    ] {
        let out = conclab(&[&["replay"], args.as_slice()].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        assert!(
            err.contains("does not reproduce a failure of `airplane-seat`") && err.contains(says),
            "{args:?}: {err}"
        );
        assert!(err.len() < 1000, "the message quotes the token in full: {} bytes", err.len());
    }
}

#[test]
fn unbounded_only_verifies_a_fix_exhaustively_in_fewer_executions_than_the_staged_search() {
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "airplane-seat", "--variant", "fixed", "--checker", "loom", "--json"];
        args.extend_from_slice(extra);
        let out = conclab(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json(&out)
    };
    let (staged, alone) = (run(&[]), run(&["--unbounded-only"]));
    assert_eq!(alone["coverage"]["kind"], "exhaustive");
    let (staged, alone) = (staged["executions"].as_u64().unwrap(), alone["executions"].as_u64().unwrap());
    assert!(1 < alone && alone < staged, "unbounded alone {alone}, staged {staged}");
    // Both flags at once is a usage error, not a silent choice of one.
    let out = conclab(&["check", "airplane-seat", "--variant", "fixed", "--unbounded-only", "--preemption-bound", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let out = conclab(&["check", "airplane-seat", "--checker", "tsan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("possible values"), "{}", stderr(&out));
}

#[test]
fn show_prints_the_teaching_text() {
    let out = conclab(&["show", "airplane-seat"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("// BUG:") && text.contains("**Story.**"), "{text}");
}

/// A check longer than its budget is stopped and comes back inconclusive (timeout), exit code 3,
/// with what it covered: a billion shuttle schedules (hours), and loom's exhaustive search of
/// the bounded buffer's fix (about 2 s here, 40× the budget). The verdicts are asserted, not the time.
#[test]
fn a_check_past_its_time_budget_is_inconclusive_with_exit_code_3() {
    let cases: [&[&str]; 2] = [
        &["check", "airplane-seat", "--variant", "fixed", "--checker", "shuttle-random", "--iterations", "1000000000"],
        &["check", "bounded-buffer", "--variant", "fixed", "--checker", "loom"],
    ];
    for (case, timeout) in cases.into_iter().zip(["1", "0.05"]) {
        let out = conclab(&[case, &["--timeout", timeout, "--json"]].concat());
        assert_eq!(out.status.code(), Some(3), "{case:?}: {}", stderr(&out));
        let r = json(&out);
        assert_eq!(r["verdict"], "inconclusive", "{r}");
        assert_eq!(r["inconclusive"], "timeout", "{r}");
        assert_eq!(r["coverage"]["kind"], "sampled", "{r}");
        assert_eq!(r["coverage"]["schedules"], r["executions"], "{r}");
        assert!(r["message"].as_str().unwrap().starts_with(&format!("timeout after {timeout} s (")), "{r}");
    }
}

#[test]
fn a_time_budget_of_zero_is_refused() {
    for cmd in [
        &["check", "airplane-seat"][..],
        &["replay", "airplane-seat", "airplane-seat:buggy:loom:b0:e1"],
        &["explain", "airplane-seat"],
        &["grade", "."],
        &["assign", "airplane-seat", "/nonexistent/never-written"],
    ] {
        let out = conclab(&[cmd, &["--timeout", "0"]].concat());
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        assert!(stderr(&out).contains("leaves no time to check anything"), "{cmd:?}: {}", stderr(&out));
    }
}

/// Runs conclab, and fails — rather than hangs — if it has not exited within a minute: for
/// inputs that used to block it or make it read without end. (A deadline for a hang, not a
/// measurement: a correct run exits at once.)
#[cfg(target_os = "linux")]
fn conclab_unless_it_hangs(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_conclab"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("conclab runs");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(out) => out.expect("conclab runs"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("conclab {args:?} has not exited after a minute: it blocked or read without bound");
        }
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_fuzz_input_that_is_not_a_small_regular_file_is_refused_at_once() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-fuzz-input");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let huge = dir.join("huge");
    std::fs::File::create(&huge).unwrap().set_len(2 << 20).unwrap(); // sparse: 2 MiB of zeros
    for (file, says) in [
        ("/dev/zero", "is a device, not a regular file"),
        (fifo.to_str().unwrap(), "is a FIFO, not a regular file"),
        (dir.to_str().unwrap(), "is a directory, not a regular file"),
        (huge.to_str().unwrap(), "is larger than 1048576 bytes (1 MiB)"),
        ("/nonexistent/crash", "cannot read the fuzz input /nonexistent/crash"),
    ] {
        let out = conclab_unless_it_hangs(&["replay", "airplane-seat", "--fuzz-input", file]);
        assert_eq!(out.status.code(), Some(2), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{file}: {}", stderr(&out));
    }
}

/// An `--html FILE` that cannot be written is refused before anything else is looked at (here:
/// before an unknown scenario or a malformed token would be), so that no check or bench runs
/// only to fail at the end; an existing page is left as it was.
#[test]
fn an_unwritable_html_path_is_refused_before_any_work() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-html");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let folder = dir.to_str().unwrap();
    let orphan = dir.join("no-such-folder/page.html");
    let orphan = orphan.to_str().unwrap();
    for args in [
        vec!["check", "no-such-bug", "--html"],
        vec!["replay", "airplane-seat", "garbage", "--html"],
        vec!["replay", "airplane-seat", "--fuzz-input", "/dev/zero", "--html"],
        vec!["bench", "--scenario", "no-such-bug", "--html"],
    ] {
        for (file, says) in [(folder, "is a directory"), (orphan, "cannot write the page there")] {
            let out = conclab(&[args.as_slice(), &[file]].concat());
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?} {file}: {err}");
            assert!(err.contains(&format!("--html {file}")) && err.contains(says), "{args:?} {file}: {err}");
            assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        }
    }
    // A writable path is only probed: an existing page keeps its content, a new one is not left behind.
    let page = dir.join("page.html");
    std::fs::write(&page, "the old page").unwrap();
    let out = conclab(&["check", "no-such-bug", "--html", page.to_str().unwrap()]);
    assert!(stderr(&out).contains("unknown scenario"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&page).unwrap(), "the old page");
    let fresh = dir.join("fresh.html");
    let out = conclab(&["check", "no-such-bug", "--html", fresh.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!fresh.exists(), "a failed check left an empty page behind");
}

/// An `--html` FIFO is refused at once: opening it for writing would block until a reader came.
#[test]
#[cfg(target_os = "linux")]
fn an_html_fifo_is_refused_without_blocking() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-html-fifo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("page.html");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = conclab_unless_it_hangs(&["check", "airplane-seat", "--html", fifo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a regular file"), "{}", stderr(&out));
}

// A verdict states exactly what was shown: bad budgets and bounds are refused before any work,
// a search cut by its budget is never "exhaustive", and a pass names what its engine cannot see.

#[test]
fn a_budget_or_bound_that_cannot_describe_a_search_is_a_usage_error() {
    for (args, says) in [
        (&["--checker", "loom", "--iterations", "0"][..], "--iterations 0"),
        (&["--iterations", "0"][..], "--iterations 0"),
        (&["--checker", "shuttle-pct", "--depth", "0"][..], "--depth 0"),
        (&["--checker", "loom", "--preemption-bound", "18446744073709551615"][..], "--preemption-bound"),
    ] {
        let mut all = vec!["check", "airplane-seat", "--variant", "buggy", "--json"];
        all.extend_from_slice(args);
        let out = conclab(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}: no report for a refused command");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_largest_budget_still_searches_and_finds_the_bug() {
    let out =
        conclab(&["check", "airplane-seat", "--checker", "loom", "--iterations", "18446744073709551615", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["kind"], "assertion");
}

#[test]
fn a_search_cut_by_its_budget_is_sampled_never_exhaustive() {
    for checker in ["loom", "shuttle-dfs"] {
        let out = conclab(&[
            "check",
            "bounded-buffer",
            "--variant",
            "fixed",
            "--checker",
            checker,
            "--iterations",
            "20",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{checker}: {}", stderr(&out));
        let r = json(&out);
        assert_eq!(r["coverage"]["kind"], "sampled", "{checker}: {r}");
    }
}

#[test]
fn a_loom_pass_on_a_livelock_says_loom_cannot_see_it() {
    let out = conclab(&["check", "polite-livelock", "--variant", "buggy", "--checker", "loom", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["coverage"]["kind"], "exhaustive");
    assert_eq!(r["not_covered"], serde_json::json!(["yield_livelock"]), "{r}");
    let text =
        String::from_utf8_lossy(&conclab(&["check", "polite-livelock", "--checker", "loom"]).stdout).into_owned();
    assert!(text.contains("not covered: livelocks of threads that yield and retry"), "{text}");
}

#[test]
fn an_exhaustive_shuttle_dfs_pass_is_exhaustive_under_sequential_consistency_only() {
    let out = conclab(&["check", "airplane-seat", "--variant", "fixed", "--checker", "shuttle-dfs", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["coverage"]["kind"], "exhaustive");
    assert_eq!(r["not_covered"], serde_json::json!(["weak_memory"]), "{r}");
}

#[test]
fn a_loom_pass_of_code_with_acquire_loads_says_which_interleavings_loom_may_miss() {
    let out = conclab(&["check", "line-jumping-starvation", "--variant", "fixed", "--checker", "loom", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["not_covered"], serde_json::json!(["yield_livelock", "weak_load_interleavings"]), "{r}");
    // All-SeqCst code has no such loads: its loads run as read-modify-writes, which loom compares.
    let out = conclab(&["check", "airplane-seat", "--variant", "fixed", "--checker", "loom", "--json"]);
    assert_eq!(json(&out)["not_covered"], serde_json::json!(["yield_livelock"]));
}
