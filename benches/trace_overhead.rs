//! What recording costs, and how fast each checker finds and verifies: `cargo bench --bench trace_overhead`.
//!
//! 1. Executions per second of the airplane-seat model (its `fixed` variant, explored
//!    exhaustively by loom, 5,000 random schedules by shuttle), side by side: through conclab's
//!    runner (`check`; a shuttle search records schedules and traces a failing one by replay),
//!    for shuttle also recording every event of every execution, through the facade with no
//!    recorder, and written directly against loom / shuttle below — once like the scenario (it
//!    names its agents, so the direct program names its threads: the like-for-like baseline)
//!    and once with unnamed threads (the strictest baseline: a program that asks the engine for
//!    less than the scenario).
//! 2. How often and how soon each checker finds each bug, and what verifying each fix costs:
//!    [`conclab::bench`], the same table as `conclab bench`.
//!
//! `cargo bench --bench trace_overhead -- recording` runs part 1 only (`-- loom` or `-- shuttle`
//! narrows it to one engine), `-- checkers` part 2 only.

use std::time::{Duration, Instant};

use conclab::bench;
use conclab::catalog;
use conclab::runner::{self, Checker, Isolation, Options};

/// The airplane-seat model with the mutex fix, written directly against an engine's types;
/// `named` threads are named as the scenario names its agents.
macro_rules! direct_model {
    ($krate:ident, $named:expr) => {
        || {
            use $krate::sync::atomic::{AtomicUsize, Ordering};
            use $krate::sync::{Arc, Mutex};
            struct Flight {
                seats_left: AtomicUsize,
                ledger: Mutex<Vec<(usize, usize)>>,
                booking: Mutex<()>,
            }
            let flight = Arc::new(Flight {
                seats_left: AtomicUsize::new(1),
                ledger: Mutex::new(vec![]),
                booking: Mutex::new(()),
            });
            let agents: Vec<_> = (1..=2)
                .map(|agent| {
                    let flight = flight.clone();
                    let agent_body = move || {
                        let _desk = flight.booking.lock().unwrap();
                        let left = flight.seats_left.load(Ordering::SeqCst);
                        if left > 0 {
                            flight.seats_left.store(left - 1, Ordering::SeqCst);
                            let mut ledger = flight.ledger.lock().unwrap();
                            assert!(ledger.iter().all(|&(s, _)| s != left));
                            ledger.push((left, agent));
                        }
                    };
                    if $named {
                        $krate::thread::Builder::new().name(format!("agent-{agent}")).spawn(agent_body).unwrap()
                    } else {
                        $krate::thread::spawn(agent_body)
                    }
                })
                .collect();
            for a in agents {
                a.join().unwrap();
            }
        }
    };
}

/// Seconds per execution of one call of `f` (which returns the executions it explored).
fn per_execution(f: &mut dyn FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let n = f();
    start.elapsed().as_secs_f64() / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn in_process(checker: Checker, iterations: Option<usize>, seed: u64) -> Options {
    Options { iterations, seed, isolation: Isolation::InProcess, ..Options::new(checker, "unused") }
}

/// Set in the child process that measures one engine's row (see [`recording_cost`]).
const ROW_OF: &str = "CONCLAB_BENCH_ROW_OF";

fn main() {
    if let Ok(engine) = std::env::var(ROW_OF) {
        return recording_row(&engine);
    }
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |part: &str| args.is_empty() || args.iter().any(|a| a == part);
    let (loom_on, shuttle_on) = (wants("recording") || wants("loom"), wants("recording") || wants("shuttle"));
    if loom_on || shuttle_on {
        recording_cost(loom_on, shuttle_on);
    }
    if wants("checkers") {
        // Part 2 lives in the library, one place for the idea: the same table as `conclab bench`.
        println!("\n## Finding and verifying\n");
        let plan = bench::Plan::new(&[], &[], bench::DEFAULT_SEEDS, env!("CARGO_BIN_EXE_conclab")).unwrap();
        print!("{}", bench::run(&plan, false).unwrap().markdown());
    }
}

/// Rounds of one call per cell for this long per engine.
const BUDGET: Duration = Duration::from_secs(12);

/// Prints the table, one row per engine, each measured in a process of its own: the heap a
/// loom run leaves behind made the direct shuttle cells that ran on it (on the main thread)
/// measurably faster than on a fresh heap, while conclab's shuttle check runs on a thread of its
/// own; a fresh process gives every engine's cells the same start.
fn recording_cost(loom_on: bool, shuttle_on: bool) {
    println!(
        "## Cost of recording (airplane-seat, fixed variant; median of paired rounds over {} s per engine)\n",
        BUDGET.as_secs()
    );
    println!(
        "| engine | conclab check | every event recorded | facade, no recorder | direct, named threads \
         | direct, unnamed | check vs direct (named / unnamed) | every event vs direct (named / unnamed) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe().expect("the bench's own path");
    for engine in [loom_on.then_some("loom"), shuttle_on.then_some("shuttle")].into_iter().flatten() {
        let out = std::process::Command::new(&exe).env(ROW_OF, engine).output().expect("the bench runs itself");
        assert!(out.status.success(), "the {engine} row failed: {}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// One engine's row. Rounds of one call per cell for [`BUDGET`]: this machine's speed drifts by
/// ±20% from one minute to the next (a shared host), far more than the differences measured, so
/// each round's cells are compared with each other (paired) and the median of those ratios is the
/// cost; the rates are each cell's median. Each round starts one cell later than the last: a cell
/// ran measurably faster or slower depending on which cell ran just before it (the allocator's
/// state), and rotating spreads that evenly.
fn recording_row(engine: &str) {
    let min_rounds = 30;
    let s = catalog::find("airplane-seat").unwrap();
    let body = s.body("fixed").unwrap();
    let shuttle_body = s.body("fixed").unwrap();
    let loom_count = |model: Box<dyn Fn() + Send + Sync>| {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = count.clone();
        loom::model::Builder::new().check(move || {
            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            model()
        });
        count.load(std::sync::atomic::Ordering::Relaxed)
    };
    let n = 5_000;
    let shuttle_random = || shuttle::scheduler::RandomScheduler::new_from_seed(1, n);
    // Cells: conclab's check, conclab recording every event of every execution (loom's checks
    // always do: the same cell), the facade with no recorder, direct named, direct unnamed.
    let mut loom_cells: Vec<Box<dyn FnMut() -> usize>> = vec![
        // The same search as the direct cells' (one unbounded stage, not 0, 1, 2 first).
        Box::new(|| {
            let o = Options { unbounded_only: true, ..in_process(Checker::Loom, None, 0) };
            runner::check(s.id(), "fixed", &o).unwrap().executions
        }),
        Box::new(|| loom_count(Box::new(body))),
        Box::new(|| loom_count(Box::new(direct_model!(loom, true)))),
        Box::new(|| loom_count(Box::new(direct_model!(loom, false)))),
    ];
    let mut shuttle_cells: Vec<Box<dyn FnMut() -> usize>> = vec![
        // A search records each execution's schedule, and replays a failing one with every event.
        Box::new(|| {
            runner::check(s.id(), "fixed", &in_process(Checker::ShuttleRandom, Some(n), 1)).unwrap().executions
        }),
        // What the fuzzer's one-execution checks do: every event of every execution.
        Box::new(|| {
            let o = in_process(Checker::ShuttleRandom, Some(n), 1);
            runner::check_with_scheduler(s, "fixed", shuttle_random(), "every-event", &o).unwrap().executions
        }),
        Box::new(|| shuttle::Runner::new(shuttle_random(), shuttle::Config::new()).run(shuttle_body)),
        Box::new(|| shuttle::Runner::new(shuttle_random(), shuttle::Config::new()).run(direct_model!(shuttle, true))),
        Box::new(|| shuttle::Runner::new(shuttle_random(), shuttle::Config::new()).run(direct_model!(shuttle, false))),
    ];
    for (name, on, cells) in [
        ("loom (exhaustive)", engine == "loom", &mut loom_cells),
        ("shuttle (random)", engine == "shuttle", &mut shuttle_cells),
    ] {
        if !on {
            continue;
        }
        let k = cells.len();
        let mut rounds: Vec<Vec<f64>> = vec![];
        let start = Instant::now();
        while start.elapsed() < BUDGET || rounds.len() < min_rounds {
            let mut round = vec![0.0; k];
            for j in 0..k {
                let i = (rounds.len() + j) % k;
                round[i] = per_execution(&mut cells[i]);
            }
            rounds.push(round);
        }
        // Column indices: loom has no separate every-event cell (its check records every event).
        let (check, every, facade, named, unnamed) = if k == 5 { (0, 1, 2, 3, 4) } else { (0, 0, 1, 2, 3) };
        let rate = |i: usize| format!("{:.0}/s", 1.0 / median(rounds.iter().map(|r| r[i]).collect()));
        let cost = |a: usize, b: usize| 100.0 * (median(rounds.iter().map(|r| r[a] / r[b]).collect()) - 1.0);
        let costs = |a: usize| format!("{:+.1}% / {:+.1}%", cost(a, named), cost(a, unnamed));
        let every_rate = if every == check { "(= check)".to_string() } else { rate(every) };
        let every_cost = if every == check { "(= check)".to_string() } else { costs(every) };
        println!(
            "| {name} | {} | {every_rate} | {} | {} | {} | {} | {every_cost} |",
            rate(check),
            rate(facade),
            rate(named),
            rate(unnamed),
            costs(check)
        );
        eprintln!("({name}: {} rounds)", rounds.len());
    }
}
