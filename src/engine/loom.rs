//! loom on the engine floor: stage by stage (one preemption bound each) under a budget of
//! executions, with SeqCst given its meaning ([`SeqCstModel`]), a second search around loom's
//! DPOR gap ([`run_seqcst`]), and the stage numbering that loom's replay tokens need.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use super::{panic_text, Execution, Outcome};
use crate::report::{BlindSpot, Coverage};
use crate::rt::{Backend, Loom, SeqCstModel};
use crate::trace::Recorder;
use crate::vocab::Engine;

/// loom with SeqCst given its meaning (see [`SeqCstModel`]), and around loom 0.7.3's DPOR gap.
///
/// - **Exact.** The search first runs SeqCst exactly.
/// - **AcqRel.** When the program also used weaker orderings, the exact model may have hidden a
///   real bug, so a passing search is followed by plain loom's (SeqCst as AcqRel) on the rest of
///   the budget; a failure only that search shows is reported as what it is
///   (`Undecided::WeakSeqCst`), never as a plain bug and never dropped.
/// - **Own loads.** When the program had the shape loom's DPOR explores incompletely
///   ([`Loom::dpor_gap_seen`]: a thread loads an atomic and later writes it, another thread loads
///   it too), a passing search is followed by one more over the bounded stages (up to 2
///   preemptions) that runs each such load as a read-modify-write ([`Loom::set_own_write_loads`];
///   the loads are found by [`own_write_loads`], so that a `loom-own` token replays). Every
///   execution is one the program can have, so its failures are real bugs: a Relaxed publication
///   through a single-producer index, which loom alone passes "exhaustively", is found here. Its
///   pass adds to the first search's, whose coverage and blind spots stand.
pub fn run_seqcst(rec: &Arc<Recorder>, body: fn(), stages: &[Option<usize>], budget: usize) -> Outcome {
    Loom::set_seqcst_model(SeqCstModel::Exact);
    let mut exact = run(rec, body, stages, budget);
    if Loom::weak_loads_seen() {
        exact.blind.push(BlindSpot::WeakLoadInterleavings);
    }
    if Loom::pointers_seen() {
        exact.blind.push(BlindSpot::UnsyncedMaking);
    }
    // Read before the model is set again, which forgets what was seen.
    let gap = Loom::dpor_gap_seen();
    let mixed = Loom::mixed_orderings_seen();
    let decided = |o: &Outcome| o.failure.is_some() || matches!(o.coverage, Coverage::Interrupted { .. });
    if decided(&exact) {
        return exact;
    }
    let mut out = exact;
    if mixed {
        let before = out.executions;
        Loom::set_seqcst_model(SeqCstModel::AcqRel);
        let mut plain = run(rec, body, stages, budget);
        let weak_loads = Loom::weak_loads_seen();
        Loom::set_seqcst_model(SeqCstModel::Exact);
        plain.notes.insert(
            0,
            format!(
                "{before} execution(s) with SeqCst exact ({}), then {} with SeqCst as AcqRel (loom's own model): \
                 the program mixes SeqCst with weaker orderings, which the exact model may strengthen",
                out.coverage,
                plain.executions - before
            ),
        );
        plain.blind = std::mem::take(&mut out.blind);
        // The plain model runs SeqCst loads as plain loads, which loom's DPOR compares poorly too.
        if weak_loads && !plain.blind.contains(&BlindSpot::WeakLoadInterleavings) {
            plain.blind.push(BlindSpot::WeakLoadInterleavings);
        }
        // A failure here has a `loom-acqrel` token, and the runner reports it as what it is.
        if plain.failure.is_none() && !matches!(out.coverage, Coverage::Exhaustive | Coverage::PreemptionBounded { .. })
        {
            plain.coverage = out.coverage;
        }
        if decided(&plain) {
            return plain;
        }
        out = plain;
    }
    if !gap || rec.executions() >= budget {
        return out;
    }
    let before = out.executions;
    let (loads, single_writers) = own_write_loads(body);
    Loom::set_seqcst_model(SeqCstModel::Exact);
    Loom::set_own_write_loads(Some(loads));
    // The bounded stages only: a read-modify-write conflicts with every access to its atomic,
    // and an unbounded search of them grew from 118 to 695,133 executions on a two-slot ring
    // (20 s), where the bounded stages found the gap's bug in hundreds.
    let bounded: Vec<Option<usize>> = match stages.iter().copied().filter(Option::is_some).collect::<Vec<_>>() {
        b if b.is_empty() => vec![Some(2)],
        b => b,
    };
    let mut own = run(rec, body, &bounded, budget);
    let gap_left = Loom::dpor_gap_seen();
    Loom::set_own_write_loads(None);
    let second = format!(
        "{before} execution(s) ({}), then {} ({}) with each load of an atomic that its own thread later writes run \
         as a read-modify-write: loom 0.7.3's DPOR never runs another thread's load after such a load-then-write \
         (loom#166, #392)",
        out.coverage,
        own.executions - before,
        own.coverage
    );
    if decided(&own) {
        own.notes = std::mem::take(&mut out.notes);
        own.notes.push(second);
        own.blind = out.blind;
        return own;
    }
    out.executions = own.executions;
    out.notes.push(second);
    if gap_left || !single_writers {
        out.notes.push(
            "loom's DPOR gap may remain here: an atomic that several threads write in one execution, or a \
             load-then-write the small search before the second did not reach"
                .into(),
        );
    }
    out
}

/// The loads of loom's DPOR gap in `body` ([`Loom::own_write_loads`]) and whether their atomics
/// have one writer each, found by a small search of its own (preemption bounds 0 and 1, at most
/// 10,000 executions, recorded nowhere): the same for a search and for the replay of its `loom-own`
/// token.
pub fn own_write_loads(body: fn()) -> (std::collections::HashSet<(usize, usize)>, bool) {
    let scratch = Recorder::new();
    let _current = crate::trace::scoped(scratch.clone());
    Loom::set_seqcst_model(SeqCstModel::Exact);
    let _ = run(&scratch, body, &[Some(0), Some(1)], 10_000);
    Loom::own_write_loads()
}

/// `builder.check(f)` for a model that drives loom itself (tests of loom's own behaviour): each
/// execution gets its pool of atomics and its bindings of statics as the engine's do (see
/// `rt::LoomAtomic`), and a search whose pool ran short is run again.
pub fn check_bare(builder: &::loom::model::Builder, f: impl Fn() + Sync + Send + 'static) {
    crate::rt::pool::reset();
    let f = Arc::new(f);
    loop {
        let f = f.clone();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            builder.check(move || {
                crate::rt::pool::fill();
                crate::rt::bind::begin();
                f();
                if crate::rt::pool::abandoned() {
                    panic::resume_unwind(Box::new(crate::rt::pool::RanShort));
                }
                crate::rt::pool::drain();
            })
        }));
        match result {
            Err(p) if p.is::<crate::rt::pool::RanShort>() || crate::rt::pool::abandoned() => continue,
            Err(p) => panic::resume_unwind(p),
            Ok(()) => return,
        }
    }
}

/// loom, stage by stage (one preemption bound each; `None`: unbounded), until a failure or
/// `budget` executions (over all stages) are spent. A replay is one stage with the token's bound
/// and its execution number as the budget.
pub fn run(rec: &Arc<Recorder>, body: fn(), stages: &[Option<usize>], budget: usize) -> Outcome {
    let _engine = crate::rt::dynamic::EngineScope::enter(Engine::Loom);
    crate::rt::pool::reset();
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
        rec.set_loom_stage(bound, start, Loom::seqcst_model() == SeqCstModel::AcqRel, Loom::own_write_loads_on());
        let mut b = ::loom::model::Builder::new();
        b.preemption_bound = bound;
        // loom checks its cap before each execution, so N+1 lets N run; interval 1 makes it check every time.
        b.max_permutations = Some(remaining.saturating_add(1));
        b.checkpoint_interval = 1;
        b.checkpoint_file = None;
        b.log = false;
        let result = loop {
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
                    if crate::rt::pool::abandoned() {
                        // The model caught the unwinding: end the execution all the same.
                        panic::resume_unwind(Box::new(crate::rt::pool::RanShort));
                    }
                })
            }));
            match result {
                // An execution's atomics outnumbered its pool, now larger: the same search again
                // (a failure the abandoned execution recorded is not the model's).
                Err(p) if p.is::<crate::rt::pool::RanShort>() || crate::rt::pool::abandoned() => {
                    rec.take_failure();
                    rec.rewind_executions(start)
                }
                result => break result,
            }
        };
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
