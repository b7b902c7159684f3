//! `--mode processes`: CS:APP's `echoserverp` — a forked child per connection, zombies reaped
//! by a SIGCHLD handler. Each child has its own copy of the books, so the server-wide counters
//! of the thread modes cannot exist here without IPC; the parent counts only what it sees:
//! connections forked, reaped and refused.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{fork, ForkResult, Pid};

use super::{handle, refuse, Acceptor, Books, Shared, Snapshot, StatsReport, Totals, PROCESSES_NOTE, TICK};

/// Children reaped by the SIGCHLD handler (an atomic: all a handler may touch).
static REAPED: AtomicU64 = AtomicU64::new(0);

/// Serves each connection in a child process until stopped.
pub(super) fn run(listener: TcpListener, shared: &Shared) -> Result<StatsReport> {
    // SAFETY: the handler calls only waitpid (async-signal-safe) and an atomic add, and keeps
    // errno as it found it.
    unsafe {
        signal_hook::low_level::register(signal_hook::consts::SIGCHLD, || {
            let saved = *libc::__errno_location();
            while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {
                REAPED.fetch_add(1, Ordering::SeqCst);
            }
            *libc::__errno_location() = saved;
        })
    }
    .context("cannot install the SIGCHLD handler")?;
    let listen_fd = listener.as_raw_fd();
    let mut acceptor = Acceptor::new(listener).context("cannot watch the listening socket")?;
    let (mut children, mut refused) = (Vec::<Pid>::new(), 0u64);
    let max = shared.config.max_conns as u64;
    while !shared.notice_stop() {
        for stream in acceptor.accept_batch() {
            if children.len() as u64 - REAPED.load(Ordering::SeqCst) >= max {
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
                Ok(ForkResult::Parent { child }) => children.push(child), // our copy of the stream closes here
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
    for &c in &children {
        let _ = kill(c, Signal::SIGTERM);
    }
    let deadline = Instant::now() + shared.config.grace + Duration::from_secs(2);
    while REAPED.load(Ordering::SeqCst) < children.len() as u64 && Instant::now() < deadline {
        std::thread::sleep(TICK);
    }
    let reaped = REAPED.load(Ordering::SeqCst);
    if reaped < children.len() as u64 {
        eprintln!("conclab serve: {} children outlived the grace period; killed", children.len() as u64 - reaped);
        for &c in &children {
            let _ = kill(c, Signal::SIGKILL);
        }
    }
    let forked = children.len() as u64;
    let mut report = shared.report();
    report.books = super::books_json(&Snapshot {
        totals: Totals { accepted: forked, refused, closed: reaped, ..Totals::default() },
        live: forked - reaped.min(forked),
        connections: vec![],
    });
    report.note = Some(format!("{PROCESSES_NOTE}; the parent saw {forked} forked, {reaped} reaped"));
    Ok(report)
}
