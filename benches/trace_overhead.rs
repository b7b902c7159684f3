//! What recording costs, and how fast each checker finds and verifies: `cargo bench --bench trace_overhead`.
//!
//! 1. Executions per second of the airplane-seat model (its `fixed` variant, explored
//!    exhaustively by loom, 10,000 random schedules by shuttle), three ways, side by side:
//!    through conclab's runner with recording on, through the facade with no recorder, and
//!    written directly against loom / shuttle below.
//! 2. How often and how soon each checker finds each bug, and what verifying each fix costs:
//!    [`conclab::bench`], the same table as `conclab bench`.

use std::time::{Duration, Instant};

use conclab::bench;
use conclab::catalog::{self, Engine};
use conclab::runner::{self, Checker, Isolation, Options};

/// The airplane-seat model with the mutex fix, written directly against an engine's types.
macro_rules! direct_model {
    ($krate:ident) => {
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
                    $krate::thread::spawn(move || {
                        let _desk = flight.booking.lock().unwrap();
                        let left = flight.seats_left.load(Ordering::SeqCst);
                        if left > 0 {
                            flight.seats_left.store(left - 1, Ordering::SeqCst);
                            let mut ledger = flight.ledger.lock().unwrap();
                            assert!(ledger.iter().all(|&(s, _)| s != left));
                            ledger.push((left, agent));
                        }
                    })
                })
                .collect();
            for a in agents {
                a.join().unwrap();
            }
        }
    };
}

/// Runs `f` (which returns the executions it explored) until `budget` has passed; executions/s.
fn rate(budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < budget {
        n += f();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn in_process(checker: Checker, iterations: Option<usize>, seed: u64) -> Options {
    Options { iterations, seed, isolation: Isolation::InProcess, ..Options::new(checker, "unused") }
}

fn main() {
    let budget = Duration::from_secs(3);
    let s = catalog::find("airplane-seat").unwrap();
    let body = s.body(Engine::Loom, "fixed").unwrap();
    let shuttle_body = s.body(Engine::Shuttle, "fixed").unwrap();

    println!("## Cost of recording (airplane-seat, fixed variant; {} s per cell)\n", budget.as_secs());
    println!("| engine | conclab, recording on | facade, no recorder | direct | recording on vs direct |");
    println!("|---|---:|---:|---:|---:|");
    // Each engine's three measurements alternate, twice, so that machine noise hits them alike.
    let mut loom_rates = [0.0f64; 3];
    let mut shuttle_rates = [0.0f64; 3];
    for _ in 0..2 {
        loom_rates[0] +=
            rate(budget, || runner::check(s.id(), "fixed", &in_process(Checker::Loom, None, 0)).unwrap().executions);
        loom_rates[1] += rate(budget, || {
            let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let c = count.clone();
            loom::model::Builder::new().check(move || {
                c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                body()
            });
            count.load(std::sync::atomic::Ordering::Relaxed)
        });
        loom_rates[2] += rate(budget, || {
            let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let c = count.clone();
            let model = direct_model!(loom);
            loom::model::Builder::new().check(move || {
                c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                model()
            });
            count.load(std::sync::atomic::Ordering::Relaxed)
        });
    }
    // shuttle's panic hook, once installed, chatters about loom's internal unwinding: loom first.
    for _ in 0..2 {
        let n = 10_000;
        shuttle_rates[0] += rate(budget, || {
            runner::check(s.id(), "fixed", &in_process(Checker::ShuttleRandom, Some(n), 1)).unwrap().executions
        });
        shuttle_rates[1] += rate(budget, || {
            shuttle::Runner::new(shuttle::scheduler::RandomScheduler::new_from_seed(1, n), shuttle::Config::new())
                .run(shuttle_body)
        });
        shuttle_rates[2] += rate(budget, || {
            shuttle::Runner::new(shuttle::scheduler::RandomScheduler::new_from_seed(1, n), shuttle::Config::new())
                .run(direct_model!(shuttle))
        });
    }
    for (name, r) in [("loom (exhaustive)", loom_rates), ("shuttle (random)", shuttle_rates)] {
        let cost = 100.0 * (r[2] / r[0] - 1.0);
        println!("| {name} | {:.0}/s | {:.0}/s | {:.0}/s | {cost:+.1}% time |", r[0] / 2.0, r[1] / 2.0, r[2] / 2.0);
    }

    // Part 2 lives in the library, one place for the idea: the same table as `conclab bench`.
    println!("\n## Finding and verifying\n");
    let plan = bench::Plan::new(&[], &[], bench::DEFAULT_SEEDS, env!("CARGO_BIN_EXE_conclab")).unwrap();
    print!("{}", bench::run(&plan, false).unwrap().markdown());
}
