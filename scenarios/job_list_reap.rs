//! # The shell reaps a job before it has added it
//!
//! **Story.** A shell forks a child for each command and adds it to its job list; when a child
//! exits, the kernel sends the shell SIGCHLD and the shell's handler reaps the child (`waitpid`)
//! and deletes it from the list. But a child can run and exit *before* `fork` returns in the
//! parent — and then the handler runs before `addjob`: it deletes a job that is not there yet,
//! and `addjob` then adds a job that is already dead. It stays in the list forever.
//!
//! **Learning goal.** A signal handler is a second thread of control inside one thread: it can
//! run between any two steps of `main`. Block the signal across the window (`sigprocmask`) so the
//! handler cannot run until `main` is ready for it.
//!
//! **Source.** CS:APP 3e §8.5.6 "Synchronizing flows to avoid nasty concurrency bugs" (Fig. 8.39
//! `procmask1`, and the fix Fig. 8.40 `procmask2`).
//!
//! **What goes wrong.** Child exits → SIGCHLD pending → delivered at `main`'s next operation,
//! before `addjob` → `deletejob(pid)` finds nothing → `addjob(pid)` adds a dead job. **Why it is
//! bad:** the shell believes a dead job runs, forever. **What the checkers see:** the pending
//! SIGCHLD is delivered at every possible point of `main`; the checkers find the delivery
//! between `fork` and `addjob`. (`conclab demo job-list-reap` shows it with real processes.)
//!
//! **Invariant.** When every child has exited and been reaped, the job list is empty.

use super::rt;
use rt::signal::{self, Pid, SigSet, SIGCHLD};
use rt::sync::{Arc, Mutex};

/// Children the shell forks.
pub const JOBS: usize = 2;

/// The shell's job list: pids it believes are running.
type JobList = Arc<Mutex<Vec<Pid>>>;

fn addjob(jobs: &JobList, pid: Pid) {
    rt::note(format!("addjob({pid})"));
    jobs.lock().unwrap().push(pid);
}

fn deletejob(jobs: &JobList, pid: Pid) {
    rt::note(format!("deletejob({pid})"));
    jobs.lock().unwrap().retain(|&j| j != pid);
}

/// The SIGCHLD handler: reap every child that has exited, delete each from the job list.
fn install_reaper(jobs: &JobList) {
    let jobs = jobs.clone();
    signal::signal(SIGCHLD, move |_| {
        let prev = signal::block(SigSet::ALL);
        while let Some(pid) = signal::waitpid_nohang() {
            deletejob(&jobs, pid);
        }
        signal::set_mask(prev);
    });
}

/// Runs the shell with one way of starting a job, then checks the job list.
fn shell(start_job: fn(&JobList, usize)) {
    let jobs: JobList = Arc::new(Mutex::new(vec![]).named("jobs"));
    install_reaper(&jobs);
    for n in 1..=JOBS {
        start_job(&jobs, n);
    }
    signal::wait_for_children();
    let left = jobs.lock().unwrap().clone();
    rt::invariant(left.is_empty(), || {
        let dead: Vec<String> = left.iter().map(|p| p.to_string()).collect();
        format!("the job list still holds {} after every child was reaped: a dead job stays forever", dead.join(", "))
    });
    let (added, removed) = (rt::noted("addjob"), rt::noted("deletejob"));
    rt::property("every-job-tracked", added == JOBS && removed == JOBS, || {
        format!("{added} of {JOBS} jobs added and {removed} removed: each child must be added, then reaped and removed")
    });
}

// ---------------------------------------------------------------------------------------------
// Buggy: CS:APP's procmask1 — fork, then block signals to add the job.
// ---------------------------------------------------------------------------------------------

fn start_job_racy(jobs: &JobList, n: usize) {
    let pid = signal::fork(&format!("child-{n}"), || rt::note("runs /bin/date"));
    // BUG: the child may already have exited; SIGCHLD is delivered here, before addjob.
    let prev = signal::block(SigSet::ALL);
    addjob(jobs, pid);
    signal::set_mask(prev);
}

/// The buggy variant (`procmask1`).
pub fn buggy() {
    shell(start_job_racy)
}

// ---------------------------------------------------------------------------------------------
// Fix: CS:APP's procmask2 — block SIGCHLD before fork, unblock after addjob.
// ---------------------------------------------------------------------------------------------

/// Why it holds: SIGCHLD stays pending from before `fork` until after `addjob`, so the handler
/// can only ever delete a job that has been added.
fn start_job_blocked(jobs: &JobList, n: usize) {
    let prev_one = signal::block(SigSet::of(&[SIGCHLD]));
    let pid = signal::fork(&format!("child-{n}"), || rt::note("runs /bin/date"));
    signal::block(SigSet::ALL);
    addjob(jobs, pid);
    signal::set_mask(prev_one);
}

/// The fixed variant (`procmask2`).
pub fn fixed() {
    shell(start_job_blocked)
}

// ---------------------------------------------------------------------------------------------
// Catalog entry.
// ---------------------------------------------------------------------------------------------

use crate::catalog::{Assignment, Category, Entry, Property, Unit, Variant};
use crate::report::Kind;
use crate::vocab::Checker;

/// What the lab knows about this scenario.
pub const ENTRY: Entry = Entry {
    id: "job-list-reap",
    title: "The shell's SIGCHLD handler reaps a job before addjob (procmask1)",
    category: Category::Race,
    source: "CS:APP 3e §8.5.6 (procmask1 / procmask2)",
    invariant: "once every child is reaped, the job list is empty",
    expected: Kind::Assertion,
    variant_kinds: &[],
    found_by: &[Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct],
    waits_by_spinning: false,
    variants: &[
        Variant { name: "buggy", fixed: false, summary: "fork, then block signals around addjob", run: buggy },
        Variant { name: "fixed", fixed: true, summary: "block SIGCHLD before fork, unblock after addjob", run: fixed },
    ],
    must_still_work: &[
        Property { name: "every-job-tracked", holds: "every child is still added to the job list, then reaped and removed by the handler" },
    ],
    assignment: Assignment {
        unit: Unit::Signals,
        task: "Change how the shell starts a job so that the SIGCHLD handler can never delete a job before `addjob` has added it. Every child must still be added to the list, and reaped and removed when it exits.",
        hints: &[
            "When can the child exit, relative to `fork` returning in the parent? Where can the handler run?",
            "The handler must not run between `fork` and `addjob`. Which call keeps a signal pending until you are ready?",
            "Block SIGCHLD *before* `fork` (`signal::block(SigSet::of(&[SIGCHLD]))`) and restore the old mask only after `addjob` (CS:APP's `procmask2`).",
        ],
        questions: &[
            "Why did the stress run on real threads show this bug in only {stress_failing} of {stress_runs} runs, when {found_by} found it after {found_in} execution(s)? What does each number promise about a run that passes?",
            "`conclab demo job-list-reap` shows the bug with real processes. Why does a real run show it more often than the other races of this course?",
        ],
    },
};
