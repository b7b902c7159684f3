//! One connection's protocol, without sockets: bytes in, replies out. The server's threads,
//! the tests and the `protocol` fuzz target all drive this same code.

use serde::Serialize;

/// What a connection serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// Every line comes back byte for byte (CS:APP's `echo`).
    Echo,
    /// The lecture notes' pizza counter: `3` → `Thank you for ordering 3 pizzas!`.
    Pizza,
}

/// The request that asks for the server's books instead of being served.
pub const STATS_REQUEST: &[u8] = b"STATS";

/// Why a session ended from the server's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Close {
    /// The client sent more than the line limit without a newline.
    LineTooLong,
}

/// What one `feed` produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Bytes to write back, in order.
    pub reply: Vec<u8>,
    /// Complete lines served (STATS requests included).
    pub lines: u64,
    /// Pizzas ordered by those lines (the `pizza` service; [`Session::feed`] only: with
    /// [`Session::feed_some`] the [`Desk`] takes the orders).
    pub pizzas: Vec<u64>,
    /// Set when the server must close the connection after writing `reply`.
    pub close: Option<Close>,
}

/// What serving a line needs from the rest of the server.
pub trait Desk {
    /// Appends the answer to a `STATS` request (one line, newline included) to `reply`.
    fn stats(&mut self, reply: &mut Vec<u8>);
    /// Takes an order of `pizzas`; `Err(total)` when the book cannot count it (the total
    /// would pass `u64::MAX`): the client is told, nothing wraps.
    fn order(&mut self, pizzas: u64) -> Result<(), u64>;
}

/// [`Session::feed`]'s desk: a `STATS` closure, and the orders collected into the output.
struct Counter<'a> {
    stats: &'a mut dyn FnMut() -> Vec<u8>,
    pizzas: Vec<u64>,
}

impl Desk for Counter<'_> {
    fn stats(&mut self, reply: &mut Vec<u8>) {
        reply.extend_from_slice(&(self.stats)());
    }

    fn order(&mut self, pizzas: u64) -> Result<(), u64> {
        self.pizzas.push(pizzas);
        Ok(())
    }
}

/// The server side of one connection: a line buffer and the service.
#[derive(Debug)]
pub struct Session {
    service: Service,
    max_line: usize,
    partial: Vec<u8>,
    closed: bool,
}

impl Session {
    /// A session of `service` that accepts lines of at most `max_line` bytes (newline included).
    pub fn new(service: Service, max_line: usize) -> Self {
        Session { service, max_line: max_line.max(1), partial: Vec::new(), closed: false }
    }

    /// Whether the client is in the middle of a line (bytes received, no newline yet).
    pub fn mid_line(&self) -> bool {
        !self.partial.is_empty()
    }

    /// Takes the bytes the client sent and returns what to write back. `stats` renders the
    /// answer to a `STATS` request (one line, newline included). After a [`Close`], nothing more
    /// is read.
    pub fn feed(&mut self, data: &[u8], stats: &mut dyn FnMut() -> Vec<u8>) -> Output {
        let mut desk = Counter { stats, pizzas: Vec::new() };
        let mut out = Output::default();
        self.feed_some(data, &mut out, usize::MAX, &mut desk);
        out.pizzas = desk.pizzas;
        out
    }

    /// Serves the complete lines of `data` into `out` (appending) until `out.reply` holds at
    /// least `limit` bytes, and returns how many bytes of `data` it took; the caller keeps the
    /// rest and feeds it once the replies are written. That bounds a connection's pending
    /// output however many requests one read brings in (one line's reply at most past the
    /// limit). Bytes of an unfinished line are always taken (kept in the line buffer).
    pub fn feed_some(&mut self, data: &[u8], out: &mut Output, limit: usize, desk: &mut dyn Desk) -> usize {
        if self.closed {
            return data.len();
        }
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            if out.reply.len() >= limit {
                return data.len() - rest.len();
            }
            let (head, tail) = rest.split_at(nl + 1);
            rest = tail;
            if self.partial.len() + head.len() > self.max_line {
                self.too_long(out);
                return data.len();
            }
            if self.partial.is_empty() {
                self.serve(head, out, desk);
            } else {
                self.partial.extend_from_slice(head);
                let line = std::mem::take(&mut self.partial);
                self.serve(&line, out, desk);
                // Keep the allocation for the next partial line.
                self.partial = line;
                self.partial.clear();
            }
        }
        if self.partial.len() + rest.len() >= self.max_line {
            // No newline can come soon enough: the line is already at the limit.
            self.too_long(out);
            return data.len();
        }
        self.partial.extend_from_slice(rest);
        data.len()
    }

    fn too_long(&mut self, out: &mut Output) {
        self.closed = true;
        self.partial.clear();
        out.reply.extend_from_slice(
            format!("ERROR line longer than {} bytes; closing the connection\n", self.max_line).as_bytes(),
        );
        out.close = Some(Close::LineTooLong);
    }

    /// Serves one complete line (its newline included).
    fn serve(&mut self, line: &[u8], out: &mut Output, desk: &mut dyn Desk) {
        out.lines += 1;
        let text = line.strip_suffix(b"\n").map(|l| l.strip_suffix(b"\r").unwrap_or(l)).unwrap_or(line);
        if text == STATS_REQUEST {
            desk.stats(&mut out.reply);
            return;
        }
        match self.service {
            Service::Echo => out.reply.extend_from_slice(line),
            Service::Pizza => match std::str::from_utf8(text).ok().and_then(|t| t.trim().parse::<u64>().ok()) {
                Some(n) if n > 0 => match desk.order(n) {
                    Ok(()) => {
                        let s = if n == 1 { "" } else { "s" };
                        out.reply.extend_from_slice(format!("Thank you for ordering {n} pizza{s}!\n").as_bytes());
                    }
                    Err(full) => out.reply.extend_from_slice(
                        format!("ERROR the order book is full ({full} pizzas); order of {n} not taken\n").as_bytes(),
                    ),
                },
                _ => out.reply.extend_from_slice(b"Wrong number of pizzas, please try again\n"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(s: &mut Session, chunks: &[&[u8]]) -> Output {
        let mut all = Output::default();
        for c in chunks {
            let o = s.feed(c, &mut || b"{}\n".to_vec());
            all.reply.extend(o.reply);
            all.lines += o.lines;
            all.pizzas.extend(o.pizzas);
            all.close = all.close.or(o.close);
        }
        all
    }

    #[test]
    fn lines_split_anywhere_come_back_whole_and_in_order() {
        let mut s = Session::new(Service::Echo, 64);
        let o = feed_all(&mut s, &[b"he", b"llo\nwor", b"ld\n\xff\x00\n", b"tail"]);
        assert_eq!(o.reply, b"hello\nworld\n\xff\x00\n");
        assert_eq!(o.lines, 3);
        assert!(s.mid_line());
    }

    #[test]
    fn an_overlong_line_gets_an_error_and_closes() {
        let mut s = Session::new(Service::Echo, 8);
        let o = feed_all(&mut s, &[b"ok\n", b"0123456789"]);
        assert_eq!(o.close, Some(Close::LineTooLong));
        assert!(String::from_utf8_lossy(&o.reply).starts_with("ok\nERROR line longer than 8 bytes"));
        assert_eq!(s.feed(b"more\n", &mut Vec::new).reply, b"", "nothing is served after the close");
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_served() {
        let mut s = Session::new(Service::Echo, 4);
        assert_eq!(feed_all(&mut s, &[b"abc\n"]).reply, b"abc\n");
    }

    #[test]
    fn pizza_orders_are_counted_and_wrong_numbers_refused() {
        let mut s = Session::new(Service::Pizza, 64);
        let o = feed_all(&mut s, &[b"3\n1\r\nzero\n0\n"]);
        assert_eq!(
            String::from_utf8(o.reply).unwrap(),
            "Thank you for ordering 3 pizzas!\nThank you for ordering 1 pizza!\n\
             Wrong number of pizzas, please try again\nWrong number of pizzas, please try again\n"
        );
        assert_eq!(o.pizzas, [3, 1]);
    }

    #[test]
    fn stats_is_answered_by_the_books() {
        let mut s = Session::new(Service::Echo, 64);
        assert_eq!(s.feed(b"STATS\r\n", &mut || b"{\"live\":1}\n".to_vec()).reply, b"{\"live\":1}\n");
    }

    #[test]
    fn feed_some_stops_at_the_output_limit_and_resumes_where_it_stopped() {
        let mut s = Session::new(Service::Echo, 64);
        let mut out = Output::default();
        let mut desk = Counter { stats: &mut || b"{}\n".to_vec(), pizzas: Vec::new() };
        let data = b"aa\nbb\ncc\ndd";
        let took = s.feed_some(data, &mut out, 4, &mut desk);
        assert_eq!((took, out.reply.as_slice()), (6, &b"aa\nbb\n"[..]), "stops once the limit is reached");
        out.reply.clear();
        let took2 = s.feed_some(&data[took..], &mut out, 4, &mut desk);
        assert_eq!((took2, out.reply.as_slice()), (data.len() - took, &b"cc\n"[..]));
        assert!(s.mid_line());
    }
}
