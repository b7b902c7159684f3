//! Minimal counterexamples: for every buggy variant, the trace a seeded shuttle checker shows
//! after shrinking its first failing schedule — snapshot-tested with its size beside the first
//! one found — and its token replays exactly that trace.

use conclab::catalog;
use conclab::explain::default_checker;
use conclab::runner::{self, Options};

/// Snapshots name source lines as `LL` (`scenarios/airplane_seat.rs:LL`), as clippy's UI tests
/// do: an edit that moves a scenario's lines changes no snapshot. Locations are tested on
/// purpose elsewhere (`explain_tells_the_minimal_trace_in_words`).
fn lines_as_ll(assert: impl FnOnce()) {
    insta::with_settings!({ filters => vec![(r"\.rs:\d+", ".rs:LL")] }, { assert() });
}

#[test]
fn minimal_trace_of_every_buggy_variant() {
    for s in catalog::all() {
        let checker = default_checker(s);
        for v in s.entry.variants.iter().filter(|v| !v.fixed) {
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
            lines_as_ll(|| insta::assert_snapshot!(format!("{}__{}", s.id(), v.name), text));
        }
    }
}

/// `conclab explain`: story, invariant, the `// BUG:` lines and the minimal trace as sentences.
#[test]
fn explain_tells_the_minimal_trace_in_words() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_conclab"))
        .args(["explain", "airplane-seat", "--seed", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // The location, on purpose: the line of the check in `sell_buggy`, found in the source.
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/airplane_seat.rs")).unwrap();
    let check = 1 + source.lines().position(|l| l.contains("seats_left.load") && l.ends_with("// check")).unwrap();
    let reads = format!("agent-1 reads seats_left = 1 at airplane_seat.rs:{check}");
    for part in ["Story.", "Invariant: tickets sold", "// BUG:", reads.as_str()] {
        assert!(text.contains(part), "{part} missing:\n{text}");
    }
    // The source excerpt's line numbers too (`    92 │ // BUG: …`).
    let filters = vec![(r"\.rs:\d+", ".rs:LL"), (r"(?m)^(\s+)\d+ │ ", "${1}LL │ ")];
    insta::with_settings!({ filters => filters }, { insta::assert_snapshot!("explain_airplane_seat", text) });
}
