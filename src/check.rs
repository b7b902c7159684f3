//! `conclab::check`: the checkers pointed at a model in any crate's `cargo test` — one test,
//! every engine, a trace you can read and a token that replays it.
//!
//! ```ignore
//! #[test]
//! fn transfer_keeps_the_total() {
//!     conclab::check(|| { /* threads, locks, asserts: conclab::sync / conclab::thread */ });
//! }
//! ```
//!
//! The model is any `Fn() + Send + Sync + 'static`, called once per execution. It may capture
//! plain data (a size, an input); its threads, locks and atomics it makes itself, every execution
//! afresh (a facade object made outside a check is refused), so nothing leaks from one schedule
//! into the next. Each engine's search runs in a child process that re-runs this very test
//! (`<test binary> <test> --exact`, told by an environment variable to work for this check): a
//! model that ends its process (an abort, a stack overflow, an engine's own abort) or an
//! execution that never ends cannot take the test binary down or hang it. So what a model
//! captures must come out the same when the test is re-run (no clock, no unseeded randomness).

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::catalog::{self, Scenario};
use crate::report::{Kind, Report, Verdict};
use crate::runner::{self, Checker, Isolation, Options};

/// Set it to a token a failed check printed, and `cargo test <test> -- --exact` runs exactly
/// that execution and prints its trace.
pub const REPLAY_ENV: &str = "CONCLAB_REPLAY";
/// In a child: `<check id>:<variant>` of the check it works for.
const WORKER_ENV: &str = "CONCLAB_CHECK_WORKER";
/// In a child: a file with the reports of the test's earlier checks, which the child returns
/// instead of searching again on its way to the check it works for.
const EARLIER_ENV: &str = "CONCLAB_CHECK_EARLIER";

/// What one check of a test came to: its report, or why it could not run (it panicked).
type Outcome = Result<Report, String>;

/// A model, as the engines run it.
type Model = Arc<dyn Fn() + Send + Sync>;

/// The model of the check whose engines run in this process: in a child, the one check it works
/// for; in a process without libtest, the check running (one at a time: [`IN_PROCESS`]).
static MODEL: Mutex<Option<Model>> = Mutex::new(None);

/// Held while a check runs its engines in this process, so that two of them cannot swap [`MODEL`].
static IN_PROCESS: Mutex<()> = Mutex::new(());

/// An in-process check's hold on [`MODEL`]: set while the check runs, cleared after (what the
/// model captured is dropped with it).
struct ModelHere {
    _held: parking_lot::MutexGuard<'static, ()>,
}

impl ModelHere {
    fn hold(model: Model) -> ModelHere {
        let held = IN_PROCESS.lock();
        *MODEL.lock() = Some(model);
        ModelHere { _held: held }
    }
}

impl Drop for ModelHere {
    fn drop(&mut self) {
        *MODEL.lock() = None;
    }
}

/// The body every engine runs: the model of the check in this process ([`MODEL`]).
fn run_model() {
    let model = MODEL.lock().clone().expect("conclab: a check's model ran outside its check");
    model()
}

std::thread_local! {
    /// The outcomes of the checks this test (libtest runs each on a thread of its own) made.
    static DONE: RefCell<Vec<Outcome>> = const { RefCell::new(Vec::new()) };
}

/// Checks `body` with the default portfolio and panics with the report — verdict, kind,
/// message, the minimised trace, the replay token and how to replay it — unless it passes.
#[track_caller]
pub fn check(body: impl Fn() + Send + Sync + 'static) {
    Check::new().run(body)
}

/// A check, configured: `Check::new().checker(Checker::Loom).expect(Kind::Deadlock).run(body)`.
#[derive(Clone, Debug)]
pub struct Check {
    checker: Checker,
    iterations: Option<usize>,
    seed: u64,
    preemption_bound: Option<usize>,
    html: Option<PathBuf>,
    expect: Option<Kind>,
    timeout: Duration,
}

impl Default for Check {
    fn default() -> Self {
        Check::new()
    }
}

impl Check {
    /// The default: the portfolio (loom, shuttle PCT and shuttle random side by side; the first
    /// bug found wins), seed 0, a time budget of 600 s.
    pub fn new() -> Self {
        Check {
            checker: Checker::Portfolio,
            iterations: None,
            seed: 0,
            preemption_bound: None,
            html: None,
            expect: None,
            timeout: Duration::from_millis(runner::DEFAULT_TIME_BUDGET_MS),
        }
    }

    /// One checker instead of the portfolio.
    pub fn checker(mut self, checker: Checker) -> Self {
        self.checker = checker;
        self
    }

    /// Schedules (shuttle), executions (loom) or runs (stress) to try.
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = Some(iterations);
        self
    }

    /// The seed of shuttle's random and PCT schedulers.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// loom: search up to this many preemptions only.
    pub fn preemption_bound(mut self, bound: usize) -> Self {
        self.preemption_bound = Some(bound);
        self
    }

    /// Writes the report as an HTML page (the trace as a grid) to `path`.
    pub fn html(mut self, path: impl Into<PathBuf>) -> Self {
        self.html = Some(path.into());
        self
    }

    /// For teaching: [`Check::run`] passes when a bug of `kind` is found, and fails with the
    /// report otherwise (a pass, or a bug of another kind).
    pub fn expect(mut self, kind: Kind) -> Self {
        self.expect = Some(kind);
        self
    }

    /// The wall-clock budget of the check (its engines share it); past it the search is stopped
    /// and the report says `timeout` with what it covered.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks `body` and returns the report without judging it. Panics only when the check
    /// cannot run (bad options, a worker that died without a word).
    #[track_caller]
    pub fn report(&self, body: impl Fn() + Send + Sync + 'static) -> Report {
        if let Some(engine) = crate::rt::dynamic::engine() {
            panic!(
                "conclab: a check cannot run inside a model (this code runs in an execution of a {engine:?} check): \
                 call `conclab::check` from the test itself"
            );
        }
        let body: Model = Arc::new(body);
        let test = std::thread::current().name().filter(|n| *n != "main").map(str::to_string);
        let index = DONE.with(|d| d.borrow().len()) + 1;
        let id: &'static str = leak(test.as_deref().map_or_else(|| "check".to_string(), |t| t.replace("::", "-")));
        let variant: &'static str = leak(format!("check-{index}"));
        let s = catalog::of_body(id, variant, run_model);
        let at = std::panic::Location::caller();
        let me = format!("{id}:{variant}@{}:{}", at.file(), at.line());
        if let Ok(target) = std::env::var(WORKER_ENV) {
            if target == me {
                // The child this test was re-run as: work, and end here.
                *MODEL.lock() = Some(body);
                let code = match runner::work_on(&s) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("conclab: {e:#}");
                        2
                    }
                };
                std::process::exit(code);
            }
            // An earlier check of the test: what it came to in the parent.
            let outcome = earlier(index).unwrap_or_else(|| {
                eprintln!(
                    "conclab: this child works for {target}, but the test reached check {me} without a report \
                     of it from the parent: the test does not take the same path when re-run"
                );
                std::process::exit(2)
            });
            DONE.with(|d| d.borrow_mut().push(outcome.clone()));
            return outcome.unwrap_or_else(|why| panic!("{why}"));
        }
        let report = match self.search(&s, variant, test.as_deref(), &me, body) {
            Ok(mut r) => {
                if let (Some(token), Some(test)) = (&r.replay, &test) {
                    r.replay_command = Some(format!("{REPLAY_ENV}='{token}' cargo test {test} -- --exact"));
                }
                r
            }
            Err(e) => {
                // Numbered all the same: the next check of this test is the next one in a child too.
                let why = format!("conclab: {e:#}");
                DONE.with(|d| d.borrow_mut().push(Err(why.clone())));
                panic!("{why}");
            }
        };
        DONE.with(|d| d.borrow_mut().push(Ok(report.clone())));
        if let Some(path) = &self.html {
            std::fs::write(path, crate::html::trace_page(&s, &report))
                .unwrap_or_else(|e| panic!("conclab: cannot write {}: {e}", path.display()));
        }
        report
    }

    /// Checks `body` and judges the report: returns on a pass (or, with [`Check::expect`], on a
    /// bug of the expected kind); otherwise panics with the report and how to replay it.
    #[track_caller]
    pub fn run(&self, body: impl Fn() + Send + Sync + 'static) {
        let r = self.report(body);
        match self.expect {
            Some(kind) if r.found_bug() && r.kind == Some(kind) => println!("{}", r.render()),
            Some(kind) => panic!("expected a bug of kind `{kind}`, but the check says:\n{}", r.render()),
            None if r.verdict == Verdict::Passed => {}
            None => panic!("{}", r.render()),
        }
    }

    fn search(&self, s: &Scenario, variant: &str, test: Option<&str>, me: &str, body: Model) -> anyhow::Result<Report> {
        let earlier = write_earlier(s.id())?;
        let isolation = match (test, std::env::current_exe()) {
            (Some(test), Ok(exe)) => {
                let mut env = vec![(WORKER_ENV.to_string(), me.to_string())];
                env.extend(earlier.as_ref().map(|p| (EARLIER_ENV.to_string(), p.display().to_string())));
                Isolation::TestChild { exe, test: test.to_string(), env }
            }
            // Not under libtest (no test thread to re-run): in this process.
            _ => Isolation::InProcess,
        };
        let options = Options {
            iterations: self.iterations,
            seed: self.seed,
            preemption_bound: self.preemption_bound,
            time_budget_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            isolation,
            ..Options::new(self.checker, "")
        };
        // A token for another test (or another check of this one) is theirs; a malformed one is an error.
        let replay = match std::env::var(REPLAY_ENV) {
            Ok(token) => {
                let t: crate::replay::Token = token.parse().map_err(|e| anyhow::anyhow!("{REPLAY_ENV}: {e}"))?;
                if t.scenario != s.id() {
                    eprintln!(
                        "conclab: {REPLAY_ENV} names the test `{}`, not `{}`: this check searches as usual",
                        t.scenario,
                        s.id()
                    );
                }
                (t.scenario == s.id() && t.variant == variant).then_some(token)
            }
            Err(_) => None,
        };
        // In this process, the engines run the model here: one check at a time.
        let _here = (options.isolation == Isolation::InProcess).then(|| ModelHere::hold(body));
        let result = match replay {
            Some(token) => runner::replay_scenario(s, variant, &token, &options),
            None => runner::check_scenario(s, variant, &options),
        };
        if let Some(p) = earlier {
            let _ = std::fs::remove_file(p);
        }
        result
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Writes the outcomes of this test's earlier checks for a child to return (none: no file).
fn write_earlier(id: &str) -> anyhow::Result<Option<PathBuf>> {
    let done = DONE.with(|d| d.borrow().clone());
    if done.is_empty() {
        return Ok(None);
    }
    let path = std::env::temp_dir().join(format!("conclab-check-{}-{id}-{}.json", std::process::id(), done.len()));
    std::fs::write(&path, serde_json::to_vec(&done)?)?;
    Ok(Some(path))
}

/// In a child: what this test's check number `index` came to in its parent.
fn earlier(index: usize) -> Option<Outcome> {
    let path = std::env::var(EARLIER_ENV).ok()?;
    let done: Vec<Outcome> = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    done.into_iter().nth(index - 1)
}
