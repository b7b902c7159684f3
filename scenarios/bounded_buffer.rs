//! # The connection queue: a bounded buffer that loses a wakeup
//!
//! **Story.** A prethreaded echo server has one thread that accepts connections and a pool of
//! workers that serve them. Between them sits a queue with a fixed number of slots: the acceptor
//! *inserts* each new connection (and waits while every slot is full), a worker *removes* one
//! (and waits while the queue is empty). Each side sleeps on a condition variable and is woken
//! by the other. Get one wakeup wrong and a worker takes a connection that is not there, or the
//! acceptor sleeps forever while clients queue up at the door.
//!
//! **Learning goal.** A condition-variable wait must (1) re-check its condition in a `while`
//! loop — being woken means "the world changed", not "your condition holds": between the notify
//! and the wakeup another thread can take the item, and a wait may even end with no notify at
//! all (a *spurious* wakeup, which POSIX allows and shuttle produces); and (2) be paired with a notify on every
//! path that can make the condition true. Forget either and a wakeup is lost or stale.
//!
//! **Source.** CS:APP 3e §12.5.4 (`sbuf`, the producer-consumer problem, Fig. 12.24–12.25) and
//! §12.5.5 (the prethreaded concurrent echo server, Fig. 12.27–12.28), here as a Rust monitor
//! (a mutex and two condition variables) instead of three semaphores. `conclab serve --mode pool`
//! runs this very `BoundedBuffer` (its real-thread compilation) as its connection queue.
//!
//! **What goes wrong.** `buggy` checks "empty?" with an `if`: consumer-1 sleeps on an empty
//! queue, the producer inserts and notifies, but consumer-2 gets the lock first and takes the
//! item; consumer-1 wakes up, does not look again, and removes from an empty queue.
//! `buggy-missing-notify` forgets to notify `not_full` after a removal: the producer, asleep on
//! a full queue, is never told a slot is free, and the consumers then sleep on an empty queue
//! that nobody fills. **Why it is bad:** a worker serves a connection that does not exist (in
//! C, a stale file descriptor); or the server stops accepting for good. **What the checkers
//! see:** loom and shuttle explore who gets the lock after a notify, and find both within tens
//! of executions; the second is reported as a deadlock naming who waits on what.
//!
//! **Invariant.** Every `remove` returns an item, items come out once each and in order, and the
//! queue never holds more than its capacity.

use super::rt;
use rt::sync::{Arc, Condvar, Mutex};
use rt::thread;
use std::collections::VecDeque;

/// Slots in the model's queue: one, so that it is full as soon as it holds anything.
pub const SLOTS: usize = 1;
/// Items the producer inserts; each consumer removes one.
pub const ITEMS: usize = 2;

/// A bounded FIFO queue shared by producers and consumers (CS:APP's `sbuf`).
pub struct BoundedBuffer<T> {
    slots: Mutex<VecDeque<T>>,
    capacity: usize,
    not_full: Condvar,
    not_empty: Condvar,
}

impl<T> BoundedBuffer<T> {
    /// An empty queue with `capacity` slots (at least one).
    pub fn new(capacity: usize) -> Self {
        BoundedBuffer {
            slots: Mutex::new(VecDeque::with_capacity(capacity.max(1))).named("slots"),
            capacity: capacity.max(1),
            not_full: Condvar::new().named("not_full"),
            not_empty: Condvar::new().named("not_empty"),
        }
    }

    /// Items queued now.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap().len()
    }

    /// Whether no item is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Inserts `item` at the back, waiting while every slot is taken.
    pub fn insert(&self, item: T) {
        let mut q = self.slots.lock().unwrap();
        while q.len() == self.capacity {
            q = self.not_full.wait(q).unwrap();
        }
        q.push_back(item);
        rt::invariant(q.len() <= self.capacity, || format!("{} items in {} slots", q.len(), self.capacity));
        drop(q);
        self.not_empty.notify_one();
    }

    /// Removes the item at the front, waiting while the queue is empty. (The fix: see below.)
    pub fn remove(&self) -> T {
        let mut q = self.slots.lock().unwrap();
        while q.is_empty() {
            q = self.not_empty.wait(q).unwrap();
        }
        let item = q.pop_front().expect("the loop waited until an item was there");
        drop(q);
        self.not_full.notify_one();
        item
    }
}

/// `main` is the acceptor, as in the server: it inserts `ITEMS` connections into a `SLOTS`-slot
/// queue while `ITEMS` workers each remove one with `remove`; every connection must be served
/// once.
fn run_queue(remove: fn(&BoundedBuffer<usize>) -> Option<usize>) {
    let queue = Arc::new(BoundedBuffer::new(SLOTS));
    let workers: Vec<_> = (1..=ITEMS)
        .map(|w| {
            let q = queue.clone();
            thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || {
                    let got = remove(&q);
                    rt::invariant(got.is_some(), || format!("worker-{w} woke up to an empty queue and took nothing"));
                    rt::note(format!("serves connection {}", got.unwrap_or_default()));
                    got
                })
                .unwrap()
        })
        .collect();
    for conn in 1..=ITEMS {
        rt::note(format!("accepts connection {conn}"));
        queue.insert(conn);
    }
    let mut served: Vec<usize> = workers.into_iter().filter_map(|w| w.join().unwrap()).collect();
    served.sort_unstable();
    rt::property("every-connection-served", served == (1..=ITEMS).collect::<Vec<_>>(), || {
        format!("connections served: {served:?}; each of 1..={ITEMS} must be served exactly once")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy 1: `if` instead of `while`.
// ---------------------------------------------------------------------------------------------

/// Checks "empty?" once. After the wait, the item it was woken for may already be gone.
fn remove_checking_once(b: &BoundedBuffer<usize>) -> Option<usize> {
    let mut q = b.slots.lock().unwrap();
    // BUG: `if`, not `while`: another worker can take the item between the notify and our wakeup.
    if q.is_empty() {
        q = b.not_empty.wait(q).unwrap();
    }
    let item = q.pop_front();
    drop(q);
    b.not_full.notify_one();
    item
}

/// The first buggy variant: the wait's condition is not re-checked.
pub fn buggy() {
    run_queue(remove_checking_once)
}

// ---------------------------------------------------------------------------------------------
// Buggy 2: a missing notify.
// ---------------------------------------------------------------------------------------------

/// Takes an item but never tells the producer a slot is free.
fn remove_without_notify(b: &BoundedBuffer<usize>) -> Option<usize> {
    let mut q = b.slots.lock().unwrap();
    while q.is_empty() {
        q = b.not_empty.wait(q).unwrap();
    }
    // BUG: no `not_full.notify_one()`: a producer asleep on a full queue is never woken.
    q.pop_front()
}

/// The second buggy variant: a lost wakeup.
pub fn buggy_missing_notify() {
    run_queue(remove_without_notify)
}

// ---------------------------------------------------------------------------------------------
// Fix: wait in a `while`, notify on every path that frees a slot or fills one.
// ---------------------------------------------------------------------------------------------

/// Why it holds: a woken thread re-checks under the lock, so it acts only on a condition that
/// holds now; and every insert notifies `not_empty`, every removal `not_full`, so no sleeper
/// misses the change it waits for. This is [`BoundedBuffer::remove`], the server's code.
pub fn fixed() {
    run_queue(|b| Some(b.remove()))
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "bounded-buffer",
    title: "The server's connection queue loses a wakeup (sbuf)",
    category: Category::Race,
    source: "CS:APP 3e §12.5.4–12.5.5 (sbuf, prethreaded echo server)",
    invariant: "every remove returns an item, once and in order; never more items than slots",
    expected: Kind::Assertion,
    variant_kinds: &[("buggy-missing-notify", Kind::Deadlock)],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct],
    waits_by_spinning: false,
    must_still_work: &[Property {
        name: "every-connection-served",
        holds: "every accepted connection is still served, exactly once: the workers take real items from the queue",
    }],
    assignment: Assignment {
        unit: Unit::Server,
        task: "Fix `remove_checking_once` so that a worker never removes from an empty queue, whatever the interleaving and even when a wait ends with no notify at all. Every accepted connection must still be served exactly once, and a worker must still sleep (not spin) while the queue is empty.",
        hints: &[
            "Find where a worker goes to sleep. When it wakes up, what does it know about the queue — and what does it merely hope?",
            "Between `notify_one` and the woken worker getting the lock back, another worker can take the lock first. And POSIX (and shuttle) allow a wait to end with no notify at all.",
            "Re-check the condition after every wakeup: `while q.is_empty() { q = b.not_empty.wait(q).unwrap(); }`.",
        ],
        questions: &[
            "{found_by} found this after {found_in} execution(s); real threads showed it in {stress_failing} of {stress_runs} runs. Which step of the failing trace does the real machine almost never produce?",
            "`buggy-missing-notify` is reported as a deadlock, not an assertion. Which two threads wait, and for what?",
            "The server's pool uses this queue with `Option<TcpStream>`: how do the workers learn that the server is shutting down?",
        ],
    },
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "`if` instead of `while` around the wait", run: buggy },
        Variant {
            name: "buggy-missing-notify",
            fixed: false,
            summary: "a removal never notifies `not_full`",
            run: buggy_missing_notify,
        },
        Variant { name: "fixed", fixed: true, summary: "`while` around each wait, a notify on each change", run: fixed },
    ],
};
