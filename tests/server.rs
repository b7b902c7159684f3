//! The echo server on loopback, with real sockets: correctness, each hostile client, the limits,
//! graceful shutdown, and the iterative mode's flaw. Progress is asserted, not timing: every
//! wait has a generous bound so that a broken server fails the test instead of hanging it.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on any wait that should succeed (generous: CI machines are slow and shared).
const PATIENCE: Duration = Duration::from_secs(20);

/// A `conclab serve` child process, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
    stderr: BufReader<std::process::ChildStderr>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_conclab"))
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start conclab serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let addr = first.strip_prefix("listening on ").expect("first line names the address").trim().to_string();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        Server { child, addr, stdout, stderr }
    }

    fn client(&self) -> Client {
        Client::connect(&self.addr)
    }

    /// SIGINT, then the exit status and everything it printed after the first line.
    fn interrupt(mut self) -> (i32, String) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGINT).unwrap();
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        (status.code().unwrap_or(-1), rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    s: TcpStream,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        Client { s }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Reads exactly `n` bytes (or fails after PATIENCE).
    fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.s.read_exact(&mut v).expect("the reply within the bound");
        v
    }

    /// Reads one line.
    fn line(&mut self) -> String {
        let mut v = Vec::new();
        let mut b = [0u8];
        while self.s.read(&mut b).expect("a line within the bound") == 1 {
            v.push(b[0]);
            if b[0] == b'\n' {
                break;
            }
        }
        String::from_utf8_lossy(&v).into_owned()
    }

    fn round_trip(&mut self, line: &[u8]) -> Vec<u8> {
        self.send(line);
        self.read_exact(line.len())
    }

    /// Whether the server closed the connection (EOF or reset) within the bound.
    fn closed_by_server(&mut self) -> bool {
        let mut b = [0u8; 256];
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            match self.s.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
        false
    }

    fn stats(&mut self) -> serde_json::Value {
        self.send(b"STATS\n");
        serde_json::from_str(&self.line()).expect("STATS answers one JSON line")
    }
}

const MODES: [&str; 5] = ["iterative", "threads", "pool", "processes", "events"];
/// The modes that serve connections concurrently.
const CONCURRENT: [&str; 4] = ["threads", "pool", "processes", "events"];

#[test]
fn every_mode_echoes_lines_byte_for_byte_even_binary_and_split() {
    for mode in MODES {
        let srv = Server::start(&["--mode", mode]);
        let mut c = srv.client();
        assert_eq!(c.round_trip(b"hello\n"), b"hello\n", "{mode}");
        assert_eq!(c.round_trip(b"\xff\xfe\x00 not utf-8 \xc3\x28\n"), b"\xff\xfe\x00 not utf-8 \xc3\x28\n", "{mode}");
        c.send(b"split ");
        c.send(b"in three ");
        c.send(b"writes\nand two lines\n");
        assert_eq!(c.read_exact(36), b"split in three writes\nand two lines\n", "{mode}");
    }
}

#[test]
fn a_stalled_client_does_not_block_the_others_in_the_concurrent_modes() {
    for mode in CONCURRENT {
        let srv = Server::start(&["--mode", mode, "--workers", "2"]);
        let mut stalled = srv.client();
        stalled.send(b"half a line, then noth");
        let mut other = srv.client();
        assert_eq!(other.round_trip(b"still served\n"), b"still served\n", "{mode}");
        // The stalled client's line completes later and is still served.
        stalled.send(b"ing\n");
        assert_eq!(stalled.read_exact(26), b"half a line, then nothing\n", "{mode}");
    }
}

#[test]
fn in_iterative_mode_one_stalled_client_blocks_the_next() {
    let srv = Server::start(&["--mode", "iterative"]);
    let mut first = srv.client();
    // A full round trip first: the server is now inside the first connection.
    assert_eq!(first.round_trip(b"hi\n"), b"hi\n");
    first.send(b"half a li");
    let mut second = srv.client();
    second.send(b"me too\n");
    second.s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut b = [0u8; 16];
    let blocked =
        matches!(second.s.read(&mut b), Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
    assert!(blocked, "the iterative server answered a second client while the first was mid-line");
    // The first client leaves: now the second is served.
    drop(first);
    second.s.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(second.read_exact(7), b"me too\n");
}

#[test]
fn a_client_that_never_reads_is_dropped_and_the_others_go_on() {
    for mode in CONCURRENT {
        never_reading_client(mode);
    }
}

fn never_reading_client(mode: &str) {
    let srv = Server::start(&["--mode", mode, "--write-timeout-ms", "300"]);
    let mut hog = srv.client();
    hog.s.set_write_timeout(Some(PATIENCE)).unwrap();
    let hog_thread = std::thread::spawn(move || {
        let chunk = [b'x'; 1023].iter().copied().chain([b'\n']).collect::<Vec<u8>>();
        let start = Instant::now();
        // Writes and never reads: both socket buffers fill, the server's write times out.
        loop {
            match hog.s.write_all(&chunk) {
                Ok(()) if start.elapsed() < PATIENCE => continue,
                Ok(()) => return "never disconnected".to_string(),
                Err(e) => return format!("{:?}", e.kind()),
            }
        }
    });
    let mut other = srv.client();
    for i in 0..100 {
        let l = format!("line {i}\n");
        assert_eq!(other.round_trip(l.as_bytes()), l.as_bytes());
    }
    let ended = hog_thread.join().unwrap();
    assert!(matches!(ended.as_str(), "BrokenPipe" | "ConnectionReset"), "{mode}: the hog's writes ended with {ended}");
    assert_eq!(other.round_trip(b"after\n"), b"after\n");
}

#[test]
fn an_overlong_line_gets_an_error_and_only_its_connection_closes() {
    for mode in ["pool", "events"] {
        overlong_line(mode);
    }
}

fn overlong_line(mode: &str) {
    let srv = Server::start(&["--mode", mode, "--max-line", "100"]);
    let mut other = srv.client();
    assert_eq!(other.round_trip(b"before\n"), b"before\n");
    let mut long = srv.client();
    long.send(&[b'y'; 200]);
    assert_eq!(long.line(), "ERROR line longer than 100 bytes; closing the connection\n");
    assert!(long.closed_by_server());
    assert_eq!(other.round_trip(b"after\n"), b"after\n");
}

#[test]
fn past_max_conns_the_server_answers_busy_and_recovers() {
    for mode in CONCURRENT {
        max_conns(mode);
    }
}

fn max_conns(mode: &str) {
    let srv = Server::start(&["--mode", mode, "--max-conns", "2"]);
    let mut a = srv.client();
    let mut b = srv.client();
    assert_eq!(a.round_trip(b"a\n"), b"a\n");
    assert_eq!(b.round_trip(b"b\n"), b"b\n");
    let mut c = srv.client();
    assert_eq!(c.line(), "BUSY server full (2 connections); try again later\n", "{mode}");
    assert!(c.closed_by_server());
    drop(a);
    // The slot frees once the server has seen the close: retry, boundedly.
    let start = Instant::now();
    loop {
        let mut d = srv.client();
        d.send(b"d\n");
        if d.line() == "d\n" {
            break;
        }
        assert!(start.elapsed() < PATIENCE, "a slot never freed up");
    }
    assert_eq!(b.round_trip(b"b again\n"), b"b again\n");
}

#[test]
fn a_client_vanishing_mid_line_harms_no_one_and_the_books_add_up() {
    let srv = Server::start(&["--mode", "threads"]);
    let mut gone = srv.client();
    assert_eq!(gone.round_trip(b"12345\n"), b"12345\n");
    gone.send(b"half");
    drop(gone);
    let mut c = srv.client();
    assert_eq!(c.round_trip(b"abc\n"), b"abc\n");
    // The vanished client is closed by the time STATS says one connection is live.
    let (start, mut asked) = (Instant::now(), 0);
    let s = loop {
        let s = c.stats();
        asked += 1;
        if s["live"] == 1 {
            break s;
        }
        assert!(start.elapsed() < PATIENCE, "the vanished connection was never closed: {s}");
    };
    assert_eq!(s["totals"]["accepted"], 2, "{s}");
    assert_eq!(s["totals"]["closed"], 1, "{s}");
    // A STATS answer counts the requests before it, not itself (6 bytes each).
    assert_eq!(s["totals"]["bytes_in"], 6 + 4 + 4 + 6 * (asked - 1), "12345\\n, half, abc\\n, STATS…: {s}");
    assert!(s.get("connections").is_none(), "STATS gives aggregates only: {s}");
}

#[test]
fn idle_connections_are_closed_with_a_word() {
    for mode in ["pool", "events"] {
        let srv = Server::start(&["--mode", mode, "--idle-timeout-ms", "300"]);
        let mut idle = srv.client();
        assert_eq!(idle.line(), "BYE idle for 300 ms; closing the connection\n", "{mode}");
        assert!(idle.closed_by_server(), "{mode}");
    }
}

#[test]
fn a_panicking_handler_does_not_take_the_server_down() {
    for mode in ["threads", "pool", "events"] {
        // One worker: if the panic killed it, the pool would serve no one after.
        let srv = Server::start(&["--mode", mode, "--workers", "1", "--panic-on-line", "BOOM"]);
        let mut victim = srv.client();
        victim.send(b"BOOM\n");
        assert!(victim.closed_by_server(), "{mode}");
        let mut next = srv.client();
        assert_eq!(next.round_trip(b"alive\n"), b"alive\n", "{mode}");
        assert_eq!(next.stats()["totals"]["closed"], 1, "{mode}");
    }
}

#[test]
fn the_pizza_service_takes_orders_into_a_shared_book() {
    let srv = Server::start(&["--service", "pizza"]);
    let mut c = srv.client();
    c.send(b"3\n");
    assert_eq!(c.line(), "Thank you for ordering 3 pizzas!\n");
    c.send(b"three\n");
    assert_eq!(c.line(), "Wrong number of pizzas, please try again\n");
    let mut d = srv.client();
    d.send(b"2\n");
    assert_eq!(d.line(), "Thank you for ordering 2 pizzas!\n");
    let s = d.stats();
    assert_eq!((s["totals"]["orders"].as_u64(), s["totals"]["pizzas"].as_u64()), (Some(2), Some(5)), "{s}");
}

#[test]
fn sigint_finishes_the_line_in_progress_then_exits_with_the_final_books() {
    for mode in MODES {
        let srv = Server::start(&["--mode", mode]);
        let mut c = srv.client();
        assert_eq!(c.round_trip(b"first\n"), b"first\n");
        c.send(b"second, sent in ");
        let mut srv = srv;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(srv.child.id() as i32), nix::sys::signal::SIGINT).unwrap();
        // The server says when it has taken the signal; only then is the line finished.
        let mut said = String::new();
        srv.stderr.read_line(&mut said).unwrap();
        assert!(said.contains("finishing the lines in progress"), "{mode}: {said}");
        c.send(b"two parts\n");
        let mut back = vec![0; 26];
        c.s.read_exact(&mut back).unwrap_or_else(|e| panic!("{mode}: the line in progress was lost: {e}"));
        assert_eq!(back, b"second, sent in two parts\n", "{mode}");
        assert!(c.closed_by_server(), "{mode}");
        let (code, rest) = srv.interrupt();
        assert_eq!(code, 0, "{mode}: {rest}");
        let fin = rest.lines().find_map(|l| l.strip_prefix("final stats: ")).expect("final stats are printed");
        let fin: serde_json::Value = serde_json::from_str(fin).unwrap();
        assert_eq!(fin["live"], 0, "{mode}: {fin}");
        if mode == "processes" {
            // The parent cannot see its children's lines: it says so, and counts what it saw.
            assert_eq!(fin["totals"]["closed"], 1, "{mode}: {fin}");
            assert!(fin["note"].as_str().unwrap().contains("IPC"), "{mode}: {fin}");
        } else {
            assert_eq!(fin["totals"]["lines"], 2, "{mode}: {fin}");
        }
    }
}

#[test]
fn the_load_generator_verifies_every_byte_with_stalled_clients_around() {
    let srv = Server::start(&["--mode", "pool", "--workers", "4"]);
    let out = Command::new(env!("CARGO_BIN_EXE_conclab"))
        .args(["load", "--addr", &srv.addr, "--clients", "3", "--lines", "200", "--stalled", "1", "--json"])
        .args(["--server-pid", &srv.child.id().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["lines_sent", "lines_verified", "errors", "lines_per_s", "p50_us", "p99_us", "max_us", "server_cpu_s"] {
        assert!(r.get(key).is_some(), "{key} missing: {r}");
    }
    assert_eq!(r["lines_sent"], 600, "{r}");
    assert_eq!(r["lines_verified"], 600, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert!(r["server_cpu_us_per_line"].as_f64().is_some_and(|us| us >= 0.0), "{r}");
}

#[test]
fn bad_addresses_get_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_conclab")).args(["load", "--addr", "nowhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad address `nowhere`"));
    let out = Command::new(env!("CARGO_BIN_EXE_conclab")).args(["serve", "--addr", "256.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on 256.0.0.1:0"));
}

/// The children of `pid` with their state letter (`Z`: a zombie), from /proc.
fn children(pid: u32) -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            // /proc/<p>/stat: "pid (comm) state ppid …"; comm may hold spaces, so cut after ')'.
            let s = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let f: Vec<String> = s.rsplit_once(')')?.1.split_whitespace().map(String::from).collect();
            (f.len() > 1 && f[1] == pid.to_string()).then(|| (p, f[0].clone()))
        })
        .collect()
}

#[test]
fn processes_mode_reaps_its_children_and_says_what_its_books_cannot_see() {
    let srv = Server::start(&["--mode", "processes"]);
    for i in 0..3 {
        let mut c = srv.client();
        let l = format!("child {i}\n");
        assert_eq!(c.round_trip(l.as_bytes()), l.as_bytes());
    }
    let mut c = srv.client();
    let s = c.stats();
    assert!(s["note"].as_str().is_some_and(|n| n.contains("IPC")), "{s}");
    assert_eq!(s["live"], 1, "a child's books hold its own connection only: {s}");
    drop(c);
    // Wait until every child has exited and been reaped; an unreaped one stays behind as a
    // zombie. (A child seen as a zombie may be reaped a moment later: only PATIENCE ends the wait.)
    let start = Instant::now();
    let left = loop {
        let left = children(srv.child.id());
        if left.is_empty() || start.elapsed() > PATIENCE {
            break left;
        }
        std::thread::yield_now();
    };
    assert!(left.is_empty(), "children left behind: {left:?}");
}

#[test]
fn zero_timeouts_are_refused_at_parse_time() {
    for (cmd, flag) in [("serve", "--write-timeout-ms"), ("serve", "--idle-timeout-ms"), ("load", "--timeout-ms")] {
        // An address that cannot work either way: if the zero got past the parser, the command
        // still ends (with another message) instead of serving for ever.
        let addr = if cmd == "load" { "127.0.0.1:9" } else { "256.0.0.1:0" };
        let args = [cmd, flag, "0", "--addr", addr];
        let out = Command::new(env!("CARGO_BIN_EXE_conclab")).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd} {flag} 0: {err}");
        assert!(err.contains(flag) && err.contains("invalid value '0'"), "{cmd} {flag} 0: {err}");
    }
}

/// The server's peak resident memory (VmHWM), KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// Asks `STATS` until the server counts `live` open connections (they are accepted in order).
fn wait_live(c: &mut Client, live: u64) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let s = c.stats();
        if s["live"] == live {
            return s;
        }
        assert!(start.elapsed() < PATIENCE, "never {live} live connections: {s}");
    }
}

#[test]
fn pool_mode_is_not_stalled_by_silent_clients_and_busy_is_immediate() {
    // Two workers, two queue slots each: the old pool gave each silent client a worker (for the
    // 60 s idle timeout), and the acceptor then waited in the queue, answering no one.
    let srv = Server::start(&["--mode", "pool", "--workers", "2", "--queue-slots", "2", "--max-conns", "12"]);
    let silent: Vec<Client> = (0..11).map(|_| srv.client()).collect();
    let start = Instant::now();
    let mut fresh = srv.client();
    assert_eq!(fresh.round_trip(b"fresh\n"), b"fresh\n");
    assert!(start.elapsed() < Duration::from_secs(5), "answered after {:?}", start.elapsed());
    wait_live(&mut fresh, 12);
    // Full: the next one hears BUSY at once, and is closed.
    let start = Instant::now();
    let mut over = srv.client();
    assert_eq!(over.line(), "BUSY server full (12 connections); try again later\n");
    assert!(over.closed_by_server());
    assert!(start.elapsed() < Duration::from_secs(5), "BUSY after {:?}", start.elapsed());
    // And the silent ones are still open and served once they speak.
    for (i, mut c) in silent.into_iter().enumerate() {
        let l = format!("silent {i} speaks\n");
        assert_eq!(c.round_trip(l.as_bytes()), l.as_bytes());
    }
}

#[test]
fn stats_is_small_and_a_pipelined_flood_of_it_keeps_memory_bounded() {
    for mode in ["threads", "pool", "events"] {
        let srv = Server::start(&["--mode", mode]);
        let _idle: Vec<Client> = (0..300).map(|_| srv.client()).collect();
        let mut asker = srv.client();
        let s = wait_live(&mut asker, 301);
        let one = serde_json::to_string(&s).unwrap();
        assert!(one.len() < 1024 && !one.contains("peer"), "{mode}: STATS is not an aggregate: {:.300}…", one);
        let before = peak_kib(srv.child.id());
        // 64 KiB of STATS requests in one write, and the replies read only afterwards.
        let requests = 64 * 1024 / 6;
        let flood = b"STATS\n".repeat(requests);
        let mut writer = asker.s.try_clone().unwrap();
        let sender = std::thread::spawn(move || writer.write_all(&flood));
        let first = asker.line();
        assert!(first.starts_with('{'), "{mode}: {first}");
        let grown = peak_kib(srv.child.id()).saturating_sub(before);
        assert!(grown < 16 * 1024, "{mode}: the server grew by {grown} KiB answering a STATS flood");
        // Every request is answered, once.
        let mut rest = BufReader::new(&asker.s);
        for _ in 1..requests {
            let mut l = String::new();
            rest.read_line(&mut l).unwrap();
            assert!(l.starts_with('{') && l.ends_with("}\n"), "{mode}: {l}");
        }
        sender.join().unwrap().unwrap();
    }
}

#[test]
fn clients_that_never_read_cost_a_bounded_buffer_each() {
    for mode in ["pool", "events"] {
        let srv = Server::start(&["--mode", mode, "--write-timeout-ms", "60000"]);
        let mut probe = srv.client();
        wait_live(&mut probe, 1);
        let before = peak_kib(srv.child.id());
        let hogs: Vec<_> = (0..20)
            .map(|_| {
                let hog = srv.client();
                std::thread::spawn(move || {
                    // Writes until the server stops reading (a write makes no progress for 1 s).
                    hog.s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
                    let chunk = [b'x'; 1023].iter().copied().chain([b'\n']).collect::<Vec<u8>>();
                    let start = Instant::now();
                    while start.elapsed() < PATIENCE {
                        if (&hog.s).write_all(&chunk).is_err() {
                            return (hog, true);
                        }
                    }
                    (hog, false)
                })
            })
            .collect();
        let hogs: Vec<(Client, bool)> = hogs.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(hogs.iter().all(|h| h.1), "{mode}: the server kept reading from clients that never read");
        let grown = peak_kib(srv.child.id()).saturating_sub(before);
        assert!(grown < 8 * 1024, "{mode}: 20 clients that never read cost the server {grown} KiB");
        assert_eq!(probe.round_trip(b"still here\n"), b"still here\n", "{mode}");
    }
}

#[test]
fn the_listen_backlog_holds_a_burst_of_connects() {
    let srv = Server::start(&["--mode", "threads"]);
    let pid = nix::unistd::Pid::from_raw(srv.child.id() as i32);
    // A stopped server accepts nothing: every connect below waits in the kernel's queue.
    nix::sys::signal::kill(pid, nix::sys::signal::SIGSTOP).unwrap();
    let addr: std::net::SocketAddr = srv.addr.parse().unwrap();
    let mut held = Vec::new();
    let mut failed = None;
    for i in 0..400 {
        // Past a full backlog the SYN is dropped and retried after 1 s, then 3 s.
        match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
            Ok(s) => held.push(s),
            Err(e) => {
                failed = Some(format!("connect {i}: {e}"));
                break;
            }
        }
    }
    nix::sys::signal::kill(pid, nix::sys::signal::SIGCONT).unwrap();
    assert_eq!(failed, None, "the listen backlog is too short");
    let mut c = srv.client();
    assert_eq!(c.round_trip(b"after the burst\n"), b"after the burst\n");
}

#[test]
fn pizza_totals_do_not_wrap() {
    let srv = Server::start(&["--service", "pizza"]);
    let mut c = srv.client();
    c.send(format!("{}\n", u64::MAX).as_bytes());
    assert_eq!(c.line(), format!("Thank you for ordering {} pizzas!\n", u64::MAX));
    c.send(b"2\n");
    let refused = c.line();
    assert!(
        refused.starts_with("ERROR the order book is full") && refused.contains("order of 2 not taken"),
        "{refused}"
    );
    let s = c.stats();
    assert_eq!((s["totals"]["orders"].as_u64(), s["totals"]["pizzas"].as_u64()), (Some(1), Some(u64::MAX)), "{s}");
}

#[test]
fn processes_mode_signals_only_children_it_has_not_reaped() {
    // The bug needs a reused PID; the kernel hands out `ns_last_pid + 1` next, so the test can
    // give a reaped child's PID to a bystander. That takes CAP_SYS_ADMIN (root here).
    const NS_LAST_PID: &str = "/proc/sys/kernel/ns_last_pid";
    if std::fs::OpenOptions::new().write(true).open(NS_LAST_PID).is_err() {
        eprintln!("skipped: {NS_LAST_PID} is not writable (needs root)");
        return;
    }
    let srv = Server::start(&["--mode", "processes"]);
    let mut c = srv.client();
    assert_eq!(c.round_trip(b"one child\n"), b"one child\n");
    let kids = children(srv.child.id());
    assert_eq!(kids.len(), 1, "{kids:?}");
    let reaped = kids[0].0;
    drop(c);
    let start = Instant::now();
    while !children(srv.child.id()).is_empty() {
        assert!(start.elapsed() < PATIENCE, "the child was never reaped");
        std::thread::yield_now();
    }
    // The reaped child's PID goes to an unrelated process (other processes may take it first:
    // try again, boundedly).
    let mut bystander = None;
    for _ in 0..200 {
        std::fs::write(NS_LAST_PID, (reaped - 1).to_string()).unwrap();
        let p = Command::new("sleep").arg("60").spawn().unwrap();
        if p.id() == reaped {
            bystander = Some(p);
            break;
        }
        let mut p = p;
        let _ = p.kill();
        let _ = p.wait();
    }
    let mut bystander = bystander.expect("the reaped PID could be given to a bystander");
    let (code, rest) = srv.interrupt();
    assert_eq!(code, 0, "{rest}");
    // Any signal the server sent is delivered or pending by the time it has exited.
    let status = std::fs::read_to_string(format!("/proc/{reaped}/status")).unwrap();
    let field = |k: &str| status.lines().find_map(|l| l.strip_prefix(k)).unwrap_or("?").trim().to_string();
    let untouched = bystander.try_wait().unwrap().is_none()
        && !field("State:").starts_with(['Z', 'X'])
        && field("SigPnd:").trim_start_matches('0').is_empty()
        && field("ShdPnd:").trim_start_matches('0').is_empty();
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert!(untouched, "the server signalled PID {reaped}, reaped earlier and now an unrelated process: {status}");
}

#[test]
fn a_half_closed_client_gets_every_echo_then_the_close() {
    for mode in CONCURRENT {
        let srv = Server::start(&["--mode", mode]);
        let mut c = srv.client();
        assert_eq!(c.round_trip(b"first\n"), b"first\n", "{mode}");
        // Stopped, the server sees the lines and the FIN arrive together when it resumes.
        let pid = nix::unistd::Pid::from_raw(srv.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::SIGSTOP).unwrap();
        c.send(b"one\ntwo\nthree\n");
        c.s.shutdown(std::net::Shutdown::Write).unwrap();
        nix::sys::signal::kill(pid, nix::sys::signal::SIGCONT).unwrap();
        assert_eq!(c.read_exact(14), b"one\ntwo\nthree\n", "{mode}");
        let mut rest = Vec::new();
        c.s.read_to_end(&mut rest).unwrap_or_else(|e| panic!("{mode}: no close after the echoes: {e}"));
        assert!(rest.is_empty(), "{mode}: {rest:?}");
    }
}
