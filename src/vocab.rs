//! The lab's vocabulary, below every layer that uses it: the engines and the checkers built on
//! them. The facade (`rt`), the catalog, the runner and the CLI all name them; none of them
//! needs another's module for it.

use serde::{Deserialize, Serialize};

/// An exploration engine, as scenario metadata names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// loom (DPOR, weak memory): the `loom` checker.
    Loom,
    /// shuttle: the `shuttle-random`, `shuttle-pct` and `shuttle-dfs` checkers.
    Shuttle,
    /// Real OS threads: the `stress` checker.
    Stress,
}

/// A checker: an engine and a search strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Checker {
    /// loom: iterative preemption bounding (0, 1, 2, then unbounded) — finds with few
    /// preemptions first, and a pass is fully exhaustive. `--preemption-bound B` runs bound B only.
    Loom,
    /// shuttle's random scheduler, seeded.
    ShuttleRandom,
    /// shuttle's PCT scheduler (probabilistic concurrency testing), seeded, depth `--depth`.
    ShuttlePct,
    /// shuttle's depth-first search: exhaustive when it ends before `--iterations`.
    ShuttleDfs,
    /// The model on real OS threads, `--iterations` runs: shows how rarely real runs hit the bug.
    Stress,
    /// The default: loom, shuttle PCT and shuttle random side by side (in child processes, as many
    /// at once as there are cores); the first bug found wins. No scenario metadata steers it.
    Portfolio,
}

impl Checker {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Checker::Loom => "loom",
            Checker::ShuttleRandom => "shuttle-random",
            Checker::ShuttlePct => "shuttle-pct",
            Checker::ShuttleDfs => "shuttle-dfs",
            Checker::Stress => "stress",
            Checker::Portfolio => "portfolio",
        }
    }

    /// The engine behind the checker (`None` for the portfolio).
    pub fn engine(self) -> Option<Engine> {
        match self {
            Checker::Loom => Some(Engine::Loom),
            Checker::ShuttleRandom | Checker::ShuttlePct | Checker::ShuttleDfs => Some(Engine::Shuttle),
            Checker::Stress => Some(Engine::Stress),
            Checker::Portfolio => None,
        }
    }
}

/// The largest preemption bound a check or a replay token accepts: far beyond what any model
/// needs (bounds 2-3 find the catalog's bugs; the unbounded search has no bound at all).
pub const MAX_PREEMPTION_BOUND: usize = 1_000;
