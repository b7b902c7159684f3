//! # printf in a signal handler deadlocks
//!
//! **Story.** A program prints progress lines. `printf` takes the output stream's lock, writes,
//! and releases it. The user presses Ctrl-C, and the SIGINT handler prints "interrupted" — with
//! `printf`. If the signal lands while `main` is inside `printf`, holding the lock, the handler
//! (running on `main`'s own thread) waits for a lock that only `main` can release. It never will.
//!
//! **Learning goal.** A handler interrupts its own thread, so a lock that thread holds is a lock
//! the handler can never get: call only async-signal-safe functions in a handler. Either the
//! handler just sets a flag that `main` acts on, or `main` blocks the signal while it holds the
//! lock.
//!
//! **Source.** CS:APP 3e §8.5.5 "Writing signal handlers" (G1: call only async-signal-safe
//! functions; `printf` is not one) and the "printf deadlock" of the lectures.
//!
//! **What goes wrong.** SIGINT is delivered between `lock(stdout)` and `unlock(stdout)`; the
//! handler calls `lock(stdout)` again on the same thread. **Why it is bad:** the program hangs
//! for good. **What the checkers see:** a self-deadlock — the thread waits for a lock it holds
//! itself — at the delivery point inside `printf`. (`conclab demo printf-signal-deadlock` shows
//! it with real signals.)
//!
//! **Invariant.** The program finishes (no deadlock).

use super::rt;
use rt::signal::{self, SigSet, SIGINT};
use rt::sync::atomic::{AtomicBool, Ordering};
use rt::sync::{Arc, Mutex};
use rt::thread;

/// Lines `main` prints.
pub const LINES: usize = 2;

/// The process's output stream: a lock around the lines written so far.
pub struct Stdout {
    lines: Mutex<Vec<String>>,
}

impl Stdout {
    /// `printf`: lock the stream, write, unlock — not async-signal-safe.
    fn printf(&self, line: &str) {
        let mut out = self.lines.lock().unwrap();
        rt::note(format!("writes \"{line}\""));
        out.push(line.to_string());
    }
}

/// `main` prints `LINES` lines while the terminal sends one SIGINT; `handle` installs the handler,
/// `print` is how `main` prints a line.
fn program(install: fn(&Arc<Stdout>, &Arc<AtomicBool>), print: fn(&Stdout, &AtomicBool, usize)) {
    let stdout = Arc::new(Stdout { lines: Mutex::new(vec![]).named("stdout") });
    let interrupted = Arc::new(AtomicBool::new(false).named("interrupted"));
    install(&stdout, &interrupted);
    let terminal = thread::Builder::new().name("terminal".into()).spawn(|| signal::kill(SIGINT)).unwrap();
    for i in 1..=LINES {
        print(&stdout, &interrupted, i);
    }
    terminal.join().unwrap();
    if interrupted.swap(false, Ordering::SeqCst) {
        stdout.printf("interrupted");
    }
    let said = rt::noted("writes \"interrupted\"");
    rt::property("interrupt-reported", said == 1, || format!("\"interrupted\" was printed {said} time(s), not once"));
    let lines = rt::noted("writes \"line");
    rt::property("every-line-printed", lines == LINES, || format!("{lines} of {LINES} lines printed"));
}

// ---------------------------------------------------------------------------------------------
// Buggy: the handler calls printf.
// ---------------------------------------------------------------------------------------------

fn install_printing_handler(stdout: &Arc<Stdout>, _: &Arc<AtomicBool>) {
    let stdout = stdout.clone();
    // BUG: printf is not async-signal-safe: if main is inside printf, this waits for main's own lock.
    signal::signal(SIGINT, move |_| stdout.printf("interrupted"));
}

fn print_line(stdout: &Stdout, _: &AtomicBool, i: usize) {
    stdout.printf(&format!("line {i}"));
}

/// The buggy variant.
pub fn buggy() {
    program(install_printing_handler, print_line)
}

// ---------------------------------------------------------------------------------------------
// Fix 1: the handler only sets a flag; main prints.
// ---------------------------------------------------------------------------------------------

fn install_flag_handler(_: &Arc<Stdout>, interrupted: &Arc<AtomicBool>) {
    let flag = interrupted.clone();
    signal::signal(SIGINT, move |_| flag.store(true, Ordering::SeqCst));
}

/// Why it holds: storing to an atomic takes no lock, so the handler can run anywhere; `main`
/// prints the message itself, between its own `printf` calls.
fn print_line_then_check_flag(stdout: &Stdout, interrupted: &AtomicBool, i: usize) {
    stdout.printf(&format!("line {i}"));
    if interrupted.swap(false, Ordering::SeqCst) {
        stdout.printf("interrupted");
    }
}

/// The first fix: a flag (`volatile sig_atomic_t` in C).
pub fn fixed() {
    program(install_flag_handler, print_line_then_check_flag)
}

// ---------------------------------------------------------------------------------------------
// Fix 2: block SIGINT while holding the lock.
// ---------------------------------------------------------------------------------------------

/// Why it holds: a blocked signal stays pending, so the handler runs at the `sigprocmask` that
/// unblocks it — after `printf` has released the lock.
fn print_line_masked(stdout: &Stdout, _: &AtomicBool, i: usize) {
    let prev = signal::block(SigSet::of(&[SIGINT]));
    stdout.printf(&format!("line {i}"));
    signal::set_mask(prev);
}

/// The second fix: block the signal around the critical section.
pub fn fixed_mask() {
    program(install_printing_handler, print_line_masked)
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "printf-signal-deadlock",
    title: "A signal handler calls printf while main holds its lock (self-deadlock)",
    category: Category::Deadlock,
    source: "CS:APP 3e §8.5.5 (safe signal handling, G1)",
    invariant: "the program finishes (no deadlock)",
    expected: Kind::Deadlock,
    variant_kinds: &[],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct, Checker::ShuttleDfs],
    waits_by_spinning: false,
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "the SIGINT handler calls printf", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "the handler sets a flag; main prints", run: fixed },
        Variant { name: "fixed-mask", fixed: true, summary: "SIGINT blocked around printf", run: fixed_mask },
    ],
    must_still_work: &[
        Property { name: "interrupt-reported", holds: "the interrupt is still reported: \"interrupted\" is printed once" },
        Property { name: "every-line-printed", holds: "main still prints every line" },
    ],
    assignment: Assignment {
        unit: Unit::Signals,
        task: "Make the program safe against SIGINT arriving at any moment: it must never hang. The interrupt must still be reported (\"interrupted\" printed once), and every line must still be printed.",
        hints: &[
            "The handler runs on `main`'s own thread. What does `main` hold when the signal lands inside `printf`?",
            "A handler may only call async-signal-safe functions. Is taking a lock one?",
            "Either let the handler only set the `interrupted` flag and print from `main`, or block SIGINT around `printf` with `signal::block` / `signal::set_mask`.",
        ],
        questions: &[
            "Why did the stress run on real threads show this bug in only {stress_failing} of {stress_runs} runs, when {found_by} found it after {found_in} execution(s)? What does each number promise about a run that passes?",
            "This is a deadlock with only one thread. What is the cycle?",
        ],
    },
};
