//! The fuzz targets' logic on stable: every input saved under `fuzz/corpus/` and
//! `fuzz/artifacts/` replays through the library functions, and proptest generates more.

use conclab::fuzz;
use proptest::prelude::*;

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
