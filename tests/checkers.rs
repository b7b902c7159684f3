//! Every registered scenario against every checker its metadata names: the buggy variant is
//! found with the expected kind, the fixed variants pass after more than one execution, and
//! replay tokens give back the same execution. Driven by the catalog, so a new scenario is
//! tested by registering it.

use conclab::catalog::{self, Scenario};
use conclab::report::{Coverage, Report, Verdict};
use conclab::runner::{self, Checker, Options};

const SHUTTLE: [Checker; 3] = [Checker::ShuttleRandom, Checker::ShuttlePct, Checker::ShuttleDfs];

fn options(checker: Checker, iterations: Option<usize>) -> Options {
    Options { seed: 7, iterations, ..Options::new(checker, env!("CARGO_BIN_EXE_conclab")) }
}

fn check(s: &Scenario, variant: &str, checker: Checker, iterations: Option<usize>) -> Report {
    runner::check(s.id(), variant, &options(checker, iterations))
        .unwrap_or_else(|e| panic!("{} {variant} {}: {e:#}", s.id(), checker.name()))
}

fn expects(s: &Scenario, checker: Checker) -> bool {
    s.entry.found_by.contains(&checker)
}

/// The shuttle modes that can explore `s` (DFS cannot explore spin loops).
fn shuttle_modes(s: &Scenario) -> impl Iterator<Item = Checker> {
    let spins = s.entry.waits_by_spinning;
    SHUTTLE.into_iter().filter(move |c| !(spins && *c == Checker::ShuttleDfs))
}

/// `found_by` is a promise about the `buggy` variant. A scenario's further buggy variants (a
/// bigger instance, e.g. three cars) are held to it too, except by DFS, whose fixed order may
/// need more than its budget on the bigger model.
fn assert_found(s: &Scenario, checker: Checker) {
    for v in s.entry.variants.iter().filter(|v| !v.fixed) {
        if v.name == "buggy" || checker != Checker::ShuttleDfs {
            assert_found_in(s, v.name, checker);
        }
    }
}

fn assert_found_in(s: &Scenario, variant: &str, checker: Checker) {
    let r = check(s, variant, checker, None);
    assert_eq!(r.verdict, Verdict::BugFound, "{} missed {} / {variant}:\n{}", checker.name(), s.id(), r.render());
    assert_eq!(
        r.kind,
        Some(s.entry.expected_for(variant)),
        "{} found the wrong kind in {}:\n{}",
        checker.name(),
        s.id(),
        r.render()
    );
    assert!(!r.trace.is_empty(), "a found bug comes with its trace");
    assert!(r.replay.is_some(), "a model checker's bug comes with a replay token");
}

fn assert_passes(s: &Scenario, checker: Checker, iterations: Option<usize>) -> Report {
    let mut last = None;
    for v in s.entry.variants.iter().filter(|v| v.fixed) {
        let r = check(s, v.name, checker, iterations);
        assert_eq!(r.verdict, Verdict::Passed, "{} / {} fails {}:\n{}", s.id(), v.name, checker.name(), r.render());
        assert!(r.executions > 1, "{} / {}: only {} execution(s) explored", s.id(), v.name, r.executions);
        last = Some(r);
    }
    last.expect("every scenario has a fixed variant")
}

#[test]
fn loom_finds_each_buggy_variant_with_the_expected_kind() {
    for s in catalog::all().iter().filter(|s| expects(s, Checker::Loom)) {
        assert_found(s, Checker::Loom);
    }
}

#[test]
fn shuttle_schedulers_find_each_buggy_variant_with_the_expected_kind() {
    for s in catalog::all() {
        for checker in shuttle_modes(s).filter(|c| expects(s, *c)) {
            assert_found(s, checker);
        }
    }
}

#[test]
fn the_portfolio_finds_each_buggy_variant() {
    for s in catalog::all() {
        let r = check(s, "buggy", Checker::Portfolio, None);
        assert_eq!(r.kind, Some(s.entry.expected), "{}:\n{}", s.id(), r.render());
        assert!(r.found_by.is_some());
    }
}

#[test]
fn the_portfolio_reports_loom_s_proof_for_a_fix() {
    for s in catalog::all().iter().filter(|s| expects(s, Checker::Loom)) {
        let r = check(s, "fixed", Checker::Portfolio, None);
        assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
    }
}

#[test]
fn loom_verifies_each_fix_exhaustively() {
    for s in catalog::all() {
        let r = assert_passes(s, Checker::Loom, None);
        assert_eq!(r.coverage, Coverage::Exhaustive, "{}", r.render());
    }
}

#[test]
fn shuttle_passes_each_fix_for_a_thousand_seeded_schedules_per_mode() {
    for s in catalog::all() {
        for checker in shuttle_modes(s) {
            let r = assert_passes(s, checker, Some(1_000));
            if checker != Checker::ShuttleDfs {
                assert_eq!(r.executions, 1_000, "{}", r.render());
            }
        }
    }
}

#[test]
fn real_threads_never_fail_a_fixed_variant() {
    for s in catalog::all() {
        assert_passes(s, Checker::Stress, Some(200));
    }
}

#[test]
fn replay_tokens_give_back_the_same_execution() {
    for s in catalog::all() {
        for checker in
            [Checker::Loom, Checker::ShuttlePct, Checker::ShuttleRandom].into_iter().filter(|c| expects(s, *c))
        {
            let found = check(s, "buggy", checker, None);
            let token = found.replay.clone().expect("a token");
            let again = runner::replay(s.id(), "buggy", &token, &options(Checker::Loom, None)).unwrap();
            assert_eq!(again.kind, found.kind, "{token}");
            assert_eq!(
                again.trace,
                found.trace,
                "{token} replayed differently:\n{}\n{}",
                found.render(),
                again.render()
            );
            assert_eq!(again.replay.as_deref(), Some(token.as_str()));
        }
    }
}

#[test]
fn a_token_for_another_scenario_or_variant_is_refused_clearly() {
    let s = &catalog::all()[0];
    let token = check(s, "buggy", Checker::ShuttlePct, None).replay.unwrap();
    let err = runner::replay(s.id(), "fixed", &token, &options(Checker::Loom, None)).unwrap_err();
    assert!(format!("{err:#}").contains("was recorded for"), "{err:#}");
}

#[test]
fn the_same_seed_finds_the_same_execution() {
    let s = catalog::find("airplane-seat").unwrap();
    let a = check(s, "buggy", Checker::ShuttleRandom, None);
    let b = check(s, "buggy", Checker::ShuttleRandom, None);
    assert_eq!((a.executions, &a.trace, &a.replay), (b.executions, &b.trace, &b.replay));
}

#[test]
fn an_in_process_loom_check_runs_on_its_callers_thread_and_leaves_no_recorder_behind() {
    use conclab::runner::Isolation;
    let o = Options { isolation: Isolation::InProcess, ..options(Checker::Loom, None) };
    let found = runner::check("airplane-seat", "buggy", &o).unwrap();
    assert_eq!(found.kind, Some(conclab::report::Kind::Assertion));
    assert!(runner::check("airplane-seat", "fixed", &o).unwrap().verdict == Verdict::Passed);
    assert!(conclab::trace::current().is_none(), "a recorder was left on the caller's thread");
}

/// A shuttle search records each execution's schedule, not its events; the failing schedule is
/// replayed with every event recorded. Unminimised, the report shows that replay's trace, and its
/// token replays the same steps.
#[test]
fn a_shuttle_search_shows_the_failing_schedule_traced_in_full() {
    let s = catalog::find("airplane-seat").unwrap();
    let o = Options { minimize: false, ..options(Checker::ShuttleRandom, None) };
    let found = runner::check(s.id(), "buggy", &o).unwrap();
    assert_eq!(found.kind, Some(conclab::report::Kind::Assertion));
    assert!(found.minimised.is_none());
    let ops: Vec<&str> = found.trace.iter().map(|s| s.op.as_str()).collect();
    assert!(ops.iter().filter(|op| op.starts_with("load")).count() >= 2, "both agents' checks are traced: {ops:?}");
    assert!(found.trace.iter().any(|s| s.op.starts_with('✗')), "the violation is traced: {ops:?}");
    let again = runner::replay(s.id(), "buggy", found.replay.as_deref().unwrap(), &o).unwrap();
    assert_eq!(again.trace, found.trace);
}

/// A worker streams a failure as soon as its panic hook sees it, so that a worker that dies
/// later still leaves its parent a report. A shuttle search's hook sees no timeline and no token;
/// the last failure line the worker streams must carry both (the parent keeps the last one about the failed execution).
#[test]
fn a_shuttle_worker_streams_its_failure_again_with_token_and_trace() {
    use std::io::{BufRead, Write};
    let job = runner::Job {
        scenario: "airplane-seat".into(),
        variant: "buggy".into(),
        options: Options { minimize: false, ..options(Checker::ShuttleRandom, None) },
        replay: None,
    };
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_conclab"))
        .arg("__worker")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = worker.stdin.take().unwrap();
    serde_json::to_writer(&mut stdin, &job).unwrap();
    stdin.flush().unwrap();
    drop(stdin);
    let lines: Vec<serde_json::Value> = std::io::BufReader::new(worker.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    assert!(worker.wait().unwrap().code() == Some(0));
    let failures: Vec<&serde_json::Value> = lines.iter().filter_map(|l| l.get("failure")).collect();
    let last = failures.last().expect("the worker streams its failure");
    assert!(last["replay"].is_string(), "{last}");
    assert!(last["trace"]["steps"].as_array().is_some_and(|s| s.len() > 2), "{last}");
    assert_ne!(last["thread"], "", "{last}");
    let report = lines.iter().find_map(|l| l.get("report")).expect("and then its report");
    assert_eq!(report["replay"], last["replay"]);
}

/// A worker that dies after streaming its failure twice (as a shuttle worker does: first from
/// its panic hook, then with token and trace) leaves the parent the later, fuller line; a
/// failure of a later execution (a stress run that hung after one that failed) does not replace
/// the first.
#[cfg(unix)]
#[test]
fn a_worker_that_dies_leaves_its_parent_its_last_failure_line() {
    use conclab::trace::{Failure, Trace};
    use std::os::unix::fs::PermissionsExt;
    let line = |execution: usize, replay: Option<&str>| {
        let f = Failure {
            message: "invariant violated: two agents sold the last seat".into(),
            location: "scenarios/airplane_seat.rs:1".into(),
            thread: String::new(),
            execution,
            trace: Trace::default(),
            replay: replay.map(Into::into),
        };
        serde_json::json!({ "failure": f }).to_string()
    };
    let dir = std::env::temp_dir().join(format!("conclab-dying-worker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("worker");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >/dev/null\necho '{}'\necho '{}'\necho '{}'\nexit 134\n",
            line(3, None),
            line(3, Some("the-token")),
            line(4, Some("a-later-execution")),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = Options { isolation: runner::Isolation::Subprocess(script), ..options(Checker::ShuttleRandom, None) };
    let r = runner::check("airplane-seat", "buggy", &o).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(r.kind, Some(conclab::report::Kind::Assertion), "{}", r.render());
    assert_eq!(r.replay.as_deref(), Some("the-token"), "{}", r.render());
    assert!(r.notes.iter().any(|n| n.contains("ended its process")), "{:?}", r.notes);
}

/// Fails the first time it runs in this process only: a failure that depends on more than the
/// schedule. Each test that uses it passes a flag of its own (tests share the process).
fn fails_once(ran: &std::sync::atomic::AtomicBool) {
    use conclab::lab as rt;
    let agent = rt::thread::spawn(|| ());
    agent.join().unwrap();
    let first = !ran.swap(true, std::sync::atomic::Ordering::SeqCst);
    rt::invariant(!first, || "the first run in this process fails".into());
}

static RAN_FOR_SEARCH: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static RAN_FOR_PORTFOLIO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[test]
fn a_failure_whose_schedule_does_not_fail_again_is_kept_and_its_missing_trace_explained() {
    use conclab::runner::Isolation;
    let body: fn() = || fails_once(&RAN_FOR_SEARCH);
    let s = conclab::catalog::of_body("fails-once", "model", body);
    let o = Options { isolation: Isolation::InProcess, minimize: false, ..options(Checker::ShuttleRandom, Some(10)) };
    let r = runner::check_scenario(&s, "model", &o).unwrap();
    assert_eq!(r.kind, Some(conclab::report::Kind::Assertion), "{}", r.render());
    assert!(r.trace.is_empty(), "{}", r.render());
    assert!(r.notes.iter().any(|n| n.starts_with("no trace: replaying the failing schedule")), "{:?}", r.notes);
}

/// The portfolio (the CLI's default) summarises its stages in its notes, and keeps what the
/// deciding stage said about its own run: here, why its failure has no trace.
#[test]
fn the_portfolio_keeps_the_deciding_stage_s_notes() {
    use conclab::runner::Isolation;
    // Fails under shuttle only (loom, the first stage, passes it): the deciding stage is shuttle-pct.
    let body: fn() = || {
        if conclab::rt::dynamic::engine() == Some(conclab::catalog::Engine::Shuttle) {
            fails_once(&RAN_FOR_PORTFOLIO)
        }
    };
    let s = conclab::catalog::of_body("fails-once", "model", body);
    let o = Options { isolation: Isolation::InProcess, minimize: false, ..options(Checker::Portfolio, Some(10)) };
    let r = runner::check_scenario(&s, "model", &o).unwrap();
    assert_eq!(r.kind, Some(conclab::report::Kind::Assertion), "{}", r.render());
    assert!(r.notes.iter().any(|n| n.starts_with("shuttle-pct: ")), "{:?}", r.notes);
    assert!(r.notes.iter().any(|n| n.starts_with("no trace: replaying the failing schedule")), "{:?}", r.notes);
}
