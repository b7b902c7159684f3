//! # Two polite people in a corridor
//!
//! **Story.** Two people meet in a narrow corridor. To pass, each needs both halves of it. Each
//! steps into one half, sees the other half taken, politely steps back to let the other pass —
//! and the other does exactly the same at the same moment. They can sway from side to side
//! forever: both busy, neither getting through.
//!
//! **Learning goal.** A *livelock* is not a deadlock: no thread is blocked, every thread keeps
//! running, yet none makes progress. Backing off and retrying (`try_lock`, release, retry) avoids
//! the deadlock of the gridlock scenario only to trade it for this. A global acquisition order
//! removes both.
//!
//! **Source.** The "people in a corridor" livelock of the classic concurrency lectures (CS:APP 3e
//! §12.7 lecture material on deadlock, livelock and starvation).
//!
//! **What goes wrong.** Each thread takes its first half, finds the second busy (`try_lock`),
//! releases the first and tries again; in lockstep, that repeats. **Why it is bad:** no one passes.
//! **What the checkers see:** the scenario declares progress (`passes`) and the retries
//! (`steps back`); when both people have stepped back `ROUNDS` times with no one passing, the
//! execution is a livelock and the trace shows the repeating cycle. Only shuttle's random
//! scheduler drives the two into lockstep: loom deprioritises a thread that yields until another
//! makes progress, so it never sees the lockstep (it passes this variant exhaustively), and PCT's
//! few priority changes cannot keep two threads alternating round after round.
//!
//! **Invariant.** Someone passes within `ROUNDS` rounds of stepping back (no livelock).

use super::rt;
use rt::sync::{Arc, Mutex};
use rt::thread;

/// Rounds of stepping back, by everyone, with no one passing, that count as a livelock.
pub const ROUNDS: usize = 3;

/// The corridor's two halves.
pub struct Corridor {
    left: Mutex<()>,
    right: Mutex<()>,
}

/// Runs the two walkers; `walk(corridor, starts_left)` gets one person through.
fn meet(walk: fn(&Corridor, bool)) {
    let c = Arc::new(Corridor { left: Mutex::new(()).named("left"), right: Mutex::new(()).named("right") });
    let people: Vec<_> = [("alice", true), ("bob", false)]
        .into_iter()
        .map(|(name, starts_left)| {
            let c = c.clone();
            thread::Builder::new().name(name.to_string()).spawn(move || walk(&c, starts_left)).unwrap()
        })
        .collect();
    for p in people {
        p.join().unwrap();
    }
    let passed = rt::noted("passes");
    rt::property("everyone-passes", passed == 2, || format!("{passed} of 2 people passed: everyone must still get through"));
    let peak = rt::peak_threads();
    rt::property("threads-overlap", peak == 2, || {
        format!("only {peak} of 2 people ran at once: they must still walk at the same time")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy: take your side, try the other, step back if it is taken, try again.
// ---------------------------------------------------------------------------------------------

fn walk_politely(c: &Corridor, starts_left: bool) {
    let (mine, other) = if starts_left { (&c.left, &c.right) } else { (&c.right, &c.left) };
    loop {
        let _first = mine.lock().unwrap();
        if let Ok(_second) = other.try_lock() {
            rt::liveness::progress("passes");
            return;
        }
        drop(_first);
        // BUG: the other person steps back at the same moment, and both try again in lockstep.
        rt::liveness::retry("steps back", ROUNDS);
        thread::yield_now();
    }
}

/// The buggy variant.
pub fn buggy() {
    meet(walk_politely)
}

// ---------------------------------------------------------------------------------------------
// Fix: everyone takes the left half first.
// ---------------------------------------------------------------------------------------------

/// Why it holds: whoever gets `left` first is never refused `right` by someone who holds `right`
/// and wants `left` — nobody holds `right` without `left`. One of them always passes.
fn walk_left_first(c: &Corridor, _starts_left: bool) {
    let _left = c.left.lock().unwrap();
    let _right = c.right.lock().unwrap();
    rt::liveness::progress("passes");
}

/// The fixed variant.
pub fn fixed() {
    meet(walk_left_first)
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "polite-livelock",
    title: "Two polite people sway in a corridor forever (try_lock and back off)",
    category: Category::Livelock,
    source: "CS:APP 3e §12.7 lecture material (deadlock, livelock, starvation)",
    invariant: "someone passes within ROUNDS rounds of stepping back",
    expected: Kind::Livelock,
    variant_kinds: &[],
    found_by: &[Checker::ShuttleRandom],
    waits_by_spinning: false,
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "try_lock the second half, step back, retry", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "everyone takes the left half first", run: fixed },
    ],
    must_still_work: &[
        Property { name: "threads-overlap", holds: "both people still walk at the same time: both are started before either is joined" },
        Property { name: "everyone-passes", holds: "both people still get through the corridor, each holding both halves as they pass" },
    ],
    assignment: Assignment {
        unit: Unit::Liveness,
        task: "Change how a person walks through the corridor so that the two can never sway in lockstep forever. Both must still pass, each holding both halves of the corridor while passing.",
        hints: &[
            "No thread is blocked here, yet nothing moves. What do the two threads do, round after round?",
            "Backing off avoids the deadlock but keeps the symmetry. Which rule from the gridlock assignment breaks the symmetry?",
            "Let everyone take the `left` half first, then the `right` half, with plain `lock()`: no `try_lock`, no stepping back.",
        ],
        questions: &[
            "loom passes the buggy code exhaustively, and shuttle's random scheduler finds the livelock. How can an exhaustive checker miss a bug that a random one finds?",
            "Why did the stress run on real threads show this bug in only {stress_failing} of {stress_runs} runs, when {found_by} found it after {found_in} execution(s)? What does each number promise about a run that passes?",
        ],
    },
};
