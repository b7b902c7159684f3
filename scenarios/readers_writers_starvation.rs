//! # Readers keep the writer waiting
//!
//! **Story.** A library's catalogue is read by many and updated by one librarian. Readers may
//! read together; the librarian needs the catalogue alone. The first solution lets a reader in
//! whenever no one is *writing*. As long as readers keep overlapping — one still reading while
//! the next walks in — the count of readers never drops to zero, and the librarian waits forever.
//!
//! **Learning goal.** A correct lock can still be unfair. CS:APP's first readers-writers
//! solution favours readers, and "a continuous stream of readers" starves the writer. Favouring
//! the writer — no new reader starts while a writer waits — bounds the wait.
//!
//! **Source.** CS:APP 3e §12.5.4 (the first readers-writers problem, Fig. 12.26, and its
//! starvation note); the monitor versions of the OS lectures.
//!
//! **What goes wrong.** The writer waits for `readers == 0`; readers enter whenever no one is
//! writing, so they overtake the waiting writer again and again. **Why it is bad:** the update
//! never happens while reading goes on. **What the checkers see:** the library is a line that
//! allows `MAX_BYPASS` overtakes; loom and shuttle find a schedule where a reader who arrived
//! after the writer goes in ahead of it more often, and the verdict names both. The model keeps
//! one reader who comes back `READS` times (a stream of one): the writer, woken when the reader
//! leaves, is overtaken by the reader's next visit before it runs. With more readers the story
//! is the same and loom's exhaustive check of the fix grows past a million executions.
//!
//! **Invariant.** A waiting writer (or reader) is overtaken at most `MAX_BYPASS` = n − 1 = 1 time.

use super::rt;
use rt::sync::{Arc, Condvar, Mutex};
use rt::thread;

/// Readers, each reading `READS` times; and one writer.
pub const READERS: usize = 1;
/// How often each reader comes back.
pub const READS: usize = 3;
/// How often a waiter may be overtaken: n − 1 for n = 2 threads.
pub const MAX_BYPASS: usize = 1;
const LINE: &str = "library";

/// Who is inside, and who waits.
#[derive(Default)]
struct State {
    readers: usize,
    writing: bool,
    writers_waiting: usize,
}

/// A readers-writers lock built from a mutex and a condition variable (a monitor).
pub struct Library {
    state: Mutex<State>,
    changed: Condvar,
    /// `true`: a waiting writer stops new readers (the fix).
    writer_first: bool,
}

impl Library {
    fn read(&self) {
        let mut s = self.state.lock().unwrap();
        rt::liveness::arrive(LINE);
        // BUG: (readers first) a reader enters whenever no one writes, even while a writer waits.
        while s.writing || (self.writer_first && s.writers_waiting > 0) {
            s = self.changed.wait(s).unwrap();
        }
        s.readers += 1;
        rt::liveness::enter(LINE, MAX_BYPASS);
        drop(s);
        rt::note("reads");
        let mut s = self.state.lock().unwrap();
        s.readers -= 1;
        if s.readers == 0 {
            self.changed.notify_all();
        }
    }

    fn write(&self) {
        let mut s = self.state.lock().unwrap();
        rt::liveness::arrive(LINE);
        s.writers_waiting += 1;
        while s.writing || s.readers > 0 {
            s = self.changed.wait(s).unwrap();
        }
        s.writers_waiting -= 1;
        s.writing = true;
        rt::liveness::enter(LINE, MAX_BYPASS);
        drop(s);
        rt::note("writes");
        let mut s = self.state.lock().unwrap();
        s.writing = false;
        self.changed.notify_all();
    }
}

/// The readers and the writer, all at once.
fn open_library(writer_first: bool) {
    let lib = Arc::new(Library { state: Mutex::new(State::default()).named("state"), changed: Condvar::new().named("changed"), writer_first });
    let mut people = vec![];
    for r in 1..=READERS {
        let lib = lib.clone();
        people.push(
            thread::Builder::new()
                .name(format!("reader-{r}"))
                .spawn(move || (0..READS).for_each(|_| lib.read()))
                .unwrap(),
        );
    }
    let l = lib.clone();
    people.push(thread::Builder::new().name("writer".into()).spawn(move || l.write()).unwrap());
    for p in people {
        p.join().unwrap();
    }
    let (writes, reads) = (rt::noted("writes"), rt::noted("reads"));
    rt::property("writer-writes", writes == 1, || format!("the writer wrote {writes} time(s): it must still write once"));
    rt::property("readers-read", reads == READERS * READS, || {
        format!("{reads} of {} reads happened: every reader must still read", READERS * READS)
    });
    let peak = rt::peak_threads();
    rt::property("threads-overlap", peak == READERS + 1, || {
        format!("only {peak} of READERS + 1 readers and writers ran at once: they must still use the library at the same time")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy: readers first (CS:APP's first readers-writers solution).
// ---------------------------------------------------------------------------------------------

/// The buggy variant: readers never wait for a waiting writer.
pub fn buggy() {
    open_library(false)
}

// ---------------------------------------------------------------------------------------------
// Fix: writers first — a waiting writer closes the door to new readers.
// ---------------------------------------------------------------------------------------------

/// Why it holds: once the writer is waiting, `writers_waiting > 0` keeps every new reader out;
/// only readers already inside finish, and then the writer goes in.
pub fn fixed() {
    open_library(true)
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "readers-writers-starvation",
    title: "A stream of readers starves the writer (readers-first lock)",
    category: Category::Starvation,
    source: "CS:APP 3e §12.5.4 (first readers-writers problem)",
    invariant: "a waiting writer is overtaken at most n − 1 times",
    expected: Kind::Starvation,
    variant_kinds: &[],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct],
    waits_by_spinning: false,
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "readers enter whenever no one writes", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "a waiting writer stops new readers", run: fixed },
    ],
    must_still_work: &[
        Property { name: "threads-overlap", holds: "readers and the writer still come at the same time: all are started before any is joined" },
        Property { name: "writer-writes", holds: "the writer still writes, once" },
        Property { name: "readers-read", holds: "every reader still reads every time it comes" },
    ],
    assignment: Assignment {
        unit: Unit::Liveness,
        task: "Change the library's lock so that a waiting writer is overtaken by at most one reader who arrived after it. Readers must still be able to read together, the writer must still write, and every reader must still read.",
        hints: &[
            "Who may enter while the writer waits? Count how often a reader who arrived later goes in first.",
            "The writer announces itself (`writers_waiting`) but nobody looks at that count.",
            "Make a reader wait while a writer is waiting, not only while one is writing (the `writer_first` flag shows where).",
        ],
        questions: &[
            "Your fix favours the writer. What happens to readers if writers keep coming? Is there a fair version?",
            "Why did the stress run on real threads show this bug in only {stress_failing} of {stress_runs} runs, when {found_by} found it after {found_in} execution(s)? What does each number promise about a run that passes?",
        ],
    },
};
