//! `conclab load`: a closed-loop load generator for the echo server. Each client sends a line,
//! waits for it to come back, checks it byte for byte, and sends the next; stalled clients open
//! a line and never finish it. Reports throughput, latency percentiles and, given the server's
//! PID, the server's CPU time per line (from /proc).

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

/// What to send.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server.
    pub addr: String,
    /// Active clients, each on its own connection (tasks of one tokio worker thread).
    pub clients: usize,
    /// Lines each active client sends.
    pub lines: usize,
    /// Bytes per line, newline included (at least 16).
    pub line_bytes: usize,
    /// Extra clients that send half a line and then stall until the run ends.
    pub stalled: usize,
    /// A reply that takes longer than this is an error (the client stops).
    pub timeout: Duration,
    /// The server's process, to measure its CPU time over the run (Linux).
    pub server_pid: Option<u32>,
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
            server_pid: None,
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
    /// Wall time of the run, ms (from every client connected to the last verified line).
    pub elapsed_ms: u64,
    /// The server's CPU time over the run (user + system), s (with a server PID, on Linux).
    pub server_cpu_s: Option<f64>,
    /// The server's CPU time per verified line, µs.
    pub server_cpu_us_per_line: Option<f64>,
    /// This load generator's CPU time per verified line, µs (the client's share of the cores).
    pub client_cpu_us_per_line: Option<f64>,
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

/// Server CPU seconds (user + system, its reaped children included) from /proc, Linux only.
pub fn process_cpu_s(pid: u32) -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid …": comm may hold spaces, so cut after the last ')'.
        let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime, stime, cutime, cstime are fields 14-17 (1-based): 11-14 after the comm.
        let ticks: f64 = f.get(11..15)?.iter().filter_map(|v| v.parse::<f64>().ok()).sum();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        Some(ticks / hz.max(1.0))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// CPU seconds used by this process so far (all threads).
fn own_cpu_s() -> Option<f64> {
    process_cpu_s(std::process::id())
}

/// What one client did.
#[derive(Default)]
struct ClientResult {
    sent: u64,
    latencies_us: Vec<u64>,
    error: Option<String>,
    /// When its last line was verified.
    last: Option<Instant>,
}

/// One client: connect (then wait for `go`), send each line, wait for its echo, check it.
async fn client(c: usize, addr: std::net::SocketAddr, cfg: &LoadConfig, go: &tokio::sync::Barrier) -> ClientResult {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut r = ClientResult { latencies_us: Vec::with_capacity(cfg.lines), ..ClientResult::default() };
    let result = async {
        let connected = tokio::time::timeout(cfg.timeout, tokio::net::TcpStream::connect(addr)).await;
        // Every client waits here, connected or not, so that the clock starts with all of them.
        go.wait().await;
        let s = connected.map_err(|_| anyhow::anyhow!("connect: timed out"))?.context("connect")?;
        s.set_nodelay(true)?;
        // As echoprobe reads: a buffered reader, one line at a time.
        let (rd, mut wr) = s.into_split();
        let mut rd = tokio::io::BufReader::with_capacity(64 * 1024, rd);
        let mut back = Vec::with_capacity(cfg.line_bytes + 1);
        for n in 0..cfg.lines {
            let l = line(c, n, cfg.line_bytes);
            let t = Instant::now();
            wr.write_all(&l).await.with_context(|| format!("line {n}: write"))?;
            r.sent += 1;
            back.clear();
            match tokio::time::timeout(cfg.timeout, rd.read_until(b'\n', &mut back)).await {
                Err(_) => anyhow::bail!("line {n}: no reply within {:?}", cfg.timeout),
                Ok(Ok(0)) => anyhow::bail!("line {n}: the server closed the connection"),
                Ok(e) => e.with_context(|| format!("line {n}: read"))?,
            };
            if back != l {
                anyhow::bail!(
                    "line {n}: sent {:?}, got back {:?}",
                    String::from_utf8_lossy(&l),
                    String::from_utf8_lossy(&back)
                );
            }
            let now = Instant::now();
            r.latencies_us.push(now.duration_since(t).as_micros() as u64);
            r.last = Some(now);
        }
        Ok(())
    }
    .await;
    r.error = result.err().map(|e: anyhow::Error| format!("client {c}: {e:#}"));
    r
}

/// Runs the load; `progress` shows a bar (on a terminal).
///
/// Every client is a task on a tokio runtime with one worker thread, reading its echoes line by
/// line through a buffered reader, as in the independent generator `echoprobe load` (one
/// tokio worker by default). Its earlier thread per client disagreed
/// with echoprobe by 25-35%, in opposite directions for different servers: on a 2-core
/// machine, client and server share the cores, and the client's own cost per line (a thread
/// wakeup per line there) shapes the throughput. Same client design, same cost: compare the
/// servers' CPU per line as well (`--server-pid`). The clock starts once every client is
/// connected and stops at the last verified line.
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
    // One worker thread, the caller's thread waiting: echoprobe's default runtime.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the clients")?;
    let go = std::sync::Arc::new(tokio::sync::Barrier::new(cfg.clients + 1));
    let bar = progress.then(|| {
        let b = indicatif::ProgressBar::new((cfg.clients * cfg.lines) as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} lines  {per_sec}  {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let (results, start, server_cpu, client_cpu) = rt.block_on(async {
        let tasks: Vec<_> = (0..cfg.clients)
            .map(|c| {
                let (cfg, go) = (cfg.clone(), go.clone());
                tokio::spawn(async move { client(c, addr, &cfg, &go).await })
            })
            .collect();
        // Every client connects (or fails to) and waits at the barrier; then the clock starts.
        go.wait().await;
        let server_cpu_before = cfg.server_pid.and_then(process_cpu_s);
        let client_cpu_before = own_cpu_s();
        let start = Instant::now();
        let mut results = Vec::with_capacity(tasks.len());
        for t in tasks {
            results
                .push(t.await.unwrap_or_else(|e| ClientResult { error: Some(format!("{e}")), ..Default::default() }));
            if let Some(b) = &bar {
                b.set_position(results.iter().map(|r: &ClientResult| r.latencies_us.len() as u64).sum());
            }
        }
        let server_cpu = cfg.server_pid.and_then(process_cpu_s).zip(server_cpu_before).map(|(a, b)| a - b);
        let client_cpu = own_cpu_s().zip(client_cpu_before).map(|(a, b)| a - b);
        (results, start, server_cpu, client_cpu)
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    drop(stalled);
    let end = results.iter().filter_map(|r| r.last).max().unwrap_or(start);
    let elapsed = end.saturating_duration_since(start);
    let mut lat: Vec<u64> = results.iter().flat_map(|r| r.latencies_us.iter().copied()).collect();
    lat.sort_unstable();
    let verified = lat.len() as u64;
    let pct = |p: f64| lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0);
    let per_line = |cpu: Option<f64>| cpu.filter(|_| verified > 0).map(|s| s * 1e6 / verified as f64);
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
        server_cpu_s: server_cpu,
        server_cpu_us_per_line: per_line(server_cpu),
        client_cpu_us_per_line: per_line(client_cpu),
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
        if let Some(us) = self.server_cpu_us_per_line {
            s.push_str(&format!("server CPU {us:.2} µs per line\n"));
        }
        for e in &self.error_messages {
            s.push_str(&format!("error: {e}\n"));
        }
        s
    }
}
