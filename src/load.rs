//! `conclab load`: a closed-loop load generator for the echo server. Each client sends a line,
//! waits for it to come back, checks it byte for byte, and sends the next; stalled clients open
//! a line and never finish it. Reports throughput and latency percentiles.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam::channel;
use serde::Serialize;

/// What to send.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server.
    pub addr: String,
    /// Active clients, each on its own connection and thread.
    pub clients: usize,
    /// Lines each active client sends.
    pub lines: usize,
    /// Bytes per line, newline included (at least 16).
    pub line_bytes: usize,
    /// Extra clients that send half a line and then stall until the run ends.
    pub stalled: usize,
    /// A reply that takes longer than this is an error (the client stops).
    pub timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            addr: String::new(),
            clients: 16,
            lines: 1000,
            line_bytes: 64,
            stalled: 0,
            timeout: Duration::from_secs(10),
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// Lines written by the active clients.
    pub lines_sent: u64,
    /// Lines that came back exactly, in order.
    pub lines_verified: u64,
    /// Clients that hit an error (refused, closed early, wrong bytes, timeout).
    pub errors: u64,
    /// Verified lines per second over the whole run.
    pub lines_per_s: f64,
    /// Median round trip of a line, µs.
    pub p50_us: u64,
    /// 99th percentile round trip, µs.
    pub p99_us: u64,
    /// Slowest round trip, µs.
    pub max_us: u64,
    /// Wall time of the run, ms.
    pub elapsed_ms: u64,
    /// The first few errors, in words.
    pub error_messages: Vec<String>,
}

/// The bytes of line `n` of client `c`: unique, so a line echoed out of order or twice shows.
fn line(c: usize, n: usize, len: usize) -> Vec<u8> {
    let head = format!("c{c} l{n} ");
    let mut v: Vec<u8> = head.bytes().chain((0..).map(|i| b'a' + ((c + n + i) % 26) as u8)).take(len - 1).collect();
    v.push(b'\n');
    v
}

struct ClientResult {
    sent: u64,
    verified: u64,
    latencies_us: Vec<u64>,
    error: Option<String>,
}

fn run_client(addr: SocketAddr, c: usize, cfg: &LoadConfig, done: &AtomicU64) -> ClientResult {
    let mut r = ClientResult { sent: 0, verified: 0, latencies_us: Vec::with_capacity(cfg.lines), error: None };
    let result = (|| -> Result<()> {
        let mut s = TcpStream::connect_timeout(&addr, cfg.timeout).context("connect")?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(cfg.timeout))?;
        let mut back = vec![0u8; cfg.line_bytes];
        for n in 0..cfg.lines {
            let l = line(c, n, cfg.line_bytes);
            let t = Instant::now();
            s.write_all(&l).with_context(|| format!("line {n}: write"))?;
            r.sent += 1;
            let mut got = 0;
            while got < back.len() {
                match s.read(&mut back[got..]).with_context(|| format!("line {n}: read"))? {
                    0 => anyhow::bail!(
                        "line {n}: the server closed the connection ({:?})",
                        String::from_utf8_lossy(&back[..got])
                    ),
                    k => got += k,
                }
            }
            if back != l {
                anyhow::bail!(
                    "line {n}: sent {:?}, got back {:?}",
                    String::from_utf8_lossy(&l),
                    String::from_utf8_lossy(&back)
                );
            }
            r.latencies_us.push(t.elapsed().as_micros() as u64);
            r.verified += 1;
            done.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    })();
    r.error = result.err().map(|e| format!("client {c}: {e:#}"));
    r
}

/// Runs the load; `progress` shows a bar (on a terminal).
pub fn run(cfg: &LoadConfig, progress: bool) -> Result<LoadReport> {
    anyhow::ensure!(cfg.line_bytes >= 16, "--line-bytes must be at least 16 (got {})", cfg.line_bytes);
    anyhow::ensure!(cfg.clients >= 1, "--clients must be at least 1");
    let addr = cfg
        .addr
        .to_socket_addrs()
        .with_context(|| format!("bad address `{}`", cfg.addr))?
        .next()
        .with_context(|| format!("`{}` resolves to no address", cfg.addr))?;
    // Stalled clients first: they hold their half line for the whole run.
    let mut stalled = Vec::new();
    for k in 0..cfg.stalled {
        let mut s = TcpStream::connect_timeout(&addr, cfg.timeout).with_context(|| format!("stalled client {k}"))?;
        s.write_all(b"a line that never ends")?;
        stalled.push(s);
    }
    let done = Arc::new(AtomicU64::new(0));
    let total = (cfg.clients * cfg.lines) as u64;
    let start = Instant::now();
    let (finished_tx, finished_rx) = channel::unbounded::<ClientResult>();
    let handles: Vec<_> = (0..cfg.clients)
        .map(|c| {
            let (cfg, done, tx) = (cfg.clone(), done.clone(), finished_tx.clone());
            std::thread::Builder::new()
                .name(format!("client-{c}"))
                .spawn(move || {
                    let _ = tx.send(run_client(addr, c, &cfg, &done));
                })
                .context("cannot start a client thread")
        })
        .collect::<Result<_>>()?;
    drop(finished_tx);
    // The reporter waits on two things at once — a client finishing, or the next progress tick —
    // which is what crossbeam's `select!` is for.
    let bar = progress.then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} lines  {per_sec}  {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let ticks = channel::tick(Duration::from_millis(100));
    let mut results = Vec::new();
    while results.len() < cfg.clients {
        channel::select! {
            recv(finished_rx) -> r => match r {
                Ok(r) => results.push(r),
                Err(_) => break,
            },
            recv(ticks) -> _ => if let Some(b) = &bar { b.set_position(done.load(Ordering::Relaxed)) },
        }
    }
    for h in handles {
        let _ = h.join();
    }
    let elapsed = start.elapsed();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    drop(stalled);
    let mut lat: Vec<u64> = results.iter().flat_map(|r| r.latencies_us.iter().copied()).collect();
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0);
    let verified: u64 = results.iter().map(|r| r.verified).sum();
    let errors: Vec<String> = results.iter().filter_map(|r| r.error.clone()).collect();
    Ok(LoadReport {
        lines_sent: results.iter().map(|r| r.sent).sum(),
        lines_verified: verified,
        errors: errors.len() as u64,
        lines_per_s: verified as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        max_us: lat.last().copied().unwrap_or(0),
        elapsed_ms: elapsed.as_millis() as u64,
        error_messages: errors.into_iter().take(5).collect(),
    })
}

impl LoadReport {
    /// The report for people.
    pub fn render(&self) -> String {
        let mut s = format!(
            "lines sent {}, verified {}, errors {}\nthroughput {:.0} lines/s over {} ms\nround trip p50 {} µs, p99 {} µs, max {} µs\n",
            self.lines_sent,
            self.lines_verified,
            self.errors,
            self.lines_per_s,
            self.elapsed_ms,
            self.p50_us,
            self.p99_us,
            self.max_us
        );
        for e in &self.error_messages {
            s.push_str(&format!("error: {e}\n"));
        }
        s
    }
}
