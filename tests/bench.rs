//! `conclab bench`'s contract: the JSON schema, the Markdown table's shape, the CSV records and
//! friendly answers to bad input. Times and the machine vary, so they are redacted, never asserted.

use std::process::{Command, Output};

use conclab::catalog;
use serde_json::Value;

const TWO: [&str; 4] = ["--scenario", "airplane-seat", "--scenario", "lock-order-gridlock"];

fn conclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclab")).args(args).output().expect("conclab runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn bench(extra: &[&str]) -> Output {
    let out = conclab(&[&["bench"], &TWO[..], extra].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    out
}

#[test]
fn json_has_the_method_and_one_row_per_scenario_and_checker() {
    let out = bench(&["--seeds", "2", "--checker", "loom", "--checker", "shuttle-pct", "--json"]);
    assert!(stderr(&out).is_empty(), "no progress bar when piped: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    let method = &v["method"];
    assert_eq!(method["seeds"], 2);
    for field in ["summary", "shuttle_iterations", "pct_depth", "loom_budget", "stress_runs", "machine", "wall_time_ms"]
    {
        assert!(!method[field].is_null(), "method.{field} missing");
    }
    let rows = v["rows"].as_array().unwrap();
    let pairs: Vec<(&str, &str)> =
        rows.iter().map(|r| (r["scenario"].as_str().unwrap(), r["checker"].as_str().unwrap())).collect();
    assert_eq!(
        pairs,
        [
            ("airplane-seat", "loom"),
            ("airplane-seat", "shuttle-pct"),
            ("lock-order-gridlock", "loom"),
            ("lock-order-gridlock", "shuttle-pct")
        ]
    );
    for r in rows {
        let s = catalog::find(r["scenario"].as_str().unwrap()).unwrap();
        let b = &r["buggy"];
        for field in ["runs", "unit", "found", "kind", "executions_median", "executions_max", "time_ms_median", "trace"]
        {
            assert!(b.get(field).is_some(), "buggy.{field} missing in {r}");
        }
        // The found trace's size, first found and minimised: never larger after minimising.
        let (first, min) = (&b["trace"]["first"], &b["trace"]["minimised"]);
        for field in ["steps", "preemptions", "switches"] {
            assert!(first.get(field).is_some() && min.get(field).is_some(), "trace.{field} missing in {r}");
        }
        if let (Some(f), Some(m)) = (first["preemptions"].as_u64(), min["preemptions"].as_u64()) {
            assert!(m <= f, "{r}");
        }
        // Both engines are expected to find both bugs, with the scenario's kind.
        assert_eq!(r["expected"], true, "{r}");
        assert_eq!(b["found"], b["runs"], "{r}");
        assert_eq!(b["kind"], serde_json::to_value(s.entry.expected).unwrap(), "{r}");
        let runs = if r["checker"] == "loom" { 1 } else { 2 };
        assert_eq!(b["runs"], runs, "{r}");
        assert!(b["executions_median"].as_u64().unwrap() <= b["executions_max"].as_u64().unwrap(), "{r}");
        let fixed = r["fixed"].as_array().unwrap();
        let fixes: Vec<_> = s.entry.variants.iter().filter(|v| v.fixed).map(|v| v.name).collect();
        assert_eq!(fixed.iter().map(|f| f["variant"].as_str().unwrap()).collect::<Vec<_>>(), fixes);
        for f in fixed {
            for field in ["variant", "verdict", "executions", "coverage", "time_ms"] {
                assert!(f.get(field).is_some(), "fixed.{field} missing in {f}");
            }
            assert_eq!(f["verdict"], "passed", "{f}");
            let coverage = if r["checker"] == "loom" { "exhaustive" } else { "sampled" };
            assert_eq!(f["coverage"]["kind"], coverage, "{f}");
        }
    }
    // Every checker is seeded: the counts are reproducible; times and the machine are not.
    insta::assert_json_snapshot!("bench_json", v, {
        ".method.summary" => "[summary]",
        ".method.machine" => "[machine]",
        ".method.wall_time_ms" => "[ms]",
        ".rows[].buggy.time_ms_median" => "[ms]",
        ".rows[].fixed[].time_ms" => "[ms]",
    });
}

#[test]
fn markdown_has_a_header_and_one_row_per_scenario_and_checker() {
    let out = bench(&["--seeds", "1", "--checker", "loom", "--checker", "shuttle-dfs"]);
    assert!(stderr(&out).is_empty(), "no progress bar when piped: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Method"), "the method comes first: {text}");
    let table: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 2 + 4, "header, separator, 2 scenarios × 2 checkers: {text}");
    assert!(table[0].starts_with("| scenario | checker | expected |"), "{}", table[0]);
    assert!(table[1].starts_with("|---|"), "{}", table[1]);
    let columns = table[0].matches('|').count();
    for (row, (id, checker)) in table[2..].iter().zip([
        ("airplane-seat", "loom"),
        ("airplane-seat", "shuttle-dfs"),
        ("lock-order-gridlock", "loom"),
        ("lock-order-gridlock", "shuttle-dfs"),
    ]) {
        assert!(row.starts_with(&format!("| `{id}` | {checker} |")), "{row}");
        assert_eq!(row.matches('|').count(), columns, "{row}");
    }
}

#[test]
fn csv_has_a_header_and_one_record_per_scenario_and_checker() {
    let out = bench(&["--seeds", "1", "--checker", "loom", "--csv"]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("scenario,checker,expected,buggy_runs,"), "{}", lines[0]);
    assert!(lines[1].starts_with("airplane-seat,loom,true,1,check,1,assertion,"), "{}", lines[1]);
    assert!(lines[2].starts_with("lock-order-gridlock,loom,true,1,check,1,deadlock,"), "{}", lines[2]);
}

#[test]
fn an_unknown_scenario_is_refused_with_the_known_ids() {
    let out = conclab(&["bench", "--scenario", "no-such-bug", "--checker", "loom"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown scenario `no-such-bug`"), "{err}");
    for s in catalog::all() {
        assert!(err.contains(s.id()), "{} not listed: {err}", s.id());
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unknown_checker_is_refused_with_the_known_names() {
    let out = conclab(&["bench", "--checker", "valgrind"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("valgrind") && err.contains("shuttle-pct") && err.contains("loom"), "{err}");
}
