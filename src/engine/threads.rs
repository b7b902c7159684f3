//! Real threads on the engine floor: the model run after run, each a sample of whatever schedule
//! the OS makes, with a watchdog that turns a run that stops making progress into a reported hang.

use std::panic;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Execution, Outcome};
use crate::report::{Coverage, StressStats};
use crate::rt::{Backend, StdThreads};
use crate::trace::{self, Recorder};
use crate::vocab::Engine;

/// The model on real threads, `runs` times. With `watchdog: Some(timeout)`, a run that makes no
/// progress for `timeout` is a hang: the failure (naming what each blocked thread waits for) goes
/// to the recorder's sink and **the process exits** with status 3 — a deadlocked thread cannot be
/// unwound, so only a process that is meant to die for its caller (a worker) asks for it.
pub fn run(rec: &Arc<Recorder>, body: fn(), runs: usize, watchdog: Option<Duration>) -> Outcome {
    let _engine = crate::rt::dynamic::EngineScope::enter(Engine::Stress);
    // Real threads can record millions of events in one run (a spin until the watchdog fires).
    rec.set_event_cap(Some(trace::STRESS_EVENT_CAP));
    let progress = Arc::new(AtomicU64::new(0));
    if let Some(timeout) = watchdog {
        let (rec, progress) = (rec.clone(), progress.clone());
        std::thread::spawn(move || {
            let mut seen = progress.load(Ordering::Relaxed);
            let mut since = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(50).min(timeout));
                let now = progress.load(Ordering::Relaxed);
                if now != seen {
                    (seen, since) = (now, Instant::now());
                } else if since.elapsed() >= timeout {
                    let message =
                        format!("hung with threads blocked for {} ms (run {})", timeout.as_millis(), rec.executions());
                    let f = rec
                        .fail(message.clone(), String::new())
                        .unwrap_or_else(|| rec.failure_now(message, String::new()));
                    rec.sink(&f);
                    std::process::exit(3);
                }
            }
        });
    }
    let mut failing_runs = 0;
    let mut done = 0;
    for _ in 0..runs {
        if crate::interrupt::requested() {
            break;
        }
        done += 1;
        let execution = Execution::begin(rec);
        StdThreads::set_thread_index(0);
        let result = panic::catch_unwind(body);
        drop(execution);
        if result.is_err() || rec.failed_this_execution() {
            failing_runs += 1;
        }
        progress.fetch_add(1, Ordering::Relaxed);
    }
    let failure = rec.take_failure();
    let coverage =
        if done < runs { Coverage::Interrupted { after: done } } else { Coverage::Sampled { schedules: runs } };
    let runs = done;
    let notes = vec![
        "real threads: the trace's order is the order events were recorded, not a replayable schedule".to_string()
    ];
    Outcome {
        failure,
        executions: runs,
        coverage,
        stress: Some(StressStats { runs, failing_runs }),
        notes,
        blind: vec![],
    }
}
