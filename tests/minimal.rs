//! Minimal counterexamples: for every buggy variant, the trace a seeded shuttle checker shows
//! after shrinking its first failing schedule — snapshot-tested with its size beside the first
//! one found — and its token replays exactly that trace.

use conclab::catalog;
use conclab::explain::default_checker;
use conclab::runner::{self, Options};

#[test]
fn minimal_trace_of_every_buggy_variant() {
    for s in catalog::all() {
        let checker = default_checker(s);
        for v in s.on_std.variants.iter().filter(|v| !v.fixed) {
            let o = Options { seed: 1, ..Options::new(checker, env!("CARGO_BIN_EXE_conclab")) };
            let r = runner::check(s.id(), v.name, &o).unwrap();
            assert!(r.found_bug(), "{} / {}:\n{}", s.id(), v.name, r.render());
            let m = r.minimised.clone().unwrap_or_else(|| panic!("{} / {} not minimised", s.id(), v.name));
            assert!(m.shown.preemptions <= m.first.preemptions, "{m:?}");
            let token = r.replay.clone().expect("a token");
            let again = runner::replay(s.id(), v.name, &token, &o).unwrap();
            assert_eq!(again.trace, r.trace, "{token} does not replay the minimised trace");
            let text = format!(
                "{} with {} (seed 1)\n{}\n{}\n{}replay: {token}\n",
                v.name,
                checker.name(),
                m.summary(),
                r.message.as_deref().unwrap_or_default(),
                r.trace().render(),
            );
            insta::assert_snapshot!(format!("{}__{}", s.id(), v.name), text);
        }
    }
}
