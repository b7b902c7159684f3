//! loom on the engine floor: stage by stage (one preemption bound each) under a budget of
//! executions, with SeqCst given its meaning ([`SeqCstModel`]), and the stage numbering that
//! loom's replay tokens need.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use super::{panic_text, Execution, Outcome};
use crate::report::{BlindSpot, Coverage};
use crate::rt::{Backend, Loom, SeqCstModel};
use crate::trace::Recorder;
use crate::vocab::Engine;

/// loom with SeqCst given its meaning (see [`SeqCstModel`]). When the program also used weaker
/// orderings, the exact model may have hidden a real bug, so a passing search is followed by
/// plain loom's (SeqCst as AcqRel) on the rest of the budget; a failure only that search shows
/// is reported as what it is (`Undecided::WeakSeqCst`), never as a plain bug and never dropped.
pub fn run_seqcst(rec: &Arc<Recorder>, body: fn(), stages: &[Option<usize>], budget: usize) -> Outcome {
    Loom::set_seqcst_model(SeqCstModel::Exact);
    let mut exact = run(rec, body, stages, budget);
    if Loom::weak_loads_seen() {
        exact.blind.push(BlindSpot::WeakLoadInterleavings);
    }
    let decided = exact.failure.is_some() || matches!(exact.coverage, Coverage::Interrupted { .. });
    if decided || !Loom::mixed_orderings_seen() {
        return exact;
    }
    Loom::set_seqcst_model(SeqCstModel::AcqRel);
    let mut plain = run(rec, body, stages, budget);
    // Read before the model is set back, which forgets what was seen.
    let weak_loads = Loom::weak_loads_seen();
    Loom::set_seqcst_model(SeqCstModel::Exact);
    let exact_searched = format!(
        "{} execution(s) with SeqCst exact ({}), then {} with SeqCst as AcqRel (loom's own model): \
         the program mixes SeqCst with weaker orderings, which the exact model may strengthen",
        exact.executions,
        exact.coverage,
        plain.executions - exact.executions
    );
    plain.notes.insert(0, exact_searched);
    plain.blind = exact.blind;
    // The plain model runs SeqCst loads as plain loads, which loom's DPOR compares poorly too.
    if weak_loads && !plain.blind.contains(&BlindSpot::WeakLoadInterleavings) {
        plain.blind.push(BlindSpot::WeakLoadInterleavings);
    }
    // A failure here has a `loom-acqrel` token, and `report_from` reports it as what it is.
    if plain.failure.is_none() && !matches!(exact.coverage, Coverage::Exhaustive | Coverage::PreemptionBounded { .. }) {
        plain.coverage = exact.coverage;
    }
    plain
}

/// loom, stage by stage (one preemption bound each; `None`: unbounded), until a failure or
/// `budget` executions (over all stages) are spent. A replay is one stage with the token's bound
/// and its execution number as the budget.
pub fn run(rec: &Arc<Recorder>, body: fn(), stages: &[Option<usize>], budget: usize) -> Outcome {
    let _engine = crate::rt::dynamic::EngineScope::enter(Engine::Loom);
    // Until a stage ends on its own, nothing is covered but what was sampled: a budget spent
    // before (or inside) a stage never reads as exhaustive.
    let mut coverage = Coverage::Sampled { schedules: 0 };
    for &bound in stages {
        let start = rec.executions();
        let remaining = budget.saturating_sub(start);
        if remaining == 0 {
            coverage = Coverage::Sampled { schedules: start };
            break;
        }
        rec.set_loom_stage(bound, start, Loom::seqcst_model() == SeqCstModel::AcqRel);
        let mut b = ::loom::model::Builder::new();
        b.preemption_bound = bound;
        // loom checks its cap before each execution, so N+1 lets N run; interval 1 makes it check every time.
        b.max_permutations = Some(remaining.saturating_add(1));
        b.checkpoint_interval = 1;
        b.checkpoint_file = None;
        b.log = false;
        let r2 = rec.clone();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            b.check(move || {
                if crate::interrupt::requested() {
                    // Ctrl-C: leave loom's search between executions (no panic hook sees this).
                    panic::resume_unwind(Box::new(crate::interrupt::Interrupted));
                }
                let _execution = Execution::begin(&r2);
                Loom::set_thread_index(0);
                body();
            })
        }));
        let ran = rec.executions() - start;
        if let Some(f) = rec.take_failure() {
            return Outcome::plain(Some(f), rec.executions(), Coverage::StoppedAtBug { after: rec.executions() });
        }
        if result.as_ref().err().is_some_and(|p| p.is::<crate::interrupt::Interrupted>())
            || crate::interrupt::requested()
        {
            return Outcome::plain(None, rec.executions(), Coverage::Interrupted { after: rec.executions() });
        }
        if let Err(p) = result {
            let failure = rec.fail(panic_text(&*p), String::new());
            return Outcome::plain(failure, rec.executions(), Coverage::StoppedAtBug { after: rec.executions() });
        }
        coverage = match bound {
            _ if ran >= remaining => Coverage::Sampled { schedules: rec.executions() },
            None => Coverage::Exhaustive,
            Some(b) => Coverage::PreemptionBounded { bound: b },
        };
        if ran >= remaining {
            break;
        }
    }
    Outcome::plain(None, rec.executions(), coverage)
}
