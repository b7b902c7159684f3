//! The command-line contract other tools depend on: JSON shapes, exit codes (0 passed, 1 bug
//! found, 2 usage or input error) and friendly answers to bad input.

use std::process::{Command, Output};

use serde_json::Value;

fn conclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclab")).args(args).output().expect("conclab runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn list_json_names_every_scenario_with_its_contract_fields() {
    let out = conclab(&["list", "--json"]);
    assert!(out.status.success());
    let list = json(&out);
    let ids: Vec<_> = list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.contains(&"airplane-seat".to_string()));
    for s in list.as_array().unwrap() {
        for field in ["id", "title", "category", "expected", "checkers"] {
            assert!(!s[field].is_null(), "{field} missing in {s}");
        }
    }
    insta::assert_json_snapshot!("list", list);
}

#[test]
fn check_json_reports_a_bug_with_exit_code_1() {
    let out =
        conclab(&["check", "airplane-seat", "--variant", "buggy", "--checker", "shuttle-pct", "--seed", "1", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["verdict"], "bug_found");
    assert_eq!(r["kind"], "assertion");
    for field in ["scenario", "variant", "checker", "executions", "elapsed_ms", "coverage", "trace", "replay"] {
        assert!(r.get(field).is_some(), "{field} missing");
    }
    for step in r["trace"].as_array().unwrap() {
        for field in ["step", "thread", "op", "location"] {
            assert!(step.get(field).is_some(), "{field} missing in {step}");
        }
    }
    insta::assert_json_snapshot!("check_buggy_shuttle_pct", r, { ".elapsed_ms" => "[ms]" });
}

#[test]
fn check_of_a_fix_passes_with_exit_code_0() {
    let out = conclab(&["check", "airplane-seat", "--variant", "fixed", "--checker", "loom", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["verdict"], "passed");
    assert!(r["kind"].is_null());
    assert_eq!(r["coverage"]["kind"], "exhaustive");
    assert!(r["replay"].is_null());
}

#[test]
fn the_human_report_shows_the_timeline_and_how_to_replay() {
    let out = conclab(&["check", "airplane-seat", "--checker", "shuttle-pct", "--seed", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("BUG FOUND (assertion)"), "{text}");
    assert!(text.contains("agent-1") && text.contains("agent-2") && text.contains("seats_left load → 1"), "{text}");
    assert!(text.contains("conclab replay airplane-seat --variant buggy airplane-seat:buggy:shuttle:"), "{text}");
}

#[test]
fn replay_prints_the_same_trace_as_the_check() {
    let first = json(&conclab(&["check", "airplane-seat", "--checker", "loom", "--json"]));
    let token = first["replay"].as_str().unwrap();
    let out = conclab(&["replay", "airplane-seat", "--variant", "buggy", token, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["trace"], first["trace"]);
}

#[test]
fn an_unknown_scenario_lists_the_known_ones() {
    let out = conclab(&["check", "no-such-bug"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown scenario `no-such-bug`") && err.contains("airplane-seat"), "{err}");
}

#[test]
fn an_unknown_variant_lists_the_variants() {
    let out = conclab(&["check", "airplane-seat", "--variant", "fixd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("its variants: buggy, fixed, fixed-cas"), "{}", stderr(&out));
}

#[test]
fn a_malformed_replay_token_is_explained() {
    for token in ["garbage", "airplane-seat:buggy:shuttle:??", "airplane-seat:buggy:loom:b1"] {
        let out = conclab(&["replay", "airplane-seat", token]);
        assert_eq!(out.status.code(), Some(2), "{token}");
        let err = stderr(&out);
        assert!(err.contains("malformed replay token") && !err.contains("panicked"), "{token}: {err}");
    }
}

#[test]
fn unbounded_only_verifies_a_fix_exhaustively_in_fewer_executions_than_the_staged_search() {
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "airplane-seat", "--variant", "fixed", "--checker", "loom", "--json"];
        args.extend_from_slice(extra);
        let out = conclab(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json(&out)
    };
    let (staged, alone) = (run(&[]), run(&["--unbounded-only"]));
    assert_eq!(alone["coverage"]["kind"], "exhaustive");
    let (staged, alone) = (staged["executions"].as_u64().unwrap(), alone["executions"].as_u64().unwrap());
    assert!(1 < alone && alone < staged, "unbounded alone {alone}, staged {staged}");
    // Both flags at once is a usage error, not a silent choice of one.
    let out = conclab(&["check", "airplane-seat", "--variant", "fixed", "--unbounded-only", "--preemption-bound", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let out = conclab(&["check", "airplane-seat", "--checker", "tsan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("possible values"), "{}", stderr(&out));
}

#[test]
fn show_prints_the_teaching_text() {
    let out = conclab(&["show", "airplane-seat"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("// BUG:") && text.contains("**Story.**"), "{text}");
}

/// A check longer than its budget is stopped and comes back inconclusive (timeout), exit code 3,
/// with what it covered: a billion shuttle schedules (hours), and loom's exhaustive search of
/// the bounded buffer's fix (about 2 s here, 40× the budget). The verdicts are asserted, not the time.
#[test]
fn a_check_past_its_time_budget_is_inconclusive_with_exit_code_3() {
    let cases: [&[&str]; 2] = [
        &["check", "airplane-seat", "--variant", "fixed", "--checker", "shuttle-random", "--iterations", "1000000000"],
        &["check", "bounded-buffer", "--variant", "fixed", "--checker", "loom"],
    ];
    for (case, timeout) in cases.into_iter().zip(["1", "0.05"]) {
        let out = conclab(&[case, &["--timeout", timeout, "--json"]].concat());
        assert_eq!(out.status.code(), Some(3), "{case:?}: {}", stderr(&out));
        let r = json(&out);
        assert_eq!(r["verdict"], "inconclusive", "{r}");
        assert_eq!(r["inconclusive"], "timeout", "{r}");
        assert_eq!(r["coverage"]["kind"], "sampled", "{r}");
        assert_eq!(r["coverage"]["schedules"], r["executions"], "{r}");
        assert!(r["message"].as_str().unwrap().starts_with(&format!("timeout after {timeout} s (")), "{r}");
    }
}

#[test]
fn a_time_budget_of_zero_is_refused() {
    for cmd in [
        &["check", "airplane-seat"][..],
        &["replay", "airplane-seat", "airplane-seat:buggy:loom:b0:e1"],
        &["explain", "airplane-seat"],
        &["grade", "."],
        &["assign", "airplane-seat", "/nonexistent/never-written"],
    ] {
        let out = conclab(&[cmd, &["--timeout", "0"]].concat());
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        assert!(stderr(&out).contains("leaves no time to check anything"), "{cmd:?}: {}", stderr(&out));
    }
}
