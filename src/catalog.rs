//! The registry: every scenario file under `scenarios/`, compiled once (it runs under every
//! engine), with its metadata. Adding a scenario is one line in `catalog!` plus the file.

use serde::Serialize;

use crate::report::Kind;
use crate::vocab::Checker;

/// What family of bug a scenario teaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A data race or atomicity violation: the result depends on the interleaving.
    Race,
    /// Threads wait for each other in a cycle.
    Deadlock,
    /// Threads keep running without making progress.
    Livelock,
    /// A thread waits without bound while others proceed.
    Starvation,
}

pub use crate::vocab::Engine;

/// A "must still work" property: what a fix must keep doing besides keeping the invariant, so
/// that a fix which only hides the bug (sells no tickets, never writes, serialises the threads
/// away) is refused by `conclab grade`. The scenario checks it with `rt::property(name, …)`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Property {
    /// Kebab-case name, as `rt::property` gets it (`every-seat-sold`).
    pub name: &'static str,
    /// What must hold, in one sentence a student reads in the assignment.
    pub holds: &'static str,
}

/// Where a scenario sits in a course: `conclab assign --all` orders the pack by unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// Races: check-then-act, read-modify-write.
    Races,
    /// Deadlocks: cycles of waiting.
    Deadlocks,
    /// Liveness: livelock and starvation.
    Liveness,
    /// Signals: handlers as a second flow of control.
    Signals,
    /// The server: the bugs together in one program.
    Server,
}

impl Unit {
    /// Every unit, in course order.
    pub const ALL: [Unit; 5] = [Unit::Races, Unit::Deadlocks, Unit::Liveness, Unit::Signals, Unit::Server];

    /// The unit's heading in the course index.
    pub fn title(self) -> &'static str {
        match self {
            Unit::Races => "Races",
            Unit::Deadlocks => "Deadlocks",
            Unit::Liveness => "Liveness: livelock and starvation",
            Unit::Signals => "Signals",
            Unit::Server => "The server",
        }
    }
}

/// The scenario as a course assignment (`conclab assign`): the story, learning goal and
/// invariant come from the scenario file's docs; this is the rest.
#[derive(Clone, Copy, Debug)]
pub struct Assignment {
    /// Where it sits in the course.
    pub unit: Unit,
    /// What the student must do, in a few sentences (Markdown).
    pub task: &'static str,
    /// Up to three hints, each giving away more (`conclab hint <id> 1..=3`).
    pub hints: &'static [&'static str],
    /// Questions to answer in writing. `{stress_runs}`, `{stress_failing}`, `{found_in}` and
    /// `{found_by}` are replaced by the numbers `conclab check` measured when the assignment
    /// was written (real-thread runs, runs that showed the bug, executions until a model checker
    /// found it, and which checker).
    pub questions: &'static [&'static str],
}

/// One variant of a scenario: the model body every checker runs.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// `buggy`, `fixed`, `fixed-…`.
    pub name: &'static str,
    /// Whether this variant must pass every checker.
    pub fixed: bool,
    /// One line on what the variant does.
    pub summary: &'static str,
    /// The model: spawns the threads, joins them, checks the invariant.
    pub run: fn(),
}

/// A scenario as its file declares it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Stable id used on the command line (`airplane-seat`).
    pub id: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// Bug family.
    pub category: Category,
    /// Where the example comes from (book section or lecture).
    pub source: &'static str,
    /// The property the buggy variant breaks.
    pub invariant: &'static str,
    /// The kind of failure the buggy variant must be reported as.
    pub expected: Kind,
    /// Further buggy variants whose failure is of another kind than [`Entry::expected`]
    /// (a lost wakeup hangs where its sibling breaks an assertion).
    pub variant_kinds: &'static [(&'static str, Kind)],
    /// The checkers expected to find the `buggy` variant's failure (the tests hold them to it;
    /// further buggy variants, bigger instances of the same bug, are held to it except by DFS).
    pub found_by: &'static [Checker],
    /// Whether threads wait by spinning (a spinlock, a retry loop). shuttle's DFS never
    /// deprioritises a spinning thread, so it cannot explore such a model and is not run on it.
    pub waits_by_spinning: bool,
    /// Buggy first, then the fixes.
    pub variants: &'static [Variant],
    /// What a fix must keep doing besides keeping the invariant (checked with `rt::property`).
    pub must_still_work: &'static [Property],
    /// The scenario as a course assignment.
    pub assignment: Assignment,
}

impl Entry {
    /// The kind of failure buggy variant `variant` must be reported as.
    pub fn expected_for(&self, variant: &str) -> Kind {
        self.variant_kinds.iter().find(|(v, _)| *v == variant).map_or(self.expected, |&(_, k)| k)
    }
}

/// A registered scenario: its metadata and variants, and its source text.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Metadata and variants. One compilation runs under every engine: each object binds to the
    /// engine of the check that creates it ([`crate::rt::dynamic`]).
    pub entry: &'static Entry,
    /// The scenario file: the teaching text `conclab show` prints.
    pub source_text: &'static str,
}

impl Scenario {
    /// The stable id.
    pub fn id(&self) -> &'static str {
        self.entry.id
    }

    /// The variant named `name`, if the scenario has it.
    pub fn variant(&self, name: &str) -> Option<&'static Variant> {
        self.entry.variants.iter().find(|v| v.name == name)
    }

    /// The body of variant `name`: the model every engine runs.
    pub fn body(&self, name: &str) -> Option<fn()> {
        self.variant(name).map(|v| v.run)
    }

    /// Names of every variant, buggy first.
    pub fn variant_names(&self) -> Vec<&'static str> {
        self.entry.variants.iter().map(|v| v.name).collect()
    }
}

macro_rules! catalog {
    ($($module:ident),* $(,)?) => {
        /// The scenario files, compiled once against [`crate::lab`] (`use super::rt;` in a
        /// file means it). The echo server runs the fixes of two of them (`crate::server`); the
        /// fuzz targets drive the same code under shuttle.
        // Teaching code: a `new()` says what a fresh object holds without a `Default` beside it.
        #[allow(clippy::new_without_default)]
        #[path = "../scenarios"]
        pub mod scenarios {
            use crate::lab as rt;
            $(pub mod $module;)*
        }
        /// Every registered scenario, in catalog order.
        pub fn all() -> &'static [Scenario] {
            &[$(Scenario {
                entry: &scenarios::$module::ENTRY,
                source_text: include_str!(concat!("../scenarios/", stringify!($module), ".rs")),
            }),*]
        }
        /// File names (without `.rs`) of the registered scenario modules, for the tidy tests.
        pub const MODULES: &[&str] = &[$(stringify!($module)),*];
    };
}
catalog!(
    airplane_seat,
    bounded_buffer,
    lost_update,
    lock_order_gridlock,
    polite_livelock,
    line_jumping_starvation,
    readers_writers_starvation,
    job_list_reap,
    printf_signal_deadlock,
    server_stats
);

/// The scenario with this id.
pub fn find(id: &str) -> Option<&'static Scenario> {
    all().iter().find(|s| s.id() == id)
}

/// Looks up a scenario and variant, with an error that lists what exists.
pub fn lookup(id: &str, variant: &str) -> anyhow::Result<&'static Scenario> {
    let Some(s) = find(id) else {
        let known: Vec<_> = all().iter().map(|s| s.id()).collect();
        anyhow::bail!("unknown scenario `{id}`; known scenarios: {}", known.join(", "));
    };
    if s.variant(variant).is_none() {
        anyhow::bail!("scenario `{id}` has no variant `{variant}`; its variants: {}", s.variant_names().join(", "));
    }
    Ok(s)
}

/// A scenario outside the catalog: one variant, `variant`, that runs `body`, with no metadata
/// (no expected kind, no `found_by`): what `conclab::check` and the library's own tests of the
/// runner check. Leaks its entry (a few hundred bytes per check).
pub fn of_body(id: &'static str, variant: &'static str, body: fn()) -> Scenario {
    of_bodies(id, &[(variant, body)], "")
}

/// A scenario outside the catalog with these variants (a variant named `fixed…` must pass) and
/// source text, and no metadata: a user's file (`conclab check FILE.rs`). Leaks its entry.
pub fn of_bodies(id: &'static str, bodies: &[(&'static str, fn())], source_text: &'static str) -> Scenario {
    let variants: Vec<Variant> = bodies
        .iter()
        .map(|&(name, run)| Variant { name, fixed: name.starts_with("fixed"), summary: "", run })
        .collect();
    let entry = Box::leak(Box::new(Entry {
        id,
        title: id,
        category: Category::Race,
        source: "",
        invariant: "",
        expected: Kind::Assertion,
        variant_kinds: &[],
        found_by: &[],
        waits_by_spinning: false,
        variants: Box::leak(variants.into_boxed_slice()),
        must_still_work: &[],
        assignment: Assignment { unit: Unit::Races, task: "", hints: &[], questions: &[] },
    }));
    Scenario { entry, source_text }
}

/// [`of_body`] with the variant `model`, for the library's own tests.
#[cfg(test)]
pub(crate) fn ad_hoc(name: &'static str, body: fn()) -> Scenario {
    of_body(name, "model", body)
}
