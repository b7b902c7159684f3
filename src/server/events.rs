//! `--mode events`: CS:APP's `echoservers` done right — one thread, non-blocking sockets, a
//! readiness loop (mio), and per-connection buffers so a partial line or a client that never
//! reads blocks no one. No locks are needed, but the books are the same [`Stats`](super::Stats).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use anyhow::{Context, Result};
use mio::net::{TcpListener as MioListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::{refuse_bytes, Books, Session, Shared, StatsReport, TICK};

const LISTENER: Token = Token(usize::MAX);
/// Replies a client has not read yet, beyond which the server stops reading from it.
const MAX_PENDING: usize = 1 << 20;

struct Conn {
    stream: TcpStream,
    id: u64,
    session: Session,
    /// Replies not written yet.
    out: Vec<u8>,
    last_heard: Instant,
    /// When the client last took some of `out` (or when `out` became non-empty).
    last_drained: Instant,
    /// Close once `out` is written.
    closing: bool,
}

/// Serves every connection from this one thread until stopped.
pub(super) fn run(listener: TcpListener, shared: &Shared) -> Result<StatsReport> {
    listener.set_nonblocking(true)?;
    let mut listener = Some(MioListener::from_std(listener));
    let mut poll = Poll::new().context("cannot create the readiness loop")?;
    if let Some(l) = listener.as_mut() {
        poll.registry().register(l, LISTENER, Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(1024);
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    let c = &shared.config;
    loop {
        if let Err(e) = poll.poll(&mut events, Some(TICK)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e).context("the readiness loop failed");
            }
        }
        let stopping = shared.notice_stop();
        if stopping {
            // No new connections: the listening socket goes; the open ones finish their line.
            if let Some(mut l) = listener.take() {
                let _ = poll.registry().deregister(&mut l);
            }
            if conns.is_empty() {
                break;
            }
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                let Some(l) = listener.as_ref() else { continue };
                loop {
                    match l.accept() {
                        Ok((mut stream, peer)) => {
                            let Some(id) = shared.stats.connect(peer.to_string(), c.max_conns) else {
                                let _ = stream.write(&refuse_bytes(c.max_conns));
                                continue;
                            };
                            let token = Token(next);
                            next += 1;
                            let _ = stream.set_nodelay(true);
                            let both = Interest::READABLE | Interest::WRITABLE;
                            if let Err(e) = poll.registry().register(&mut stream, token, both) {
                                eprintln!("conclab serve: cannot watch connection {id}: {e}");
                                shared.stats.disconnect(id);
                                continue;
                            }
                            let now = Instant::now();
                            conns.insert(
                                token,
                                Conn {
                                    stream,
                                    id,
                                    session: Session::new(c.service, c.max_line),
                                    out: Vec::new(),
                                    last_heard: now,
                                    last_drained: now,
                                    closing: false,
                                },
                            );
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            eprintln!("conclab serve: accept failed: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let Some(conn) = conns.get_mut(&ev.token()) else { continue };
            // One connection's panic closes that connection only.
            let keep = panic::catch_unwind(AssertUnwindSafe(|| step(conn, shared, &mut buf))).unwrap_or_else(|p| {
                let what = crate::runner::panic_text(&*p);
                eprintln!("conclab serve: connection {}'s handler panicked ({what}); the server goes on", conn.id);
                false
            });
            if !keep {
                close(&mut conns, ev.token(), &poll, shared);
            }
        }
        // Timers: idle clients, clients that stopped reading, and the end of a stop's grace.
        let now = Instant::now();
        let mut expired = Vec::new();
        for (t, conn) in conns.iter_mut() {
            let stuck = !conn.out.is_empty() && now.duration_since(conn.last_drained) >= c.write_timeout;
            let idle = conn.out.is_empty() && now.duration_since(conn.last_heard) >= c.idle_timeout;
            if stopping {
                // Serve whatever arrived before the stop, then close between lines.
                let open = step(conn, shared, &mut buf);
                let between_lines = conn.out.is_empty() && !conn.session.mid_line();
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
            close(&mut conns, t, &poll, shared);
        }
    }
    Ok(shared.report())
}

/// Reads what is there, serves it, writes what the client will take; `false` closes.
fn step(conn: &mut Conn, shared: &Shared, buf: &mut [u8]) -> bool {
    loop {
        // Read only while the client keeps up with its replies (backpressure).
        let mut drained_input = conn.closing;
        while !conn.closing && conn.out.len() < MAX_PENDING {
            match conn.stream.read(buf) {
                Ok(0) => conn.closing = true,
                Ok(n) => {
                    conn.last_heard = Instant::now();
                    let out = conn.session.feed(&buf[..n], &mut || super::stats_line(shared));
                    shared.stats.count(conn.id, n as u64, out.reply.len() as u64, out.lines);
                    for pizzas in out.pizzas {
                        shared.stats.order(pizzas);
                    }
                    if conn.out.is_empty() {
                        conn.last_drained = Instant::now();
                    }
                    conn.out.extend_from_slice(&out.reply);
                    if let Some(trigger) = &shared.config.panic_on {
                        if buf[..n].windows(trigger.len()).any(|w| w == &trigger[..]) {
                            panic!("the test trigger line arrived");
                        }
                    }
                    conn.closing |= out.close.is_some();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drained_input = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        let mut wrote_all = true;
        while !conn.out.is_empty() {
            match conn.stream.write(&conn.out) {
                Ok(0) => return false,
                Ok(n) => {
                    conn.out.drain(..n);
                    conn.last_drained = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wrote_all = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        // Readiness is edge-triggered: stop only when the socket said "no more" on a side
        // (an event will come when it changes), never merely because we paused reading.
        if drained_input || !wrote_all || conn.closing {
            return !(conn.closing && conn.out.is_empty());
        }
    }
}

fn close(conns: &mut HashMap<Token, Conn>, token: Token, poll: &Poll, shared: &Shared) {
    if let Some(mut conn) = conns.remove(&token) {
        let _ = poll.registry().deregister(&mut conn.stream);
        shared.stats.disconnect(conn.id);
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    }
}
