//! The fuzzing harness's logic, as library functions: the cargo-fuzz targets under `fuzz/` are
//! a few lines calling these, and `cargo test` replays every saved input through them on stable.
//!
//! - [`FuzzScheduler`]: a shuttle scheduler whose choices come from the fuzzer's bytes, so that
//!   coverage guidance steers the *schedule*.
//! - [`protocol`]: bytes become client sessions against the server's connection protocol and
//!   books, in memory; any wrong, repeated or reordered byte, or inconsistent counter, panics.

use anyhow::{Context, Result};
use serde_json::Value;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

use crate::catalog::{self, Scenario};
use crate::report::Report;
use crate::runner::{self, Checker, Isolation, Options};
use crate::server::{Books, Service, Session, Stats};

/// Pins the `schedule` target to one scenario (its id), whatever the input's first byte says.
pub const SCENARIO_ENV: &str = "CONCLAB_FUZZ_SCENARIO";
/// With [`SCENARIO_ENV`]: the variant (default `buggy`).
pub const VARIANT_ENV: &str = "CONCLAB_FUZZ_VARIANT";

/// Every (scenario, variant) of the catalog, in catalog order: what a `schedule` input's first
/// byte chooses from.
pub fn targets() -> Vec<(&'static Scenario, &'static str)> {
    catalog::all().iter().flat_map(|s| s.variant_names().into_iter().map(move |v| (s, v))).collect()
}

/// Which scenario and variant a `schedule` input runs: [`SCENARIO_ENV`] if set, else the input's
/// first byte over [`targets`]. The rest of the input is the schedule.
pub fn schedule_target(data: &[u8]) -> Result<(&'static Scenario, String, &[u8])> {
    let (selector, schedule) = data.split_first().map_or((0, &[][..]), |(b, rest)| (*b, rest));
    if let Ok(id) = std::env::var(SCENARIO_ENV) {
        let variant = std::env::var(VARIANT_ENV).unwrap_or_else(|_| "buggy".into());
        let s = catalog::lookup(&id, &variant)?;
        return Ok((s, variant, schedule));
    }
    let all = targets();
    let (s, v) = all[usize::from(selector) % all.len()];
    Ok((s, v.to_string(), schedule))
}

/// Options of an in-process fuzz run (shuttle only: nothing can abort the process).
pub fn options(minimize: bool) -> Options {
    Options { minimize, isolation: Isolation::InProcess, ..Options::new(Checker::ShuttleRandom, "unused") }
}

/// Runs `schedule` (bytes) as one execution of the scenario's variant under [`FuzzScheduler`];
/// the report's trace and replay token are those of any conclab check.
pub fn schedule(s: &Scenario, variant: &str, schedule: &[u8], minimize: bool) -> Result<Report> {
    runner::check_with_scheduler(s, variant, FuzzScheduler::new(schedule), "fuzz", &options(minimize))
}

/// The `schedule` target's body: panics (a crash for the fuzzer) when the input's schedule
/// breaks the scenario, with the conclab trace as the message. A fixed variant must never crash.
pub fn schedule_input(data: &[u8]) {
    let (s, variant, bytes) = schedule_target(data).expect("the fuzz target names a known scenario");
    let r = schedule(s, &variant, bytes, false).expect("the scenario runs");
    if r.found_bug() {
        panic!(
            "{} / {variant}: {} under the fuzzer's schedule\n{}\nreplay: conclab replay {} --variant {variant} --fuzz-input <this input>",
            s.id(),
            r.kind.map(|k| k.to_string()).unwrap_or_default(),
            r.render(),
            s.id()
        );
    }
}

/// Reads a saved `schedule` input (a fuzzer's crash file) and replays it on `scenario` /
/// `variant`: the input's first byte is its scenario selector and is skipped.
pub fn replay_input(scenario: &str, variant: &str, file: &std::path::Path) -> Result<Report> {
    let s = catalog::lookup(scenario, variant)?;
    let data = read_input(file)?;
    let bytes = data.get(1..).unwrap_or_default();
    schedule(s, variant, bytes, true)
}

/// The largest fuzz input [`replay_input`] reads. Inputs are small — one byte per scheduling
/// decision; libFuzzer's default `-max_len` is 4,096 bytes — so anything larger is refused.
pub const MAX_INPUT_BYTES: u64 = 1 << 20;

/// Reads a fuzz input: a regular file of at most [`MAX_INPUT_BYTES`]. Its metadata is checked
/// before it is opened, so a FIFO (which would block until a writer came) or a device such as
/// `/dev/zero` (which never ends) is refused at once; the read itself is bounded too.
fn read_input(file: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let shown = file.display();
    let too_large = || {
        anyhow::anyhow!(
            "the fuzz input {shown} is larger than {MAX_INPUT_BYTES} bytes (1 MiB), more than any fuzz input \
             needs; give a saved input such as a crash file"
        )
    };
    let meta = std::fs::metadata(file).with_context(|| format!("cannot read the fuzz input {shown}"))?;
    if !meta.is_file() {
        anyhow::bail!(
            "the fuzz input {shown} is {}, not a regular file; give a saved input such as a crash file",
            file_kind(&meta.file_type())
        );
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    let f = std::fs::File::open(file).with_context(|| format!("cannot read the fuzz input {shown}"))?;
    let mut data = Vec::new();
    f.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read the fuzz input {shown}"))?;
    if data.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large()); // it grew after its size was checked
    }
    Ok(data)
}

/// What a file that is not a regular file is, for a message.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "something else"
    }
}

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
    let stats = crate::rt::dynamic::on_real_threads(Stats::new);
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

/// Selects the `books` target's implementation: `split` hunts the bug in `server-stats`'
/// two-lock books; anything else (the default) checks the server's own one-lock books.
pub const BOOKS_ENV: &str = "CONCLAB_FUZZ_BOOKS";

/// One thread's operation on the books in a `books` workload.
#[derive(Clone, Copy, Debug)]
enum BookOp {
    Connect,
    Count(u8),
    Disconnect,
    Snapshot,
}

/// The `books` target: a workload (2–3 threads, each up to 4 operations: connect, count bytes,
/// disconnect, snapshot) chosen by the first bytes, run under a schedule chosen by the rest, on
/// the books the server runs (`split = false`) or on the scenario's buggy two-lock books. Every
/// snapshot must balance (open + closed = accepted, the live count matches the list) and a
/// thread's successive snapshots never lose bytes. Returns the failure message, if any.
pub fn books(data: &[u8], split: bool) -> Option<String> {
    use crate::catalog::scenarios::server_stats as model;
    let mut it = data.iter().copied();
    let threads = 2 + usize::from(it.next().unwrap_or(0) % 2);
    let workload: Vec<Vec<BookOp>> = (0..threads)
        .map(|_| {
            let n = 1 + usize::from(it.next().unwrap_or(0) % 4);
            (0..n)
                .map(|_| {
                    let b = it.next().unwrap_or(0);
                    match b % 4 {
                        0 => BookOp::Connect,
                        1 => BookOp::Count(1 + b / 4 % 8),
                        2 => BookOp::Disconnect,
                        _ => BookOp::Snapshot,
                    }
                })
                .collect()
        })
        .collect();
    let schedule: Vec<u8> = it.collect();
    fn run<B: model::Books + 'static>(books: fn() -> B, workload: Vec<Vec<BookOp>>) {
        let books = std::sync::Arc::new(books());
        let handles: Vec<_> = workload
            .into_iter()
            .enumerate()
            .map(|(t, ops)| {
                let books = books.clone();
                shuttle::thread::spawn(move || {
                    let (mut mine, mut seen) = (Vec::new(), 0u64);
                    for op in ops {
                        match op {
                            BookOp::Connect => mine.extend(books.connect(format!("client-{t}"), usize::MAX)),
                            BookOp::Count(n) => {
                                if let Some(&id) = mine.last() {
                                    books.count(id, u64::from(n), u64::from(n), 1);
                                }
                            }
                            BookOp::Disconnect => {
                                if let Some(id) = mine.pop() {
                                    books.disconnect(id);
                                }
                            }
                            BookOp::Snapshot => {
                                let s = books.snapshot();
                                let t = &s.totals;
                                assert_eq!(t.closed + s.live, t.accepted, "books out of balance: {s:?}");
                                assert_eq!(s.live as usize, s.connections.len(), "live count ≠ list: {s:?}");
                                assert!(t.bytes_in >= seen, "bytes went backwards: {seen} then {}: {s:?}", t.bytes_in);
                                seen = t.bytes_in;
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a books thread failed");
        }
    }
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.silence_warnings = true;
    config.max_steps = shuttle::MaxSteps::FailAfter(10_000);
    let result = crate::engine::on_fresh_thread(move || {
        let _engine = crate::rt::dynamic::EngineScope::enter(crate::catalog::Engine::Shuttle);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let runner = shuttle::Runner::new(FuzzScheduler::new(&schedule), config);
            if split {
                runner.run(move || run(model::SplitBooks::new, workload.clone()));
            } else {
                runner.run(move || run(model::Stats::new, workload.clone()));
            }
        }))
    });
    match result {
        Ok(Ok(())) => None,
        Ok(Err(p)) | Err(p) => Some(crate::engine::panic_text(&*p)),
    }
}

/// The `books` target's body: panics (a crash) when the books break under the input.
pub fn books_input(data: &[u8]) {
    let split = std::env::var(BOOKS_ENV).is_ok_and(|v| v == "split");
    if let Some(m) = books(data, split) {
        panic!("the {} books broke: {m}", if split { "two-lock" } else { "server's" });
    }
}

/// How `conclab fuzz` searched.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// cargo-fuzz (libFuzzer, coverage-guided) on the `schedule` target.
    CargoFuzz,
    /// Random byte strings through the same target logic (cargo-fuzz or nightly missing).
    RandomBytes,
}

/// What `conclab fuzz` found, and at what cost.
#[derive(Debug, serde::Serialize)]
pub struct FuzzRun {
    /// How it searched.
    pub engine: Engine,
    /// Inputs tried.
    pub inputs: u64,
    /// Wall time, ms.
    pub elapsed_ms: u64,
    /// The crash input, saved (cargo-fuzz) under `fuzz/artifacts/schedule/`.
    pub artifact: Option<std::path::PathBuf>,
    /// The first bug as a conclab report (replayed from the input), or the last pass.
    pub report: Option<Report>,
    /// Why cargo-fuzz was not used, when it was not.
    pub note: Option<String>,
}

/// This checkout's `fuzz/` directory, if the binary was built from a checkout that has one.
pub fn fuzz_dir() -> Option<std::path::PathBuf> {
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    d.join("Cargo.toml").is_file().then_some(d)
}

/// Whether `cargo +nightly fuzz` can run here; the reason when not.
fn cargo_fuzz_available() -> std::result::Result<std::path::PathBuf, String> {
    let dir = fuzz_dir().ok_or("this binary was not built from a checkout with fuzz/")?;
    let ok = |args: &[&str]| {
        std::process::Command::new("cargo")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(&["+nightly", "--version"]) {
        return Err("no nightly toolchain (rustup toolchain install nightly)".into());
    }
    if !ok(&["fuzz", "--version"]) {
        return Err("cargo-fuzz is not installed (cargo install cargo-fuzz)".into());
    }
    Ok(dir)
}

/// `conclab fuzz`: fuzzes the schedule of `scenario` / `variant` for at most `seconds`, with
/// cargo-fuzz when it is available (else random bytes, seeded by `seed`), and replays the
/// first crash as a conclab report.
pub fn run(scenario: &str, variant: &str, seconds: u64, seed: u64, force_random: bool) -> Result<FuzzRun> {
    let s = catalog::lookup(scenario, variant)?;
    let started = std::time::Instant::now();
    let (dir, note) = match (force_random, cargo_fuzz_available()) {
        (false, Ok(dir)) => (Some(dir), None),
        (true, _) => (None, Some("random bytes asked for (--random)".to_string())),
        (false, Err(why)) => (None, Some(why)),
    };
    if let Some(dir) = dir {
        let out = std::process::Command::new("cargo")
            .args(["+nightly", "fuzz", "run", "-O", "schedule", "--"])
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-seed={}", seed.max(1)))
            .arg("-print_final_stats=1")
            .current_dir(&dir)
            .env(SCENARIO_ENV, scenario)
            .env(VARIANT_ENV, variant)
            .output()
            .context("cannot run cargo fuzz")?;
        let log = String::from_utf8_lossy(&out.stderr);
        // libFuzzer's final stats on a normal exit; on a crash, its last `#N` status line.
        let inputs = log
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .and_then(|n| n.trim().parse().ok())
            .or_else(|| {
                log.lines().rev().find_map(|l| l.strip_prefix('#')?.split_whitespace().next()?.parse::<u64>().ok())
            })
            .unwrap_or(0);
        let crash = log.lines().find_map(|l| l.split("Test unit written to ").nth(1)).map(|p| dir.join(p.trim()));
        let (artifact, report) = match crash {
            Some(file) => {
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let kept = dir.join("artifacts/schedule").join(format!("{scenario}--{variant}--{name}"));
                std::fs::rename(&file, &kept).with_context(|| format!("cannot keep {}", file.display()))?;
                let r = replay_input(scenario, variant, &kept)?;
                (Some(kept), Some(r))
            }
            None => (None, None),
        };
        if artifact.is_none() && !out.status.success() {
            anyhow::bail!(
                "cargo fuzz failed without a crash:\n{}",
                log.lines().rev().take(15).collect::<Vec<_>>().join("\n")
            );
        }
        return Ok(FuzzRun {
            engine: Engine::CargoFuzz,
            inputs,
            elapsed_ms: started.elapsed().as_millis() as u64,
            artifact,
            report,
            note,
        });
    }
    // No cargo-fuzz: the same target logic on random bytes (xorshift, seeded).
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut inputs = 0;
    let mut last = None;
    while started.elapsed().as_secs() < seconds {
        let len = (next() % 256) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        inputs += 1;
        let r = schedule(s, variant, &bytes, false)?;
        if r.found_bug() {
            let r = schedule(s, variant, &bytes, true)?;
            return Ok(FuzzRun {
                engine: Engine::RandomBytes,
                inputs,
                elapsed_ms: started.elapsed().as_millis() as u64,
                artifact: None,
                report: Some(r),
                note,
            });
        }
        last = Some(r);
    }
    Ok(FuzzRun {
        engine: Engine::RandomBytes,
        inputs,
        elapsed_ms: started.elapsed().as_millis() as u64,
        artifact: None,
        report: last.filter(|r| r.found_bug()),
        note,
    })
}

impl FuzzRun {
    /// Whether it found a bug.
    pub fn found_bug(&self) -> bool {
        self.report.as_ref().is_some_and(Report::found_bug)
    }

    /// The run for people: how it searched, then the bug's report.
    pub fn render(&self) -> String {
        let how = match self.engine {
            Engine::CargoFuzz => "cargo-fuzz (libFuzzer, coverage-guided schedules)",
            Engine::RandomBytes => "random schedules (no coverage guidance)",
        };
        let mut s = format!("fuzzed with {how}: {} inputs in {} ms\n", self.inputs, self.elapsed_ms);
        if let Some(n) = &self.note {
            s.push_str(&format!("note: {n}\n"));
        }
        if let Some(a) = &self.artifact {
            s.push_str(&format!("crash input: {}\n", a.display()));
        }
        match &self.report {
            Some(r) if r.found_bug() => s.push_str(&r.render()),
            _ => s.push_str("no bug found within the budget\n"),
        }
        s
    }
}
