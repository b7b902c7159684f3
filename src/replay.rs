//! Replay tokens, and the two shuttle schedulers behind them: one that records a run's
//! scheduling choices, one that plays them back.
//!
//! A token reads `scenario:variant:engine:…`:
//! - `airplane-seat:buggy:shuttle:ab2cb` — shuttle's choices of the next thread (`a` = main,
//!   `b` = the first spawned thread, …; a count repeats the letter before it);
//! - `airplane-seat:buggy:loom:b1:e3` — loom's 3rd execution under preemption bound 1 (`bx`: no
//!   bound). loom's exploration order is deterministic, so re-running the same bounded search
//!   up to that execution reproduces it exactly.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use parking_lot::Mutex;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

/// Which engine a token replays, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Point {
    /// The `execution`-th execution (1-based) of loom's search with this preemption bound.
    Loom {
        /// `None`: unbounded search.
        bound: Option<usize>,
        /// 1-based execution index within that search.
        execution: usize,
    },
    /// A shuttle schedule: the task chosen at each scheduling decision.
    Shuttle {
        /// Task ids (0 = main).
        choices: Vec<usize>,
    },
}

/// A parsed replay token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Scenario id the token was made for.
    pub scenario: String,
    /// Variant the token was made for.
    pub variant: String,
    /// The execution to replay.
    pub point: Point,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:", self.scenario, self.variant)?;
        match &self.point {
            Point::Loom { bound, execution } => {
                let b = bound.map_or("x".to_string(), |b| b.to_string());
                write!(f, "loom:b{b}:e{execution}")
            }
            Point::Shuttle { choices } => write!(f, "shuttle:{}", encode_choices(choices)),
        }
    }
}

const TOKEN_HELP: &str = "a replay token looks like `airplane-seat:buggy:shuttle:ab2cb` or \
                          `airplane-seat:buggy:loom:b1:e3`, as printed by `conclab check`";

impl std::str::FromStr for Token {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let parts: Vec<&str> = s.split(':').collect();
        ensure!(parts.len() >= 4, "malformed replay token `{s}`: {TOKEN_HELP}");
        let (scenario, variant) = (parts[0].to_string(), parts[1].to_string());
        let point = match (parts[2], &parts[3..]) {
            ("shuttle", [payload]) => Point::Shuttle {
                choices: decode_choices(payload).with_context(|| format!("malformed replay token `{s}`"))?,
            },
            ("loom", [b, e]) => {
                let bound = match b.strip_prefix('b') {
                    Some("x") => None,
                    Some(n) => {
                        Some(n.parse().with_context(|| format!("malformed replay token `{s}`: bad bound `{b}`"))?)
                    }
                    None => bail!("malformed replay token `{s}`: expected `b<bound>` after `loom`; {TOKEN_HELP}"),
                };
                let execution: usize =
                    e.strip_prefix('e').and_then(|n| n.parse().ok()).filter(|&n| n > 0).with_context(|| {
                        format!("malformed replay token `{s}`: expected `e<execution>`; {TOKEN_HELP}")
                    })?;
                Point::Loom { bound, execution }
            }
            (engine, _) => bail!("malformed replay token `{s}`: unknown engine `{engine}`; {TOKEN_HELP}"),
        };
        Ok(Token { scenario, variant, point })
    }
}

/// `[0,1,1,2]` → `ab2c`: a letter per task, a count after a letter repeats it.
pub fn encode_choices(choices: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < choices.len() {
        let c = choices[i];
        let run = choices[i..].iter().take_while(|&&x| x == c).count();
        out.push(char::from(b'a' + u8::try_from(c).ok().filter(|&c| c < 26).expect("at most 26 threads")));
        if run > 1 {
            out.push_str(&run.to_string());
        }
        i += run;
    }
    out
}

/// The inverse of [`encode_choices`].
pub fn decode_choices(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    ensure!(!s.is_empty(), "the schedule is empty");
    while let Some(c) = chars.next() {
        ensure!(c.is_ascii_lowercase(), "unexpected `{c}` in the schedule (letters a–z name threads)");
        let mut count = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            count.push(*d);
            chars.next();
        }
        let n: usize = if count.is_empty() { 1 } else { count.parse().context("repeat count too large")? };
        ensure!(n > 0 && n <= 10_000_000, "repeat count {n} out of range");
        out.extend(std::iter::repeat_n(usize::from(c as u8 - b'a'), n));
    }
    Ok(out)
}

/// The scheduling choices of a shuttle run's current (or, once it has ended, last) execution.
pub type Choices = Rc<RefCell<Vec<usize>>>;

/// Wraps a shuttle scheduler and keeps the current execution's choices.
pub struct Recording<S> {
    inner: S,
    choices: Choices,
}

impl<S: Scheduler> Recording<S> {
    /// Wraps `inner`; the [`Choices`] returned beside it always hold the current (or last)
    /// execution's choices. shuttle calls its scheduler on the run's own OS thread, so they need
    /// no lock: after a failure the run ends, and its caller turns them into the replay token.
    pub fn new(inner: S) -> (Self, Choices) {
        let choices = Choices::default();
        (Self { inner, choices: choices.clone() }, choices)
    }
}

impl<S: Scheduler> Scheduler for Recording<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        self.choices.borrow_mut().clear();
        if crate::interrupt::requested() {
            return None; // Ctrl-C: end the run here; the runner reports what was covered.
        }
        self.inner.new_execution()
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let t = self.inner.next_task(runnable, current, is_yielding)?;
        self.choices.borrow_mut().push(usize::from(t));
        Some(t)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

/// Plays back recorded choices for one execution. If the program does not match the
/// recording (a choice names a thread that cannot run), `diverged` is set and the first
/// runnable thread is taken, so the replay still ends.
pub struct Playback {
    choices: Vec<usize>,
    position: usize,
    started: bool,
    diverged: Arc<Mutex<bool>>,
}

impl Playback {
    /// A scheduler that replays `choices` once.
    pub fn new(choices: Vec<usize>, diverged: Arc<Mutex<bool>>) -> Self {
        Self { choices, position: 0, started: false, diverged }
    }
}

impl Scheduler for Playback {
    fn new_execution(&mut self) -> Option<Schedule> {
        if std::mem::replace(&mut self.started, true) {
            return None;
        }
        Some(Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], _current: Option<TaskId>, _is_yielding: bool) -> Option<TaskId> {
        let want = self.choices.get(self.position).copied();
        self.position += 1;
        match want.map(TaskId::from).filter(|w| runnable.iter().any(|t| t.id() == *w)) {
            Some(t) => Some(t),
            None => {
                if want.is_some() {
                    *self.diverged.lock() = true;
                }
                Some(runnable[0].id())
            }
        }
    }

    fn next_u64(&mut self) -> u64 {
        // The facade offers scenarios no randomness, so nothing asks for data; be deterministic.
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn choices_round_trip(choices in proptest::collection::vec(0usize..26, 1..200)) {
            prop_assert_eq!(decode_choices(&encode_choices(&choices)).unwrap(), choices);
        }

        #[test]
        fn tokens_round_trip(bound in proptest::option::of(0usize..5), execution in 1usize..100_000) {
            let t = Token { scenario: "s".into(), variant: "buggy".into(), point: Point::Loom { bound, execution } };
            prop_assert_eq!(t.to_string().parse::<Token>().unwrap(), t);
        }

        #[test]
        fn garbage_never_panics(s in "\\PC*") {
            let _ = s.parse::<Token>();
        }
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong() {
        for bad in
            ["", "x", "a:b:c:d", "a:b:shuttle:", "a:b:shuttle:A1", "a:b:loom:b1", "a:b:loom:bq:e1", "a:b:loom:b1:e0"]
        {
            let err = bad.parse::<Token>().unwrap_err();
            assert!(format!("{err:#}").contains("malformed replay token"), "{bad}: {err:#}");
        }
    }
}
