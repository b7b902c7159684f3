//! `conclab serve`: the thread-based line echo server of CS:APP chapter 12, built to survive
//! hostile clients, whose shared state is the catalog's own fixed code (`bounded-buffer`,
//! `server-stats`) on real threads.
//!
//! Modes: `iterative` (one connection at a time: the baseline that shows the flaw), `threads`
//! (a thread per connection, `echoservert`), `pool` (prethreaded workers fed by the bounded
//! buffer, `echoservert_pre`).

pub mod session;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

pub use crate::catalog::on_std::bounded_buffer::BoundedBuffer;
pub use crate::catalog::on_std::server_stats::{Books, ConnStats, Snapshot, Stats, Totals};
pub use session::{Service, Session};

/// How connections are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One connection at a time, on the accepting thread.
    Iterative,
    /// A new thread for every connection.
    Threads,
    /// A fixed pool of worker threads fed by a bounded queue of connections.
    Pool,
}

/// Everything `conclab serve` can be told.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: String,
    /// How connections are served.
    pub mode: Mode,
    /// Worker threads (`pool`).
    pub workers: usize,
    /// Connections open at once; one more is answered `BUSY` and closed.
    pub max_conns: usize,
    /// Slots of the connection queue between the acceptor and the workers (`pool`).
    pub queue_slots: usize,
    /// What each line gets back.
    pub service: Service,
    /// Longest line accepted, newline included.
    pub max_line: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// A client that does not read its replies for this long is disconnected.
    pub write_timeout: Duration,
    /// After a shutdown request, how long a connection in the middle of a line may take to
    /// finish it.
    pub grace: Duration,
    /// Testing aid: a line equal to this makes its handler panic (shows that one connection's
    /// panic does not take the server down).
    pub panic_on: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:0".into(),
            mode: Mode::Threads,
            workers: 8,
            max_conns: 1024,
            queue_slots: 16,
            service: Service::Echo,
            max_line: 64 * 1024,
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(5),
            panic_on: None,
        }
    }
}

/// How often a blocked read looks up to check for shutdown and idleness.
const TICK: Duration = Duration::from_millis(50);

/// What every connection handler shares.
struct Shared {
    config: Config,
    stats: Stats,
    /// Set once: stop accepting, finish lines in progress, close.
    stopping: AtomicBool,
    /// When the stop was requested (for the grace period).
    stop_at: parking_lot::Mutex<Option<Instant>>,
    started: Instant,
    /// `pool` mode's connection queue; `None` tells a worker to exit.
    queue: Option<BoundedBuffer<Option<(TcpStream, u64)>>>,
}

/// The books as a `STATS` request (and the final report) shows them.
#[derive(Clone, Debug, Serialize)]
pub struct StatsReport {
    /// The serving mode.
    pub mode: Mode,
    /// The service.
    pub service: Service,
    /// Milliseconds since the server started.
    pub uptime_ms: u64,
    /// Connections waiting in the queue for a worker (`pool`).
    pub queued: usize,
    /// Totals and live connections.
    #[serde(flatten)]
    pub books: Snapshot,
}

impl Shared {
    fn report(&self) -> StatsReport {
        StatsReport {
            mode: self.config.mode,
            service: self.config.service,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            queued: self.queue.as_ref().map_or(0, |q| q.len()),
            books: self.stats.snapshot(),
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

/// Asks a running server to shut down gracefully, from any thread.
#[derive(Clone)]
pub struct StopHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl StopHandle {
    /// Stops accepting; connections finish the line they are on, then close.
    pub fn stop(&self) {
        if !self.shared.stopping.swap(true, Ordering::SeqCst) {
            *self.shared.stop_at.lock() = Some(Instant::now());
        }
        // Wakes the acceptor out of `accept()`: it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

impl Server {
    /// Binds the listening socket.
    pub fn bind(config: Config) -> Result<Server> {
        let listener = TcpListener::bind(&config.addr).with_context(|| format!("cannot listen on {}", config.addr))?;
        let queue = (config.mode == Mode::Pool).then(|| BoundedBuffer::new(config.queue_slots.max(1)));
        let shared = Arc::new(Shared {
            config,
            stats: Stats::new(),
            stopping: AtomicBool::new(false),
            stop_at: parking_lot::Mutex::new(None),
            started: Instant::now(),
            queue,
        });
        Ok(Server { listener, shared })
    }

    /// The address it listens on (with the real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// A handle that stops the server.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle { shared: self.shared.clone(), addr: self.local_addr() }
    }

    /// Serves until stopped; returns the final books once every connection has closed.
    pub fn run(self) -> Result<StatsReport> {
        let Server { listener, shared } = self;
        let mut workers: Vec<JoinHandle<()>> = Vec::new();
        if shared.config.mode == Mode::Pool {
            for w in 0..shared.config.workers.max(1) {
                let s = shared.clone();
                workers.push(
                    std::thread::Builder::new()
                        .name(format!("worker-{}", w + 1))
                        .spawn(move || worker(&s))
                        .context("cannot start a worker thread")?,
                );
            }
        }
        let mut handlers: Vec<JoinHandle<()>> = Vec::new();
        for conn in listener.incoming() {
            if shared.stopping() {
                break;
            }
            let stream = match conn {
                Ok(s) => s,
                // A client that gave up before we accepted it, or no file descriptors left:
                // neither is a reason to stop serving the others.
                Err(e) => {
                    eprintln!("conclab serve: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
            let Some(id) = shared.stats.connect(peer, shared.config.max_conns) else {
                refuse(stream, shared.config.max_conns);
                continue;
            };
            match shared.config.mode {
                Mode::Iterative => handle(&shared, stream, id),
                Mode::Threads => {
                    handlers.retain(|h| !h.is_finished());
                    let s = shared.clone();
                    let spawned =
                        std::thread::Builder::new().name(format!("conn-{id}")).spawn(move || handle(&s, stream, id));
                    match spawned {
                        Ok(h) => handlers.push(h),
                        Err(e) => {
                            // The stream went down with the closure: the client sees the close.
                            eprintln!("conclab serve: cannot start a thread for connection {id}: {e}");
                            shared.stats.disconnect(id);
                        }
                    }
                }
                Mode::Pool => shared.queue.as_ref().expect("pool mode has a queue").insert(Some((stream, id))),
            }
        }
        // Stopped: no new connections (they are refused from now on); the open ones finish
        // their line and close.
        drop(listener);
        if let Some(q) = &shared.queue {
            workers.iter().for_each(|_| q.insert(None));
        }
        for h in handlers.into_iter().chain(workers) {
            let _ = h.join();
        }
        Ok(shared.report())
    }
}

/// Answers a connection past the limit and closes it.
fn refuse(mut stream: TcpStream, max: usize) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(format!("BUSY server full ({max} connections); try again later\n").as_bytes());
    let _ = stream.shutdown(Shutdown::Both);
}

/// A `pool` worker: serves connections from the queue until it takes a `None`.
fn worker(shared: &Shared) {
    let queue = shared.queue.as_ref().expect("pool mode has a queue");
    while let Some((stream, id)) = queue.remove() {
        handle(shared, stream, id);
    }
}

/// Serves one connection to its end, whatever happens in it; always leaves the books right.
fn handle(shared: &Shared, stream: TcpStream, id: u64) {
    let result = panic::catch_unwind(AssertUnwindSafe(|| serve(shared, &stream, id)));
    match result {
        Ok(Ok(_end)) => {}
        Ok(Err(_io)) => {}
        Err(p) => {
            let what = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("?");
            eprintln!("conclab serve: connection {id}'s handler panicked ({what}); the server goes on");
        }
    }
    // Off the books first: a client that sees its connection close finds it closed in STATS.
    shared.stats.disconnect(id);
    let _ = stream.shutdown(Shutdown::Both);
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    ClientClosed,
    LineTooLong,
    Idle,
    Shutdown,
}

fn serve(shared: &Shared, mut stream: &TcpStream, id: u64) -> io::Result<End> {
    let c = &shared.config;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(c.write_timeout))?;
    stream.set_nodelay(true)?;
    let mut session = Session::new(c.service, c.max_line);
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_heard = Instant::now();
    let grace_over = || shared.stop_at.lock().is_some_and(|t| t.elapsed() >= c.grace);
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(End::ClientClosed),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                // Nothing arrived for a tick. Stopping: a client between lines is done (what it
                // had sent before the stop has been served); one mid-line gets the grace period.
                if shared.stopping() && (!session.mid_line() || grace_over()) {
                    return Ok(End::Shutdown);
                }
                if last_heard.elapsed() >= c.idle_timeout {
                    let _ = stream.write_all(
                        format!("BYE idle for {} ms; closing the connection\n", c.idle_timeout.as_millis()).as_bytes(),
                    );
                    return Ok(End::Idle);
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        last_heard = Instant::now();
        let data = &buf[..n];
        if let Some(trigger) = &c.panic_on {
            if data.windows(trigger.len()).any(|w| w == &trigger[..]) {
                panic!("the test trigger line arrived");
            }
        }
        let out = session.feed(data, &mut || {
            let mut line = serde_json::to_vec(&shared.report()).unwrap_or_default();
            line.push(b'\n');
            line
        });
        // Counted before the reply goes out: once a client has its answer, STATS includes it.
        shared.stats.count(id, n as u64, out.reply.len() as u64, out.lines);
        for pizzas in out.pizzas {
            shared.stats.order(pizzas);
        }
        // A client that never reads fills its socket buffer; the write then times out and the
        // connection is dropped, so it cannot hold a thread for ever.
        stream.write_all(&out.reply)?;
        if out.close.is_some() {
            return Ok(End::LineTooLong);
        }
        if shared.stopping() && grace_over() {
            return Ok(End::Shutdown);
        }
    }
}

/// `conclab serve`: binds, prints `listening on <addr>`, serves until SIGINT or SIGTERM, then
/// prints the final books as one JSON line.
pub fn serve_main(config: Config, out: &mut dyn Write) -> Result<()> {
    let server = Server::bind(config)?;
    writeln!(out, "listening on {}", server.local_addr())?;
    out.flush()?;
    let stop = server.stop_handle();
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            if let Some(sig) = signals.forever().next() {
                eprintln!("conclab serve: signal {sig}: no new connections; finishing the lines in progress");
                stop.stop();
            }
        })?;
    }
    #[cfg(not(unix))]
    drop(stop);
    let report = server.run()?;
    writeln!(out, "final stats: {}", serde_json::to_string(&report)?)?;
    out.flush()?;
    Ok(())
}
