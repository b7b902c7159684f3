//! Liveness verdicts from the scenario's own declarations: when retries with no progress are a
//! livelock, and when being overtaken too often is starvation. Pure bookkeeping over thread
//! indices; the recorder keeps one [`Liveness`] per execution and names the threads.
//!
//! loom's only signal for "this never ends" is its branch limit and shuttle's is its step bound;
//! both say "maybe a spin loop". These two rules say what actually happened instead.

/// What one execution's threads have declared so far.
#[derive(Debug, Default)]
pub struct Liveness {
    /// Retries per thread since anyone last made progress.
    retries: Vec<usize>,
    /// The waiting lines (locks, queues) threads have arrived at, by name.
    lines: Vec<Line>,
}

#[derive(Debug)]
struct Line {
    name: &'static str,
    waiting: Vec<Waiter>,
    /// Arrivals so far: a waiter's place in line.
    arrivals: usize,
}

#[derive(Debug)]
struct Waiter {
    thread: usize,
    /// When it arrived (the line's arrival count at the time).
    arrived: usize,
    overtaken_by: Vec<usize>,
}

/// Threads that retried `rounds` times each, with no progress by anyone in between.
#[derive(Debug, PartialEq, Eq)]
pub struct Livelock {
    /// The retrying threads and how often each retried.
    pub threads: Vec<(usize, usize)>,
}

/// A waiter that was overtaken more often than its line allows.
#[derive(Debug, PartialEq, Eq)]
pub struct Starved {
    /// The thread that kept waiting.
    pub thread: usize,
    /// Who went in while it waited, in order (the last one broke the bound).
    pub overtaken_by: Vec<usize>,
}

impl Liveness {
    /// Forgets everything: a new execution starts.
    pub fn reset(&mut self) {
        self.retries.clear();
        self.lines.clear();
    }

    /// Some thread made progress: every retry count starts again.
    pub fn progress(&mut self) {
        self.retries.iter_mut().for_each(|r| *r = 0);
    }

    /// `thread` backs off and tries again. A livelock is two or more threads that have each
    /// retried `rounds` times since anyone last made progress: every one of them keeps running
    /// (a thread that merely waits for a descheduled holder is not counted: it needs two).
    pub fn retry(&mut self, thread: usize, rounds: usize) -> Option<Livelock> {
        if self.retries.len() <= thread {
            self.retries.resize(thread + 1, 0);
        }
        self.retries[thread] += 1;
        let stuck: Vec<(usize, usize)> =
            self.retries.iter().copied().enumerate().filter(|&(_, n)| n >= rounds.max(1)).collect();
        (stuck.len() >= 2 && stuck.iter().any(|&(t, _)| t == thread)).then_some(Livelock { threads: stuck })
    }

    /// `thread` starts waiting in line `name` (idempotent while it waits).
    pub fn arrive(&mut self, name: &'static str, thread: usize) {
        let line = self.line(name);
        if !line.waiting.iter().any(|w| w.thread == thread) {
            line.arrivals += 1;
            line.waiting.push(Waiter { thread, arrived: line.arrivals, overtaken_by: vec![] });
        }
    }

    /// `thread` got in. It *overtook* every waiter that arrived before it (someone who jumps
    /// the line); the first waiter overtaken more than `max_bypass` times starved. A thread that
    /// got in without declaring its arrival counts as arriving last.
    pub fn enter(&mut self, name: &'static str, thread: usize, max_bypass: usize) -> Option<Starved> {
        let line = self.line(name);
        let arrived = match line.waiting.iter().position(|w| w.thread == thread) {
            Some(i) => line.waiting.remove(i).arrived,
            None => usize::MAX,
        };
        let mut starved = None;
        for w in line.waiting.iter_mut().filter(|w| w.arrived < arrived) {
            w.overtaken_by.push(thread);
            if starved.is_none() && w.overtaken_by.len() > max_bypass {
                starved = Some(Starved { thread: w.thread, overtaken_by: w.overtaken_by.clone() });
            }
        }
        starved
    }

    fn line(&mut self, name: &'static str) -> &mut Line {
        let i = match self.lines.iter().position(|l| l.name == name) {
            Some(i) => i,
            None => {
                self.lines.push(Line { name, waiting: vec![], arrivals: 0 });
                self.lines.len() - 1
            }
        };
        &mut self.lines[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_thread_spinning_alone_is_not_a_livelock() {
        let mut l = Liveness::default();
        for _ in 0..10 {
            assert_eq!(l.retry(1, 3), None);
        }
    }

    #[test]
    fn two_threads_retrying_without_progress_are() {
        let mut l = Liveness::default();
        for _ in 0..2 {
            assert_eq!(l.retry(1, 3), None);
            assert_eq!(l.retry(2, 3), None);
        }
        assert_eq!(l.retry(1, 3), None);
        assert_eq!(l.retry(2, 3), Some(Livelock { threads: vec![(1, 3), (2, 3)] }));
    }

    #[test]
    fn progress_resets_the_count() {
        let mut l = Liveness::default();
        for _ in 0..2 {
            l.retry(1, 3);
            l.retry(2, 3);
        }
        l.progress();
        assert_eq!(l.retry(1, 3), None);
        assert_eq!(l.retry(2, 3), None);
    }

    #[test]
    fn a_waiter_overtaken_beyond_the_bound_starves() {
        let mut l = Liveness::default();
        l.arrive("lock", 1);
        l.arrive("lock", 2);
        assert_eq!(l.enter("lock", 2, 1), None);
        l.arrive("lock", 2);
        assert_eq!(l.enter("lock", 2, 1), Some(Starved { thread: 1, overtaken_by: vec![2, 2] }));
    }

    #[test]
    fn going_in_ahead_of_a_later_arrival_is_not_overtaking() {
        let mut l = Liveness::default();
        l.arrive("lock", 1);
        l.arrive("lock", 2);
        assert_eq!(l.enter("lock", 1, 0), None);
        l.arrive("lock", 1);
        assert_eq!(l.enter("lock", 2, 0), None);
    }

    #[test]
    fn entering_in_turn_never_starves() {
        let mut l = Liveness::default();
        for _ in 0..5 {
            l.arrive("lock", 1);
            l.arrive("lock", 2);
            assert_eq!(l.enter("lock", 1, 1), None);
            assert_eq!(l.enter("lock", 2, 1), None);
        }
    }
}
