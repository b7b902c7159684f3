//! The fuzz targets' logic on stable: every input saved under `fuzz/corpus/` and
//! `fuzz/artifacts/` replays through the library functions, and proptest generates more.

use conclab::fuzz;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_protocol_holds_for_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz::protocol(&data);
    }
}

#[test]
fn the_protocol_checks_cover_stats_overlong_lines_and_closes() {
    // conn 0: a split line, STATS; conn 1: an overlong line; conn 0 closes; conn 2 STATS.
    let mut input = vec![0u8, 3, b'a', b'b', b'c', 0, 1, b'\n', 3];
    input.extend([8 + 2, 200]);
    input.extend([4, 16 + 3]);
    fuzz::protocol(&input);
}

/// Random schedules (proptest's, seeded): every fixed variant survives them all; every buggy
/// variant that shuttle's random scheduler finds is found by some schedule within the budget.
#[test]
fn generated_schedules_never_break_a_fix_and_find_each_bug() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    for (s, variant) in fuzz::targets() {
        let fixed = s.variant(variant).is_some_and(|v| v.fixed);
        let findable = s.entry.found_by.contains(&conclab::runner::Checker::ShuttleRandom);
        if !fixed && !findable {
            continue;
        }
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        let mut runner = TestRunner::new_with_rng(Config { cases: 300, ..Config::default() }, rng);
        let strategy = proptest::collection::vec(any::<u8>(), 0..200);
        let mut found = None;
        for n in 1..=300 {
            let bytes = strategy.new_tree(&mut runner).unwrap().current();
            let r = fuzz::schedule(s, variant, &bytes, false).unwrap();
            if r.found_bug() {
                assert!(!fixed, "{} / {variant} (a fix) broke under schedule {bytes:?}:\n{}", s.id(), r.render());
                let expected = s.entry.expected_for(variant);
                assert_eq!(
                    r.kind,
                    Some(expected),
                    "{} / {variant}: the wrong kind of failure:\n{}",
                    s.id(),
                    r.render()
                );
                found = Some(n);
                break;
            }
        }
        if !fixed {
            assert!(found.is_some(), "{} / {variant}: no generated schedule found the bug", s.id());
        }
    }
}

/// The `books` target's workloads × schedules: the server's one-lock books always balance;
/// some generated input breaks the two-lock books of `server-stats`' buggy variant.
#[test]
fn generated_workloads_keep_the_server_books_and_break_the_split_ones() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = proptest::collection::vec(any::<u8>(), 0..120);
    let mut split_broke: Option<usize> = None;
    for n in 1..=400 {
        let data = strategy.new_tree(&mut runner).unwrap().current();
        if let Some(m) = fuzz::books(&data, false) {
            panic!("the server's books broke under {data:?}: {m}");
        }
        if let (None, Some(m)) = (split_broke, fuzz::books(&data, true)) {
            // The books' own check failed — not some other panic.
            assert!(m.contains("books out of balance") || m.contains("bytes went backwards"), "{m}");
            split_broke = Some(n);
        }
    }
    assert!(split_broke.is_some(), "no generated workload broke the two-lock books");
}

/// Every saved input under `fuzz/` (what cargo-fuzz keeps: `corpus/<target>/`, and the crashes
/// `conclab fuzz` keeps as `artifacts/schedule/<id>--<variant>--crash-…`), replayed on stable.
#[test]
fn every_saved_fuzz_input_replays() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let files = |sub: &str| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(root.join(sub))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut replayed = 0;
    for f in files("corpus/protocol").iter().chain(&files("artifacts/protocol")) {
        fuzz::protocol(&std::fs::read(f).unwrap());
        replayed += 1;
    }
    for f in files("artifacts/books") {
        // Crashes found with CONCLAB_FUZZ_BOOKS=split: they break the two-lock books only.
        let data = std::fs::read(&f).unwrap();
        assert!(fuzz::books(&data, true).is_some(), "{} no longer breaks the split books", f.display());
        assert_eq!(fuzz::books(&data, false), None, "{} breaks the server's books", f.display());
        replayed += 1;
    }
    for f in files("corpus/books") {
        assert_eq!(fuzz::books(&std::fs::read(&f).unwrap(), false), None, "{}", f.display());
        replayed += 1;
    }
    for f in files("corpus/schedule") {
        // Unpinned, the first byte chooses the scenario: a fix must survive every schedule.
        let data = std::fs::read(&f).unwrap();
        let (s, variant, bytes) = fuzz::schedule_target(&data).unwrap();
        let r = fuzz::schedule(s, &variant, bytes, false).unwrap();
        let fixed = s.variant(&variant).is_some_and(|v| v.fixed);
        assert!(!(fixed && r.found_bug()), "{} broke {} / {variant}:\n{}", f.display(), s.id(), r.render());
        replayed += 1;
    }
    for f in files("artifacts/schedule") {
        // A kept crash still shows its bug, and its trace replays from the token.
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mut parts = name.splitn(3, "--");
        let (Some(id), Some(variant), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("{name}: kept crashes are named <id>--<variant>--<crash file>");
        };
        let r = fuzz::replay_input(id, variant, &f).unwrap();
        assert!(r.found_bug(), "{name} no longer shows the bug");
        let token = r.replay.clone().unwrap();
        let again = conclab::runner::replay(id, variant, &token, &fuzz::options(false)).unwrap();
        assert_eq!(again.trace, r.trace, "{name}: the token replays the trace");
        replayed += 1;
    }
    assert!(replayed > 0, "fuzz/ keeps no inputs");
}
