//! shuttle on the engine floor: run a model under any shuttle scheduler (a search, a replay, a
//! shrinker's plan, the fuzzer's bytes), record the choices it made, and turn the failing
//! execution's choices into its replay token.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use ::shuttle::scheduler::Scheduler;

use super::{on_fresh_thread, panic_text, Execution, Outcome};
use crate::replay::Recording;
use crate::report::Coverage;
use crate::rt::{Backend, Shuttle};
use crate::trace::{self, Failure, Recorder, ReplayBase};
use crate::vocab::Engine;

/// Runs the shuttle scheduler `scheduler` (one that replays a schedule) with a recorder that
/// keeps every event, on a fresh OS thread; its first failure, if any.
pub fn traced_run<S: Scheduler + Send + 'static>(
    base: &ReplayBase,
    body: fn(),
    scheduler: S,
    max_steps: usize,
) -> Option<Failure> {
    on_fresh_thread(|| {
        let rec = Recorder::new();
        rec.set_replay_base(Some(base.clone()));
        let _current = trace::scoped(rec.clone());
        run(&rec, body, scheduler, max_steps).failure
    })
    .ok()
    .flatten()
}

fn config(max_steps: usize) -> ::shuttle::Config {
    let mut config = ::shuttle::Config::new();
    config.failure_persistence = ::shuttle::FailurePersistence::None;
    config.max_steps = ::shuttle::MaxSteps::FailAfter(max_steps);
    config.silence_warnings = true;
    config.ungraceful_shutdown_config.immediately_return_on_panic = true;
    config
}

/// Runs `body` under `scheduler` for as many executions as it asks for, each cut after
/// `max_steps` scheduling steps (reported as the engine's step limit), recording into `rec`. A
/// failure that ended the run gets the replay token of its execution's choices.
pub fn run<S: Scheduler + 'static>(rec: &Arc<Recorder>, body: fn(), scheduler: S, max_steps: usize) -> Outcome {
    let _engine = crate::rt::dynamic::EngineScope::enter(Engine::Shuttle);
    let (scheduler, choices) = Recording::new(scheduler);
    let runner = ::shuttle::Runner::new(scheduler, config(max_steps));
    let r2 = rec.clone();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        runner.run(move || {
            let _execution = Execution::begin(&r2);
            Shuttle::set_thread_index(0);
            body();
        })
    }));
    let executions = rec.executions();
    let mut failure =
        rec.take_failure().or_else(|| result.err().and_then(|p| rec.fail(panic_text(&*p), String::new())));
    if let Some(f) = failure.as_mut().filter(|f| f.execution == rec.executions()) {
        // The failure ended the run: the choices are the failing execution's.
        f.replay = rec.shuttle_token(&choices.borrow());
    }
    let coverage = match failure {
        Some(_) => Coverage::StoppedAtBug { after: executions },
        None if crate::interrupt::requested() => Coverage::Interrupted { after: executions },
        None => Coverage::Sampled { schedules: executions },
    };
    Outcome::plain(failure, executions, coverage)
}
