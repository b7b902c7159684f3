//! `conclab serve`: the thread-based line echo server of CS:APP chapter 12, built to survive
//! hostile clients, whose shared state is the catalog's own fixed code (`bounded-buffer`,
//! `server-stats`) on real threads.
//!
//! Modes: `iterative` (one connection at a time: the baseline that shows the flaw), `threads`
//! (a thread per connection, `echoservert`), `pool` (prethreaded workers fed by the bounded
//! buffer, `echoservert_pre`); and, to be measured against them, `processes` (a forked child per
//! connection, `echoserverp`) and `events` (one thread, a readiness loop, `echoservers`).

mod events;
#[cfg(target_os = "linux")]
mod processes;
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

pub use crate::catalog::scenarios::bounded_buffer::BoundedBuffer;
pub use crate::catalog::scenarios::server_stats::{Books, ConnStats, Snapshot, Stats, Totals};
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
    /// A forked child process per connection (Unix); children are reaped on SIGCHLD.
    Processes,
    /// One thread, non-blocking sockets and a readiness loop (mio), a buffer per connection.
    Events,
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
pub(crate) const TICK: Duration = Duration::from_millis(50);

/// What every connection handler shares.
struct Shared {
    config: Config,
    stats: Stats,
    /// Set once (by [`StopHandle::stop`] or a SIGINT/SIGTERM): stop accepting, finish lines in
    /// progress, close.
    stopping: Arc<AtomicBool>,
    /// When the stop was first noticed (the grace period starts there).
    stop_at: parking_lot::Mutex<Option<Instant>>,
    /// Whether the stop has been announced on stderr.
    announced: AtomicBool,
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
    /// Totals and live connections ([`books_json`] of the books' snapshot).
    #[serde(flatten)]
    pub books: serde_json::Value,
    /// What these books cannot see (in `processes` mode: the other connections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Shared {
    fn report(&self) -> StatsReport {
        StatsReport {
            mode: self.config.mode,
            service: self.config.service,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            queued: self.queue.as_ref().map_or(0, |q| q.len()),
            books: books_json(&self.stats.snapshot()),
            note: (self.config.mode == Mode::Processes).then(|| PROCESSES_NOTE.to_string()),
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Whether the stop was noticed more than the grace period ago (the first caller after a
    /// stop request starts the period).
    fn grace_over(&self) -> bool {
        self.stopping() && self.stop_at.lock().get_or_insert_with(Instant::now).elapsed() >= self.config.grace
    }

    /// Called by the accepting loop on every tick: notices a stop request, says so once, and
    /// starts the grace period. Returns whether the server is stopping.
    fn notice_stop(&self) -> bool {
        if !self.stopping() {
            return false;
        }
        self.grace_over();
        if !self.announced.swap(true, Ordering::SeqCst) {
            eprintln!("conclab serve: stop requested: no new connections; finishing the lines in progress");
        }
        true
    }
}

/// The books as JSON: `totals`, `live` and `connections`. (Written out here so that the
/// scenario file, which a student gets as plain Rust, carries no serialisation attributes.)
pub fn books_json(s: &Snapshot) -> serde_json::Value {
    let t = &s.totals;
    serde_json::json!({
        "totals": {
            "accepted": t.accepted, "refused": t.refused, "closed": t.closed,
            "bytes_in": t.bytes_in, "bytes_out": t.bytes_out, "lines": t.lines,
            "orders": t.orders, "pizzas": t.pizzas,
        },
        "live": s.live,
        "connections": s.connections.iter().map(|c| serde_json::json!({
            "id": c.id, "peer": c.peer, "bytes_in": c.bytes_in, "bytes_out": c.bytes_out, "lines": c.lines,
        })).collect::<Vec<_>>(),
    })
}

/// What the books of `processes` mode cannot count.
const PROCESSES_NOTE: &str = "processes mode: each connection is served by its own process, so these books \
     cover one process only; server-wide byte and line counters would need IPC (shared memory or \
     pipes to the parent)";

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

/// Asks a running server to shut down gracefully, from any thread.
#[derive(Clone)]
pub struct StopHandle {
    flag: Arc<AtomicBool>,
}

impl StopHandle {
    /// Stops accepting; connections finish the line they are on, then close. The accepting
    /// loop looks at the flag at least every tick (50 ms).
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// The flag itself, for a signal handler to set (it is all a handler may safely do).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }
}

/// The listening socket in a readiness loop: accepting never blocks for more than a tick, so
/// the loop notices a stop request without any thread or connection to wake it.
struct Acceptor {
    listener: TcpListener,
    poll: mio::Poll,
    events: mio::Events,
}

impl Acceptor {
    fn new(listener: TcpListener) -> io::Result<Acceptor> {
        listener.set_nonblocking(true)?;
        let poll = mio::Poll::new()?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            poll.registry().register(
                &mut mio::unix::SourceFd(&listener.as_raw_fd()),
                mio::Token(0),
                mio::Interest::READABLE,
            )?;
        }
        Ok(Acceptor { listener, poll, events: mio::Events::with_capacity(16) })
    }

    /// Waits at most a tick; returns the connections accepted meanwhile (blocking sockets).
    fn accept_batch(&mut self) -> Vec<TcpStream> {
        let mut out = Vec::new();
        if let Err(e) = self.poll.poll(&mut self.events, Some(TICK)) {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("conclab serve: poll failed: {e}");
            }
            return out;
        }
        loop {
            match self.listener.accept() {
                Ok((s, _)) => match s.set_nonblocking(false) {
                    Ok(()) => out.push(s),
                    Err(e) => eprintln!("conclab serve: cannot set up a connection: {e}"),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A client that gave up before we accepted it, or no file descriptors left:
                // neither is a reason to stop serving the others.
                Err(e) => {
                    eprintln!("conclab serve: accept failed: {e}");
                    break;
                }
            }
        }
        out
    }
}

impl Server {
    /// Binds the listening socket.
    pub fn bind(config: Config) -> Result<Server> {
        let listener = TcpListener::bind(&config.addr).with_context(|| format!("cannot listen on {}", config.addr))?;
        // The catalog's code, its objects made for real threads (no check runs here).
        let (queue, stats) = crate::rt::dynamic::on_real_threads(|| {
            ((config.mode == Mode::Pool).then(|| BoundedBuffer::new(config.queue_slots.max(1))), Stats::new())
        });
        let shared = Arc::new(Shared {
            config,
            stats,
            stopping: Arc::new(AtomicBool::new(false)),
            stop_at: parking_lot::Mutex::new(None),
            announced: AtomicBool::new(false),
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
        StopHandle { flag: self.shared.stopping.clone() }
    }

    /// Serves until stopped; returns the final books once every connection has closed.
    pub fn run(self) -> Result<StatsReport> {
        let Server { listener, shared } = self;
        match shared.config.mode {
            Mode::Events => return events::run(listener, &shared),
            #[cfg(target_os = "linux")]
            Mode::Processes => return processes::run(listener, &shared),
            #[cfg(not(target_os = "linux"))]
            Mode::Processes => anyhow::bail!("`--mode processes` is built for Linux only"),
            Mode::Iterative | Mode::Threads | Mode::Pool => {}
        }
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
        let mut acceptor = Acceptor::new(listener).context("cannot watch the listening socket")?;
        while !shared.notice_stop() {
            for stream in acceptor.accept_batch() {
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
                        let spawned = std::thread::Builder::new()
                            .name(format!("conn-{id}"))
                            .spawn(move || handle(&s, stream, id));
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
                    Mode::Processes | Mode::Events => unreachable!("served above"),
                }
            }
        }
        // Stopped: no new connections (they are refused from now on); the open ones finish
        // their line and close.
        drop(acceptor);
        if let Some(q) = &shared.queue {
            workers.iter().for_each(|_| q.insert(None));
        }
        for h in handlers.into_iter().chain(workers) {
            let _ = h.join();
        }
        Ok(shared.report())
    }
}

/// The answer to a connection past the limit.
fn refuse_bytes(max: usize) -> Vec<u8> {
    format!("BUSY server full ({max} connections); try again later\n").into_bytes()
}

/// Answers a connection past the limit and closes it.
fn refuse(mut stream: TcpStream, max: usize) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(&refuse_bytes(max));
    let _ = stream.shutdown(Shutdown::Both);
}

/// The answer to `STATS`: the books as one JSON line.
fn stats_line(shared: &Shared) -> Vec<u8> {
    let mut line = serde_json::to_vec(&shared.report()).unwrap_or_default();
    line.push(b'\n');
    line
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
            let what = crate::runner::panic_text(&*p);
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
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(End::ClientClosed),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                // Nothing arrived for a tick. Stopping: a client between lines is done (what it
                // had sent before the stop has been served); one mid-line gets the grace period.
                if shared.notice_stop() && (!session.mid_line() || shared.grace_over()) {
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
        let out = session.feed(data, &mut || stats_line(shared));
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
        if shared.stopping() && shared.grace_over() {
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
    #[cfg(unix)]
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Only a flag: the accepting loop sees it within a tick. No thread is started, so
        // `processes` mode forks from a single-threaded parent.
        signal_hook::flag::register(sig, server.stop_handle().flag())?;
    }
    let report = server.run()?;
    writeln!(out, "final stats: {}", serde_json::to_string(&report)?)?;
    out.flush()?;
    Ok(())
}
