//! Ctrl-C: a check stops between executions and reports what it covered (`interrupted`), in
//! process (every engine polls the flag) and through the CLI, whose worker child gets the signal
//! forwarded. The flag is process-wide, so these tests live in their own test binary.

use conclab::report::Coverage;
use conclab::runner::{self, Checker, Isolation, Options};

/// The stop flag is process-wide and cannot be lowered again, so the in-process cases run in
/// one test, in this order.
#[test]
fn a_stop_request_in_process() {
    a_stop_before_the_traced_replay_keeps_the_bug_and_says_why_it_has_no_trace();
    every_engine_stops_at_once_when_a_stop_was_requested();
}

fn every_engine_stops_at_once_when_a_stop_was_requested() {
    conclab::interrupt::request();
    for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct, Checker::Stress] {
        let o = Options { isolation: Isolation::InProcess, ..Options::new(checker, env!("CARGO_BIN_EXE_conclab")) };
        let r = runner::check("airplane-seat", "fixed", &o).unwrap();
        assert!(!r.found_bug(), "{}", r.render());
        assert_eq!(r.coverage, Coverage::Interrupted { after: 0 }, "{}: {}", checker.name(), r.render());
        assert!(r.render().starts_with("INTERRUPTED"), "{}", r.render());
    }
}

/// SIGINT to the CLI alone (not its process group): the CLI forwards it to its worker, which
/// stops and reports; the CLI prints the partial report and exits with 130.
#[cfg(target_os = "linux")]
#[test]
fn sigint_to_the_cli_gives_a_partial_report_and_exit_130() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;

    let child = Command::new(env!("CARGO_BIN_EXE_conclab"))
        .args(["check", "airplane-seat", "--variant", "fixed", "--checker", "shuttle-random"])
        .args(["--iterations", "1000000000", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Ready when the worker exists and catches SIGINT (its handler is installed): the signal
    // then means "stop", never "die". Only waits for readiness; no timing is asserted.
    let catches_sigint = |p: &str| {
        std::fs::read_to_string(format!("/proc/{p}/status")).ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("SigCgt:"))?.to_string();
            let mask = u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()?;
            Some(mask & (1 << (libc::SIGINT - 1)) != 0)
        }) == Some(true)
    };
    let started = Instant::now();
    loop {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if catches_sigint(&pid.to_string()) && children.split_whitespace().any(catches_sigint) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the worker never became ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(Pid::from_raw(pid as i32), Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["verdict"], "passed");
    assert_eq!(r["coverage"]["kind"], "interrupted", "{r}");
    assert_eq!(r["coverage"]["after"], r["executions"], "{r}");
    assert!(out.stderr.is_empty(), "no progress bar when piped: {}", String::from_utf8_lossy(&out.stderr));
}

/// Ctrl-C after a shuttle search found its bug, before the failing schedule was replayed to
/// record its trace: the bug is reported, and the note says the replay was interrupted (not that
/// the program depends on more than its schedule).
fn a_stop_before_the_traced_replay_keeps_the_bug_and_says_why_it_has_no_trace() {
    fn stops_then_fails() {
        use conclab::lab as rt;
        conclab::interrupt::request();
        rt::invariant(false, || "fails once a stop was requested".into());
    }
    let s = conclab::catalog::of_body("stops-then-fails", "model", stops_then_fails);
    let o = Options {
        isolation: Isolation::InProcess,
        minimize: false,
        ..Options::new(Checker::ShuttleRandom, env!("CARGO_BIN_EXE_conclab"))
    };
    let r = runner::check_scenario(&s, "model", &o).unwrap();
    assert_eq!(r.kind, Some(conclab::report::Kind::Assertion), "{}", r.render());
    assert!(r.notes.iter().any(|n| n.starts_with("no trace: interrupted")), "{:?}", r.notes);
}
