//! The job-list reap race as a real program: CS:APP §8.5.6, `procmask1` (buggy) and `procmask2`
//! (fixed). A shell forks jobs, adds each to its job list, and a SIGCHLD handler reaps finished
//! jobs and deletes them from the list.
//!
//! **The race.** In `procmask1` the parent blocks signals only *after* `fork` returns. If the
//! child exits first and SIGCHLD arrives in between, the handler reaps the child and deletes it
//! from a list it is not in yet; then `addjob` adds it — a dead job that stays in the list forever.
//! **The fix.** `procmask2` blocks SIGCHLD *before* `fork`, so the handler cannot run until the
//! job is in the list; the child unblocks it again before it runs the job.

use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};

use anyhow::{bail, Result};
use nix::errno::Errno;
use nix::sys::signal::{sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::{fork, ForkResult, Pid};

use super::{emit, Event};

/// Forks per batch: after each batch the shell waits until every child is reaped and checks
/// that the job list is empty again.
const BATCH: usize = 32;
/// Slots in the job list (more than a batch).
const MAXJOBS: usize = 64;

/// The job list: pids, 0 for a free slot. Atomics, so that both `main` and the handler may
/// touch it without undefined behaviour; each still blocks all signals around its update, as
/// CS:APP does, so the two never interleave inside `addjob` or `deletejob`.
static JOBS: [AtomicI32; MAXJOBS] = [const { AtomicI32::new(0) }; MAXJOBS];
/// Children reaped by the handler so far.
static REAPED: AtomicUsize = AtomicUsize::new(0);
/// Children the handler reaped but did not find in the job list.
static REAPED_UNLISTED: AtomicUsize = AtomicUsize::new(0);

fn addjob(pid: Pid) -> bool {
    JOBS.iter().any(|slot| slot.compare_exchange(0, pid.as_raw(), SeqCst, SeqCst).is_ok())
}

fn deletejob(pid: Pid) -> bool {
    JOBS.iter().any(|slot| slot.compare_exchange(pid.as_raw(), 0, SeqCst, SeqCst).is_ok())
}

/// The SIGCHLD handler: reap every finished child, delete each from the job list.
/// Async-signal-safe: only `waitpid`, `sigprocmask` and atomics; `errno` is saved and restored.
extern "C" fn handler(_sig: c_int) {
    let olderrno = Errno::last_raw();
    let mask_all = SigSet::all();
    let mut prev_all = SigSet::empty();
    // Reap every zombie child; WNOHANG: children still running send their own SIGCHLD later.
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        let Some(pid) = status.pid() else { break }; // StillAlive: no more zombies for now
        let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask_all), Some(&mut prev_all));
        if !deletejob(pid) {
            REAPED_UNLISTED.fetch_add(1, SeqCst);
        }
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&prev_all), None);
        REAPED.fetch_add(1, SeqCst);
    }
    Errno::set_raw(olderrno);
}

/// The job: it ends at once, like CS:APP's `execve("/bin/date", …)` but without the exec.
fn job() -> ! {
    // SAFETY: `_exit` is async-signal-safe and runs no destructors or atexit handlers.
    unsafe { libc::_exit(0) }
}

/// CS:APP's `procmask1`: fork, then block signals to add the job.
fn procmask1() -> Result<Pid> {
    let mask_all = SigSet::all();
    let mut prev_all = SigSet::empty();
    // SAFETY: this process is single-threaded, and the child only calls `_exit`.
    let pid = match unsafe { fork() }? {
        ForkResult::Child => job(),
        ForkResult::Parent { child } => child,
    };
    // BUG: too late: the child may have exited already, and the SIGCHLD handler may have run in
    // between, reaping it and deleting it from a list it is not in yet; addjob then adds a dead job.
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask_all), Some(&mut prev_all))?;
    let added = addjob(pid);
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&prev_all), None)?;
    if !added {
        bail!("the job list is full");
    }
    Ok(pid)
}

/// CS:APP's `procmask2`: block SIGCHLD *before* fork; the handler cannot run until the job is
/// in the list.
fn procmask2() -> Result<Pid> {
    let mask_all = SigSet::all();
    let mut mask_one = SigSet::empty();
    mask_one.add(Signal::SIGCHLD);
    let mut prev_one = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask_one), Some(&mut prev_one))?; // Block SIGCHLD
                                                                               // SAFETY: this process is single-threaded, and the child only calls async-signal-safe functions.
    let pid = match unsafe { fork() }? {
        ForkResult::Child => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&prev_one), None); // Unblock SIGCHLD
            job()
        }
        ForkResult::Parent { child } => child,
    };
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask_all), None)?;
    let added = addjob(pid);
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&prev_one), None)?; // Unblock SIGCHLD
    if !added {
        bail!("the job list is full");
    }
    Ok(pid)
}

/// Waits until the handler has reaped `n` children in all: CS:APP's `sigsuspend` loop (§8.5.7).
/// SIGCHLD is blocked while the count is checked, so no wake-up is lost; if it still never came,
/// the parent's watchdog would report the silence.
fn wait_until_reaped(n: usize) -> Result<()> {
    let mut mask_one = SigSet::empty();
    mask_one.add(Signal::SIGCHLD);
    let mut prev = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask_one), Some(&mut prev))?;
    while REAPED.load(SeqCst) < n {
        prev.suspend()?;
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&prev), None)?;
    Ok(())
}

/// The shell: `runs` forks in batches of [`BATCH`]; after each batch every child has been
/// reaped, so the job list must be empty. A pid left in it is the bug.
pub(super) fn main(fixed: bool, runs: usize) -> Result<()> {
    let action = SigAction::new(SigHandler::Handler(handler), SaFlags::SA_RESTART, SigSet::empty());
    // SAFETY: the handler is async-signal-safe (see its comment).
    unsafe { sigaction(Signal::SIGCHLD, &action) }?;
    let mut forks = 0;
    let mut batch = 0;
    let mut forked = Vec::with_capacity(BATCH);
    while forks < runs {
        batch += 1;
        forked.clear();
        for _ in 0..BATCH.min(runs - forks) {
            forks += 1;
            let pid = if fixed { procmask2() } else { procmask1() }?;
            forked.push((pid, forks));
        }
        wait_until_reaped(forks)?;
        // Every child is reaped: whatever is still in the job list is a dead job, there forever.
        let dead: Vec<_> =
            forked.iter().filter(|(pid, _)| JOBS.iter().any(|j| j.load(SeqCst) == pid.as_raw())).collect();
        if let Some(&&(pid, fork)) = dead.first() {
            let detail = format!(
                "pid {pid} (fork {fork}, batch {batch}) is still in the job list though every child has been \
                 reaped: the SIGCHLD handler reaped it before addjob ran (deletejob found nothing), so it stays \
                 there forever; {} of the batch's {} forks lost this race ({} unlisted reaps)",
                dead.len(),
                forked.len(),
                REAPED_UNLISTED.load(SeqCst)
            );
            return emit(&Event::Bug { attempts: forks, showed_in: fork, detail });
        }
        emit(&Event::Attempt { n: forks })?;
    }
    let detail = format!("{forks} children forked and reaped in {batch} batches; the job list was empty after each");
    emit(&Event::Done { attempts: forks, detail })
}
