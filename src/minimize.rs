//! Minimal counterexamples: after a checker finds a bug, look for a shorter failing schedule —
//! fewer preemptions, then fewer steps — and show that one instead, saying how it was found.
//!
//! **shuttle.** A replay token holds the scheduler's choice at every step. [`Shrink`] replays a
//! *plan*: at the steps the plan names it takes the planned thread, everywhere else it does the
//! least surprising thing — keep running the current thread, or, when that one blocks, yields or
//! ends, hand over to the next thread in id order (round robin). The choices where the recorded
//! schedule differs from that default are its *deviations*. [`shrink`] drops deviations greedily,
//! one at a time, and keeps a candidate when the same kind of failure recurs with a smaller
//! (preemptions, steps, deviations); it stops at a fixpoint or after [`MAX_ATTEMPTS`] replays.
//! No clock is read: the result is the same on every machine. The minimised run was recorded like
//! any other, so its token replays it.
//!
//! **loom.** Its iterative preemption bounding (0, 1, 2, then unbounded) already finds a bug
//! under the lowest bound that shows it; [`loom_bound`] states that bound.

use std::sync::Arc;

use parking_lot::Mutex;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

use crate::engine;
use crate::replay::{Point, Token};
use crate::report::{classify, Kind};
pub use crate::report::{Minimised, Shape};
use crate::trace::{Failure, ReplayBase};

/// At most this many candidate schedules are replayed while shrinking one failure.
pub const MAX_ATTEMPTS: usize = 400;

/// What one replay of a plan did.
#[derive(Clone, Debug, Default)]
struct Run {
    /// The task chosen at each scheduling decision.
    choices: Vec<usize>,
    /// What the default policy would have chosen at each decision.
    defaults: Vec<usize>,
    /// The threads that could run at each decision.
    runnable: Vec<Vec<usize>>,
    preemptions: usize,
}

impl Run {
    /// The decisions where the run differs from the default policy.
    fn deviations(&self) -> Vec<(usize, usize)> {
        let pairs = self.choices.iter().zip(&self.defaults).enumerate();
        pairs.filter(|(_, (c, d))| c != d).map(|(i, (&c, _))| (i, c)).collect()
    }
}

/// A shuttle scheduler that replays a plan once: the planned thread where the plan names one (and
/// it can run), the default policy everywhere else. Counts the run's preemptions.
pub struct Shrink {
    plan: Vec<Option<usize>>,
    started: bool,
    run: Arc<Mutex<Run>>,
}

impl Shrink {
    fn new(plan: Vec<Option<usize>>, run: Arc<Mutex<Run>>) -> Self {
        Shrink { plan, started: false, run }
    }
}

/// The least surprising choice: go on with the current thread unless it blocked, ended or
/// yields; then the next runnable thread after it in id order.
fn default_choice(runnable: &[usize], current: Option<usize>, is_yielding: bool) -> usize {
    match current {
        Some(c) if runnable.contains(&c) && (!is_yielding || runnable.len() == 1) => c,
        Some(c) => runnable.iter().copied().filter(|&t| t > c).min().unwrap_or_else(|| runnable[0]),
        None => runnable[0],
    }
}

impl Scheduler for Shrink {
    fn new_execution(&mut self) -> Option<Schedule> {
        if std::mem::replace(&mut self.started, true) {
            return None;
        }
        Some(Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let mut ids: Vec<usize> = runnable.iter().map(|t| usize::from(t.id())).collect();
        ids.sort_unstable();
        let current = current.map(usize::from);
        let default = default_choice(&ids, current, is_yielding);
        let mut run = self.run.lock();
        let planned = self.plan.get(run.choices.len()).copied().flatten().filter(|t| ids.contains(t));
        let chosen = planned.unwrap_or(default);
        if current.is_some_and(|c| ids.contains(&c) && c != chosen && !is_yielding) {
            run.preemptions += 1;
        }
        run.choices.push(chosen);
        run.defaults.push(default);
        run.runnable.push(ids);
        Some(TaskId::from(chosen))
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// One replayed candidate: its failure (if it failed) and what the scheduler saw.
struct Attempt {
    failure: Option<Failure>,
    run: Run,
}

impl Attempt {
    fn kind(&self) -> Option<Kind> {
        self.failure.as_ref().map(|f| classify(&f.message, &f.location).0)
    }

    /// Smaller is clearer: fewer preemptions, then fewer steps, then fewer deviations.
    fn score(&self) -> (usize, usize, usize) {
        let steps = self.failure.as_ref().map_or(usize::MAX, |f| f.trace.steps.len());
        (self.run.preemptions, steps, self.run.deviations().len())
    }
}

/// Replays `plan` once, recording every event (see [`engine::shuttle::traced_run`]).
fn attempt(base: &ReplayBase, body: fn(), plan: Vec<Option<usize>>, max_steps: usize) -> Attempt {
    let run = Arc::new(Mutex::new(Run::default()));
    let failure = engine::shuttle::traced_run(base, body, Shrink::new(plan, run.clone()), max_steps);
    let run = run.lock().clone();
    Attempt { failure, run }
}

/// The state of one shrinking: what to replay, and how many replays it took.
struct Search<'a> {
    base: &'a ReplayBase,
    body: fn(),
    max_steps: usize,
    kind: Kind,
    attempts: usize,
}

impl Search<'_> {
    fn attempt(&mut self, plan: Vec<Option<usize>>) -> Attempt {
        self.attempts += 1;
        attempt(self.base, self.body, plan, self.max_steps)
    }

    /// The first plan whose run fails the same way and scores better than `best`.
    fn first_better(&mut self, plans: impl Iterator<Item = Vec<Option<usize>>>, best: &Attempt) -> Option<Attempt> {
        for plan in plans {
            if self.attempts >= MAX_ATTEMPTS {
                return None;
            }
            let candidate = self.attempt(plan);
            let same =
                candidate.kind() == Some(self.kind) && candidate.failure.as_ref().is_some_and(|f| !step_bound(f));
            if same && candidate.score() < best.score() {
                return Some(candidate);
            }
        }
        None
    }
}

/// Which of `n` deviations each candidate keeps, in the order tried: first every prefix, shortest
/// first (follow the schedule up to a point, then run without surprises), then all but one,
/// later ones dropped first (the schedule's set-up is kept longest; all but the last is a prefix).
fn candidates(n: usize) -> impl Iterator<Item = Vec<bool>> {
    let prefixes = (0..n).map(move |k| (0..n).map(|i| i < k).collect());
    let all_but_one = (0..n.saturating_sub(1)).rev().map(move |skip| (0..n).map(|i| i != skip).collect());
    prefixes.chain(all_but_one)
}

/// Plans that leave `run` at exactly one decision (to each other runnable thread), earliest first.
fn single_deviations(run: &Run) -> impl Iterator<Item = Vec<Option<usize>>> + '_ {
    run.runnable.iter().enumerate().flat_map(move |(i, ids)| {
        ids.iter().filter(move |&&t| t != run.defaults[i]).map(move |&t| {
            let mut plan = vec![None; i + 1];
            plan[i] = Some(t);
            plan
        })
    })
}

/// A checker's step bound was hit: such a failure says nothing about the schedule's shape.
fn step_bound(f: &Failure) -> bool {
    crate::report::limit_reached(&f.message)
}

/// Shrinks a failure a shuttle checker found (its token holds the schedule), replaying candidates
/// with at most `max_steps` steps each (the search's own bound). Returns the failure to show and
/// how it was minimised; `None` when the failure cannot be shrunk (no token, a step-bound
/// failure, or its replay did not fail the same way).
pub fn shrink(
    scenario: &str,
    variant: &str,
    body: fn(),
    found: &Failure,
    max_steps: usize,
) -> Option<(Failure, Minimised)> {
    let token: Token = found.replay.as_deref()?.parse().ok()?;
    let Point::Shuttle { choices } = token.point else { return None };
    if step_bound(found) {
        return None;
    }
    let kind = classify(&found.message, &found.location).0;
    let base = ReplayBase {
        scenario: scenario.to_string(),
        variant: variant.to_string(),
        point: Point::Shuttle { choices: vec![] },
    };
    let decisions = choices.len();
    let first = attempt(&base, body, choices.into_iter().map(Some).collect(), max_steps);
    if first.kind() != Some(kind) {
        return None;
    }
    // A candidate that runs far longer than the original is no simplification: cut it short.
    let tight = max_steps.min(decisions * 2 + 200);
    let first_preemptions = first.run.preemptions;
    let mut search = Search { base: &base, body, max_steps: tight, kind, attempts: 1 };
    let mut best = first;
    let mut swept = false;
    loop {
        let deviations = best.run.deviations();
        let greedy = candidates(deviations.len()).map(|keep| {
            let mut plan = vec![None; best.run.choices.len()];
            for (&(i, t), _) in deviations.iter().zip(&keep).filter(|(_, k)| **k) {
                plan[i] = Some(t);
            }
            plan
        });
        if let Some(better) = search.first_better(greedy, &best) {
            best = better;
            continue;
        }
        if swept || best.run.preemptions <= 1 {
            break;
        }
        // Stuck above one preemption: try every single preemption off the undisturbed run.
        swept = true;
        let plain = search.attempt(vec![]);
        match search.first_better(single_deviations(&plain.run), &best) {
            Some(better) => best = better,
            None => break,
        }
    }
    let attempts = search.attempts;
    let first_shape = Shape::of(&found.trace, Some(first_preemptions));
    let mut shown = best.failure.expect("the best attempt failed");
    shown.execution = found.execution;
    let shown_shape = Shape::of(&shown.trace, Some(best.run.preemptions));
    let method = format!(
        "minimised by shrinking the schedule (shortest failing prefix, then context switches dropped one at a \
         time) while the {kind} recurred; {attempts} replays"
    );
    let first_replay = (found.replay != shown.replay).then(|| found.replay.clone()).flatten();
    let m =
        Minimised { method, first: first_shape, shown: shown_shape, preemption_bound: None, attempts, first_replay };
    Some((shown, m))
}

/// loom's iterative bounding: the bound of the stage that found the failure (from its token),
/// stated as the minimisation. `searched_below`: the bounds below were searched exhaustively.
pub fn loom_bound(failure: &Failure, searched_below: bool) -> Option<Minimised> {
    let token: Token = failure.replay.as_deref()?.parse().ok()?;
    let Point::Loom { bound, .. } = token.point else { return None };
    let shape = Shape::of(&failure.trace, None);
    let method = match (bound, searched_below) {
        (Some(0), _) => "found by loom with no preemption at all (preemption bound 0)".to_string(),
        (Some(b), true) => format!(
            "minimal by loom's iterative preemption bounding: found under bound {b}; every execution with fewer \
             preemptions was explored without a failure"
        ),
        (Some(b), false) => format!("found by loom under preemption bound {b} (the only bound searched)"),
        (None, true) => "found by loom's unbounded search, after bounds 0, 1 and 2 showed nothing".to_string(),
        (None, false) => "found by loom's unbounded search".to_string(),
    };
    Some(Minimised { method, first: shape, shown: shape, preemption_bound: bound, attempts: 0, first_replay: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_goes_on_with_the_current_thread_then_round_robin() {
        assert_eq!(default_choice(&[0, 1, 2], Some(1), false), 1);
        assert_eq!(default_choice(&[0, 1, 2], Some(1), true), 2);
        assert_eq!(default_choice(&[0, 2], Some(2), true), 0);
        assert_eq!(default_choice(&[0, 2], Some(1), false), 2);
        assert_eq!(default_choice(&[1], Some(1), true), 1);
        assert_eq!(default_choice(&[0], None, false), 0);
    }

    #[test]
    fn candidates_are_prefixes_then_all_but_one() {
        let c: Vec<Vec<bool>> = candidates(2).collect();
        assert_eq!(c, [vec![false, false], vec![true, false], vec![false, true]]);
    }

    #[test]
    fn deviations_are_the_choices_off_the_default() {
        let run = Run { choices: vec![0, 1, 1, 2], defaults: vec![0, 0, 1, 1], preemptions: 1, ..Run::default() };
        assert_eq!(run.deviations(), vec![(1, 1), (3, 2)]);
    }
}
