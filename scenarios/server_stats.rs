//! # The server's books: bytes that vanish, or count twice
//!
//! **Story.** The echo server keeps books that every connection thread updates: CS:APP's
//! `echo_cnt` (bytes and lines echoed by the whole server) and a registry of the live
//! connections, each with its own counts. When a client asks `STATS`, the server adds them up:
//! the bytes of connections that have closed plus the bytes of those still open. The first
//! version keeps the registry and the closed totals under two locks: a closing connection
//! leaves the registry, *then* adds its bytes to the totals. A `STATS` that reads in between
//! sees the bytes nowhere — or, reading in the other order, in both places.
//!
//! **Learning goal.** Two locks, each used correctly, do not make two updates one atomic step.
//! An invariant that spans several pieces of state ("every byte is counted exactly once") needs
//! one lock around all of them — for the writers *and* for the reader.
//!
//! **Source.** CS:APP 3e §12.5 (`echo_cnt`, Fig. 12.29: a shared byte counter under a mutex);
//! the connection registry of the thread-based servers of the same chapter. `conclab serve`
//! runs [`Stats`], this file's fix, as its books.
//!
//! **What goes wrong.** `buggy` moves a closing connection from the registry to the totals in
//! two critical sections; a `STATS` taken by another thread can fall between them. **Why it is
//! bad:** the report is wrong although every counter is protected: monitoring shows traffic
//! that never happened, or loses some. **What the checkers see:** loom and shuttle place the
//! reader between the two steps within a few executions; real threads almost never do.
//!
//! **Invariant.** A `STATS` snapshot counts every byte exactly once (here: 5 bytes, or 8 once
//! the second connection's line is counted), and its live count matches its registry.

use super::rt;
use rt::sync::{Arc, Mutex};
use rt::thread;

/// One live connection's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// The server's number for the connection (1, 2, …).
    pub id: u64,
    /// Who is on the other end.
    pub peer: String,
    /// Bytes read from the client.
    pub bytes_in: u64,
    /// Bytes written back.
    pub bytes_out: u64,
    /// Complete lines served.
    pub lines: u64,
}

/// Server-wide counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections turned away because the server was full.
    pub refused: u64,
    /// Connections closed since start.
    pub closed: u64,
    /// Bytes read, all connections.
    pub bytes_in: u64,
    /// Bytes written, all connections.
    pub bytes_out: u64,
    /// Lines served, all connections.
    pub lines: u64,
    /// Pizza orders taken (the `pizza` service).
    pub orders: u64,
    /// Pizzas in those orders.
    pub pizzas: u64,
}

/// What a `STATS` request reports: totals over every connection, open or closed, and the open
/// ones one by one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Totals; bytes and lines include the live connections' counts so far.
    pub totals: Totals,
    /// Connections open now.
    pub live: u64,
    /// The open connections.
    pub connections: Vec<ConnStats>,
}

/// What the connection threads do to the books; both versions below implement it.
pub trait Books: Send + Sync {
    /// Registers a new connection; `None` when `max` are open already (the server says BUSY).
    fn connect(&self, peer: String, max: usize) -> Option<u64>;
    /// Adds one exchange to connection `id`'s counts.
    fn count(&self, id: u64, bytes_in: u64, bytes_out: u64, lines: u64);
    /// Removes connection `id`, keeping its counts in the totals.
    fn disconnect(&self, id: u64);
    /// The report of a `STATS` request.
    fn snapshot(&self) -> Snapshot;
}

/// Runs the model: connection 1 has already echoed 5 bytes; then, at the same time, it closes,
/// connection 2 opens and echoes 3 bytes, and a client asks for `STATS`.
fn run_books(books: impl Books + 'static) {
    let books = Arc::new(books);
    let first = books.connect("client-1".into(), 8).expect("room for the first connection");
    books.count(first, 5, 5, 1);
    let b = books.clone();
    let closing = thread::Builder::new().name("conn-1".into()).spawn(move || b.disconnect(first)).unwrap();
    let b = books.clone();
    let opening = thread::Builder::new()
        .name("conn-2".into())
        .spawn(move || {
            let id = b.connect("client-2".into(), 8).expect("room for the second connection");
            b.count(id, 3, 3, 1);
        })
        .unwrap();
    let b = books.clone();
    let stats = thread::Builder::new()
        .name("stats".into())
        .spawn(move || {
            let s = b.snapshot();
            rt::note(format!("reports {} bytes in, {} live", s.totals.bytes_in, s.live));
            rt::invariant(matches!(s.totals.bytes_in, 5 | 8), || {
                format!("STATS reports {} bytes read; every byte counted once gives 5 or 8", s.totals.bytes_in)
            });
            rt::invariant(s.live as usize == s.connections.len(), || {
                format!("STATS reports {} live connections but lists {}", s.live, s.connections.len())
            });
        })
        .unwrap();
    for t in [closing, opening, stats] {
        t.join().unwrap();
    }
    let end = books.snapshot();
    rt::property("connections-close", end.live == 1 && end.totals.closed == 1 && end.totals.bytes_in == 8, || {
        format!("after conn-1 closed and conn-2 echoed 3 bytes the books show {end:?}; they must still record both")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy: two locks, two steps.
// ---------------------------------------------------------------------------------------------

/// The registry and the closed connections' totals, each under its own lock.
pub struct SplitBooks {
    live: Mutex<Vec<ConnStats>>,
    /// Totals of *closed* connections, plus accepted/refused.
    closed: Mutex<Totals>,
}

impl SplitBooks {
    /// Empty books, split in two.
    pub fn new() -> Self {
        SplitBooks { live: Mutex::new(Vec::new()).named("registry"), closed: Mutex::new(Totals::default()).named("totals") }
    }
}

impl Books for SplitBooks {
    fn connect(&self, peer: String, max: usize) -> Option<u64> {
        let mut live = self.live.lock().unwrap();
        let mut t = self.closed.lock().unwrap();
        if live.len() >= max {
            t.refused += 1;
            return None;
        }
        t.accepted += 1;
        let id = t.accepted;
        live.push(ConnStats { id, peer, ..ConnStats::default() });
        Some(id)
    }

    fn count(&self, id: u64, bytes_in: u64, bytes_out: u64, lines: u64) {
        if let Some(c) = self.live.lock().unwrap().iter_mut().find(|c| c.id == id) {
            (c.bytes_in, c.bytes_out, c.lines) = (c.bytes_in + bytes_in, c.bytes_out + bytes_out, c.lines + lines);
        }
    }

    fn disconnect(&self, id: u64) {
        let gone = {
            let mut live = self.live.lock().unwrap();
            let i = live.iter().position(|c| c.id == id);
            i.map(|i| live.remove(i))
        };
        // BUG: between the two critical sections the connection's bytes are in neither place.
        if let Some(c) = gone {
            rt::note(format!("left the registry with {} bytes, not yet in the totals", c.bytes_in));
            let mut t = self.closed.lock().unwrap();
            (t.closed, t.bytes_in, t.bytes_out, t.lines) =
                (t.closed + 1, t.bytes_in + c.bytes_in, t.bytes_out + c.bytes_out, t.lines + c.lines);
        }
    }

    fn snapshot(&self) -> Snapshot {
        let connections = self.live.lock().unwrap().clone();
        let mut totals = self.closed.lock().unwrap().clone();
        add_live(&mut totals, &connections);
        Snapshot { totals, live: connections.len() as u64, connections }
    }
}

/// Adds the open connections' counts to the totals of the closed ones.
fn add_live(totals: &mut Totals, live: &[ConnStats]) {
    for c in live {
        (totals.bytes_in, totals.bytes_out, totals.lines) =
            (totals.bytes_in + c.bytes_in, totals.bytes_out + c.bytes_out, totals.lines + c.lines);
    }
}

/// The buggy variant: a `STATS` can fall between a connection's two closing steps.
pub fn buggy() {
    run_books(SplitBooks::new())
}

// ---------------------------------------------------------------------------------------------
// Fix: one lock over all the books.
// ---------------------------------------------------------------------------------------------

/// The registry and the totals together.
#[derive(Default)]
struct Ledger {
    live: Vec<ConnStats>,
    closed: Totals,
}

/// The server's books: registry and totals under one lock.
pub struct Stats {
    books: Mutex<Ledger>,
}

impl Stats {
    /// Empty books.
    pub fn new() -> Self {
        Stats { books: Mutex::new(Ledger::default()).named("books") }
    }

    /// Records a pizza order of `pizzas` (the `pizza` service's order book).
    pub fn order(&self, pizzas: u64) {
        let mut b = self.books.lock().unwrap();
        b.closed.orders += 1;
        b.closed.pizzas += pizzas;
    }

    /// Connections open now.
    pub fn live(&self) -> usize {
        self.books.lock().unwrap().live.len()
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

/// Why it holds: a connection leaves the registry and enters the totals inside one critical
/// section, and `snapshot` reads both inside one too, so no reader sees the move half done.
impl Books for Stats {
    fn connect(&self, peer: String, max: usize) -> Option<u64> {
        let mut b = self.books.lock().unwrap();
        if b.live.len() >= max {
            b.closed.refused += 1;
            return None;
        }
        b.closed.accepted += 1;
        let id = b.closed.accepted;
        b.live.push(ConnStats { id, peer, ..ConnStats::default() });
        Some(id)
    }

    fn count(&self, id: u64, bytes_in: u64, bytes_out: u64, lines: u64) {
        if let Some(c) = self.books.lock().unwrap().live.iter_mut().find(|c| c.id == id) {
            (c.bytes_in, c.bytes_out, c.lines) = (c.bytes_in + bytes_in, c.bytes_out + bytes_out, c.lines + lines);
        }
    }

    fn disconnect(&self, id: u64) {
        let mut b = self.books.lock().unwrap();
        if let Some(i) = b.live.iter().position(|c| c.id == id) {
            let c = b.live.remove(i);
            let t = &mut b.closed;
            (t.closed, t.bytes_in, t.bytes_out, t.lines) =
                (t.closed + 1, t.bytes_in + c.bytes_in, t.bytes_out + c.bytes_out, t.lines + c.lines);
        }
    }

    fn snapshot(&self) -> Snapshot {
        let b = self.books.lock().unwrap();
        let mut totals = b.closed.clone();
        add_live(&mut totals, &b.live);
        Snapshot { totals, live: b.live.len() as u64, connections: b.live.clone() }
    }
}

/// The fixed variant: one lock, so every snapshot is consistent.
pub fn fixed() {
    run_books(Stats::new())
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "server-stats",
    title: "The server's STATS counts a closing connection's bytes twice, or not at all",
    category: Category::Race,
    source: "CS:APP 3e §12.5 (echo_cnt, Fig. 12.29); the echo server's connection registry",
    invariant: "a STATS snapshot counts every byte exactly once",
    expected: Kind::Assertion,
    variant_kinds: &[],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct],
    waits_by_spinning: false,
    must_still_work: &[Property {
        name: "connections-close",
        holds: "the books still record what happened: a closed connection leaves the registry and its bytes stay counted",
    }],
    assignment: Assignment {
        unit: Unit::Server,
        task: "Make every `STATS` snapshot count each byte exactly once, whatever the interleaving of a connection closing, another opening, and the snapshot. Closing connections must still leave the registry, and their bytes must still be counted.",
        hints: &[
            "Each lock is taken correctly. Which invariant spans *both* pieces of state?",
            "A reader that reads the registry and then the totals can fall between the two steps of `disconnect`, or see a step twice.",
            "Put the registry and the totals under one lock, and take it once in `disconnect` and once in `snapshot` (that is what the server's `Stats` does).",
        ],
        questions: &[
            "{found_by} found this after {found_in} execution(s); real threads showed it in {stress_failing} of {stress_runs} runs. How long is the window on a real machine?",
            "One lock for all the books serialises every connection's counting. Measure it with `conclab load` at 64 clients: is that lock a bottleneck?",
        ],
    },
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "registry and totals under two locks", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "registry and totals under one lock", run: fixed },
    ],
};
