//! The default check: every engine that can judge a model, side by side on the available cores
//! (each in a child process), the first bug found wins; a pass says what each engine covered and
//! what it cannot see.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::{check_scenario, Checker, Isolation, Options};
use crate::catalog::Scenario;
use crate::report::{Coverage, Report, Undecided, Verdict};

/// The default check's engines, in order of preference: loom (exhaustive, weak memory), then
/// shuttle PCT and random (sequentially consistent; they see livelocks loom cannot). No metadata
/// chooses them: the same three judge a catalog scenario and code conclab has never seen.
pub const PORTFOLIO: [Checker; 3] = [Checker::Loom, Checker::ShuttlePct, Checker::ShuttleRandom];

/// The default check. In child processes the engines run side by side, as many at once as the
/// machine has cores, and the first bug found wins (the others are stopped); in this process
/// (tests) they run one after the other, in [`PORTFOLIO`] order, until one finds a bug.
pub(super) fn portfolio(s: &Scenario, variant: &str, options: &Options) -> Result<Report> {
    let started = Instant::now();
    let parallel = !matches!(options.isolation, Isolation::InProcess);
    let stage_options = |i: usize, checker: Checker| Options {
        checker,
        // Each stage gets what is left of the budget (at least a moment: it then reports a timeout).
        time_budget_ms: options.time_budget_ms.saturating_sub(started.elapsed().as_millis() as u64).max(1),
        // One progress bar: the first stage's.
        progress: options.progress && i == 0,
        ..options.clone()
    };
    // (stage, report), in the order the stages ended.
    let mut ended: Vec<(usize, Report)> = vec![];
    let mut stage_errors: Vec<String> = vec![];
    if parallel {
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = parking_lot::Mutex::new(Vec::new());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(PORTFOLIO.len());
        std::thread::scope(|scope| {
            for _ in 0..cores {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= PORTFOLIO.len() || cancel.load(Ordering::SeqCst) {
                        break;
                    }
                    let o = Options { cancel: Some(cancel.clone()), ..stage_options(i, PORTFOLIO[i]) };
                    let r = check_scenario(s, variant, &o);
                    // A timeout spent the budget the stages share: no time is left for the others.
                    let decided = r.as_ref().map_or(true, |r| {
                        r.found_bug() || r.interrupted() || r.inconclusive == Some(Undecided::Timeout)
                    });
                    done.lock().push((i, r));
                    if decided {
                        cancel.store(true, Ordering::SeqCst);
                    }
                });
            }
        });
        // A stage that could not run (its worker died without a word) does not hide another
        // stage's verdict: it is a note, unless no stage reported at all.
        let mut failed = vec![];
        for (i, r) in done.into_inner() {
            match r {
                Ok(r) => ended.push((i, r)),
                Err(e) => failed.push((i, e)),
            }
        }
        if ended.is_empty() {
            if let Some((_, e)) = failed.into_iter().next() {
                return Err(e);
            }
        } else {
            for (i, e) in failed {
                stage_errors.push(format!("{}: could not run: {e:#}", PORTFOLIO[i].name()));
            }
        }
    } else {
        for (i, checker) in PORTFOLIO.into_iter().enumerate() {
            let r = check_scenario(s, variant, &stage_options(i, checker))?;
            let decided = r.found_bug() || r.interrupted() || r.inconclusive == Some(Undecided::Timeout);
            ended.push((i, r));
            if decided {
                break;
            }
        }
    }
    // Per engine, in portfolio order: what it covered, and what it cannot see.
    let mut by_stage: Vec<&(usize, Report)> = ended.iter().collect();
    by_stage.sort_by_key(|(i, _)| *i);
    let mut notes: Vec<String> = by_stage
        .iter()
        .map(|(i, r)| {
            let name = PORTFOLIO[*i].name();
            let mut said = match r.inconclusive {
                _ if r.notes.iter().any(|n| n == CANCELLED) => {
                    format!("{name}: {} execution(s), {CANCELLED}", r.executions)
                }
                Some(Undecided::EngineLimit) => format!("{name}: {}", r.message.as_deref().unwrap_or("engine limit")),
                Some(why) => format!("{name}: {} execution(s), {}", r.executions, why.words()),
                None => format!("{name}: {} execution(s), {}", r.executions, r.coverage),
            };
            if !r.found_bug() && !r.not_covered.is_empty() {
                let blind: Vec<&str> = r.not_covered.iter().map(|b| b.words()).collect();
                said.push_str(&format!("; cannot see {}", blind.join(", ")));
            }
            said
        })
        .collect();
    notes.append(&mut stage_errors);
    let executions = ended.iter().map(|(_, r)| r.executions).sum();
    let decided = |r: &Report| !r.notes.iter().any(|n| n == CANCELLED);
    // The first bug found wins; then Ctrl-C; then a stage that could not decide (it keeps the
    // whole portfolio from passing); else a pass as strong as the strongest stage (loom's
    // exhaustive proof beats samples), with that stage's blind spots.
    let pick = ended
        .iter()
        .position(|(_, r)| r.found_bug())
        .or_else(|| ended.iter().position(|(_, r)| r.interrupted() && decided(r)))
        // An engine that cannot model the program judged nothing: the others decide.
        .or_else(|| {
            ended.iter().position(|(_, r)| r.is_inconclusive() && r.inconclusive != Some(Undecided::EngineLimit))
        })
        .or_else(|| {
            ended.iter().position(|(_, r)| {
                r.verdict == Verdict::Passed
                    && matches!(r.coverage, Coverage::Exhaustive | Coverage::PreemptionBounded { .. })
            })
        })
        .or_else(|| ended.iter().position(|(_, r)| r.verdict == Verdict::Passed))
        .unwrap_or(0);
    let (stage, mut r) = ended.swap_remove(pick);
    if r.found_bug() || r.is_inconclusive() {
        r.found_by = Some(PORTFOLIO[stage].name().to_string());
    }
    r.checker = Checker::Portfolio.name().into();
    r.executions = executions;
    r.elapsed_ms = started.elapsed().as_millis() as u64;
    // The stages' summary, then what the deciding stage said about its own run.
    notes.append(&mut r.notes);
    r.notes = notes;
    Ok(r)
}

/// The note of a portfolio stage stopped because another engine decided first.
pub(super) const CANCELLED: &str = "stopped: another engine decided first";
