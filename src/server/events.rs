//! The readiness loop ([`Reactor`]): non-blocking sockets, edge-triggered readiness (mio), and
//! per-connection buffers, so a partial line, a silent client or a client that never reads
//! blocks no one and costs a bounded amount of memory.
//!
//! `--mode events` is CS:APP's `echoservers` done right: one thread runs one reactor that also
//! accepts. `--mode pool` runs one reactor per worker thread, fed by the acceptor (see
//! [`super`]). No locks are needed inside a reactor; the books are the same [`Stats`](super::Stats).
//!
//! **Bounds.** A connection holds at most [`OUT_LIMIT`] bytes of replies not yet written (plus
//! one line's reply), however many requests one read brings in: the session serves lines only
//! while the pending replies are under the limit, and the bytes it has not served yet wait in
//! the connection's input buffer (at most one read's worth, [`READ_BUF`]). While replies are
//! pending past the limit, nothing more is read: the client's own socket buffers fill and its
//! writes block. A client that takes none of its replies for `--write-timeout-ms` is dropped.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mio::net::{TcpListener as MioListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::session::Output;
use super::{refuse_bytes, Books, ServerDesk, Session, Shared, StatsReport, Tally, TICK};

/// Replies pending for one connection past which its input is not served (nor read).
pub(super) const OUT_LIMIT: usize = 32 * 1024;
/// Bytes read from a socket at a time.
pub(super) const READ_BUF: usize = 16 * 1024;
/// The listening socket's token (`events` mode).
const LISTENER: Token = Token(usize::MAX);
/// A pool worker's wake-up token (a new connection is in its queue).
pub(super) const WAKER: Token = Token(usize::MAX - 1);
/// How often the timers (idle, stuck writers, the stop) and the books' counts are looked at.
const SWEEP_EVERY: Duration = Duration::from_millis(10);

/// One connection's state between readiness events.
struct Conn {
    stream: TcpStream,
    id: u64,
    session: Session,
    /// Bytes read but not served yet (the replies were past [`OUT_LIMIT`]); served from `held_at`.
    held: Vec<u8>,
    held_at: usize,
    /// Replies not written yet: `out.reply[written..]`.
    out: Output,
    written: usize,
    /// Counts not yet in the books.
    tally: Tally,
    last_heard: Instant,
    /// When the client last took some replies (or when replies became pending).
    last_drained: Instant,
    /// The client closed its side: serve what it sent, write the replies, close.
    eof: bool,
    /// The poller said the client closed its side (the FIN may have come with the last bytes,
    /// so no further event will say so: read until the end).
    read_closed: bool,
}

impl Conn {
    fn pending(&self) -> usize {
        self.out.reply.len() - self.written
    }

    fn holds_input(&self) -> bool {
        self.held_at < self.held.len()
    }

    /// Serves what it can of `data` (from the socket, or `None`: the held bytes); keeps the rest.
    fn serve(&mut self, shared: &Shared, data: Option<&[u8]>) {
        if self.pending() == 0 {
            self.last_drained = Instant::now();
        }
        // Keep only the unwritten replies, so that the session's limit counts those alone.
        self.out.reply.drain(..self.written);
        self.written = 0;
        let before = (self.out.reply.len(), self.out.lines);
        let mut desk = ServerDesk::new(shared, self.id, &mut self.tally);
        match data {
            Some(d) => {
                let took = self.session.feed_some(d, &mut self.out, OUT_LIMIT, &mut desk);
                self.held.extend_from_slice(&d[took..]);
            }
            None => {
                let took = self.session.feed_some(&self.held[self.held_at..], &mut self.out, OUT_LIMIT, &mut desk);
                self.held_at += took;
                if self.held_at == self.held.len() {
                    self.held.clear();
                    self.held_at = 0;
                }
            }
        }
        self.tally.add(0, (self.out.reply.len() - before.0) as u64, self.out.lines - before.1);
        self.out.lines = 0;
    }
}

/// A readiness loop over a set of connections.
pub(super) struct Reactor {
    poll: Poll,
    events: Events,
    conns: HashMap<Token, Conn>,
    next: usize,
    buf: Vec<u8>,
    last_sweep: Instant,
    /// Where the current [`LOAD_WINDOW`] started, and the thread's CPU time then.
    load_since: Instant,
    load_cpu: Duration,
    /// The host's idle and total CPU time then (`/proc/stat`, Linux).
    load_host: Option<(u64, u64)>,
}

/// A loop's load over the last [`LOAD_WINDOW`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Load {
    /// The CPU its thread used, in thousandths of a core.
    pub(super) busy: u32,
    /// The CPU left idle on the whole host, in thousandths of a core (`None` where it cannot be
    /// read).
    pub(super) host_idle: Option<u32>,
}

/// The host's idle (idle and iowait) and total CPU time so far, in clock ticks summed over its
/// CPUs, from the first line of `/proc/stat` (Linux).
pub(super) fn host_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> =
        stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().filter_map(|t| t.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user and nice).
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((idle, ticks.iter().take(8).sum()))
}

/// A connection on its way from one loop to another, with all its state.
pub(super) struct Moved(Conn);

/// Over how long a loop's load is measured.
pub(super) const LOAD_WINDOW: Duration = Duration::from_millis(100);

/// CPU time used by the calling thread (Linux); elsewhere the wall-clock time, which makes
/// every loop look saturated: `pool` then deals its connections round robin and moves none.
fn thread_cpu() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid timespec for the call to fill in.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

impl Reactor {
    pub(super) fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            conns: HashMap::new(),
            next: 0,
            buf: vec![0; READ_BUF],
            last_sweep: Instant::now(),
            load_since: Instant::now(),
            load_cpu: thread_cpu(),
            load_host: host_cpu(),
        })
    }

    pub(super) fn registry(&self) -> &mio::Registry {
        self.poll.registry()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Takes over connection `id` (already in the books).
    pub(super) fn add(&mut self, shared: &Shared, stream: TcpStream, id: u64) {
        let now = Instant::now();
        let c = &shared.config;
        let conn = Conn {
            stream,
            id,
            session: Session::new(c.service, c.max_line),
            held: Vec::new(),
            held_at: 0,
            out: Output::default(),
            written: 0,
            tally: Tally::default(),
            last_heard: now,
            last_drained: now,
            eof: false,
            read_closed: false,
        };
        let _ = conn.stream.set_nodelay(true);
        self.watch(shared, conn);
    }

    /// Registers `conn` with this loop's poller under a fresh token and keeps it. Registering
    /// reports the readiness the socket has now, so a connection handed over from another loop
    /// loses no edge (bytes that arrived while it moved raise an event here).
    fn watch(&mut self, shared: &Shared, mut conn: Conn) {
        let token = Token(self.next);
        self.next = (self.next + 1) % WAKER.0;
        if let Err(e) = self.poll.registry().register(&mut conn.stream, token, Interest::READABLE | Interest::WRITABLE)
        {
            eprintln!("conclab serve: cannot watch connection {}: {e}", conn.id);
            conn.tally.flush(shared, conn.id);
            shared.stats.disconnect(conn.id);
            return;
        }
        self.conns.insert(token, conn);
    }

    /// How many connections this loop serves.
    pub(super) fn len(&self) -> usize {
        self.conns.len()
    }

    /// Gives up half of this loop's connections (every other one), whole: what was read and
    /// not served, the replies not yet written, the partial line, the counts not yet in the
    /// books, the timers. Another loop [`adopt`](Self::adopt)s them.
    pub(super) fn give_half(&mut self) -> Vec<Moved> {
        let tokens: Vec<Token> = self.conns.keys().copied().step_by(2).collect();
        let mut moved = Vec::with_capacity(tokens.len());
        for t in tokens {
            if let Some(mut conn) = self.conns.remove(&t) {
                let _ = self.poll.registry().deregister(&mut conn.stream);
                moved.push(Moved(conn));
            }
        }
        moved
    }

    /// Takes over a connection another loop gave up.
    pub(super) fn adopt(&mut self, shared: &Shared, moved: Moved) {
        self.watch(shared, moved.0);
    }

    /// Measures this loop's thread, and the host's idle CPU: at the end of each
    /// [`LOAD_WINDOW`], what they were over the window (`None` in between).
    pub(super) fn load(&mut self) -> Option<Load> {
        let now = Instant::now();
        let wall = now.duration_since(self.load_since);
        if wall < LOAD_WINDOW {
            return None;
        }
        let (cpu, host) = (thread_cpu(), host_cpu());
        let used = cpu.saturating_sub(self.load_cpu);
        let host_idle = match (self.load_host, host) {
            (Some((idle0, total0)), Some((idle1, total1))) if total1 > total0 => {
                // Both in clock ticks, summed over the CPUs: idle ticks per wall tick are cores.
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
                Some(((idle1.saturating_sub(idle0)) * 1000 * cores / (total1 - total0)) as u32)
            }
            _ => None,
        };
        (self.load_since, self.load_cpu, self.load_host) = (now, cpu, host);
        let busy = (used.as_micros() * 1000 / wall.as_micros().max(1)).min(u32::MAX as u128) as u32;
        Some(Load { busy, host_idle })
    }

    /// Waits (at most a tick) for readiness and serves every ready connection; the tokens that
    /// are not connections (the listener, the waker) go to `foreign`. Then, every few ms, the
    /// timers: idle clients, clients that stopped reading, and a stop in progress.
    pub(super) fn turn(&mut self, shared: &Shared, foreign: &mut Vec<Token>) -> Result<()> {
        if let Err(e) = self.poll.poll(&mut self.events, Some(TICK)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e).context("the readiness loop failed");
            }
        }
        for ev in self.events.iter() {
            let token = ev.token();
            let Some(conn) = self.conns.get_mut(&token) else {
                foreign.push(token);
                continue;
            };
            conn.read_closed |= ev.is_read_closed();
            if !step_guarded(conn, shared, &mut self.buf) {
                close(&mut self.conns, token, &self.poll, shared);
            }
        }
        let stopping = shared.stopping();
        let now = Instant::now();
        if !stopping && now.duration_since(self.last_sweep) < SWEEP_EVERY {
            return Ok(());
        }
        self.last_sweep = now;
        let c = &shared.config;
        let mut expired = Vec::new();
        for (t, conn) in self.conns.iter_mut() {
            conn.tally.flush(shared, conn.id);
            let stuck = conn.pending() > 0 && now.duration_since(conn.last_drained) >= c.write_timeout;
            let idle = conn.pending() == 0 && now.duration_since(conn.last_heard) >= c.idle_timeout;
            if stopping {
                // Serve whatever arrived before the stop, then close between lines.
                let open = step_guarded(conn, shared, &mut self.buf);
                let between_lines = conn.pending() == 0 && !conn.holds_input() && !conn.session.mid_line();
                if !open || between_lines || shared.grace_over() || stuck {
                    expired.push(*t);
                }
            } else if stuck || idle {
                if idle {
                    let bye = format!("BYE idle for {} ms; closing the connection\n", c.idle_timeout.as_millis());
                    let _ = conn.stream.write(bye.as_bytes());
                }
                expired.push(*t);
            }
        }
        for t in expired {
            close(&mut self.conns, t, &self.poll, shared);
        }
        Ok(())
    }
}

/// `--mode events`: serves every connection from this one thread until stopped.
pub(super) fn run(listener: TcpListener, shared: &Shared) -> Result<StatsReport> {
    listener.set_nonblocking(true)?;
    let mut reactor = Reactor::new().context("cannot create the readiness loop")?;
    let mut listener = Some(MioListener::from_std(listener));
    if let Some(l) = listener.as_mut() {
        reactor.registry().register(l, LISTENER, Interest::READABLE)?;
    }
    let c = &shared.config;
    let mut foreign = Vec::new();
    loop {
        reactor.turn(shared, &mut foreign)?;
        if shared.notice_stop() {
            // No new connections: the listening socket goes; the open ones finish their line.
            if let Some(mut l) = listener.take() {
                let _ = reactor.registry().deregister(&mut l);
            }
            if reactor.is_empty() {
                break;
            }
        }
        if foreign.drain(..).any(|t| t == LISTENER) {
            let Some(l) = listener.as_ref() else { continue };
            loop {
                match l.accept() {
                    Ok((mut stream, peer)) => match shared.stats.connect(peer.to_string(), c.max_conns) {
                        Some(id) => reactor.add(shared, stream, id),
                        None => {
                            let _ = stream.write(&refuse_bytes(c.max_conns));
                        }
                    },
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        eprintln!("conclab serve: accept failed: {e}");
                        break;
                    }
                }
            }
        }
    }
    Ok(shared.report())
}

/// [`step`], with one connection's panic closing that connection only.
fn step_guarded(conn: &mut Conn, shared: &Shared, buf: &mut [u8]) -> bool {
    panic::catch_unwind(AssertUnwindSafe(|| step(conn, shared, buf))).unwrap_or_else(|p| {
        let what = crate::engine::panic_text(&*p);
        eprintln!("conclab serve: connection {}'s handler panicked ({what}); the server goes on", conn.id);
        false
    })
}

/// Reads what is there, serves it while the pending replies stay under [`OUT_LIMIT`], writes
/// what the client will take; `false` closes.
fn step(conn: &mut Conn, shared: &Shared, buf: &mut [u8]) -> bool {
    let refused = |c: &Conn| c.out.close.is_some();
    loop {
        // Readiness is edge-triggered: stop only when the socket said "no more" on a side (an
        // event will come when it changes), never merely because we paused reading.
        let mut input_dry = false;
        while !refused(conn) && conn.pending() < OUT_LIMIT {
            if conn.holds_input() {
                conn.serve(shared, None);
                continue;
            }
            if conn.eof {
                input_dry = true;
                break;
            }
            match conn.stream.read(buf) {
                Ok(0) => conn.eof = true,
                Ok(n) => {
                    conn.last_heard = Instant::now();
                    conn.tally.add(n as u64, 0, 0);
                    if let Some(trigger) = &shared.config.panic_on {
                        if buf[..n].windows(trigger.len()).any(|w| w == &trigger[..]) {
                            panic!("the test trigger line arrived");
                        }
                    }
                    conn.serve(shared, Some(&buf[..n]));
                    if n < buf.len() && !conn.holds_input() && !conn.read_closed {
                        // A read that did not fill the buffer emptied the socket: with epoll
                        // (and kqueue) any byte that arrives after it raises a new event, so
                        // the read that would only say WouldBlock is skipped (as tokio does).
                        // Not while bytes read are held unserved (no event would come for them),
                        // nor once the client has closed its side (its FIN came with them).
                        input_dry = true;
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    input_dry = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        let mut write_blocked = false;
        while conn.pending() > 0 {
            match conn.stream.write(&conn.out.reply[conn.written..]) {
                Ok(0) => return false,
                Ok(n) => {
                    conn.written += n;
                    conn.last_drained = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    write_blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        if conn.pending() == 0 && (refused(conn) || (conn.eof && !conn.holds_input())) {
            return false;
        }
        if input_dry || write_blocked {
            return true;
        }
    }
}

fn close(conns: &mut HashMap<Token, Conn>, token: Token, poll: &Poll, shared: &Shared) {
    if let Some(mut conn) = conns.remove(&token) {
        let _ = poll.registry().deregister(&mut conn.stream);
        conn.tally.flush(shared, conn.id);
        shared.stats.disconnect(conn.id);
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    }
}
