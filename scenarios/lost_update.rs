//! # Two threads count, and counts go missing
//!
//! **Story.** Two threads share one counter and each adds 1 to it, `NITERS` times. At the end the
//! counter should read `2 × NITERS`. It often reads less: an increment was lost.
//!
//! **Learning goal.** `cnt = cnt + 1` is not one step. The machine loads `cnt`, adds 1 in a
//! register, and stores it back; a thread that loads between another's load and store writes
//! back a stale sum, and one increment vanishes. Make the read-modify-write atomic — a mutex
//! around it, or one atomic `fetch_add`.
//!
//! **Source.** CS:APP 3e §12.5.1–12.5.2 (`badcnt.c`: "improper synchronization"; the instructions
//! H, L, U, S of the progress graph).
//!
//! **What goes wrong.** Both threads load the same value and both store value + 1. **Why it is
//! bad:** the final count is short by one for every such overlap. **What the checkers see:** loom
//! and shuttle find the overlap in a few executions; real threads show it only when the loops
//! are long enough to overlap on two cores.
//!
//! **Invariant.** The final count is `2 × NITERS`.

use super::rt;
use rt::sync::atomic::{AtomicUsize, Ordering};
use rt::sync::{Arc, Mutex};
use rt::thread;

/// Increments per thread (small: every increment multiplies the interleavings).
pub const NITERS: usize = 2;

/// The shared counter, as an atomic cell (buggy and `fetch_add`) and under a mutex (the mutex fix).
pub struct Counter {
    cnt: AtomicUsize,
    locked: Mutex<usize>,
}

/// Runs two counting threads, then checks the total the counter reports.
fn count_twice(increment: fn(&Counter), total: fn(&Counter) -> usize) {
    let c = Arc::new(Counter { cnt: AtomicUsize::new(0).named("cnt"), locked: Mutex::new(0).named("mutex") });
    let threads: Vec<_> = (1..=2)
        .map(|i| {
            let c = c.clone();
            thread::Builder::new()
                .name(format!("thread-{i}"))
                .spawn(move || {
                    for _ in 0..NITERS {
                        increment(&c);
                    }
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let cnt = total(&c);
    rt::invariant(cnt == 2 * NITERS, || format!("cnt = {cnt}, expected {}: an increment was lost", 2 * NITERS));
    let peak = rt::peak_threads();
    rt::property("threads-overlap", peak == 2, || {
        format!("only {peak} counting thread(s) ran at once: the two threads must still count at the same time")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy: load, add, store — three steps.
// ---------------------------------------------------------------------------------------------

fn increment_racy(c: &Counter) {
    let v = c.cnt.load(Ordering::SeqCst); // L: load cnt
    // BUG: the other thread can load the same `v` here; both store v + 1 and one increment is lost.
    c.cnt.store(v + 1, Ordering::SeqCst); // U, S: update and store
}

/// The buggy variant (`badcnt.c`).
pub fn buggy() {
    count_twice(increment_racy, |c| c.cnt.load(Ordering::SeqCst))
}

// ---------------------------------------------------------------------------------------------
// Fix 1: a mutex around the read-modify-write (CS:APP's `goodcnt.c` with P(&mutex), V(&mutex)).
// ---------------------------------------------------------------------------------------------

/// Why it holds: no thread can load while another is between its load and its store.
fn increment_locked(c: &Counter) {
    let mut cnt = c.locked.lock().unwrap();
    *cnt += 1;
}

/// The first fix: the increment under a mutex.
pub fn fixed() {
    count_twice(increment_locked, |c| *c.locked.lock().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Fix 2: one atomic read-modify-write.
// ---------------------------------------------------------------------------------------------

/// Why it holds: `fetch_add` loads, adds and stores as one indivisible step.
fn increment_atomic(c: &Counter) {
    c.cnt.fetch_add(1, Ordering::SeqCst);
}

/// The second fix: `fetch_add`.
pub fn fixed_fetch_add() {
    count_twice(increment_atomic, |c| c.cnt.load(Ordering::SeqCst))
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "lost-update",
    title: "Two threads count to N and lose increments (badcnt)",
    category: Category::Race,
    source: "CS:APP 3e §12.5.1–12.5.2 (badcnt.c)",
    invariant: "the final count is 2 × NITERS",
    expected: Kind::Assertion,
    variant_kinds: &[],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct, Checker::ShuttleDfs],
    waits_by_spinning: false,
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "load, then store load + 1", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "the increment under a mutex", run: fixed },
        Variant { name: "fixed-fetch-add", fixed: true, summary: "one atomic fetch_add", run: fixed_fetch_add },
    ],
    must_still_work: &[
        Property { name: "threads-overlap", holds: "the two threads still count at the same time: both are started before either is joined" },
    ],
    assignment: Assignment {
        unit: Unit::Races,
        task: "Make the increment safe so that the final count is always `2 × NITERS`. The two threads must keep counting at the same time: running one after the other is not a fix.",
        hints: &[
            "`cnt = cnt + 1` is three steps: load, add, store. Where can the other thread step in?",
            "The load and the store must not be separated by another thread's load: make the read-modify-write one step.",
            "Use the counter's `mutex` around the increment (and read the total under it), or one atomic `fetch_add`.",
        ],
        questions: &[
            "Why did the stress run on real threads show this bug in only {stress_failing} of {stress_runs} runs, when {found_by} found it after {found_in} execution(s)? What does each number promise about a run that passes?",
            "With a mutex, the counting threads take turns on every increment. Why is that still concurrent, and what does it cost?",
        ],
    },
};
