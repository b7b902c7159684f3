//! The connection protocol without sockets, under generated input: however the bytes are cut
//! into reads, every complete line comes back once, whole and in order, and nothing else does.

use conclab::server::{Service, Session};
use proptest::prelude::*;

/// Input bytes (newlines frequent, `STATS` impossible: no capital letters) and cut points.
fn input() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    let byte = prop_oneof![3 => Just(b'\n'), 10 => 0u8..=b'@', 5 => 0x80u8..=0xff];
    (proptest::collection::vec(byte, 0..400), proptest::collection::vec(1usize..64, 0..20))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn echo_returns_exactly_the_complete_lines((data, cuts) in input(), max_line in 2usize..80) {
        let mut session = Session::new(Service::Echo, max_line);
        let (mut reply, mut rest, mut closed) = (Vec::new(), &data[..], false);
        for cut in cuts.iter().copied().chain(std::iter::once(usize::MAX)) {
            let (chunk, tail) = rest.split_at(cut.min(rest.len()));
            rest = tail;
            let out = session.feed(chunk, &mut || panic!("no STATS in this input"));
            reply.extend(out.reply);
            closed |= out.close.is_some();
        }
        // What a correct server sends: each complete line up to the first overlong one.
        let mut expected = Vec::new();
        let mut overlong = false;
        let mut pos = 0;
        while let Some(nl) = data[pos..].iter().position(|&b| b == b'\n') {
            if nl + 1 > max_line {
                overlong = true;
                break;
            }
            expected.extend_from_slice(&data[pos..pos + nl + 1]);
            pos += nl + 1;
        }
        overlong |= data.len() - pos >= max_line;
        prop_assert_eq!(closed, overlong);
        if overlong {
            let error = format!("ERROR line longer than {max_line} bytes; closing the connection\n");
            expected.extend_from_slice(error.as_bytes());
        }
        prop_assert_eq!(reply, expected);
    }
}
