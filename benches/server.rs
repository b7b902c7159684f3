//! The measured case for concurrency: `cargo bench --bench server`.
//!
//! Every server runs as its own process on loopback (`conclab serve --mode …`, and a minimal
//! tokio echo server: this binary re-run as `tokio-peer`), loaded by the same generator
//! (`conclab::load`, in this process). Prints Markdown tables:
//! 1. all five modes and tokio at 1, 16 and 64 clients: throughput, p50/p99, the server's CPU
//!    time per line (from /proc: it depends much less on the client than throughput does, on a
//!    machine where client and server share the cores), peak memory;
//! 2. 63 active clients beside 1 stalled one: the active clients' throughput, kept or lost.
//!
//! Server and load share the machine's cores, as on a laptop; the numbers compare servers with
//! each other, not with a dedicated-hardware benchmark.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use conclab::load::{self, LoadConfig, LoadReport};

/// A server process, killed when dropped.
struct Running {
    child: Child,
    addr: String,
}

impl Running {
    fn start(program: &str, args: &[&str]) -> Running {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let addr = first.trim().strip_prefix("listening on ").expect("`listening on <addr>`").to_string();
        Running { child, addr }
    }

    /// Peak resident memory of the server process (VmHWM), in MiB.
    fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn conclab(mode: &str) -> Running {
    // Pool workers are readiness loops: one per core is what tokio's runtime uses too.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).to_string();
    Running::start(
        env!("CARGO_BIN_EXE_conclab"),
        &["serve", "--mode", mode, "--workers", &workers, "--max-conns", "4096", "--queue-slots", "64"],
    )
}

fn tokio_peer() -> Running {
    Running::start(std::env::current_exe().unwrap().to_str().unwrap(), &["tokio-peer"])
}

fn drive(srv: &Running, clients: usize, stalled: usize, timeout: Duration) -> LoadReport {
    let lines = (100_000 / clients).max(200);
    let (addr, server_pid) = (srv.addr.clone(), Some(srv.child.id()));
    let cfg = LoadConfig { addr, clients, lines, line_bytes: 64, stalled, timeout, server_pid };
    load::run(&cfg, false).expect("the load ran")
}

/// The minimal tokio echo server (tokio's own example, on a multi-threaded runtime).
fn run_tokio_peer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let _ = socket.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0; 16 * 1024];
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if socket.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("tokio-peer") {
        return run_tokio_peer();
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("## Echo servers side by side ({cpus} CPUs; 64-byte lines, closed loop, one line in flight per client)\n");
    println!("| server | clients | lines/s | p50 µs | p99 µs | max µs | errors | server CPU µs/line | peak RSS MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let servers = ["iterative", "threads", "pool", "processes", "events", "tokio"];
    let mut at64 = std::collections::HashMap::new();
    for name in servers {
        for clients in [1, 16, 64] {
            let srv = if name == "tokio" { tokio_peer() } else { conclab(name) };
            let r = drive(&srv, clients, 0, Duration::from_secs(30));
            let mem = srv.peak_mib();
            let note = if name == "processes" { " (parent only)" } else { "" };
            println!(
                "| {name} | {clients} | {:.0} | {} | {} | {} | {} | {:.2} | {mem:.1}{note} |",
                r.lines_per_s,
                r.p50_us,
                r.p99_us,
                r.max_us,
                r.errors,
                r.server_cpu_us_per_line.unwrap_or(f64::NAN)
            );
            if clients == 64 {
                at64.insert(name, r);
            }
        }
    }
    let tokio = &at64["tokio"];
    println!("\n**Against tokio at 64 clients** (target: ≥ 0.9× its throughput, ≤ 1.2× its server CPU per line):\n");
    for name in ["threads", "pool", "events"] {
        let r = &at64[name];
        let cpu = |r: &LoadReport| r.server_cpu_us_per_line.unwrap_or(f64::NAN);
        println!(
            "- {name}: {:.2}× tokio's throughput, {:.2}× its server CPU per line, {:.2}× its p99",
            r.lines_per_s / tokio.lines_per_s,
            cpu(r) / cpu(tokio),
            r.p99_us as f64 / tokio.p99_us.max(1) as f64
        );
    }

    println!("\n## One stalled client among 64 (63 active; the stalled one sent half a line first)\n");
    println!("| server | lines/s, 63 active alone | lines/s, beside 1 stalled | kept | errors |");
    println!("|---|---:|---:|---:|---:|");
    for name in ["iterative", "threads", "pool", "processes", "events"] {
        let alone = {
            let srv = conclab(name);
            drive(&srv, 63, 0, Duration::from_secs(30))
        };
        // Iterative: the stalled client holds the only server thread; 2 s is plenty to show it.
        let timeout = if name == "iterative" { Duration::from_secs(2) } else { Duration::from_secs(30) };
        let beside = {
            let srv = conclab(name);
            drive(&srv, 63, 1, timeout)
        };
        println!(
            "| {name} | {:.0} | {:.0} | {:.0}% | {} |",
            alone.lines_per_s,
            beside.lines_per_s,
            100.0 * beside.lines_per_s / alone.lines_per_s.max(1e-9),
            beside.errors
        );
    }
}
