//! # People keep jumping in front of you in line
//!
//! **Story.** You wait at a counter guarded by a lock. A regular customer keeps coming back:
//! served, leaves, comes straight back — and each time the lock is free, whoever happens to grab
//! it first gets in. The regular is always quicker. You are never refused outright, yet you may
//! wait forever while the regular is served again and again.
//!
//! **Learning goal.** *Starvation* is a fairness failure: the system makes progress, just never
//! for you. A test-and-set spinlock promises mutual exclusion, not order. A ticket lock serves
//! in arrival order, so nobody is overtaken more than once by each other waiter (n − 1 times).
//!
//! **Source.** The "people jump in front of you in line" starvation of the classic concurrency
//! lectures; CS:APP 3e §12.7 (thread-safety and liveness) with the spinlock and ticket lock of
//! the synchronisation lectures.
//!
//! **What goes wrong.** You arrive and spin on the lock while the regular holds it; the regular
//! releases and re-acquires before you get your turn, again and again. **Why it is bad:** your
//! waiting time has no bound. **What the checkers see:** the scenario declares the counter a line
//! that allows `MAX_BYPASS` overtakes; the checkers find a schedule where you are overtaken more
//! often, and the report names who starved and who jumped the line. loom and shuttle's random
//! and PCT schedulers find it; loom verifies the ticket lock exhaustively.
//!
//! **Invariant.** A waiting customer is overtaken at most `MAX_BYPASS` = n − 1 = 1 time.

use super::rt;
use rt::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use rt::sync::Arc;
use rt::thread;

/// How often the regular comes back to the counter.
pub const VISITS: usize = 3;
/// How often a waiter may be overtaken: n − 1 for n = 2 customers.
pub const MAX_BYPASS: usize = 1;
/// The line's name in traces and verdicts.
const LINE: &str = "counter";

/// The counter's two locks — a test-and-set flag and a ticket dispenser (each variant uses one) —
/// and who is at the counter.
pub struct Counter {
    locked: AtomicBool,
    next_ticket: AtomicUsize,
    now_serving: AtomicUsize,
    /// Customers at the counter now: more than one breaks mutual exclusion.
    inside: AtomicUsize,
}

/// A lock discipline: take the counter (declaring where its line starts), then give it back.
type Discipline = (fn(&Counter), fn(&Counter));

/// You come once; the regular comes `VISITS` times.
fn open_counter((acquire, release): Discipline) {
    let c = Arc::new(Counter {
        locked: AtomicBool::new(false).named("locked"),
        next_ticket: AtomicUsize::new(0).named("next_ticket"),
        now_serving: AtomicUsize::new(0).named("now_serving"),
        inside: AtomicUsize::new(0).named("inside"),
    });
    let visit = move |c: &Counter| {
        acquire(c);
        rt::liveness::enter(LINE, MAX_BYPASS);
        let inside = c.inside.fetch_add(1, Ordering::SeqCst) + 1;
        rt::property("one-at-a-time", inside == 1, || format!("{inside} customers at the counter at once"));
        rt::note("is served");
        c.inside.fetch_sub(1, Ordering::SeqCst);
        release(c);
    };
    let customers: Vec<_> = [("you", 1), ("regular", VISITS)]
        .into_iter()
        .map(|(name, visits)| {
            let c = c.clone();
            thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    for _ in 0..visits {
                        visit(&c);
                    }
                })
                .unwrap()
        })
        .collect();
    for t in customers {
        t.join().unwrap();
    }
    let served = rt::noted("is served");
    rt::property("everyone-served", served == 1 + VISITS, || format!("{served} of {} visits served", 1 + VISITS));
    let peak = rt::peak_threads();
    rt::property("threads-overlap", peak == 2, || {
        format!("only {peak} of 2 customers ran at once: they must still queue at the same time")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy: a test-and-set spinlock — whoever swaps first gets in.
// ---------------------------------------------------------------------------------------------

fn tas_acquire(c: &Counter) {
    rt::liveness::arrive(LINE); // in line from the first attempt on
    // BUG: no order among waiters: a customer who just left can swap `true` in before you do.
    while c.locked.swap(true, Ordering::SeqCst) {
        rt::hint::spin_loop();
    }
}

fn tas_release(c: &Counter) {
    c.locked.store(false, Ordering::SeqCst);
}

/// The buggy variant.
pub fn buggy() {
    open_counter((tas_acquire, tas_release))
}

// ---------------------------------------------------------------------------------------------
// Fix: a ticket lock — take a number, wait until it is called.
// ---------------------------------------------------------------------------------------------

/// Why it holds: tickets are handed out in arrival order and served in ticket order, so once you
/// hold a ticket, only customers with earlier tickets — at most one per other customer — go first.
fn ticket_acquire(c: &Counter) {
    let my = c.next_ticket.fetch_add(1, Ordering::Relaxed);
    rt::liveness::arrive(LINE); // in line once holding a ticket: the lock's doorway
    while c.now_serving.load(Ordering::Acquire) != my {
        rt::hint::spin_loop();
    }
}

fn ticket_release(c: &Counter) {
    c.now_serving.fetch_add(1, Ordering::Release);
}

/// The fixed variant.
pub fn fixed() {
    open_counter((ticket_acquire, ticket_release))
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "line-jumping-starvation",
    title: "People keep jumping in front of you in line (unfair spinlock)",
    category: Category::Starvation,
    source: "CS:APP 3e §12.7 lecture material; spinlock vs ticket lock",
    invariant: "a waiting customer is overtaken at most n − 1 times",
    expected: Kind::Starvation,
    variant_kinds: &[],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct],
    waits_by_spinning: true,
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "test-and-set spinlock: no order among waiters", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "ticket lock: served in arrival order", run: fixed },
    ],
    must_still_work: &[
        Property { name: "threads-overlap", holds: "both customers still come at the same time: both are started before either is joined" },
        Property { name: "one-at-a-time", holds: "the counter still serves one customer at a time (mutual exclusion)" },
        Property { name: "everyone-served", holds: "every visit is still served: you once, the regular VISITS times" },
    ],
    assignment: Assignment {
        unit: Unit::Liveness,
        task: "Replace the counter's lock with one that serves waiting customers fairly: nobody may be overtaken more than once by each other customer. It must still be a lock: one customer at the counter at a time, and everyone gets served.",
        hints: &[
            "The lock is correct: never two at the counter. What does it *not* promise to someone who has been waiting?",
            "A fair lock serves in arrival order. How does a bakery or a deli counter know who came first?",
            "A ticket lock: take a number with `next_ticket.fetch_add(1)`, wait until `now_serving` shows it; release by advancing `now_serving`.",
        ],
        questions: &[
            "Is starvation a property of one execution or of all of them? How does the checker decide it from a finite run?",
            "Why did the stress run on real threads show this bug in only {stress_failing} of {stress_runs} runs, when {found_by} found it after {found_in} execution(s)? What does each number promise about a run that passes?",
        ],
    },
};
