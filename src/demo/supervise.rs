//! The parent side of a demo: start the child in its own process group, read its attempts, turn
//! a silence into a reported deadlock (with where its threads sleep), then kill and reap the group.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::{Demo, DemoReport, Event, ThreadState};
use crate::report::{Kind, Verdict};

/// Runs the demo in `exe __demo-child …` and reports what it showed. See [`super::run`].
pub(super) fn supervise(demo: &Demo, variant: &str, runs: usize, timeout: Duration, exe: &Path) -> Result<DemoReport> {
    let started = Instant::now();
    // Grandchildren orphaned by a kill are re-parented to this process, so it can reap them.
    prctl::set_child_subreaper(true).context("could not become a child subreaper")?;
    let mut command = Command::new(exe);
    command
        .args(["__demo-child", demo.id, variant, "--runs", &runs.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: `prctl` is a plain system call, async-signal-safe. If this thread ends, the child
    // gets SIGKILL, so even a killed `conclab demo` leaves no hung child behind.
    unsafe { command.pre_exec(|| Ok(prctl::set_pdeathsig(Signal::SIGKILL)?)) };
    let mut child = command.spawn().with_context(|| format!("could not start `{}`", exe.display()))?;
    let pid = child.id();
    let group = Pid::from_raw(pid as i32);

    let (lines, events) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let mut attempts = 0;
    let mut outcome = None; // (verdict, kind, showed_in_attempt, detail)
    let mut hung = None;
    loop {
        match events.recv_timeout(timeout) {
            Ok(line) => match serde_json::from_str::<Event>(&line) {
                Ok(Event::Attempt { n }) => attempts = n,
                Ok(Event::Bug { attempts: n, showed_in, detail }) => {
                    attempts = n;
                    outcome = Some((Verdict::BugFound, Some(demo.expected), Some(showed_in), detail));
                }
                Ok(Event::Done { attempts: n, detail }) => {
                    attempts = n;
                    outcome = Some((Verdict::Passed, None, None, detail));
                }
                Err(_) => {} // not an event: ignore stray output
            },
            Err(RecvTimeoutError::Timeout) => {
                hung = Some(threads_of(pid));
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // Whatever happened, the whole group goes: the child, and any job it forked.
    let _ = killpg(group, Signal::SIGKILL);
    let status = reap_group(group);
    let _ = reader.join();
    let stderr = err_reader.join().unwrap_or_default();

    let cleanup = match (&hung, status) {
        (Some(_), _) => {
            format!("hung child {pid} and its process group killed (SIGKILL) and reaped; nothing left running")
        }
        (None, Some(WaitStatus::Exited(_, code))) => {
            format!("child {pid} exited ({code}); its process group reaped, nothing left running")
        }
        (None, s) => format!("child {pid} ended ({s:?}); its process group reaped, nothing left running"),
    };
    let (verdict, kind, showed_in_attempt, detail) = match (outcome, &hung) {
        (Some(o), _) => o,
        (None, Some(threads)) => {
            let attempt = attempts + 1;
            let asleep = match threads.iter().find(|t| t.name == "main") {
                Some(t) if t.asleep() && t.wchan.contains("futex") => {
                    "; main is asleep in a futex wait (a lock), not spinning"
                }
                Some(t) if t.asleep() => "; main is asleep, not spinning",
                _ => "",
            };
            let detail = format!(
                "deadlock: no progress for {} ms during {} {attempt} — the child hung{asleep}",
                timeout.as_millis(),
                demo.attempt
            );
            (Verdict::BugFound, Some(Kind::Deadlock), Some(attempt), detail)
        }
        (None, None) => {
            let tail: Vec<_> = stderr.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
            bail!("the demo child died ({status:?}) before reporting; its last output:\n{}", tail.join("\n"));
        }
    };
    Ok(DemoReport {
        scenario: demo.id.into(),
        variant: variant.into(),
        verdict,
        kind,
        attempts,
        runs,
        showed_in_attempt,
        elapsed_ms: started.elapsed().as_millis() as u64,
        detail,
        child_pid: pid,
        threads: hung.unwrap_or_default(),
        cleanup,
        why: demo.why.into(),
    })
}

/// Reaps every process of the group — the child, and jobs of it re-parented here — and returns
/// the child's status. SIGKILL has been sent to the group, so this does not block for long.
fn reap_group(group: Pid) -> Option<WaitStatus> {
    let mut status = None;
    loop {
        match waitpid(Pid::from_raw(-group.as_raw()), None) {
            Ok(s) if s.pid() == Some(group) => status = Some(s),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return status, // ECHILD: nobody of the group is left
        }
    }
}

/// Each thread of `pid` as `/proc` shows it: its state and the kernel function it sleeps in.
fn threads_of(pid: u32) -> Vec<ThreadState> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return vec![] };
    let mut threads: Vec<ThreadState> = tasks
        .filter_map(|t| {
            let dir = t.ok()?.path();
            let tid: u32 = dir.file_name()?.to_str()?.parse().ok()?;
            let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
            // `stat` is `tid (comm) S …`: the state follows the last `)`.
            let stat = read("stat");
            let state = stat.rsplit_once(')')?.1.split_whitespace().next()?.to_string();
            let wchan = read("wchan");
            let name = if tid == pid { "main".to_string() } else { read("comm").trim().to_string() };
            Some(ThreadState { tid, name, state, wchan: if wchan == "0" { String::new() } else { wchan } })
        })
        .collect();
    threads.sort_by_key(|t| t.tid);
    threads
}
