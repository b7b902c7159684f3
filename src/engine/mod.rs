//! The engine floor: run one model under one engine — loom ([`loom`]), shuttle ([`shuttle`]) or
//! real threads ([`threads`]) — count its executions and capture its first failure in the
//! current [`Recorder`]. Nothing here knows options, portfolios, workers or reports: the runner
//! (`crate::runner`) and the shrinker (`crate::minimize`) stand on this floor and decide.

pub mod loom;
pub mod shuttle;
pub mod threads;

use std::panic;
use std::sync::Once;

use crate::report::{BlindSpot, Coverage, StressStats};
use crate::trace::{self, Failure, Recorder};
use crate::vocab::Engine;

/// Installs (once per process) the panic hook that turns a panic inside a model into the current
/// recorder's failure, and hands that failure to the recorder's sink
/// ([`Recorder::set_failure_sink`]) at once — before an engine that aborts (loom on a deadlock)
/// can take the process down. A panic outside any check goes to the previous hook.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let Some(rec) = trace::current() else { return previous(info) };
            // An execution loom abandoned (its pool of atomics ran short) is run again: what
            // panics in it is not the model's.
            if crate::rt::pool::abandoned() {
                return;
            }
            let message = panic_text(info.payload());
            let location = info.location().map(|l| trace::short_location(l)).unwrap_or_default();
            if let Some(f) = rec.fail(message, location) {
                rec.sink(&f);
            }
        }));
    });
}

/// What one engine's search produced.
pub struct Outcome {
    /// The first failure, with its trace as far as the run recorded one.
    pub failure: Option<Failure>,
    /// Executions begun.
    pub executions: usize,
    /// What the search covered.
    pub coverage: Coverage,
    /// Real threads: runs and failing runs.
    pub stress: Option<StressStats>,
    /// What the engine has to say about this run.
    pub notes: Vec<String>,
    /// Blind spots of this run beyond its engine's own (see [`blind_spots`]).
    pub blind: Vec<BlindSpot>,
}

impl Outcome {
    /// An outcome with nothing to add but its failure, count and coverage.
    fn plain(failure: Option<Failure>, executions: usize, coverage: Coverage) -> Outcome {
        Outcome { failure, executions, coverage, stress: None, notes: vec![], blind: vec![] }
    }
}

/// Runs `f` on a fresh OS thread and waits for it. A shuttle run that returned early on a panic
/// leaves its thread's panic count raised, and the next run on that thread would stop at once:
/// every in-process caller that runs one shuttle run after another (tests, the fuzzer, the
/// shrinker) goes through here.
pub fn on_fresh_thread<R: Send>(f: impl FnOnce() -> R + Send) -> std::thread::Result<R> {
    std::thread::scope(|scope| scope.spawn(f).join())
}

/// What an engine cannot show, whatever its search covered.
pub fn blind_spots(engine: Engine) -> Vec<BlindSpot> {
    match engine {
        Engine::Loom => vec![BlindSpot::YieldLivelock],
        Engine::Shuttle => vec![BlindSpot::WeakMemory],
        // Real threads sample; they can show anything, rarely. Their coverage says so.
        Engine::Stress => vec![],
    }
}

/// One execution's lifetime: counted when it begins; the modelled process's signal state is
/// dropped when it ends (even by a panic), inside the engine's execution, as its objects must be.
pub(crate) struct Execution;

impl Execution {
    pub(crate) fn begin(rec: &Recorder) -> Execution {
        crate::rt::signal::reset();
        crate::rt::Loom::begin_execution();
        rec.begin_execution();
        if crate::rt::dynamic::engine() == Some(Engine::Loom) {
            // On the main thread, before the model: see `rt::LoomAtomic`.
            crate::rt::pool::fill();
        }
        // Its own bindings of statics and captured objects (`rt::bind`).
        crate::rt::bind::begin();
        Execution
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        crate::rt::signal::reset();
        crate::rt::pool::drain();
    }
}

/// The message of a panic payload (`panic!`'s formatted text, or a placeholder).
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}
