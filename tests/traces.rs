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

#[test]
fn buggy_traces_of_every_checker_that_finds_the_bug() {
    for s in catalog::all() {
        for checker in SNAPSHOTTED.into_iter().filter(|c| s.on_std.found_by.contains(c)) {
            let name = format!("{}__{}", s.id(), checker.name().replace('-', "_").trim_start_matches("shuttle_"));
            insta::assert_snapshot!(name, rendered(s.id(), checker));
        }
    }
}
