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

#[test]
fn buggy_traces_under_shuttle_pct() {
    for s in catalog::all() {
        insta::assert_snapshot!(format!("{}__shuttle_pct", s.id()), rendered(s.id(), Checker::ShuttlePct));
    }
}

#[test]
fn buggy_traces_under_loom() {
    for s in catalog::all() {
        insta::assert_snapshot!(format!("{}__loom", s.id()), rendered(s.id(), Checker::Loom));
    }
}
