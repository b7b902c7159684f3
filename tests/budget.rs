//! The wall-clock budget (`Options::time_budget_ms`, `--timeout`): a worker still running when
//! it runs out is killed, and the check comes back `inconclusive` (timeout) with what it covered
//! — or with the failure it had already found.
//!
//! The models here never end one execution (`loop { spin_loop() }` with no facade call), so no
//! engine ever gets back control between executions: only the kill stops them. A worker must
//! run these models, which only this binary contains, so this test binary is its own worker
//! (`harness = false`; `budget __worker` runs one job), as an assignment's `checks` binary is.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use conclab::catalog::Scenario;
use conclab::report::{Coverage, Kind, Undecided, Verdict};
use conclab::runner::{self, Checker, Options};

/// One execution that never ends, on every engine.
fn spin() {
    loop {
        std::hint::spin_loop();
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// The first run of the worker's process fails; every later one spins forever.
fn fails_then_spins() {
    if RUNS.fetch_add(1, Ordering::Relaxed) == 0 {
        conclab::lab::invariant(false, || "the first run fails".into());
    }
    spin();
}

/// A run that records twice the events a stress run keeps, then fails.
fn long_then_fails() {
    use conclab::lab as rt;
    let flag = rt::sync::atomic::AtomicUsize::new(0).named("flag");
    for _ in 0..2 * conclab::trace::STRESS_EVENT_CAP {
        flag.load(rt::sync::atomic::Ordering::SeqCst);
    }
    rt::invariant(false, || "fails after a long run".into());
}

/// The scenarios this binary knows (no metadata; one variant, `model`).
fn scenario(id: &str) -> Option<Scenario> {
    match id {
        "spin" => Some(conclab::catalog::of_body("spin", "model", spin)),
        "fails-then-spins" => Some(conclab::catalog::of_body("fails-then-spins", "model", fails_then_spins)),
        "long-then-fails" => Some(conclab::catalog::of_body("long-then-fails", "model", long_then_fails)),
        _ => None,
    }
}

fn options(checker: Checker, time_budget_ms: u64) -> Options {
    let exe = std::env::current_exe().expect("the test binary");
    Options { time_budget_ms, minimize: false, ..Options::new(checker, exe) }
}

fn an_execution_that_never_ends_is_stopped_at_the_budget_on_every_engine() {
    let s = scenario("spin").unwrap();
    for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct, Checker::Stress] {
        let r = runner::check_scenario(&s, "model", &options(checker, 200)).unwrap();
        let name = checker.name();
        assert_eq!(r.verdict, Verdict::Inconclusive, "{name}: {}", r.render());
        assert_eq!(r.inconclusive, Some(Undecided::Timeout), "{name}: {}", r.render());
        // The first execution never ends: at most that one was begun, and it is all that was covered.
        assert!(r.executions <= 1, "{name}: {}", r.render());
        assert_eq!(r.coverage, Coverage::Sampled { schedules: r.executions }, "{name}");
        let message = r.message.as_deref().unwrap_or("");
        assert!(message.starts_with("timeout after 0.2 s ("), "{name}: {message}");
        assert!(r.render().starts_with("INCONCLUSIVE"), "{name}: {}", r.render());
    }
}

/// A bug found is a bug: the worker found one, then spun until the budget ran out. (The one
/// race here is the worker reaching its first failure within the budget: a few milliseconds
/// against three seconds.)
fn a_failure_found_before_the_budget_ran_out_is_reported() {
    let s = scenario("fails-then-spins").unwrap();
    let r = runner::check_scenario(&s, "model", &options(Checker::Stress, 3_000)).unwrap();
    assert_eq!(r.verdict, Verdict::BugFound, "{}", r.render());
    assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
    assert!(r.notes.iter().any(|n| n.contains("stopped when the time budget of 3 s ran out")), "{:?}", r.notes);
}

/// The portfolio's stages share one budget: a stage that spends it ends the portfolio (no stage
/// starts after it; one running beside it is stopped or times out too).
fn a_portfolio_stage_that_times_out_ends_the_portfolio() {
    let s = scenario("spin").unwrap();
    let r = runner::check_scenario(&s, "model", &options(Checker::Portfolio, 200)).unwrap();
    assert_eq!(r.inconclusive, Some(Undecided::Timeout), "{}", r.render());
    let stages: Vec<&String> = r.notes.iter().filter(|n| n.contains(" execution(s), ")).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(3);
    assert!(!stages.is_empty() && stages.len() <= cores, "{:?}", r.notes);
    for stage in stages {
        assert!(stage.contains("time budget") || stage.contains("another engine decided first"), "{stage}");
    }
}

/// Not the budget, but the other way a stress run once held a worker for minutes: its trace.
/// A failing run's trace keeps the last `STRESS_EVENT_CAP` events, and the report says so.
fn a_stress_trace_keeps_the_last_events_and_says_it_was_truncated() {
    let s = scenario("long-then-fails").unwrap();
    let o = Options { iterations: Some(1), ..options(Checker::Stress, runner::DEFAULT_TIME_BUDGET_MS) };
    let r = runner::check_scenario(&s, "model", &o).unwrap();
    assert_eq!(r.kind, Some(Kind::Assertion), "{:?}", r.message);
    let cap = conclab::trace::STRESS_EVENT_CAP;
    assert_eq!(r.trace.len(), cap);
    let first = r.trace[0].step;
    assert!(first > cap, "numbered as recorded: {first}");
    let note = format!("trace truncated: showing the last {cap} events (the {} before them were not kept)", first - 1);
    assert!(r.notes.contains(&note), "{:?}", r.notes);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "__worker") {
        return match runner::worker_main_with(scenario) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    // `cargo test` passes a name filter (and flags, ignored here).
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let tests: [(&str, fn()); 4] = [
        (
            "an_execution_that_never_ends_is_stopped_at_the_budget_on_every_engine",
            an_execution_that_never_ends_is_stopped_at_the_budget_on_every_engine,
        ),
        (
            "a_failure_found_before_the_budget_ran_out_is_reported",
            a_failure_found_before_the_budget_ran_out_is_reported,
        ),
        ("a_portfolio_stage_that_times_out_ends_the_portfolio", a_portfolio_stage_that_times_out_ends_the_portfolio),
        (
            "a_stress_trace_keeps_the_last_events_and_says_it_was_truncated",
            a_stress_trace_keeps_the_last_events_and_says_it_was_truncated,
        ),
    ];
    for (name, test) in tests {
        if filter.is_none_or(|f| name.contains(f.as_str())) {
            test();
            println!("test {name} ... ok");
        }
    }
    ExitCode::SUCCESS
}
