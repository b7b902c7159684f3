//! # Gridlock at the crossroads
//!
//! **Story.** Two cars reach a junction with two crossing points, North and South. The
//! eastbound car enters North, then needs South; the westbound car enters South, then needs
//! North. Each holds the square the other needs, and neither backs up: traffic stops for good.
//! (`buggy-three-cars`: three cars on a three-square roundabout, a cycle one link longer.)
//!
//! **Learning goal.** A deadlock needs a *cycle* of waiting: each thread holds one lock and
//! waits for a lock another holds. Taking locks in one global order makes the cycle impossible.
//!
//! **Source.** CS:APP 3e §12.7.5 (deadlocks, the progress graph and the lock-ordering rule).
//!
//! **What goes wrong.** Each car locks its first square, then blocks on the second, which the
//! other car holds. **Why it is bad:** both threads wait forever. **What the checkers see:** loom
//! and shuttle find the cycle in a few executions and name who holds what; on real threads the
//! window is narrow, and a run that does hit it never returns (the `stress` watchdog reports it).
//!
//! **Invariant.** Every car gets through the junction (no deadlock).

use super::rt;
use rt::sync::{Arc, Mutex};
use rt::thread;

/// The two squares of the junction.
pub struct Junction {
    north: Mutex<()>,
    south: Mutex<()>,
}

fn junction() -> Arc<Junction> {
    Arc::new(Junction { north: Mutex::new(()).named("north"), south: Mutex::new(()).named("south") })
}

/// Runs the two cars; `route(junction, eastbound)` drives one car through.
fn run_cars(route: fn(&Junction, bool)) {
    let j = junction();
    let cars: Vec<_> = [("eastbound", true), ("westbound", false)]
        .into_iter()
        .map(|(name, east)| {
            let j = j.clone();
            thread::Builder::new().name(name.to_string()).spawn(move || route(&j, east)).unwrap()
        })
        .collect();
    for c in cars {
        c.join().unwrap();
    }
    let through = rt::noted("through the junction");
    rt::property("every-car-crosses", through == 2, || {
        format!("{through} of 2 cars got through: a fix must let every car cross")
    });
    let peak = rt::peak_threads();
    rt::property("threads-overlap", peak == 2, || {
        format!("only {peak} of 2 cars ran at once: they must still drive at the same time")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy: each car takes the squares in the order it meets them.
// ---------------------------------------------------------------------------------------------

fn drive_in_meeting_order(j: &Junction, east: bool) {
    let (first, second) = if east { (&j.north, &j.south) } else { (&j.south, &j.north) };
    let _entered = first.lock().unwrap();
    // BUG: the other car may hold `second` while waiting for `first`: a cycle.
    let _crossed = second.lock().unwrap();
    rt::note("through the junction");
}

/// The buggy variant.
pub fn buggy() {
    run_cars(drive_in_meeting_order)
}

// ---------------------------------------------------------------------------------------------
// Fix: one global order — North before South, whatever the direction.
// ---------------------------------------------------------------------------------------------

/// Why it holds: a car holding South never waits for North, so no cycle can form.
fn drive_in_global_order(j: &Junction, _east: bool) {
    let _north = j.north.lock().unwrap();
    let _south = j.south.lock().unwrap();
    rt::note("through the junction");
}

/// The fixed variant.
pub fn fixed() {
    run_cars(drive_in_global_order)
}

// ---------------------------------------------------------------------------------------------
// Three cars on a three-square roundabout: the same cycle, one link longer.
// ---------------------------------------------------------------------------------------------

/// Runs three cars; car `i` enters square `i` and needs square `i + 1` (mod 3).
fn run_roundabout(global_order: bool) {
    let squares: Arc<Vec<Mutex<()>>> =
        Arc::new(vec![Mutex::new(()).named("square-0"), Mutex::new(()).named("square-1"), Mutex::new(()).named("square-2")]);
    let cars: Vec<_> = (0..3)
        .map(|i| {
            let squares = squares.clone();
            thread::Builder::new()
                .name(format!("car-{i}"))
                .spawn(move || {
                    let (meet, next) = (i, (i + 1) % 3);
                    let (first, second) = if global_order { (meet.min(next), meet.max(next)) } else { (meet, next) };
                    let _entered = squares[first].lock().unwrap();
                    let _crossed = squares[second].lock().unwrap();
                    rt::note("round the roundabout");
                })
                .unwrap()
        })
        .collect();
    for c in cars {
        c.join().unwrap();
    }
    let round = rt::noted("round the roundabout");
    rt::property("every-car-crosses", round == 3, || format!("{round} of 3 cars got round: every car must get through"));
}

/// Three cars, each holding its square and waiting for the next: a cycle of three.
pub fn buggy_three_cars() {
    run_roundabout(false)
}

/// Three cars, squares taken lowest number first: car-2 takes square-0 before square-2, which
/// breaks the cycle.
pub fn fixed_three_cars() {
    run_roundabout(true)
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "lock-order-gridlock",
    title: "Two cars gridlock a junction (AB/BA lock order)",
    category: Category::Deadlock,
    source: "CS:APP 3e §12.7.5",
    invariant: "every car gets through (no deadlock)",
    expected: Kind::Deadlock,
    variant_kinds: &[],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct, Checker::ShuttleDfs],
    waits_by_spinning: false,
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "locks taken in meeting order (AB/BA)", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "one global lock order", run: fixed },
        Variant {
            name: "buggy-three-cars",
            fixed: false,
            summary: "three cars, each takes its square, then the next: a cycle of three",
            run: buggy_three_cars,
        },
        Variant {
            name: "fixed-three-cars",
            fixed: true,
            summary: "three cars, squares taken lowest number first",
            run: fixed_three_cars,
        },
    ],
    must_still_work: &[
        Property { name: "threads-overlap", holds: "the cars still drive at the same time: both are started before either is joined" },
        Property { name: "every-car-crosses", holds: "every car still gets through the junction, holding both squares it needs" },
    ],
    assignment: Assignment {
        unit: Unit::Deadlocks,
        task: "Change how a car drives through the junction so that the cars can never gridlock. Each car must still cross, holding both squares while it crosses.",
        hints: &[
            "Draw who holds what and who waits for what when both cars are stuck. What shape does it have?",
            "A deadlock needs a cycle of waiting. Which rule about the *order* of taking locks makes a cycle impossible?",
            "Let every car take `north` before `south`, whichever way it drives.",
        ],
        questions: &[
            "Why did the stress run on real threads show this bug in only {stress_failing} of {stress_runs} runs, when {found_by} found it after {found_in} execution(s)? What does each number promise about a run that passes?",
            "Would a timeout on the second lock (give up and retry) be a fix? Which other scenario in this course shows what can go wrong with it?",
        ],
    },
};
