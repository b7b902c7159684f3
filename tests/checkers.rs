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
    s.on_std.found_by.contains(&checker)
}

/// The shuttle modes that can explore `s` (DFS cannot explore spin loops).
fn shuttle_modes(s: &Scenario) -> impl Iterator<Item = Checker> {
    let spins = s.on_std.waits_by_spinning;
    SHUTTLE.into_iter().filter(move |c| !(spins && *c == Checker::ShuttleDfs))
}

/// `found_by` is a promise about the `buggy` variant. A scenario's further buggy variants (a
/// bigger instance, e.g. three cars) are held to it too, except by DFS, whose fixed order may
/// need more than its budget on the bigger model.
fn assert_found(s: &Scenario, checker: Checker) {
    for v in s.on_std.variants.iter().filter(|v| !v.fixed) {
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
        Some(s.on_std.expected_for(variant)),
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
    for v in s.on_std.variants.iter().filter(|v| v.fixed) {
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
        assert_eq!(r.kind, Some(s.on_std.expected), "{}:\n{}", s.id(), r.render());
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

/// Fails the first time it runs in this process only: a failure that depends on more than the schedule.
fn fails_once() {
    use conclab::rt::shuttle as rt;
    static RAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let agent = rt::thread::spawn(|| ());
    agent.join().unwrap();
    let first = !RAN.swap(true, std::sync::atomic::Ordering::SeqCst);
    rt::invariant(!first, || "the first run in this process fails".into());
}

#[test]
fn a_failure_whose_schedule_does_not_fail_again_is_kept_and_its_missing_trace_explained() {
    use conclab::runner::Isolation;
    let s = conclab::assign::student_scenario("airplane-seat", [fails_once; 3], "");
    let o = Options { isolation: Isolation::InProcess, minimize: false, ..options(Checker::ShuttleRandom, Some(10)) };
    let r = runner::check_scenario(&s, "student", &o).unwrap();
    assert_eq!(r.kind, Some(conclab::report::Kind::Assertion), "{}", r.render());
    assert!(r.trace.is_empty(), "{}", r.render());
    assert!(r.notes.iter().any(|n| n.starts_with("no trace: replaying the failing schedule")), "{:?}", r.notes);
}
