//! The printf-in-a-handler deadlock as a real program: CS:APP §8.5.5, rules G1 ("keep handlers
//! simple: set a flag and return") and G2 ("call only async-signal-safe functions").
//!
//! **The bug.** `printf` takes its stream's lock, and that lock is not reentrant. `main` prints
//! all the time; a SIGUSR1 handler prints too. When the signal lands while `main` holds the lock,
//! the handler waits for the lock on `main`'s own stack: `main` cannot go on until the handler
//! returns, and the handler cannot return until `main` goes on — a self-deadlock.
//! **The fixes.** `fixed`: the handler only sets a flag and `main` prints for it (G1, G2).
//! `fixed-mask`: `main` blocks SIGUSR1 while it holds the lock (G4: block signals around shared
//! data), so the handler may print: it can never interrupt the critical section.

use std::ffi::c_int;
use std::fmt::{self, Write as _};
use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::pthread::{pthread_kill, pthread_self, Pthread};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use super::{emit, Event};

/// How long one line takes to drain to the (pretend) terminal, the lock held.
const SLOW_TERMINAL: Duration = Duration::from_micros(20);
/// How long `main` prints between two signals.
const PAUSE: Duration = Duration::from_millis(1);

/// printf's stream: a buffer behind a lock that is not reentrant, like the lock glibc's printf
/// takes on `stdout`. (Rust's own `stdout` lock is reentrant, so it would not show the bug.)
static STDOUT: Mutex<Stream> = Mutex::new(Stream { buf: [0; 4096], len: 0, lines: 0 });
/// Signals handled so far: by the handler, or by `main` acting on the flag.
static HANDLED: AtomicUsize = AtomicUsize::new(0);
/// `fixed`: the flag the handler sets (CS:APP's `volatile sig_atomic_t`).
static CAUGHT: AtomicBool = AtomicBool::new(false);

/// A stdio buffer: lines go in, a full buffer is "flushed" (dropped).
struct Stream {
    buf: [u8; 4096],
    len: usize,
    lines: usize,
}

impl fmt::Write for Stream {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > self.buf.len() {
            self.len = 0;
        }
        let n = s.len().min(self.buf.len());
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        self.lines += s.matches('\n').count();
        Ok(())
    }
}

/// printf: lock the stream, format the line into it, wait for the slow terminal, unlock.
/// The lock is held for nearly all of the call — and `main` calls it in a loop.
fn printf(args: fmt::Arguments<'_>) {
    let mut out = STDOUT.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = out.write_fmt(args);
    let start = Instant::now();
    while start.elapsed() < SLOW_TERMINAL {
        spin_loop();
    }
}

/// `buggy` and `fixed-mask`: the handler prints.
extern "C" fn print_in_handler(_sig: c_int) {
    // BUG: printf is not async-signal-safe (G2): if this signal interrupted main inside printf,
    // main holds STDOUT's lock and this lock() waits forever (`fixed-mask` blocks the signal there).
    printf(format_args!("caught SIGUSR1\n"));
    HANDLED.fetch_add(1, SeqCst);
}

/// `fixed`: the handler only sets a flag (G1); an atomic store is async-signal-safe.
extern "C" fn set_flag(_sig: c_int) {
    CAUGHT.store(true, SeqCst);
}

/// The signaller thread: `runs` times, let `main` print a while, then send it SIGUSR1 and wait
/// until that signal has been handled (standard signals do not queue: a second one sent before
/// the first is handled would be lost).
fn signaller(main: Pthread, runs: usize) {
    for n in 1..=runs {
        thread::sleep(PAUSE);
        if pthread_kill(main, Signal::SIGUSR1).is_err() {
            return;
        }
        let mut nap = Duration::from_micros(50);
        while HANDLED.load(SeqCst) < n {
            thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(20));
        }
    }
}

/// `main` prints line after line while the signaller sends it `runs` signals. In `buggy` the
/// lock is held for ~20 µs of each ~20 µs turn of the loop, so a signal lands inside it nearly
/// always: the first signal practically always deadlocks.
pub(super) fn main(variant: &str, runs: usize) -> Result<()> {
    let mask = variant == "fixed-mask";
    let handler = if variant == "fixed" { set_flag } else { print_in_handler };
    let action = SigAction::new(SigHandler::Handler(handler), SaFlags::SA_RESTART, SigSet::empty());
    // SAFETY: `set_flag` is async-signal-safe; `print_in_handler` is not, and that is the bug shown.
    unsafe { sigaction(Signal::SIGUSR1, &action) }?;
    let mut usr1 = SigSet::empty();
    usr1.add(Signal::SIGUSR1);
    // Only main may take SIGUSR1: the signaller inherits the blocked mask it is spawned with.
    usr1.thread_block()?;
    let main_thread = pthread_self();
    let sender = thread::Builder::new().name("signaller".into()).spawn(move || signaller(main_thread, runs))?;
    usr1.thread_unblock()?;
    let mut line = 0u64;
    let mut reported = 0;
    while reported < runs {
        line += 1;
        if mask {
            usr1.thread_block()?; // the handler cannot run while main holds the lock
            printf(format_args!("line {line}\n"));
            usr1.thread_unblock()?; // a pending SIGUSR1 is handled here, the lock free
        } else {
            printf(format_args!("line {line}\n"));
        }
        if CAUGHT.swap(false, SeqCst) {
            printf(format_args!("caught SIGUSR1\n")); // `fixed`: main prints for the handler
            HANDLED.fetch_add(1, SeqCst);
        }
        let handled = HANDLED.load(SeqCst);
        if handled > reported {
            reported = handled;
            emit(&Event::Attempt { n: handled })?;
        }
    }
    sender.join().ok().context("the signaller thread panicked")?;
    let lines = STDOUT.lock().unwrap_or_else(PoisonError::into_inner).lines;
    let detail = format!("{runs} SIGUSR1 signals handled while main printed {lines} lines; no deadlock");
    emit(&Event::Done { attempts: runs, detail })
}
