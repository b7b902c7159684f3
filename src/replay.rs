//! Replay tokens, and the two shuttle schedulers behind them: one that records a run's
//! scheduling choices, one that plays them back.
//!
//! A token reads `scenario:variant:engine:…`:
//! - `airplane-seat:buggy:shuttle:ab2cb` — shuttle's choices of the next thread (`a` = main,
//!   `b` = the first spawned thread, …; a count repeats the letter before it);
//! - `airplane-seat:buggy:loom:b1:e3` — loom's 3rd execution under preemption bound 1 (`bx`: no
//!   bound). loom's exploration order is deterministic, so re-running the same bounded search
//!   up to that execution reproduces it exactly. `loom-acqrel` instead of `loom`: the search ran
//!   in loom's own model of SeqCst (as AcqRel), where a `weak_seqcst` failure was found;
//!   `loom-own`: the search ran each load of an atomic its own thread writes as a
//!   read-modify-write (`engine::loom`, loom's DPOR gap).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
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
        /// The search ran loom's own model of SeqCst (as AcqRel: `loom-acqrel`), not conclab's
        /// exact one: the token of a failure only that model shows (`weak_seqcst`).
        acqrel: bool,
        /// The search ran each load of an atomic its own thread writes as a read-modify-write
        /// (`loom-own`; see `engine::loom::run_seqcst`).
        own_loads: bool,
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
            Point::Loom { bound, execution, acqrel, own_loads } => {
                let b = bound.map_or("x".to_string(), |b| b.to_string());
                let engine = match (acqrel, own_loads) {
                    (true, _) => "loom-acqrel",
                    (false, true) => "loom-own",
                    (false, false) => "loom",
                };
                write!(f, "{engine}:b{b}:e{execution}")
            }
            Point::Shuttle { choices } => write!(f, "shuttle:{}", encode_choices(choices)),
        }
    }
}

const TOKEN_HELP: &str = "a replay token looks like `airplane-seat:buggy:shuttle:ab2cb` or \
                          `airplane-seat:buggy:loom:b1:e3`, as printed by `conclab check`";

/// The longest schedule a token may name: far more choices than any execution shuttle runs
/// (its step bound is 100,000), and small enough to hold.
pub const MAX_CHOICES: usize = 1_000_000;

/// A token as quoted in a message: whole when short, else its first 60 and last 16 characters
/// around `…`, with its length (a schedule can be 100 KB long).
pub fn shorten(token: &str) -> String {
    let n = token.chars().count();
    if n <= 80 {
        return token.to_string();
    }
    let head: String = token.chars().take(60).collect();
    let tail: String = token.chars().skip(n - 16).collect();
    format!("{head}…{tail} ({n} characters)")
}

impl std::str::FromStr for Token {
    type Err = anyhow::Error;

    /// Accepts exactly the canonical form that `Display` writes, so that every accepted token
    /// prints back as itself; anything else is refused with what is wrong.
    fn from_str(s: &str) -> Result<Self> {
        parse(s).map_err(|why| anyhow!("malformed replay token `{}`: {why}; {TOKEN_HELP}", shorten(s)))
    }
}

fn parse(s: &str) -> std::result::Result<Token, String> {
    if s.trim() != s {
        return Err("it has spaces around it".into());
    }
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() < 3 {
        return Err(format!("it has {} part(s); expected `scenario:variant:engine:…`", parts.len()));
    }
    let scenario = name(parts[0], "scenario")?;
    let variant = name(parts[1], "variant")?;
    let point = match (parts[2], &parts[3..]) {
        ("shuttle", [schedule]) => Point::Shuttle { choices: decode(schedule)? },
        ("shuttle", []) => return Err("no schedule after `shuttle`".into()),
        ("shuttle", _) => return Err("a shuttle schedule holds no `:`".into()),
        (engine @ ("loom" | "loom-acqrel" | "loom-own"), [b, e]) => {
            let bound = match b.strip_prefix('b') {
                Some("x") => None,
                Some(n) => Some(number(n, "the preemption bound")?),
                None => return Err(format!("expected `b<bound>` (or `bx`) after `{engine}`, found `{}`", shorten(b))),
            };
            if let Some(b) = bound.filter(|&b| b > crate::vocab::MAX_PREEMPTION_BOUND) {
                return Err(format!(
                    "preemption bound {b} is beyond any search conclab runs (at most {})",
                    crate::vocab::MAX_PREEMPTION_BOUND
                ));
            }
            let Some(e) = e.strip_prefix('e') else {
                return Err(format!("expected `e<execution>` after the bound, found `{}`", shorten(e)));
            };
            let execution = number(e, "the execution")?;
            if execution == 0 {
                return Err("executions are counted from 1: `e0` names none".into());
            }
            Point::Loom { bound, execution, acqrel: engine == "loom-acqrel", own_loads: engine == "loom-own" }
        }
        (engine @ ("loom" | "loom-acqrel" | "loom-own"), rest) => {
            return Err(format!(
                "a loom token ends in `b<bound>:e<execution>` (e.g. `loom:b1:e3`), found {} part(s) after `{engine}`",
                rest.len()
            ))
        }
        (engine, _) => {
            return Err(format!(
                "unknown engine `{}` (expected `shuttle`, `loom`, `loom-acqrel` or `loom-own`)",
                shorten(engine)
            ))
        }
    };
    Ok(Token { scenario, variant, point })
}

/// A scenario id or variant name: letters, digits, `-` and `_`.
fn name(s: &str, what: &str) -> std::result::Result<String, String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(format!("the {what} holds `{c}` (ids are letters, digits, `-` and `_`)"));
    }
    Ok(s.to_string())
}

/// A decimal number as the printer writes it: digits only, no leading zero.
fn number(s: &str, what: &str) -> std::result::Result<usize, String> {
    if s.is_empty() {
        return Err(format!("{what} has no digits"));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(format!("{what} holds `{c}`, not a digit"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!("{what} `{}` has a leading zero", shorten(s)));
    }
    s.parse().map_err(|_| format!("{what} `{}` is too large", shorten(s)))
}

/// `[0,1,1,2]` → `ab2c`: a letter per task, a count after a letter repeats it.
pub fn encode_choices(choices: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < choices.len() {
        let c = choices[i];
        let run = choices[i..].iter().take_while(|&&x| x == c).count();
        out.push(letter(c).expect("at most 26 threads"));
        if run > 1 {
            out.push_str(&run.to_string());
        }
        i += run;
    }
    out
}

/// The letter that names thread `index` in a schedule (`a` = main), if it has one.
fn letter(index: usize) -> Option<char> {
    u8::try_from(index).ok().filter(|&c| c < 26).map(|c| char::from(b'a' + c))
}

/// The inverse of [`encode_choices`], accepting only what it writes.
pub fn decode_choices(s: &str) -> Result<Vec<usize>> {
    decode(s).map_err(|why| anyhow!(why))
}

fn decode(s: &str) -> std::result::Result<Vec<usize>, String> {
    if s.is_empty() {
        return Err("the schedule is empty".into());
    }
    let mut out: Vec<usize> = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let at = s.len() - rest.len() + 1;
        if !c.is_ascii_lowercase() {
            let what = if c.is_ascii_digit() { "a count with no letter before it" } else { "not a thread letter" };
            return Err(format!(
                "`{c}` at position {at} of the schedule is {what} (threads are `a`–`z`: `a` is main, `b` the \
                 first spawned thread, …; a count follows its letter)"
            ));
        }
        rest = &rest[1..];
        let digits = rest.len() - rest.trim_start_matches(|d: char| d.is_ascii_digit()).len();
        let (count, after) = rest.split_at(digits);
        rest = after;
        let n = match count {
            "" => 1,
            _ if count.starts_with('0') => {
                return Err(format!("the count after `{c}` at position {at} starts with 0"));
            }
            "1" => return Err(format!("the count 1 after `{c}` at position {at} is never written (`{c}1` is `{c}`)")),
            _ => count.parse().map_err(|_| format!("the count after `{c}` at position {at} is too large"))?,
        };
        let thread = usize::from(c as u8 - b'a');
        if out.last() == Some(&thread) {
            return Err(format!(
                "`{c}` at position {at} continues a run of `{c}`: a run is written once, with its count"
            ));
        }
        if n > MAX_CHOICES - out.len() {
            return Err(format!("the schedule is longer than {MAX_CHOICES} choices, more than any execution makes"));
        }
        out.extend(std::iter::repeat_n(thread, n));
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
/// runnable thread is taken, so the replay still ends; [`Playback::fit`] tells how it fitted.
pub struct Playback {
    choices: Vec<usize>,
    started: bool,
    diverged: Arc<Mutex<bool>>,
    fit: Arc<Mutex<Fit>>,
}

/// How a played-back schedule fitted the execution it drove: the choices used, and the first
/// place where it did not fit.
#[derive(Clone, Debug, Default)]
pub struct Fit {
    /// Scheduling decisions made so far.
    pub used: usize,
    /// The schedule's length.
    pub total: usize,
    /// The first misfit: a choice that named a thread that could not run, or a decision taken
    /// after the schedule ran out.
    pub misfit: Option<String>,
}

impl Fit {
    /// Why the schedule did not fit the execution, once it has ended; `None` when every choice
    /// was runnable and used, and the execution needed no more.
    pub fn why_not(&self) -> Option<String> {
        self.misfit.clone().or_else(|| {
            (self.used < self.total)
                .then(|| format!("the execution ended after {} of the schedule's {} choices", self.used, self.total))
        })
    }
}

/// A thread as a schedule names it (`b`), or by number past `z`.
fn thread_name(index: usize) -> String {
    letter(index).map_or_else(|| format!("#{index}"), |c| format!("`{c}`"))
}

impl Playback {
    /// A scheduler that replays `choices` once.
    pub fn new(choices: Vec<usize>, diverged: Arc<Mutex<bool>>) -> Self {
        let fit = Arc::new(Mutex::new(Fit { total: choices.len(), ..Fit::default() }));
        Self { choices, started: false, diverged, fit }
    }

    /// How the schedule fits the execution: read it after the run.
    pub fn fit(&self) -> Arc<Mutex<Fit>> {
        self.fit.clone()
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
        let mut fit = self.fit.lock();
        let position = fit.used;
        fit.used += 1;
        let want = self.choices.get(position).copied();
        match want.map(TaskId::from).filter(|w| runnable.iter().any(|t| t.id() == *w)) {
            Some(t) => Some(t),
            None => {
                if fit.misfit.is_none() {
                    fit.misfit = Some(match want {
                        Some(w) => {
                            *self.diverged.lock() = true;
                            let can: Vec<String> = runnable.iter().map(|t| thread_name(usize::from(t.id()))).collect();
                            format!(
                                "choice {} names thread {}, which cannot run there (runnable: {})",
                                position + 1,
                                thread_name(w),
                                can.join(", ")
                            )
                        }
                        None => {
                            format!("the schedule ran out after its {} choices, before the execution ended", position)
                        }
                    });
                } else if want.is_some() {
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

/// Whether `report`, the replay of `token`, reproduces the failure the token names: the replay
/// failed (or was cut at the same engine limit) at exactly that execution. Otherwise an error
/// says why not: the schedule did not fit the program (its `Fit`, in a note that starts with
/// [`MISFIT`]), the execution passes, or loom's search ends or fails before that execution.
pub fn reproduced(token: &Token, report: &crate::report::Report) -> Result<()> {
    let printed = token.to_string();
    // Stopped before it could show anything (Ctrl-C, the time budget): the report says so.
    let stopped = report.interrupted() || report.inconclusive == Some(crate::report::Undecided::Timeout);
    if stopped || report.replay.as_deref() == Some(printed.as_str()) {
        return Ok(());
    }
    let failed = report.replay.is_some();
    let outcome = if failed {
        format!(
            "the replay's failure ({}) is not at the point the token names",
            report.message.as_deref().unwrap_or("no message")
        )
    } else {
        "its execution runs to the end without failing".to_string()
    };
    let why = match &token.point {
        Point::Shuttle { .. } => match report.notes.iter().find_map(|n| n.strip_prefix(MISFIT)) {
            Some(misfit) => format!("{misfit}; {outcome}"),
            None => outcome,
        },
        Point::Loom { execution, .. } if !failed && report.executions < *execution => {
            format!("loom's search ends after {} execution(s): there is no execution {execution}", report.executions)
        }
        Point::Loom { .. } if failed => format!(
            "loom's search fails at execution {} first (token `{}`)",
            report.executions,
            shorten(report.replay.as_deref().unwrap_or_default())
        ),
        Point::Loom { execution, .. } => format!("execution {execution} runs to the end without failing"),
    };
    bail!(
        "the token `{}` does not reproduce a failure of `{}` variant `{}`: {why} (the program changed since the \
         token was made, or the token was edited)",
        shorten(&printed),
        report.scenario,
        report.variant
    )
}

/// The start of the replay report's note that says how its schedule did not fit the program.
pub const MISFIT: &str = "the token's schedule did not fit this program: ";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any token the printer can write: loom's bounds and executions, shuttle's schedules with
    /// runs of every length.
    fn any_token() -> impl Strategy<Value = Token> {
        // The printer writes one model: exact (`loom`), AcqRel (`loom-acqrel`) or own loads (`loom-own`).
        let loom = (proptest::option::of(0..=crate::vocab::MAX_PREEMPTION_BOUND), 1usize.., 0..3u8).prop_map(
            |(bound, execution, model)| Point::Loom { bound, execution, acqrel: model == 1, own_loads: model == 2 },
        );
        let shuttle = proptest::collection::vec((0usize..26, 1usize..30), 1..40).prop_map(|runs| Point::Shuttle {
            choices: runs.into_iter().flat_map(|(t, n)| std::iter::repeat_n(t, n)).collect(),
        });
        ("[a-zA-Z0-9_-]{1,12}", "[a-zA-Z0-9_-]{1,12}", prop_oneof![loom, shuttle])
            .prop_map(|(scenario, variant, point)| Token { scenario, variant, point })
    }

    /// Strings near the grammar: most are malformed in one small way.
    fn near_tokens() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC*",
            "[a-z]{0,2}:[a-z]{0,2}:(shuttle|loom|lom|):[a-z0-9:bex ]{0,12}",
            "[a-z]:[a-z]:loom:b[0-9x]{0,3}:e[0-9]{0,4}(:[0-9])?",
            "[a-z]:[a-z]:shuttle:[a-e0-9]{0,12}",
        ]
    }

    fn assert_canonical(s: &str) -> std::result::Result<(), TestCaseError> {
        if let Ok(t) = s.parse::<Token>() {
            prop_assert_eq!(t.to_string(), s, "accepted a token that does not print back as itself");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn choices_round_trip(choices in proptest::collection::vec(0usize..26, 1..200)) {
            prop_assert_eq!(decode_choices(&encode_choices(&choices)).unwrap(), choices);
        }

        #[test]
        fn every_printed_token_parses_back_to_itself(t in any_token()) {
            let printed = t.to_string();
            prop_assert_eq!(printed.parse::<Token>().unwrap(), t);
        }

        #[test]
        fn only_canonical_strings_are_accepted(s in near_tokens()) {
            assert_canonical(&s)?;
        }

        #[test]
        fn a_mutated_token_is_accepted_only_when_canonical(
            t in any_token(),
            edits in proptest::collection::vec((any::<usize>(), 0..3u8, proptest::sample::select(
                vec!['a', 'b', 'z', 'A', '0', '1', '2', '9', ':', 'x', 'e', '-', ' ', '…'])), 1..4),
        ) {
            let mut chars: Vec<char> = t.to_string().chars().collect();
            for (at, op, c) in edits {
                let at = at % (chars.len() + 1);
                match op {
                    0 => chars.insert(at, c),
                    1 if at < chars.len() => { chars.remove(at); }
                    _ if at < chars.len() => chars[at] = c,
                    _ => chars.push(c),
                }
            }
            assert_canonical(&chars.into_iter().collect::<String>())?;
        }

        #[test]
        fn garbage_never_panics(s in "\\PC*") {
            let _ = s.parse::<Token>();
        }
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong() {
        for (bad, says) in [
            ("", "1 part(s)"),
            ("a:b", "2 part(s)"),
            (" a:b:loom:b1:e1", "spaces around it"),
            (":b:loom:b1:e1", "the scenario is empty"),
            ("a:b c:loom:b1:e1", "the variant holds ` `"),
            ("a:b:tsan:x", "unknown engine `tsan` (expected `shuttle`, `loom`, `loom-acqrel` or `loom-own`)"),
            ("a:b:loom-acqrel:b1", "found 1 part(s) after `loom-acqrel`"),
            ("a:b:shuttle", "no schedule after `shuttle`"),
            ("a:b:shuttle:", "the schedule is empty"),
            ("a:b:shuttle:a3:b", "holds no `:`"),
            ("a:b:shuttle:aZ", "`Z` at position 2 of the schedule is not a thread letter"),
            ("a:b:shuttle:3a", "a count with no letter before it"),
            ("a:b:shuttle:a0", "the count after `a` at position 1 starts with 0"),
            ("a:b:shuttle:ba01", "the count after `a` at position 2 starts with 0"),
            ("a:b:shuttle:a1", "the count 1 after `a`"),
            ("a:b:shuttle:ab2b", "`b` at position 4 continues a run of `b`"),
            ("a:b:shuttle:zzzz", "continues a run of `z`"),
            ("a:b:shuttle:a99999999999999999999999", "is too large"),
            ("a:b:shuttle:a1000001", "longer than 1000000 choices"),
            ("a:b:shuttle:a999999b2", "longer than 1000000 choices"),
            ("a:b:loom:b0", "a loom token ends in `b<bound>:e<execution>`"),
            ("a:b:loom:b1:e3:x", "found 3 part(s) after `loom`"),
            ("a:b:loom:1:e1", "expected `b<bound>` (or `bx`) after `loom`, found `1`"),
            ("a:b:loom:b:e1", "the preemption bound has no digits"),
            ("a:b:loom:bq:e1", "the preemption bound holds `q`"),
            ("a:b:loom:b01:e1", "the preemption bound `01` has a leading zero"),
            ("a:b:loom:b1001:e1", "preemption bound 1001 is beyond any search"),
            ("a:b:loom:b1:3", "expected `e<execution>` after the bound"),
            ("a:b:loom:b1:e0", "executions are counted from 1"),
            ("a:b:loom:b1:e01", "the execution `01` has a leading zero"),
            ("a:b:loom:bx:e99999999999999999999999", "the execution `99999999999999999999999` is too large"),
        ] {
            let err = format!("{:#}", bad.parse::<Token>().unwrap_err());
            assert!(err.starts_with("malformed replay token") && err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_long_token_is_quoted_shortened() {
        let long = format!("a:b:shuttle:{}Q", "ab".repeat(60_000));
        let err = format!("{:#}", long.parse::<Token>().unwrap_err());
        assert!(err.contains("a:b:shuttle:abab") && err.contains("…") && err.contains("(120013 characters)"), "{err}");
        assert!(err.len() < 600, "{} bytes: {err}", err.len());
        assert_eq!(shorten("a:b:loom:b1:e3"), "a:b:loom:b1:e3");
    }
}
