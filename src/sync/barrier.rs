//! `std::sync::Barrier`, checked: built on the facade's own [`Mutex`] and [`Condvar`], so each
//! arrival and release is an operation the running engine records and explores.

use super::{Condvar, Mutex};

/// `std::sync::Barrier`: `n` threads wait until all `n` have arrived, then all go on.
pub struct Barrier {
    /// Threads arrived in this round, and the round.
    state: Mutex<(usize, u64)>,
    all_in: Condvar,
    parties: usize,
}

/// What [`Barrier::wait`] returns: whether this thread was the round's leader.
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one thread of each round (the last to arrive).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` threads (`n == 0` acts as 1, as std's does); `const`, as std's.
    #[track_caller]
    pub const fn new(n: usize) -> Self {
        Barrier { state: Mutex::new((0, 0)), all_in: Condvar::new(), parties: n }
    }

    /// Blocks until `n` threads have called `wait` in this round; the last one is the leader.
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let round = s.1;
        s.0 += 1;
        if s.0 >= self.parties {
            *s = (0, round + 1);
            self.all_in.notify_all();
            return BarrierWaitResult(true);
        }
        let s = self.all_in.wait_while(s, |s| s.1 == round).unwrap_or_else(|e| e.into_inner());
        drop(s);
        BarrierWaitResult(false)
    }
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}

/// Barriers checked by shuttle and loom through one compilation.
#[cfg(test)]
mod tests {
    use super::Barrier;
    use crate::report::{Coverage, Kind, Report, Verdict};
    use crate::runner::{self, Checker};
    use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use crate::sync::Arc;
    use crate::thread;

    /// `threads` workers (and `main`) meet at a barrier for `parties`; each counts itself in
    /// before the barrier and checks after it that everyone has, and that one of them led.
    fn meet(parties: usize, threads: usize) {
        let barrier = Arc::new(Barrier::new(parties));
        let (arrived, leaders) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let run = {
            let (barrier, arrived, leaders) = (barrier.clone(), arrived.clone(), leaders.clone());
            move || {
                arrived.fetch_add(1, SeqCst);
                if barrier.wait().is_leader() {
                    leaders.fetch_add(1, SeqCst);
                }
                assert_eq!(arrived.load(SeqCst), threads + 1, "a thread passed the barrier early");
            }
        };
        let handles: Vec<_> = (0..threads).map(|_| thread::spawn(run.clone())).collect();
        run();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(leaders.load(SeqCst), 1, "one leader per round");
    }

    /// Three threads, a barrier for four: one party short.
    fn one_short() {
        meet(4, 2)
    }

    /// Three threads, a barrier for three.
    fn all_there() {
        meet(3, 2)
    }

    fn check(body: fn(), checker: Checker) -> Report {
        // loom runs to the end of its search; shuttle samples.
        runner::check_in_process("barrier-model", body, checker, (checker != Checker::Loom).then_some(500))
    }

    #[test]
    fn a_barrier_one_party_short_is_a_deadlock_and_a_full_one_passes() {
        let r = check(one_short, Checker::Loom);
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
        for checker in [Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(one_short, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
            let r = check(all_there, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        let r = check(all_there, Checker::Loom);
        assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
    }
}
