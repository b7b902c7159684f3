//! `--mode processes`: CS:APP's `echoserverp` — a forked child per connection. Each child has
//! its own copy of the books, so the server-wide counters of the thread modes cannot exist here
//! without IPC; the parent counts only what it sees: connections forked, reaped and refused.
//!
//! **Which PIDs may be signalled.** The parent reaps its children itself, on every turn of the
//! accepting loop (`waitpid(-1, WNOHANG)`, at least every tick), and keeps the set of children
//! it has not reaped yet. A PID in that set belongs to our child, alive or a zombie, and cannot
//! have been reused (a zombie's PID stays taken until it is reaped). At shutdown only those are
//! sent SIGTERM (then SIGKILL): never a PID already reaped, which the system may have given to
//! an unrelated process. (CS:APP reaps in a SIGCHLD handler; a handler that reaps cannot safely
//! tell the main loop *which* PIDs went, which is the bug this design avoids.)

use std::collections::HashSet;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::{handle, refuse, Acceptor, Books, Shared, Snapshot, StatsReport, Totals, PROCESSES_NOTE, TICK};

/// The children not yet reaped.
struct Children {
    unreaped: HashSet<Pid>,
    forked: u64,
    reaped: u64,
}

impl Children {
    /// Reaps every child that has exited; `block`: waits for one first.
    fn reap(&mut self, block: bool) {
        let mut flags = Some(WaitPidFlag::WNOHANG);
        if block {
            flags = None;
        }
        loop {
            match waitpid(None, flags) {
                Ok(WaitStatus::StillAlive) => return,
                Ok(status) => {
                    if let Some(pid) = status.pid() {
                        if self.unreaped.remove(&pid) {
                            self.reaped += 1;
                        }
                    }
                    flags = Some(WaitPidFlag::WNOHANG);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                // ECHILD: no child left.
                Err(_) => return,
            }
        }
    }

    /// Sends `sig` to every child not yet reaped (and only to them).
    fn signal(&self, sig: Signal) {
        for &c in &self.unreaped {
            let _ = kill(c, sig);
        }
    }
}

/// Serves each connection in a child process until stopped.
pub(super) fn run(listener: TcpListener, shared: &Shared) -> Result<StatsReport> {
    let listen_fd = listener.as_raw_fd();
    let mut acceptor = Acceptor::new(listener).context("cannot watch the listening socket")?;
    let mut children = Children { unreaped: HashSet::new(), forked: 0, reaped: 0 };
    let mut refused = 0u64;
    let max = shared.config.max_conns;
    while !shared.notice_stop() {
        let mut batch = acceptor.accept_batch();
        children.reap(false);
        let mut handled = 0usize;
        while let Some(stream) = batch.pop_front() {
            handled += 1;
            if handled % 16 == 0 {
                acceptor.accept_pending(&mut batch);
            }
            if children.unreaped.len() >= max {
                // Children that have exited since the batch began free their slots first.
                children.reap(false);
            }
            if children.unreaped.len() >= max {
                refused += 1;
                refuse(stream, shared.config.max_conns);
                continue;
            }
            // SAFETY: the parent is single-threaded here (`serve_main` starts no thread in this
            // mode: its signal handlers only set flags), so the child may allocate freely.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    // The child serves this one connection with the threads' code and exits
                    // without running the parent's destructors.
                    // SAFETY: closing our copy of the listening socket; nothing else uses it.
                    unsafe { libc::close(listen_fd) };
                    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
                    if let Some(id) = shared.stats.connect(peer, usize::MAX) {
                        handle(shared, stream, id);
                    }
                    // SAFETY: ends the child at once, as CS:APP's child does with exit(0).
                    unsafe { libc::_exit(0) }
                }
                Ok(ForkResult::Parent { child }) => {
                    // Our copy of the stream closes here.
                    children.unreaped.insert(child);
                    children.forked += 1;
                }
                Err(e) => {
                    eprintln!("conclab serve: fork failed: {e}");
                    refused += 1;
                    refuse(stream, shared.config.max_conns);
                }
            }
        }
    }
    drop(acceptor);
    // Stopping: each child finishes its line (its own stop flag is set by the signal), then exits.
    children.reap(false);
    children.signal(Signal::SIGTERM);
    let deadline = Instant::now() + shared.config.grace + Duration::from_secs(2);
    while !children.unreaped.is_empty() && Instant::now() < deadline {
        std::thread::sleep(TICK);
        children.reap(false);
    }
    if !children.unreaped.is_empty() {
        eprintln!("conclab serve: {} children outlived the grace period; killed", children.unreaped.len());
        children.signal(Signal::SIGKILL);
        // Each blocking wait reaps at least one of them (SIGKILL cannot be caught).
        for _ in 0..children.unreaped.len() {
            children.reap(true);
        }
    }
    let (forked, reaped) = (children.forked, children.reaped);
    let mut report = shared.report();
    report.books = super::books_json(&Snapshot {
        totals: Totals { accepted: forked, refused, closed: reaped, ..Totals::default() },
        live: forked - reaped.min(forked),
        connections: vec![],
    });
    report.note = Some(format!("{PROCESSES_NOTE}; the parent saw {forked} forked, {reaped} reaped"));
    Ok(report)
}
