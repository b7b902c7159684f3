//! The HTML pages' structure: one lane per thread, one row per step, lock spans, the failing
//! step or the deadlock's cycle highlighted, the story and invariant on top, nothing fetched from
//! the network. Deterministic (seeded checkers); the real browser check is `tests/browser.sh`.

use std::process::Command;

use conclab::bench::{self, Plan};
use conclab::catalog;
use conclab::html;
use conclab::runner::{self, Checker, Options};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_conclab")
}

fn page_for(id: &str, variant: &str) -> (conclab::report::Report, String) {
    let o = Options { seed: 1, ..Options::new(Checker::ShuttlePct, exe()) };
    let r = runner::check(id, variant, &o).unwrap();
    let s = catalog::lookup(id, variant).unwrap();
    let page = html::trace_page(s, &r);
    (r, page)
}

fn count(page: &str, needle: &str) -> usize {
    page.matches(needle).count()
}

/// Nothing outside the page: no scripts, styles, images or fonts fetched from anywhere.
fn assert_self_contained(page: &str) {
    for external in ["src=", "href=", "@import", "url(", "http://", "https://"] {
        let allowed = external == "http://"
            && page.matches(external).count() == page.matches("http://www.w3.org/2000/svg").count();
        assert!(allowed || !page.contains(external), "the page refers to something outside it: {external}");
    }
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
}

#[test]
fn a_race_page_has_a_lane_per_thread_a_row_per_step_and_the_failing_step() {
    let (r, page) = page_for("airplane-seat", "buggy");
    assert_self_contained(&page);
    assert_eq!(count(&page, "<th class=\"lane\""), r.threads.len());
    assert_eq!(count(&page, "<tr class=\"step"), r.trace.len());
    assert_eq!(count(&page, "<td class=\"cell"), r.trace.len() * r.threads.len());
    for t in &r.threads {
        assert!(page.contains(&format!("data-thread=\"{t}\">{t}</th>")), "no lane for {t}");
    }
    // The violation is the highlighted row, and it is the last one.
    assert_eq!(count(&page, "<tr class=\"step failing\""), 1);
    let failing = page.find("step failing").unwrap();
    assert!(page[failing..].contains("seat 1 sold twice"));
    // The ledger is held by the agents: spans in their lanes, starting at their `lock` steps.
    assert!(count(&page, "class=\"hold start\" data-lock=\"ledger\"") >= 2, "{page}");
    // Story and invariant on top, before the swimlanes.
    let story = page.find("id=\"story\"").unwrap();
    let invariant = page.find("id=\"invariant\"").unwrap();
    let lanes = page.find("id=\"swimlanes\"").unwrap();
    assert!(story < lanes && invariant < lanes);
    assert!(page.contains("Two travel agents sell seats"));
    assert!(page.contains("tickets sold ≤ seats, and no seat is sold twice"));
    assert!(page.contains("id=\"minimised\""));
}

#[test]
fn a_deadlock_page_draws_the_cycle() {
    let (r, page) = page_for("lock-order-gridlock", "buggy");
    assert_self_contained(&page);
    assert!(page.contains("<tr class=\"blocked failing\""));
    assert!(page.contains("id=\"cycle\""));
    for b in &r.blocked {
        assert!(page.contains(&format!("<li><b>{}</b>", b.thread)), "{} missing from the cycle", b.thread);
    }
    // Each car still holds its first square when it stops: a span in the blocked row.
    let blocked = &page[page.find("<tr class=\"blocked").unwrap()..];
    let row = &blocked[..blocked.find("</tr>").unwrap()];
    assert_eq!(count(row, "class=\"hold\""), 2, "{row}");
    assert!(row.contains("waits to lock south") && row.contains("waits to lock north"), "{row}");
}

#[test]
fn every_buggy_scenario_renders() {
    for s in catalog::all() {
        let checker = conclab::explain::default_checker(s);
        let o = Options { seed: 1, ..Options::new(checker, exe()) };
        let r = runner::check(s.id(), "buggy", &o).unwrap();
        let page = html::trace_page(s, &r);
        assert_self_contained(&page);
        assert_eq!(count(&page, "<th class=\"lane\""), r.threads.len(), "{}", s.id());
        assert!(page.contains("failing"), "{}: nothing highlighted", s.id());
    }
}

#[test]
fn the_cli_writes_the_page_for_check_and_replay() {
    let dir = std::env::temp_dir().join(format!("conclab-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (check, replay) = (dir.join("check.html"), dir.join("replay.html"));
    let out = Command::new(exe())
        .args(["check", "lost-update", "--checker", "shuttle-pct", "--seed", "1", "--json", "--html"])
        .arg(&check)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = r["replay"].as_str().unwrap();
    let out = Command::new(exe()).args(["replay", "lost-update", token, "--html"]).arg(&replay).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (a, b) = (std::fs::read_to_string(&check).unwrap(), std::fs::read_to_string(&replay).unwrap());
    let lanes = |p: &str| p[p.find("id=\"swimlanes\"").unwrap()..p.find("</table>").unwrap()].to_string();
    assert_eq!(lanes(&a), lanes(&b), "the replay draws the same swimlanes");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_bench_page_has_the_method_a_log_chart_and_the_table() {
    let plan = Plan::new(
        &["airplane-seat".into(), "lock-order-gridlock".into()],
        &[Checker::Loom, Checker::ShuttlePct],
        2,
        exe(),
    )
    .unwrap();
    let c = bench::run(&plan, false).unwrap();
    let page = conclab::bench::page(&c);
    assert_self_contained(&page);
    assert!(page.contains("SCTBench") && page.contains("id=\"method\""));
    assert!(page.contains("<svg id=\"chart\"") && page.contains("(log scale)"));
    assert_eq!(count(&page, "<rect class=\"bar\""), 4, "a bar per scenario × checker that found the bug");
    assert_eq!(count(&page, "<tr data-scenario="), 4);
}

/// A pass says on the page what its engine cannot see: loom's exhaustive pass of a livelock.
#[test]
fn a_pass_page_names_what_its_checker_cannot_see() {
    let o = Options::new(Checker::Loom, exe());
    let r = runner::check("polite-livelock", "buggy", &o).unwrap();
    let page = html::trace_page(catalog::lookup("polite-livelock", "buggy").unwrap(), &r);
    assert!(page.contains("id=\"verdict\" class=\"verdict ok\">Passed"), "{page}");
    let not_covered = page.find("id=\"not-covered\"").expect("the page names the blind spot");
    assert!(page[not_covered..].contains("livelocks of threads that yield and retry"), "{page}");
}
