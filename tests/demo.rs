//! `conclab demo`: the signal scenarios on real processes and real signals. Every run is bounded
//! (`--runs`, `--timeout-ms`), and every test checks that nothing of the child is left running.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn conclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclab")).args(args).output().expect("conclab runs")
}

/// Runs a demo with `--json`; checks the exit code against the verdict and that the child and
/// every process of its group are gone.
fn demo(args: &[&str]) -> Value {
    let out = conclab(&[&["demo"], args, &["--json"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {stderr}{}", String::from_utf8_lossy(&out.stdout)));
    let expected_code = if r["verdict"] == "bug_found" { 1 } else { 0 };
    assert_eq!(out.status.code(), Some(expected_code), "{r}\n{stderr}");
    let pid = r["child_pid"].as_u64().expect("child_pid");
    assert_nothing_left(pid);
    r
}

/// The child (not even a zombie) and every process of its process group are gone.
fn assert_nothing_left(pid: u64) {
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "child {pid} is still there");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid pgrp …`
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let pgrp = rest.split_whitespace().nth(2);
        assert_ne!(pgrp, Some(pid.to_string().as_str()), "a process of the child's group is left: {stat}");
    }
}

#[test]
fn the_fixed_job_list_never_keeps_a_dead_job() {
    let r = demo(&["job-list-reap", "--variant", "fixed", "--runs", "2000"]);
    assert_eq!(r["verdict"], "passed", "{r}");
    assert!(r["kind"].is_null() && r["showed_in_attempt"].is_null(), "{r}");
    assert_eq!(r["attempts"], 2000);
}

/// Measured on this machine kind (2 cores, Linux 6.18): 16% of forks lose the race (8% with both
/// cores busy), and the first batch of 32 showed it in 60 runs of 60. The freshly forked child is often run first on
/// the parent's CPU, exits, and its SIGCHLD is delivered as `fork` returns — before the parent's
/// `sigprocmask`. 2,000 forks without the race would be a surprise, so this asserts the bug.
#[test]
fn the_buggy_job_list_keeps_a_reaped_child_as_a_dead_job() {
    let r = demo(&["job-list-reap", "--variant", "buggy", "--runs", "2000"]);
    assert_eq!((&r["verdict"], &r["kind"]), (&"bug_found".into(), &"assertion".into()), "{r}");
    let detail = r["detail"].as_str().unwrap();
    assert!(detail.contains("is still in the job list") && detail.contains("deletejob found nothing"), "{detail}");
    let showed = r["showed_in_attempt"].as_u64().unwrap();
    assert!(showed >= 1 && showed <= r["attempts"].as_u64().unwrap(), "{r}");
}

#[test]
fn the_fixed_printf_handlers_never_deadlock() {
    for variant in ["fixed", "fixed-mask"] {
        let r = demo(&["printf-signal-deadlock", "--variant", variant, "--runs", "200"]);
        assert_eq!(r["verdict"], "passed", "{variant}: {r}");
        assert_eq!(r["attempts"], 200, "{variant}: {r}");
    }
}

/// `main` holds the print lock for nearly all of every turn of its loop (a 20 µs write to a
/// slow terminal, against well under a microsecond outside it), and the signaller keeps sending
/// SIGUSR1 until a signal is not handled: the first signal lands inside the lock with
/// probability above 99%, and every later one gets another chance. A hang is practically
/// certain; it is reported as a deadlock, with main asleep (not spinning), and the child killed.
#[test]
fn the_buggy_printf_handler_deadlocks_and_the_child_is_killed() {
    let r = demo(&["printf-signal-deadlock", "--variant", "buggy", "--runs", "200", "--timeout-ms", "1000"]);
    assert_eq!((&r["verdict"], &r["kind"]), (&"bug_found".into(), &"deadlock".into()), "{r}");
    assert!(r["detail"].as_str().unwrap().starts_with("deadlock: no progress for 1000 ms"), "{r}");
    let main = r["threads"].as_array().unwrap().iter().find(|t| t["name"] == "main").expect("main's state");
    assert_eq!(main["state"], "S", "main should be asleep on the lock: {r}");
    assert!(r["cleanup"].as_str().unwrap().contains("killed (SIGKILL) and reaped"), "{r}");
}

#[test]
fn the_human_report_says_what_ran_what_showed_and_why() {
    let out = conclab(&["demo", "job-list-reap", "--variant", "fixed", "--runs", "64"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("PASSED  job-list-reap / fixed on real signals"), "{text}");
    for part in ["64 of at most 64 forks completed", "time:", "cleanup:", "why: a model checker"] {
        assert!(text.contains(part), "{part} missing in {text}");
    }
}

#[test]
fn bad_input_is_explained_with_exit_code_2() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["no-such-bug"],
            "unknown demo `no-such-bug`; scenarios with a real-signal demo: job-list-reap, printf-signal-deadlock",
        ),
        (&["airplane-seat"], "demos exist only for the two signal scenarios"),
        (&["printf-signal-deadlock", "--variant", "fixd"], "its variants: buggy, fixed, fixed-mask"),
        (&["job-list-reap", "--runs", "0"], "must be at least 1"),
    ];
    for (args, message) in cases {
        let out = conclab(&[&["demo"], args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message) && !stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
