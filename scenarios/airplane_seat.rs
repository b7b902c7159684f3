//! # The last seat on the plane
//!
//! **Story.** Two travel agents sell seats on the same flight. Each agent looks at the flight's
//! counter of free seats and, if a seat is left, sells it: writes the ticket and lowers the
//! counter. One seat is left. Both agents look at the counter at the same moment, both see
//! "1 seat left", and both sell seat 1. Two passengers will board with the same seat.
//!
//! **Learning goal.** *Check-then-act* is a race: a decision taken on a value you read is stale
//! by the time you act on it, unless the check and the act are one atomic step.
//!
//! **Source.** The airline-reservation race of the classic operating-systems lectures on threads;
//! CS:APP 3e §12.5 (shared variables and synchronisation).
//!
//! **What goes wrong.** Between an agent's *check* (`load`) and its *act* (`store`), the other
//! agent can run its own check. **Why it is bad:** tickets sold exceed seats.
//! **What the checkers see:** loom and shuttle find the bad interleaving within a handful of
//! executions; on real threads the window is a few nanoseconds wide and a stress run rarely
//! hits it.
//!
//! **Invariant.** Tickets sold ≤ seats, and no seat is sold twice.

use super::rt;
use rt::sync::atomic::{AtomicUsize, Ordering};
use rt::sync::{Arc, Mutex};
use rt::thread;

/// Agents selling at the same time (each tries to sell one ticket).
pub const AGENTS: usize = 2;
/// Free seats when the agents start: the last one.
pub const SEATS: usize = 1;

/// The flight: the counter the agents check, and the ledger of tickets written.
pub struct Flight {
    seats_left: AtomicUsize,
    /// (seat number, agent) for every ticket sold.
    ledger: Mutex<Vec<(usize, usize)>>,
    /// The booking desk: only the first fix makes agents take it.
    booking: Mutex<()>,
}

impl Flight {
    fn new() -> Self {
        Flight {
            seats_left: AtomicUsize::new(SEATS).named("seats_left"),
            ledger: Mutex::new(Vec::new()).named("ledger"),
            booking: Mutex::new(()).named("booking"),
        }
    }

    /// Writes the ticket, checking the invariant at the moment of the sale.
    fn write_ticket(&self, seat: usize, agent: usize) {
        rt::note(format!("sells seat {seat}"));
        let mut ledger = self.ledger.lock().unwrap();
        if let Some(&(_, other)) = ledger.iter().find(|&&(s, _)| s == seat) {
            rt::invariant(false, || format!("seat {seat} sold twice (agent-{other} and agent-{agent})"));
        }
        ledger.push((seat, agent));
        rt::invariant(ledger.len() <= SEATS, || format!("{} tickets sold for {SEATS} seats", ledger.len()));
    }
}

/// Runs every agent once against a fresh flight: the model each checker explores.
fn run_agents(sell: fn(&Flight, usize)) {
    let flight = Arc::new(Flight::new());
    let agents: Vec<_> = (1..=AGENTS)
        .map(|agent| {
            let flight = flight.clone();
            thread::Builder::new().name(format!("agent-{agent}")).spawn(move || sell(&flight, agent)).unwrap()
        })
        .collect();
    for a in agents {
        a.join().unwrap();
    }
    let sold = rt::noted("sells seat");
    rt::property("every-seat-sold", sold == SEATS.min(AGENTS), || {
        format!("{sold} ticket(s) sold with {SEATS} seat(s) free and {AGENTS} agents selling: a fix must still sell")
    });
    let peak = rt::peak_threads();
    rt::property("threads-overlap", peak == AGENTS, || {
        format!("only {peak} of AGENTS agents ran at once: they must still sell at the same time")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy: check, then act.
// ---------------------------------------------------------------------------------------------

/// Looks at the counter, then sells: two separate steps.
fn sell_buggy(flight: &Flight, agent: usize) {
    let left = flight.seats_left.load(Ordering::SeqCst); // check
    if left > 0 {
        // BUG: another agent can check the same `left` before the store below lands.
        flight.seats_left.store(left - 1, Ordering::SeqCst); // act
        flight.write_ticket(left, agent);
    }
}

/// The buggy variant.
pub fn buggy() {
    run_agents(sell_buggy)
}

// ---------------------------------------------------------------------------------------------
// Fix 1: one lock around the check and the act.
// ---------------------------------------------------------------------------------------------

/// Why it holds: while an agent holds the `booking` desk, no other agent can check, so the value it
/// checked is still the value when it acts.
fn sell_locked(flight: &Flight, agent: usize) {
    let _desk = flight.booking.lock().unwrap();
    let left = flight.seats_left.load(Ordering::SeqCst);
    if left > 0 {
        flight.seats_left.store(left - 1, Ordering::SeqCst);
        flight.write_ticket(left, agent);
    }
}

/// The first fix: check-and-act under one mutex.
pub fn fixed() {
    run_agents(sell_locked)
}

// ---------------------------------------------------------------------------------------------
// Fix 2: compare-and-swap.
// ---------------------------------------------------------------------------------------------

/// Why it holds: `compare_exchange` lowers the counter only if it still holds the value the
/// agent checked; if another agent got there first, the CAS fails and the agent checks again.
fn sell_cas(flight: &Flight, agent: usize) {
    let mut left = flight.seats_left.load(Ordering::SeqCst);
    while left > 0 {
        match flight.seats_left.compare_exchange(left, left - 1, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return flight.write_ticket(left, agent),
            Err(now) => left = now,
        }
    }
}

/// The second fix: a lock-free compare-and-swap loop.
pub fn fixed_cas() {
    run_agents(sell_cas)
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "airplane-seat",
    title: "The last seat on the plane is sold twice",
    category: Category::Race,
    source: "CS:APP 3e §12.5; the airline-reservation race of the OS lectures",
    invariant: "tickets sold ≤ seats, and no seat is sold twice",
    expected: Kind::Assertion,
    variant_kinds: &[],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct, Checker::ShuttleDfs],
    waits_by_spinning: false,
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "check (load) then act (store)", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "check and act under one mutex", run: fixed },
        Variant { name: "fixed-cas", fixed: true, summary: "compare-and-swap loop", run: fixed_cas },
    ],
    must_still_work: &[
        Property { name: "threads-overlap", holds: "the agents still sell at the same time: all are started before any is joined" },
        Property { name: "every-seat-sold", holds: "every free seat is still sold while agents want one: tickets sold = min(SEATS, AGENTS)" },
    ],
    assignment: Assignment {
        unit: Unit::Races,
        task: "Make `sell` safe: no seat may be sold twice and never more tickets than seats, whatever the interleaving. Both agents must still sell at the same time, and every free seat must still be sold.",
        hints: &[
            "Look at the two lines that read and then write `seats_left`. What can the other agent do between them?",
            "The *check* (`load`) and the *act* (`store`) must become one indivisible step.",
            "Either take a lock around the check and the act (the flight has a `booking` mutex no one uses yet), or replace load-then-store with a `compare_exchange` loop that retries when the counter changed.",
        ],
        questions: &[
            "Why did the stress run on real threads show this bug in only {stress_failing} of {stress_runs} runs, when {found_by} found it after {found_in} execution(s)? What does each number promise about a run that passes?",
            "Your fix passed loom. Is that a proof for this program, or a sample? For which programs would it not be a proof?",
        ],
    },
};
