//! A verdict states exactly what was shown: bad budgets and bounds are refused before any work,
//! a search cut by its budget is never "exhaustive", and a pass names what its engine cannot see.

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
fn a_budget_or_bound_that_cannot_describe_a_search_is_a_usage_error() {
    for (args, says) in [
        (&["--checker", "loom", "--iterations", "0"][..], "--iterations 0"),
        (&["--iterations", "0"][..], "--iterations 0"),
        (&["--checker", "shuttle-pct", "--depth", "0"][..], "--depth 0"),
        (&["--checker", "loom", "--preemption-bound", "18446744073709551615"][..], "--preemption-bound"),
    ] {
        let mut all = vec!["check", "airplane-seat", "--variant", "buggy", "--json"];
        all.extend_from_slice(args);
        let out = conclab(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}: no report for a refused command");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_largest_budget_still_searches_and_finds_the_bug() {
    let out =
        conclab(&["check", "airplane-seat", "--checker", "loom", "--iterations", "18446744073709551615", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["kind"], "assertion");
}

#[test]
fn a_search_cut_by_its_budget_is_sampled_never_exhaustive() {
    for checker in ["loom", "shuttle-dfs"] {
        let out = conclab(&[
            "check",
            "bounded-buffer",
            "--variant",
            "fixed",
            "--checker",
            checker,
            "--iterations",
            "20",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{checker}: {}", stderr(&out));
        let r = json(&out);
        assert_eq!(r["coverage"]["kind"], "sampled", "{checker}: {r}");
    }
}

#[test]
fn a_loom_pass_on_a_livelock_says_loom_cannot_see_it() {
    let out = conclab(&["check", "polite-livelock", "--variant", "buggy", "--checker", "loom", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["coverage"]["kind"], "exhaustive");
    assert_eq!(r["not_covered"], serde_json::json!(["yield_livelock"]), "{r}");
    let text =
        String::from_utf8_lossy(&conclab(&["check", "polite-livelock", "--checker", "loom"]).stdout).into_owned();
    assert!(text.contains("not covered: livelocks of threads that yield and retry"), "{text}");
}

#[test]
fn an_exhaustive_shuttle_dfs_pass_is_exhaustive_under_sequential_consistency_only() {
    let out = conclab(&["check", "airplane-seat", "--variant", "fixed", "--checker", "shuttle-dfs", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["coverage"]["kind"], "exhaustive");
    assert_eq!(r["not_covered"], serde_json::json!(["weak_memory"]), "{r}");
}

#[test]
fn a_loom_pass_of_code_with_acquire_loads_says_which_interleavings_loom_may_miss() {
    let out = conclab(&["check", "line-jumping-starvation", "--variant", "fixed", "--checker", "loom", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["not_covered"], serde_json::json!(["yield_livelock", "weak_load_interleavings"]), "{r}");
    // All-SeqCst code has no such loads: its loads run as read-modify-writes, which loom compares.
    let out = conclab(&["check", "airplane-seat", "--variant", "fixed", "--checker", "loom", "--json"]);
    assert_eq!(json(&out)["not_covered"], serde_json::json!(["yield_livelock"]));
}
