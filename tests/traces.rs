//! The rendered trace of each buggy variant, as a student reads it: snapshot-tested, so a
//! change to what the lab shows is a reviewed change.

use conclab::catalog;
use conclab::runner::{self, Checker, Options};

fn rendered(id: &str, checker: Checker) -> String {
    let o = Options { seed: 1, ..Options::new(checker, env!("CARGO_BIN_EXE_conclab")) };
    let r = runner::check(id, "buggy", &o).unwrap();
    format!(
        "{}\n{}\nreplay: {}\n",
        r.message.as_deref().unwrap_or_default(),
        r.trace().render(),
        r.replay.as_deref().unwrap_or_default()
    )
}

/// The checkers whose trace of a scenario is snapshotted: those of loom, PCT and random that
/// the scenario says find its bug.
pub const SNAPSHOTTED: [Checker; 3] = [Checker::Loom, Checker::ShuttlePct, Checker::ShuttleRandom];

/// Snapshots name source lines as `LL` (`scenarios/airplane_seat.rs:LL`), as clippy's UI tests
/// do: an edit that moves a scenario's lines changes no snapshot. Locations are tested on
/// purpose elsewhere (`explain_tells_the_minimal_trace_in_words`).
fn lines_as_ll(assert: impl FnOnce()) {
    insta::with_settings!({ filters => vec![(r"\.rs:\d+", ".rs:LL")] }, { assert() });
}

#[test]
fn buggy_traces_of_every_checker_that_finds_the_bug() {
    for s in catalog::all() {
        for checker in SNAPSHOTTED.into_iter().filter(|c| s.entry.found_by.contains(c)) {
            let name = format!("{}__{}", s.id(), checker.name().replace('-', "_").trim_start_matches("shuttle_"));
            lines_as_ll(|| insta::assert_snapshot!(name, rendered(s.id(), checker)));
        }
    }
}

/// The airplane-seat story is two agents who both check before either acts, and lost-update's
/// is two read-modify-write sequences overlapping. Every atomic access in them is SeqCst, so
/// loom's trace must tell that story as an interleaving: no load reads a stale value, and the
/// second agent's check comes before the first agent's sale.
#[test]
fn loom_traces_of_all_seqcst_scenarios_are_interleavings_without_stale_reads() {
    let o = Options::new(Checker::Loom, env!("CARGO_BIN_EXE_conclab"));
    for id in ["airplane-seat", "lost-update"] {
        let r = runner::check(id, "buggy", &o).unwrap();
        let text = r.trace().render();
        assert!(r.found_bug() && !text.contains("stale"), "{id}: a SeqCst load read a stale value:\n{text}");
    }
    let r = runner::check("airplane-seat", "buggy", &o).unwrap();
    let step_of = |op: &str, nth: usize| {
        let mut steps = r.trace.iter().filter(|s| s.object == "seats_left" && s.op.starts_with(op));
        steps.nth(nth).map(|s| s.step).expect("the step is in the trace")
    };
    let text = r.trace().render();
    assert!(step_of("load", 1) < step_of("store", 0), "both agents check before either acts:\n{text}");
}
