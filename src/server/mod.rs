//! `conclab serve`: the thread-based line echo server of CS:APP chapter 12, built to survive
//! hostile clients, whose shared state is the catalog's own fixed code (`bounded-buffer`,
//! `server-stats`) on real threads.
//!
//! Modes: `iterative` (one connection at a time: the baseline that shows the flaw), `threads`
//! (a thread per connection, `echoservert`), `pool` (prethreaded workers fed by the bounded
//! buffer, `echoservert_pre`); and, to be measured against them, `processes` (a forked child per
//! connection, `echoserverp`) and `events` (one thread, a readiness loop, `echoservers`).
//!
//! **Pool design: no worker waits on one client.** CS:APP's prethreaded server gives a worker
//! a connection and lets it block in `read` until the client leaves, so `workers` silent
//! clients hold the whole pool, and the acceptor then blocks in the full queue, where neither
//! `BUSY` nor `--max-conns` can apply. Here each worker runs a readiness loop
//! (`events::Reactor`) over the connections it holds, with non-blocking sockets: a
//! silent client, a partial line or a client that never reads costs a little memory, never a
//! worker. The acceptor hands each new connection to a worker through that worker's queue (the
//! catalog's [`BoundedBuffer`], one producer and one consumer per queue, so a queue seen with
//! room is never waited on) and wakes it; if every queue stays full for [`QUEUE_WAIT`] (the
//! workers are behind), the client is answered `BUSY` at once, as it is past `--max-conns`.
//!
//! **Pool balance: packed, spread when saturated.** One loop serving many ready connections
//! per wakeup costs less per line than several loops each woken for a few (measured on two
//! CPUs: two loops dealt connections round robin made 5–7 times the context switches per line
//! of one, and reached 0.83× tokio's throughput at 16 clients; README has the figures). So
//! new connections go to the lowest-numbered worker that is not saturated ([`placement`]; a
//! burst of connects waits up to [`PREFER_WAIT`] for room in its queue rather than spilling);
//! each worker measures its thread's CPU time, and one that used [`HOT`] or more of a core
//! over a [`events::LOAD_WINDOW`], while the host left [`SPARE`] CPU idle, hands half of its
//! connections, whole (partial lines, unread input, unwritten replies, counts), to the least
//! loaded worker if that one is under [`COOL`] ([`hand_over`]): connections spread once one
//! loop cannot keep up and another CPU could help (as tokio's workers steal tasks; without an
//! idle CPU a second loop only adds wakeups).
//!
//! **Bounds against hostile clients.** Every mode serves a read's requests only while the
//! replies pending for that connection stay under [`events::OUT_LIMIT`] and stops reading from
//! a client that does not take its replies (dropped after `--write-timeout-ms`); `STATS` is an
//! aggregate (a few hundred bytes, no peer addresses), rendered once per batch of requests;
//! the listen backlog is [`BACKLOG`]; the pizza total refuses an order that would pass
//! `u64::MAX`.

mod events;
#[cfg(target_os = "linux")]
mod processes;
pub mod session;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

pub use crate::catalog::scenarios::bounded_buffer::BoundedBuffer;
pub use crate::catalog::scenarios::server_stats::{Books, ConnStats, Snapshot, Stats, Totals};
pub use session::{Desk, Service, Session};

/// How connections are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One connection at a time, on the accepting thread.
    Iterative,
    /// A new thread for every connection.
    Threads,
    /// A fixed pool of worker threads, each a readiness loop over the connections the acceptor
    /// hands it through its bounded queue.
    Pool,
    /// A forked child process per connection (Linux); the parent reaps its children itself and
    /// signals only those it has not reaped.
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
    /// Worker threads (`pool`), each a readiness loop over the connections it holds (packed on
    /// the first worker that is not saturated, spread when one is).
    pub workers: usize,
    /// Connections open at once; one more is answered `BUSY` and closed.
    pub max_conns: usize,
    /// Slots of each worker's queue of new connections (`pool`); when every worker's queue is
    /// full, a new connection is answered `BUSY` at once.
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
            workers: default_workers(),
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

/// `pool`'s workers by default: one per CPU, as tokio's runtime.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
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
    /// `pool` mode: each worker's queue of new connections (from the acceptor, the only
    /// producer, to that worker, the only consumer); `None` tells the worker to finish.
    queues: Vec<BoundedBuffer<Option<(TcpStream, u64)>>>,
    /// `pool` mode: each worker's load over its last [`events::LOAD_WINDOW`], in thousandths
    /// of a core (its thread's CPU time), written by the worker, read by the acceptor and the
    /// other workers to place and move connections.
    loads: Vec<AtomicU32>,
    /// `pool` mode: connections handed to each worker by a saturated one; `None` once that
    /// worker has finished (a worker then keeps what it meant to hand over).
    moves: Vec<parking_lot::Mutex<Option<Vec<events::Moved>>>>,
    /// The pizzas in the order book, counted here first so that the book's total never passes
    /// `u64::MAX` (an order that would is refused, visibly).
    pizzas: AtomicU64,
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
            queued: self.queues.iter().map(|q| q.len()).sum(),
            books: books_json(&self.stats.snapshot()),
            note: (self.config.mode == Mode::Processes).then(|| PROCESSES_NOTE.to_string()),
        }
    }

    /// Takes an order of `pizzas` into the books, unless the total would pass `u64::MAX`
    /// (`Err(total)`).
    fn take_order(&self, pizzas: u64) -> Result<(), u64> {
        self.pizzas.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| t.checked_add(pizzas))?;
        self.stats.order(pizzas);
        Ok(())
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

/// The books as JSON: `totals` and `live`, aggregates only: a `STATS` answer stays small
/// however many clients are connected, and tells no client who the others are. (Written out
/// here so that the scenario file, which a student gets as plain Rust, carries no
/// serialisation attributes.)
pub fn books_json(s: &Snapshot) -> serde_json::Value {
    let t = &s.totals;
    serde_json::json!({
        "totals": {
            "accepted": t.accepted, "refused": t.refused, "closed": t.closed,
            "bytes_in": t.bytes_in, "bytes_out": t.bytes_out, "lines": t.lines,
            "orders": t.orders, "pizzas": t.pizzas,
        },
        "live": s.live,
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
    fn accept_batch(&mut self) -> VecDeque<TcpStream> {
        let mut out = VecDeque::new();
        if let Err(e) = self.poll.poll(&mut self.events, Some(TICK)) {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("conclab serve: poll failed: {e}");
            }
            return out;
        }
        self.accept_pending(&mut out);
        out
    }

    /// Accepts every connection waiting in the backlog now, without waiting. Called again
    /// while a batch is being set up (a thread or a process each): under a burst of connects
    /// the kernel's queue is emptied as it fills, not only once per batch.
    fn accept_pending(&self, out: &mut VecDeque<TcpStream>) {
        loop {
            match self.listener.accept() {
                Ok((s, _)) => match s.set_nonblocking(false) {
                    Ok(()) => out.push_back(s),
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
    }
}

/// Listens on `addr` with a backlog of [`BACKLOG`] (std's `TcpListener::bind` asks for 128: a
/// burst of connects then waits on SYN retransmits).
fn listen(addr: &str) -> io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "the address resolves to nothing");
    for a in addr.to_socket_addrs()? {
        let socket = socket2::Socket::new(socket2::Domain::for_address(a), socket2::Type::STREAM, None)?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        match socket.bind(&a.into()).and_then(|()| socket.listen(BACKLOG)) {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// How long the `pool` acceptor waits for room in a worker's queue before it answers `BUSY`.
const QUEUE_WAIT: Duration = Duration::from_millis(100);

/// How long the `pool` acceptor waits for room with the worker it prefers (see [`placement`])
/// before it takes another with room.
const PREFER_WAIT: Duration = Duration::from_millis(10);

/// The listen backlog, as tokio's.
pub const BACKLOG: i32 = 1024;

impl Server {
    /// Binds the listening socket.
    pub fn bind(config: Config) -> Result<Server> {
        let listener = listen(&config.addr).with_context(|| format!("cannot listen on {}", config.addr))?;
        // The catalog's code, its objects made for real threads (no check runs here).
        let (queues, stats) = crate::rt::dynamic::on_real_threads(|| {
            let queues = match config.mode {
                Mode::Pool => {
                    (0..config.workers.max(1)).map(|_| BoundedBuffer::new(config.queue_slots.max(1))).collect()
                }
                _ => Vec::new(),
            };
            (queues, Stats::new())
        });
        let workers = queues.len();
        let shared = Arc::new(Shared {
            loads: (0..workers).map(|_| AtomicU32::new(0)).collect(),
            moves: (0..workers).map(|_| parking_lot::Mutex::new(Some(Vec::new()))).collect(),
            config,
            stats,
            stopping: Arc::new(AtomicBool::new(false)),
            stop_at: parking_lot::Mutex::new(None),
            announced: AtomicBool::new(false),
            started: Instant::now(),
            queues,
            pizzas: AtomicU64::new(0),
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
        let mut reactors = Vec::new();
        let mut wakers: Vec<mio::Waker> = Vec::new();
        for _ in 0..shared.queues.len() {
            let reactor = events::Reactor::new().context("cannot create a worker's readiness loop")?;
            wakers.push(mio::Waker::new(reactor.registry(), events::WAKER).context("cannot create a waker")?);
            reactors.push(reactor);
        }
        let wakers = Arc::new(wakers);
        let mut workers: Vec<JoinHandle<()>> = Vec::new();
        for (w, reactor) in reactors.into_iter().enumerate() {
            let (s, wk) = (shared.clone(), wakers.clone());
            workers.push(
                std::thread::Builder::new()
                    .name(format!("worker-{}", w + 1))
                    .spawn(move || worker(&s, reactor, w, &wk))
                    .context("cannot start a worker thread")?,
            );
        }
        let mut handlers: Vec<JoinHandle<()>> = Vec::new();
        let mut acceptor = Acceptor::new(listener).context("cannot watch the listening socket")?;
        let mut next_worker = 0;
        while !shared.notice_stop() {
            let mut batch = acceptor.accept_batch();
            let mut handled = 0usize;
            while let Some(stream) = batch.pop_front() {
                handled += 1;
                if handled % 16 == 0 {
                    acceptor.accept_pending(&mut batch);
                }
                let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
                if shared.config.mode == Mode::Pool {
                    offer(&shared, stream, peer, &mut next_worker, &wakers, || acceptor.accept_pending(&mut batch));
                    continue;
                }
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
                    Mode::Pool | Mode::Processes | Mode::Events => unreachable!("served above"),
                }
            }
        }
        // Stopped: no new connections (they are refused from now on); the open ones finish
        // their line and close.
        drop(acceptor);
        for (q, waker) in shared.queues.iter().zip(wakers.iter()) {
            q.insert(None);
            let _ = waker.wake();
        }
        for h in handlers.into_iter().chain(workers) {
            let _ = h.join();
        }
        Ok(shared.report())
    }
}

/// `pool`: hands a new connection to a worker's queue and wakes that worker, or, if every
/// queue stays full for [`QUEUE_WAIT`] (the workers are behind) or the server is at
/// `--max-conns`, answers `BUSY` and closes it (the books count a refusal). `meanwhile` runs
/// while the queues are full (the acceptor keeps the kernel's queue from overflowing). Returns
/// whether the connection was queued.
fn offer(
    shared: &Shared,
    stream: TcpStream,
    peer: String,
    next_worker: &mut usize,
    wakers: &[mio::Waker],
    mut meanwhile: impl FnMut(),
) -> bool {
    // The acceptor is each queue's only producer: a queue with room now still has room when
    // we insert, so this never waits.
    let n = shared.queues.len();
    let has_room = |w: usize| shared.queues[w].len() < shared.queues[w].capacity();
    // `placement`'s first worker only, or the first with room.
    let room = |first_only: bool| {
        let order = placement(&shared.loads, *next_worker);
        let take = if first_only { 1 } else { n };
        order.into_iter().take(take).find(|&w| has_room(w))
    };
    // A worker takes its new connections on its next turn (microseconds unless it is starved
    // of CPU): a burst of connects may find its queue full for a moment. For PREFER_WAIT the
    // acceptor waits for room with the worker `placement` prefers (a burst of connects stays
    // packed, instead of spilling onto every worker); then it takes any worker with room; past
    // QUEUE_WAIT the workers are behind, and the client is told.
    let waiting = Instant::now();
    let mut found = room(true);
    while found.is_none() && waiting.elapsed() < QUEUE_WAIT {
        meanwhile();
        std::thread::sleep(Duration::from_micros(200));
        found = room(waiting.elapsed() < PREFER_WAIT);
    }
    let Some(w) = found else {
        // Every worker is behind: say so at once.
        let _ = shared.stats.connect(peer, 0);
        refuse(stream, shared.config.max_conns);
        return false;
    };
    let Some(id) = shared.stats.connect(peer, shared.config.max_conns) else {
        refuse(stream, shared.config.max_conns);
        return false;
    };
    *next_worker = (w + 1) % n;
    shared.queues[w].insert(Some((stream, id)));
    if let Err(e) = wakers[w].wake() {
        eprintln!("conclab serve: cannot wake worker {}: {e}", w + 1);
    }
    true
}

/// The answer to a connection past the limit.
fn refuse_bytes(max: usize) -> Vec<u8> {
    format!("BUSY server full ({max} connections); try again later\n").into_bytes()
}

/// Answers a connection past the limit and closes it, without waiting for the client: the
/// answer fits in an empty socket buffer, and the accepting loop must not be held.
fn refuse(stream: TcpStream, max: usize) {
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write(&refuse_bytes(max));
    let _ = stream.shutdown(Shutdown::Both);
}

/// The answer to `STATS`: the books as one JSON line.
fn stats_line(shared: &Shared) -> Vec<u8> {
    let mut line = serde_json::to_vec(&shared.report()).unwrap_or_default();
    line.push(b'\n');
    line
}

/// One connection's counts not yet in the books. Connections count locally and add their
/// counts to the books (one lock) every few milliseconds, before they answer a `STATS`, and
/// when they close, instead of taking the books' lock for every line: another connection's
/// `STATS` may lag this one's traffic by up to [`FLUSH_EVERY`] (or a tick, when it is idle),
/// never its own.
#[derive(Default)]
pub(crate) struct Tally {
    bytes_in: u64,
    bytes_out: u64,
    lines: u64,
    /// When the first count not in the books was made.
    since: Option<Instant>,
}

/// How long a connection's counts may wait before they go into the books.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(10);

impl Tally {
    fn add(&mut self, bytes_in: u64, bytes_out: u64, lines: u64) {
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.lines += lines;
        if self.since.is_none() {
            self.since = Some(Instant::now());
        }
    }

    /// Puts the counts into the books.
    fn flush(&mut self, shared: &Shared, id: u64) {
        if self.since.take().is_some() {
            shared.stats.count(id, self.bytes_in, self.bytes_out, self.lines);
            (self.bytes_in, self.bytes_out, self.lines) = (0, 0, 0);
        }
    }

    /// Puts the counts into the books if they have waited [`FLUSH_EVERY`].
    fn flush_if_due(&mut self, shared: &Shared, id: u64) {
        if self.since.is_some_and(|t| t.elapsed() >= FLUSH_EVERY) {
            self.flush(shared, id);
        }
    }
}

/// What a connection's session asks of the server while it serves one batch of lines.
struct ServerDesk<'a> {
    shared: &'a Shared,
    id: u64,
    tally: &'a mut Tally,
    /// The `STATS` answer, rendered once per batch: many `STATS` in one read cost one snapshot.
    stats: Option<Vec<u8>>,
}

impl<'a> ServerDesk<'a> {
    fn new(shared: &'a Shared, id: u64, tally: &'a mut Tally) -> Self {
        ServerDesk { shared, id, tally, stats: None }
    }
}

impl Desk for ServerDesk<'_> {
    fn stats(&mut self, reply: &mut Vec<u8>) {
        let line = self.stats.get_or_insert_with(|| {
            // This connection's own earlier lines are in its answer.
            self.tally.flush(self.shared, self.id);
            stats_line(self.shared)
        });
        reply.extend_from_slice(line);
    }

    fn order(&mut self, pizzas: u64) -> Result<(), u64> {
        self.shared.take_order(pizzas)
    }
}

/// A `pool` worker at or past this load (thousandths of a core) is saturated: new connections
/// go elsewhere if they can, and it hands half of its connections to a worker under
/// [`COOL`].
const HOT: u32 = 900;
/// A worker under this load can take half of a saturated one's connections.
const COOL: u32 = 500;
/// A saturated worker hands connections over only if the host left at least this much CPU
/// idle (thousandths of a core) over the same window.
const SPARE: u32 = 500;

/// The order in which the `pool` acceptor offers a new connection to the workers: packed, the
/// lowest-numbered worker that is not saturated first (one loop serving many ready
/// connections per wakeup costs less per line than several loops each woken for a few); then
/// the saturated ones, least loaded first, ties dealt round robin from `next`.
fn placement(loads: &[AtomicU32], next: usize) -> Vec<usize> {
    let n = loads.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&w| {
        let load = loads[w].load(Ordering::Relaxed);
        if load < HOT {
            (false, 0, w)
        } else {
            (true, load, (w + n - next % n.max(1)) % n)
        }
    });
    order
}

/// A `pool` worker: a readiness loop over the connections the acceptor hands it (and those a
/// saturated worker hands it), until its queue says `None` and its last connection has closed.
/// Every [`events::LOAD_WINDOW`] it publishes its load; when it is saturated and the host has
/// [`SPARE`] CPU, it hands half of its connections, whole, to the least loaded worker if that
/// one is under [`COOL`] (work sharing: connections packed on one worker spread once it cannot
/// keep up and another CPU could help).
fn worker(shared: &Shared, mut reactor: events::Reactor, index: usize, wakers: &[mio::Waker]) {
    let queue = &shared.queues[index];
    let mut last = false;
    let mut foreign = Vec::new();
    loop {
        if let Err(e) = reactor.turn(shared, &mut foreign) {
            eprintln!("conclab serve: worker {}: {e:#}", index + 1);
        }
        let load = reactor.load();
        // New or moved connections come with a wake-up; once per load window, look anyway.
        let woken = foreign.contains(&events::WAKER) || load.is_some() || last;
        foreign.clear();
        if woken {
            // The only consumer of this queue: an item seen now is still there to take.
            while !queue.is_empty() {
                match queue.remove() {
                    Some((stream, id)) => match stream.set_nonblocking(true) {
                        Ok(()) => reactor.add(shared, mio::net::TcpStream::from_std(stream), id),
                        Err(e) => {
                            eprintln!("conclab serve: cannot set up connection {id}: {e}");
                            shared.stats.disconnect(id);
                        }
                    },
                    None => last = true,
                }
            }
            let moved = shared.moves[index].lock().as_mut().map(std::mem::take).unwrap_or_default();
            for m in moved {
                reactor.adopt(shared, m);
            }
        }
        if let Some(load) = load {
            shared.loads[index].store(load.busy, Ordering::Relaxed);
            if saturated(load, reactor.len()) && !shared.stopping() {
                hand_over(shared, &mut reactor, index, wakers);
            }
        }
        if last && reactor.is_empty() {
            let mut moves = shared.moves[index].lock();
            if moves.as_ref().is_none_or(|m| m.is_empty()) {
                // From now on, a worker that meant to hand connections over keeps them.
                *moves = None;
                return;
            }
        }
    }
}

/// Whether a worker with this load and `conns` connections should hand half of them over: it
/// is saturated, and another loop would add capacity (there is a CPU for it to run on: without
/// one, a second loop only adds wakeups).
fn saturated(load: events::Load, conns: usize) -> bool {
    load.busy >= HOT && conns >= 2 && load.host_idle.is_none_or(|idle| idle >= SPARE)
}

/// A saturated worker hands half of its connections to the least loaded other worker, if
/// that one is under [`COOL`].
fn hand_over(shared: &Shared, reactor: &mut events::Reactor, index: usize, wakers: &[mio::Waker]) {
    let load = |w: usize| shared.loads[w].load(Ordering::Relaxed);
    let Some(to) = (0..shared.loads.len()).filter(|&w| w != index).min_by_key(|&w| load(w)) else {
        return;
    };
    if load(to) >= COOL {
        return;
    }
    let moved = reactor.give_half();
    let mut slot = shared.moves[to].lock();
    match slot.as_mut() {
        Some(m) => {
            eprintln!(
                "conclab serve: worker {} is saturated ({}‰ of a core, a CPU idle): {} connections to worker {}",
                index + 1,
                load(index),
                moved.len(),
                to + 1
            );
            m.extend(moved);
            drop(slot);
            // Counted as loaded until it measures itself: the next saturated window here does
            // not pile more onto it meanwhile.
            shared.loads[to].store(HOT, Ordering::Relaxed);
            if let Err(e) = wakers[to].wake() {
                eprintln!("conclab serve: cannot wake worker {}: {e}", to + 1);
            }
        }
        None => {
            drop(slot);
            for m in moved {
                reactor.adopt(shared, m);
            }
        }
    }
}

/// Serves one connection to its end, whatever happens in it; always leaves the books right.
fn handle(shared: &Shared, stream: TcpStream, id: u64) {
    let mut tally = Tally::default();
    let result = panic::catch_unwind(AssertUnwindSafe(|| serve(shared, &stream, id, &mut tally)));
    match result {
        Ok(Ok(_end)) => {}
        Ok(Err(_io)) => {}
        Err(p) => {
            let what = crate::engine::panic_text(&*p);
            eprintln!("conclab serve: connection {id}'s handler panicked ({what}); the server goes on");
        }
    }
    // Off the books first: a client that sees its connection close finds it closed in STATS.
    tally.flush(shared, id);
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

/// A blocking connection (`iterative`, `threads`, `processes`): read, serve, write back. The
/// replies to one read are served and written [`events::OUT_LIMIT`] bytes at a time, so the
/// pending output stays bounded however many requests one read holds; while a write waits
/// for the client, nothing is read.
fn serve(shared: &Shared, mut stream: &TcpStream, id: u64, tally: &mut Tally) -> io::Result<End> {
    let c = &shared.config;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(c.write_timeout))?;
    stream.set_nodelay(true)?;
    let mut session = Session::new(c.service, c.max_line);
    let mut buf = vec![0u8; events::READ_BUF];
    let mut out = session::Output::default();
    let mut last_heard = Instant::now();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(End::ClientClosed),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                tally.flush(shared, id);
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
        let mut fed = 0;
        let mut counted_in = false;
        while fed < n {
            out.reply.clear();
            out.lines = 0;
            let took =
                session.feed_some(&data[fed..], &mut out, events::OUT_LIMIT, &mut ServerDesk::new(shared, id, tally));
            fed += took;
            // Counted before the reply goes out (the read's bytes with its first batch).
            let bytes_in = if counted_in { 0 } else { n as u64 };
            counted_in = true;
            tally.add(bytes_in, out.reply.len() as u64, out.lines);
            // A client that never reads fills its socket buffer; the write then times out and
            // the connection is dropped, so it cannot hold a thread for ever.
            stream.write_all(&out.reply)?;
            if out.close.is_some() {
                return Ok(End::LineTooLong);
            }
        }
        tally.flush_if_due(shared, id);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn pool_placement_packs_until_a_worker_is_saturated() {
        let loads = |l: &[u32]| l.iter().map(|&x| AtomicU32::new(x)).collect::<Vec<_>>();
        // Idle or busy but not saturated: the lowest-numbered worker first, whatever `next` is.
        assert_eq!(placement(&loads(&[0, 0, 0]), 2), [0, 1, 2]);
        assert_eq!(placement(&loads(&[800, 100, 0]), 1), [0, 1, 2]);
        // A saturated worker goes after every other.
        assert_eq!(placement(&loads(&[950, 100, 0]), 0), [1, 2, 0]);
        // All saturated: the least loaded first, ties dealt round robin from `next`.
        assert_eq!(placement(&loads(&[1000, 950, 1000]), 0), [1, 0, 2]);
        assert_eq!(placement(&loads(&[1000, 1000, 1000]), 2), [2, 0, 1]);
    }

    #[test]
    fn a_burst_of_connects_waits_for_room_with_the_preferred_worker_instead_of_spilling() {
        let config = Config { mode: Mode::Pool, workers: 2, queue_slots: 2, ..Config::default() };
        let server = Server::bind(config).unwrap();
        let shared = &server.shared;
        // Worker 1's queue is full (a burst it has not taken yet); worker 2's is empty.
        while shared.queues[0].len() < shared.queues[0].capacity() {
            shared.queues[0].insert(None);
        }
        let reactors: Vec<events::Reactor> = (0..2).map(|_| events::Reactor::new().unwrap()).collect();
        let wakers: Vec<mio::Waker> =
            reactors.iter().map(|r| mio::Waker::new(r.registry(), events::WAKER).unwrap()).collect();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        // While the acceptor waits, worker 1 takes one connection from its queue.
        let mut taken = false;
        let take_one = || {
            if !taken {
                taken = true;
                assert!(shared.queues[0].remove().is_none());
            }
        };
        assert!(offer(shared, stream, peer.to_string(), &mut 0, &wakers, take_one));
        let lens: Vec<usize> = shared.queues.iter().map(|q| q.len()).collect();
        assert_eq!(lens, [2, 0], "the connection waited for worker 1 instead of spilling onto worker 2");
    }

    #[test]
    fn a_worker_hands_over_only_when_saturated_and_a_cpu_is_idle() {
        let load = |busy, host_idle| events::Load { busy, host_idle };
        assert!(saturated(load(950, Some(900)), 10));
        assert!(saturated(load(950, None), 10), "where the host cannot be read, spread");
        assert!(!saturated(load(800, Some(900)), 10), "not saturated");
        assert!(!saturated(load(950, Some(200)), 10), "no CPU for another loop to run on");
        assert!(!saturated(load(950, Some(900)), 1), "one connection cannot be split");
        #[cfg(target_os = "linux")]
        {
            let (idle, total) = events::host_cpu().expect("/proc/stat reads");
            assert!(0 < idle && idle < total);
        }
    }

    /// Turns `reactor` until `client` has been sent `want` (each turn serves what is ready; the
    /// bytes were sent before, so the first turn normally does it; the count only bounds a
    /// broken test).
    fn serve_until(reactor: &mut events::Reactor, shared: &Shared, client: &mut TcpStream, want: &[u8]) {
        client.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        for _ in 0..200 {
            reactor.turn(shared, &mut Vec::new()).unwrap();
            loop {
                match client.read(&mut buf) {
                    Ok(0) => panic!("closed after {got:?}"),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            if got.len() >= want.len() {
                break;
            }
        }
        client.set_nonblocking(false).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn pool_answers_busy_at_once_when_every_workers_queue_is_full() {
        let config = Config { mode: Mode::Pool, workers: 2, queue_slots: 2, max_conns: 100, ..Config::default() };
        let server = Server::bind(config).unwrap();
        let shared = &server.shared;
        // No worker runs here: the queues stay as full as this test makes them.
        for q in &shared.queues {
            while q.len() < q.capacity() {
                q.insert(None);
            }
        }
        let reactors: Vec<events::Reactor> = (0..2).map(|_| events::Reactor::new().unwrap()).collect();
        let wakers: Vec<mio::Waker> =
            reactors.iter().map(|r| mio::Waker::new(r.registry(), events::WAKER).unwrap()).collect();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        let mut waited = 0;
        let queued = offer(shared, stream, peer.to_string(), &mut 0, &wakers, || waited += 1);
        assert!(!queued);
        assert!(waited > 0, "the acceptor kept accepting while it waited for room");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"BUSY server full (100 connections); try again later\n");
        let t = shared.stats.snapshot().totals;
        assert_eq!((t.accepted, t.refused), (0, 1));
        // With room in one queue, the same offer is queued there.
        assert!(shared.queues[1].remove().is_none());
        let _c2 = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        assert!(offer(shared, stream, peer.to_string(), &mut 0, &wakers, || {}));
        assert_eq!(shared.queues[1].len(), 2);
        assert_eq!(shared.stats.snapshot().totals.accepted, 1);
    }

    #[test]
    fn a_connection_handed_to_another_loop_keeps_its_partial_line_and_the_bytes_sent_meanwhile() {
        let server = Server::bind(Config { mode: Mode::Pool, workers: 2, ..Config::default() }).unwrap();
        let shared = &server.shared;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        stream.set_nonblocking(true).unwrap();
        let id = shared.stats.connect(peer.to_string(), 8).unwrap();
        let (mut a, mut b) = (events::Reactor::new().unwrap(), events::Reactor::new().unwrap());
        a.add(shared, mio::net::TcpStream::from_std(stream), id);

        client.write_all(b"one\ntw").unwrap();
        serve_until(&mut a, shared, &mut client, b"one\n");
        let moved = a.give_half();
        assert_eq!((moved.len(), a.len()), (1, 0));
        // Bytes that arrive while the connection is between loops raise no event on either:
        // the new loop must see them when it takes the connection over.
        client.write_all(b"o\nthree\n").unwrap();
        for m in moved {
            b.adopt(shared, m);
        }
        serve_until(&mut b, shared, &mut client, b"two\nthree\n");
        client.write_all(b"four\n").unwrap();
        serve_until(&mut b, shared, &mut client, b"four\n");
        a.turn(shared, &mut Vec::new()).unwrap();
        // The books saw one connection throughout, with every line (counted once, on close).
        drop(client);
        for _ in 0..200 {
            b.turn(shared, &mut Vec::new()).unwrap();
            if b.is_empty() {
                break;
            }
        }
        assert!(b.is_empty(), "the client's close closes the connection in its new loop");
        let snap = shared.stats.snapshot();
        assert_eq!((snap.totals.accepted, snap.totals.closed, snap.totals.lines), (1, 1, 4));
    }
}
