//! The fuzzing harness's logic, as library functions: the cargo-fuzz targets under `fuzz/` are
//! a few lines calling these, and `cargo test` replays every saved input through them on stable.
//!
//! - [`FuzzScheduler`]: a shuttle scheduler whose choices come from the fuzzer's bytes, so that
//!   coverage guidance steers the *schedule*.
//! - [`protocol`]: bytes become client sessions against the server's connection protocol and
//!   books, in memory; any wrong, repeated or reordered byte, or inconsistent counter, panics.

use serde_json::Value;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

use crate::server::{Books, Service, Session, Stats};

/// A shuttle scheduler driven by bytes: each scheduling decision takes the next byte and picks
/// `runnable[byte % runnable.len()]`. When the bytes run out it stops preempting: the current
/// thread runs on (another one when it yields), so every input is a complete, finite schedule.
/// It runs exactly one execution.
#[derive(Clone, Debug)]
pub struct FuzzScheduler {
    bytes: Vec<u8>,
    position: usize,
    started: bool,
}

impl FuzzScheduler {
    /// A scheduler for one execution, choosing by `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        FuzzScheduler { bytes: bytes.to_vec(), position: 0, started: false }
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.position).copied();
        self.position += 1;
        b
    }
}

impl Scheduler for FuzzScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        if std::mem::replace(&mut self.started, true) {
            return None;
        }
        self.position = 0;
        Some(Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        if let Some(b) = self.next_byte() {
            return Some(runnable[usize::from(b) % runnable.len()].id());
        }
        let keep = current.filter(|c| !is_yielding && runnable.iter().any(|t| t.id() == *c));
        // Out of bytes: no preemption; a yielding thread hands over to the next one in line.
        Some(keep.unwrap_or_else(|| {
            let after = current.map_or(0, usize::from);
            runnable.iter().map(|t| t.id()).find(|t| usize::from(*t) > after).unwrap_or(runnable[0].id())
        }))
    }

    fn next_u64(&mut self) -> u64 {
        u64::from(self.next_byte().unwrap_or(0))
    }
}

/// Line limit of the protocol sessions: small, so overlong lines are easy to reach.
pub const PROTOCOL_MAX_LINE: usize = 64;
/// Connections one protocol input can open (their bytes interleave).
pub const PROTOCOL_CONNECTIONS: usize = 3;

/// One simulated client: its session on the server side, and where its line stands.
struct Client {
    id: u64,
    session: Session,
    /// Bytes sent since the last complete line (the reference's own copy).
    partial: Vec<u8>,
    /// Closed by the server (overlong line): nothing more is sent.
    closed: bool,
}

/// What a correct server owes for one piece of input, in order.
enum Owed {
    /// This line back, byte for byte.
    Echo(Vec<u8>),
    /// One JSON line of books.
    Stats,
}

/// Runs one protocol input. Each byte starts an operation on connection `byte / 8 % 3`:
/// `0–1` send a chunk (its length is the next byte, then the bytes), `2` send a line of the
/// next byte's length, `3` ask for `STATS`, `4` close the connection, others send one byte.
/// Checks, and panics on the first breach: each client gets back exactly its complete lines,
/// once and in order (or the line-limit error and a close); `STATS` counts every byte fed
/// before it once, and every open connection; when all are closed, the books balance.
pub fn protocol(data: &[u8]) {
    let stats = Stats::new();
    let mut clients: Vec<Option<Client>> = (0..PROTOCOL_CONNECTIONS).map(|_| None).collect();
    let mut fed = 0u64;
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let slot = usize::from(op / 8) % PROTOCOL_CONNECTIONS;
        let chunk: Vec<u8> = match op % 8 {
            0 | 1 => {
                let n = bytes.next().unwrap_or(0);
                bytes.by_ref().take(usize::from(n)).collect()
            }
            2 => {
                let n = usize::from(bytes.next().unwrap_or(0));
                (0..n).map(|i| b'a' + (i % 26) as u8).chain([b'\n']).collect()
            }
            3 => b"STATS\n".to_vec(),
            4 => {
                if let Some(c) = clients[slot].take() {
                    stats.disconnect(c.id);
                }
                continue;
            }
            _ => vec![op.wrapping_mul(31)],
        };
        let c = clients[slot].get_or_insert_with(|| Client {
            id: stats.connect(format!("client-{slot}"), usize::MAX).expect("no connection limit here"),
            session: Session::new(Service::Echo, PROTOCOL_MAX_LINE),
            partial: Vec::new(),
            closed: false,
        });
        if c.closed {
            continue;
        }
        // The reference: cut the bytes into lines by hand.
        let (mut owed, mut closes) = (Vec::new(), false);
        for &b in &chunk {
            c.partial.push(b);
            if b == b'\n' {
                let line = std::mem::take(&mut c.partial);
                if line.len() > PROTOCOL_MAX_LINE {
                    closes = true;
                    break;
                }
                let text = line.strip_suffix(b"\n").map(|l| l.strip_suffix(b"\r").unwrap_or(l));
                owed.push(if text == Some(b"STATS") { Owed::Stats } else { Owed::Echo(line) });
            } else if c.partial.len() >= PROTOCOL_MAX_LINE {
                closes = true;
                break;
            }
        }
        let before = stats.snapshot();
        let out = c.session.feed(&chunk, &mut || {
            let mut v = serde_json::to_vec(&crate::server::books_json(&stats.snapshot())).expect("books serialise");
            v.push(b'\n');
            v
        });
        fed += chunk.len() as u64;
        stats.count(c.id, chunk.len() as u64, out.reply.len() as u64, out.lines);
        let mut reply = out.reply.as_slice();
        for o in owed {
            match o {
                Owed::Echo(l) => {
                    assert!(reply.starts_with(&l), "each complete line echoed whole, once, in order");
                    reply = &reply[l.len()..];
                }
                Owed::Stats => {
                    let end = reply.iter().position(|&b| b == b'\n').expect("a STATS answer") + 1;
                    let answer: Value = serde_json::from_slice(&reply[..end]).expect("STATS answers JSON");
                    assert_eq!(answer["totals"]["bytes_in"], before.totals.bytes_in, "STATS counts every byte once");
                    assert_eq!(answer["live"], before.live, "STATS counts the open connections");
                    reply = &reply[end..];
                }
            }
        }
        if closes {
            let error = format!("ERROR line longer than {PROTOCOL_MAX_LINE} bytes; closing the connection\n");
            assert_eq!(reply, error.as_bytes(), "an overlong line gets the error, then nothing");
            c.closed = true;
        } else {
            assert!(reply.is_empty(), "nothing but the owed replies: {:?}", String::from_utf8_lossy(reply));
        }
        assert_eq!(out.close.is_some(), closes, "the session closes exactly on an overlong line");
    }
    for c in clients.into_iter().flatten() {
        stats.disconnect(c.id);
    }
    let end = stats.snapshot();
    assert_eq!(end.live, 0, "every connection closed");
    assert_eq!(end.totals.closed, end.totals.accepted, "books balance");
    assert_eq!(end.totals.bytes_in, fed, "every byte fed counted once");
}
