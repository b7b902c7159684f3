//! `std::sync::mpsc`, checked: channels built on the facade's own [`Mutex`] and [`Condvar`], so
//! every send, receive and disconnection is an operation the running engine records and explores.
//!
//! The error types are std's own. `sync_channel(0)` is an honest rendezvous: `send` returns once
//! the receiver has taken the value. [`Receiver::recv_timeout`] is modelled as "may time out",
//! as [`Condvar::wait_timeout`] is: the checkers explore a value (or the last sender's going) in
//! time and a timeout before it.

use std::cell::Cell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use super::{Arc, Condvar, Mutex, MutexGuard};

/// What the ends of one channel share.
struct Shared<T> {
    state: Mutex<State<T>>,
    /// The receiver waits here for a value or for the last sender to go.
    filled: Condvar,
    /// Senders of a bounded channel wait here for room, or (rendezvous) for their value taken.
    drained: Condvar,
}

struct State<T> {
    /// Values sent and not yet received, each with its sender's ticket.
    queue: VecDeque<(u64, T)>,
    /// The next ticket: a rendezvous sender finds its own value by it.
    next_ticket: u64,
    /// `None`: unbounded (`channel`); `Some(n)`: at most `n` values wait (`sync_channel(n)`).
    bound: Option<usize>,
    /// Live senders (`Sender`s and `SyncSender`s).
    senders: usize,
    /// Whether the receiver is alive.
    receiver: bool,
    /// Receivers blocked in `recv` (0 or 1): a rendezvous `try_send` succeeds only with one.
    receiving: usize,
}

impl<T> Shared<T> {
    #[track_caller]
    fn new(bound: Option<usize>) -> Arc<Self> {
        let state = State { queue: VecDeque::new(), next_ticket: 0, bound, senders: 1, receiver: true, receiving: 0 };
        Arc::new(Shared { state: Mutex::new(state), filled: Condvar::new(), drained: Condvar::new() })
    }

    #[track_caller]
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[track_caller]
    fn wait<'a>(&self, cv: &Condvar, guard: MutexGuard<'a, State<T>>) -> MutexGuard<'a, State<T>> {
        cv.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `t` under the lock held by `s`, waking the receiver; returns the value's ticket.
    #[track_caller]
    fn push(&self, s: &mut State<T>, t: T) -> u64 {
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        s.queue.push_back((ticket, t));
        self.filled.notify_one();
        ticket
    }

    /// `send` of either kind of sender: blocks while a bounded channel is full, and on a
    /// rendezvous until the receiver has taken the value.
    #[track_caller]
    fn send(&self, t: T) -> Result<(), SendError<T>> {
        let mut s = self.lock();
        let bound = loop {
            if !s.receiver {
                return Err(SendError(t));
            }
            match s.bound {
                Some(n) if n > 0 && s.queue.len() >= n => s = self.wait(&self.drained, s),
                bound => break bound,
            }
        };
        let ticket = self.push(&mut s, t);
        if bound != Some(0) {
            return Ok(());
        }
        loop {
            let Some(at) = s.queue.iter().position(|(k, _)| *k == ticket) else {
                return Ok(());
            };
            if !s.receiver {
                let (_, t) = s.queue.remove(at).expect("the position was just found");
                return Err(SendError(t));
            }
            s = self.wait(&self.drained, s);
        }
    }

    #[track_caller]
    fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        let mut s = self.lock();
        if !s.receiver {
            return Err(TrySendError::Disconnected(t));
        }
        let room = match s.bound {
            None => true,
            Some(0) => s.receiving > s.queue.len(),
            Some(n) => s.queue.len() < n,
        };
        if !room {
            return Err(TrySendError::Full(t));
        }
        self.push(&mut s, t);
        Ok(())
    }

    /// Takes the oldest value under the lock held by `s`, waking bounded senders.
    #[track_caller]
    fn pop(&self, s: &mut State<T>) -> Option<T> {
        let (_, t) = s.queue.pop_front()?;
        if s.bound.is_some() {
            self.drained.notify_all();
        }
        Some(t)
    }

    #[track_caller]
    fn add_sender(self: &Arc<Self>) -> Arc<Self> {
        self.lock().senders += 1;
        self.clone()
    }

    fn drop_sender(&self) {
        if checker_unwinding() {
            return;
        }
        let mut s = self.lock();
        s.senders -= 1;
        if s.senders == 0 {
            self.filled.notify_all();
        }
    }
}

/// Whether a drop should leave the checker alone: it runs while a panic unwinds under loom or
/// shuttle. Their execution is over then (a panic, or the deadlock they report by panicking,
/// ends it) and a lock would panic again, which aborts the process; on real threads the drop
/// must still wake the other end.
pub(super) fn checker_unwinding() -> bool {
    std::thread::panicking() && crate::rt::dynamic::engine().is_some_and(|e| e != crate::vocab::Engine::Stress)
}

/// Creates an unbounded channel (`std::sync::mpsc::channel`): `send` never blocks.
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Shared::new(None);
    (Sender { shared: shared.clone() }, Receiver { shared, _not_sync: PhantomData })
}

/// Creates a channel that holds at most `bound` values (`std::sync::mpsc::sync_channel`): `send`
/// blocks while it is full. `bound == 0` is a rendezvous: `send` returns once the value is taken.
#[track_caller]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let shared = Shared::new(Some(bound));
    (SyncSender { shared: shared.clone() }, Receiver { shared, _not_sync: PhantomData })
}

/// `std::sync::mpsc::Sender`: the sending end of a [`channel`]; clone it for more senders.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `t`; `Err(SendError(t))` gives it back when the receiver is gone.
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.shared.send(t)
    }
}

impl<T> Clone for Sender<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        Sender { shared: self.shared.add_sender() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender()
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sender { .. }")
    }
}

/// `std::sync::mpsc::SyncSender`: the sending end of a [`sync_channel`].
pub struct SyncSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> SyncSender<T> {
    /// Sends `t`, blocking while the channel is full (on a rendezvous, until it is taken).
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.shared.send(t)
    }

    /// Sends `t` if that needs no waiting: `Full(t)` when there is no room (on a rendezvous,
    /// no receiver waiting), `Disconnected(t)` when the receiver is gone.
    #[track_caller]
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.shared.try_send(t)
    }
}

impl<T> Clone for SyncSender<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        SyncSender { shared: self.shared.add_sender() }
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender()
    }
}

impl<T> std::fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncSender { .. }")
    }
}

/// `std::sync::mpsc::Receiver`: the one receiving end (`Send`, not `Sync`, as std's).
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    _not_sync: PhantomData<Cell<()>>,
}

impl<T> Receiver<T> {
    /// Blocks until a value arrives; `Err(RecvError)` once the queue is empty and every sender
    /// is gone.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        let mut s = self.shared.lock();
        loop {
            if let Some(t) = self.shared.pop(&mut s) {
                return Ok(t);
            }
            if s.senders == 0 {
                return Err(RecvError);
            }
            // A rendezvous `try_send` may hand over to a receiver waiting here.
            s.receiving += 1;
            s = self.shared.wait(&self.shared.filled, s);
            s.receiving -= 1;
        }
    }

    /// Takes a value if one is waiting: `Empty` when none is, `Disconnected` when none is and
    /// every sender is gone.
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut s = self.shared.lock();
        match self.shared.pop(&mut s) {
            Some(t) => Ok(t),
            None if s.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Like [`Receiver::recv`], giving up after `timeout`: `Err(Timeout)` when no value came in
    /// time, `Err(Disconnected)` once the queue is empty and every sender is gone.
    ///
    /// On real threads a real timed wait. Under loom and shuttle, which have no clock, it is
    /// "may time out" ([`Condvar::wait_timeout`]): the receiver lets the other threads run for as
    /// long as the checker chooses (a scheduling point it explores), then takes a value that came
    /// meanwhile, or times out. It never blocks, so it is never part of a deadlock.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let start = Instant::now();
        let mut s = self.shared.lock();
        loop {
            if let Some(t) = self.shared.pop(&mut s) {
                return Ok(t);
            }
            if s.senders == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            let Some(left) = timeout.checked_sub(start.elapsed()) else {
                return Err(RecvTimeoutError::Timeout);
            };
            s.receiving += 1;
            let (guard, waited) = self.shared.filled.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner());
            s = guard;
            s.receiving -= 1;
            if waited.timed_out() {
                return match self.shared.pop(&mut s) {
                    Some(t) => Ok(t),
                    None if s.senders == 0 => Err(RecvTimeoutError::Disconnected),
                    None => Err(RecvTimeoutError::Timeout),
                };
            }
        }
    }

    /// An iterator of [`Receiver::recv`] until it fails.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator of [`Receiver::try_recv`]: the values waiting now, without blocking.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if checker_unwinding() {
            return;
        }
        let mut s = self.shared.lock();
        s.receiver = false;
        // Buffered values go with the receiver, as std's do; a rendezvous sender takes its own back.
        let dropped = if s.bound == Some(0) { VecDeque::new() } else { std::mem::take(&mut s.queue) };
        if s.bound.is_some() {
            self.shared.drained.notify_all();
        }
        drop(s);
        drop(dropped);
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

/// The values of a [`Receiver`], by [`Receiver::recv`] until every sender is gone.
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// The values waiting in a [`Receiver`], by [`Receiver::try_recv`] until none is.
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// The values of a [`Receiver`] it owns, by [`Receiver::recv`] until every sender is gone.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

/// Channels checked by loom and shuttle through one compilation.
#[cfg(test)]
mod tests {
    use super::{channel, sync_channel, RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
    use crate::report::{Coverage, Kind, Report, Verdict};
    use crate::runner::{self, Checker};
    use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use crate::sync::Arc;
    use crate::thread;

    /// The receiver takes one value and goes; the sender unwraps its second `send`.
    fn receiver_stops_early() {
        let (tx, rx) = channel();
        let t = thread::spawn(move || {
            for i in 0..2 {
                tx.send(i).unwrap(); // BUG: the receiver may be gone
            }
        });
        assert_eq!(rx.recv(), Ok(0));
        drop(rx);
        t.join().unwrap();
    }

    /// The receiver takes every value, until the sender is gone.
    fn receiver_drains() {
        let (tx, rx) = channel();
        let t = thread::spawn(move || {
            for i in 0..2 {
                tx.send(i).unwrap();
            }
        });
        assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1]);
        t.join().unwrap();
    }

    /// Two senders (one cloned) send and go: the receiver gets both values, then `RecvError`.
    fn senders_go() {
        let (tx, rx) = channel();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.send(1).unwrap());
        let b = thread::spawn(move || tx2.send(2).unwrap());
        let mut got = [rx.recv().unwrap(), rx.recv().unwrap()];
        got.sort();
        assert_eq!(got, [1, 2]);
        assert_eq!(rx.recv(), Err(RecvError), "every sender is gone");
        a.join().unwrap();
        b.join().unwrap();
    }

    /// A producer sends three values through `sync_channel(1)`; the consumer checks their order
    /// and that the producer never got more than one value ahead of it.
    fn producer_consumer() {
        let (tx, rx) = sync_channel(1);
        let sent = Arc::new(AtomicUsize::new(0));
        let s2 = sent.clone();
        let producer = thread::spawn(move || {
            for i in 0..3 {
                tx.send(i).unwrap();
                s2.fetch_add(1, SeqCst);
            }
        });
        let mut got = Vec::new();
        for v in &rx {
            got.push(v);
            assert!(sent.load(SeqCst) <= got.len() + 1, "a send did not block on a full channel");
        }
        assert_eq!(got, [0, 1, 2]);
        producer.join().unwrap();
    }

    /// `sync_channel(0)`: the sender is past `send` only once the receiver has the value; a
    /// receiver that goes instead hands the value back.
    fn rendezvous() {
        let (tx, rx) = sync_channel(0);
        let past = Arc::new(AtomicBool::new(false));
        let p2 = past.clone();
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            p2.store(true, SeqCst);
            assert_eq!(tx.send(2), Err(SendError(2)), "the receiver is gone");
        });
        assert!(!past.load(SeqCst), "a rendezvous send returned before its value was taken");
        assert_eq!(rx.recv(), Ok(1));
        drop(rx);
        t.join().unwrap();
    }

    /// A rendezvous nobody receives from: the sender blocks, holding its end, and `main` waits
    /// for it. A deadlock, reported rather than aborting the process: the blocked sender's
    /// `SyncSender` is dropped while the checker unwinds.
    fn nobody_receives() {
        let (tx, _rx) = sync_channel(0);
        let t = thread::spawn(move || tx.send(1).unwrap());
        t.join().unwrap();
    }

    /// The receiver takes one value of a `sync_channel(1)` and stops receiving, but keeps its
    /// end while it joins the sender: the sender, which handles a send error, blocks for ever
    /// on the full channel instead. Dropping the receiver first (`drop_first`) is the fix: the
    /// sender's next send fails and it stops.
    fn receiver_stops_but_stays(drop_first: bool) {
        let (tx, rx) = sync_channel(1);
        let t = thread::spawn(move || {
            for i in 0..3 {
                if tx.send(i).is_err() {
                    break;
                }
            }
        });
        assert_eq!(rx.recv(), Ok(0));
        if drop_first {
            drop(rx);
        }
        t.join().unwrap(); // BUG unless `drop_first`: nobody receives, and the receiver is alive
    }

    /// The non-blocking calls, on one thread.
    fn tries() {
        let (tx, rx) = sync_channel(1);
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        let (tx, rx) = sync_channel(0);
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)), "no receiver waits");
        drop(rx);
        assert_eq!(tx.try_send(1), Err(TrySendError::Disconnected(1)));
        let (tx, rx) = channel();
        drop(rx);
        assert_eq!(tx.send(3), Err(SendError(3)));
    }

    const PATIENCE: std::time::Duration = std::time::Duration::from_millis(200);

    /// A worker answers a request; the caller waits for the answer with a timeout and unwraps
    /// it: a timeout before the worker answered is a panic.
    fn answer_assumed_in_time() {
        let (tx, rx) = channel();
        let worker = thread::spawn(move || tx.send(7).unwrap());
        let answer = rx.recv_timeout(PATIENCE).unwrap(); // BUG: the time may be up first
        assert_eq!(answer, 7);
        worker.join().unwrap();
    }

    /// How often `answer_or_timeout` saw each outcome over a check: (timed out, answered,
    /// disconnected).
    static OUTCOMES: [std::sync::atomic::AtomicUsize; 3] = [
        std::sync::atomic::AtomicUsize::new(0),
        std::sync::atomic::AtomicUsize::new(0),
        std::sync::atomic::AtomicUsize::new(0),
    ];

    /// The fix: handle the timeout. The worker sends when `send` is true, else only goes.
    fn answer_or_timeout(send: bool) {
        let (tx, rx) = channel();
        let worker = thread::spawn(move || {
            if send {
                tx.send(7).unwrap();
            }
        });
        let outcome = rx.recv_timeout(PATIENCE);
        let i = match outcome {
            Err(RecvTimeoutError::Timeout) => 0,
            Ok(v) => {
                assert_eq!(v, 7);
                1
            }
            Err(RecvTimeoutError::Disconnected) => {
                assert!(!send, "disconnected with a value sent");
                2
            }
        };
        OUTCOMES[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        worker.join().unwrap();
        // Whatever came late is still there: the worker is gone now, so this cannot time out.
        let late = rx.recv_timeout(PATIENCE);
        match (send, i) {
            (true, 0) => assert_eq!(late, Ok(7), "a value that came late is kept"),
            _ => assert_eq!(late, Err(RecvTimeoutError::Disconnected)),
        }
    }

    /// Nobody sends, but a sender lives (on `main`): the wait times out, on every engine, and
    /// is no deadlock.
    fn nobody_sends() {
        let (tx, rx) = channel::<u32>();
        let idle = thread::spawn(|| ());
        assert_eq!(rx.recv_timeout(std::time::Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
        idle.join().unwrap();
        drop(tx);
    }

    /// A worker sends two values; `main` drains what is there with `try_iter` and takes that
    /// for everything (`all_there`), or drains again after the join.
    fn drain_waiting(all_there: bool) {
        let (tx, rx) = channel();
        let worker = thread::spawn(move || {
            for i in 0..2 {
                tx.send(i).unwrap();
            }
        });
        let mut got: Vec<i32> = rx.try_iter().collect();
        assert!([0, 1][..].starts_with(&got), "values in order");
        if all_there {
            assert_eq!(got, [0, 1], "try_iter took what was there, not everything");
            // BUG
        }
        worker.join().unwrap();
        got.extend(rx.try_iter());
        assert_eq!(got, [0, 1]);
        assert_eq!(format!("{:?}", rx.try_iter()), "TryIter { rx: Receiver { .. } }");
    }

    #[test]
    fn recv_timeout_may_time_out_and_the_checkers_explore_both_outcomes() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(answer_assumed_in_time, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Panic)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("Timeout"), "{}", r.render());
            for body in [(|| answer_or_timeout(true)) as fn(), || answer_or_timeout(false)] {
                let r = check(body, checker);
                assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
                assert!(r.executions > 1, "{}", r.render());
            }
            let r = check(nobody_sends, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
        }
        for (send, body) in [(true, (|| answer_or_timeout(true)) as fn()), (false, || answer_or_timeout(false))] {
            for o in &OUTCOMES {
                o.store(0, std::sync::atomic::Ordering::Relaxed);
            }
            let r = check(body, Checker::Loom);
            assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
            let [timed_out, answered, gone] = OUTCOMES.each_ref().map(|o| o.load(std::sync::atomic::Ordering::Relaxed));
            let other = if send { answered } else { gone };
            assert!(timed_out > 0 && other > 0, "send {send}: timed out {timed_out}, answered {answered}, gone {gone}");
        }
        // Real threads: a real timed wait.
        for body in [(|| answer_or_timeout(true)) as fn(), || answer_or_timeout(false), nobody_sends] {
            let r = runner::check_in_process("mpsc-model", body, Checker::Stress, Some(20));
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        }
    }

    #[test]
    fn try_iter_takes_only_what_is_there() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(|| drain_waiting(true), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            let r = check(|| drain_waiting(false), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
    }

    fn check(body: fn(), checker: Checker) -> Report {
        // loom runs to the end of its search; shuttle samples.
        runner::check_in_process("mpsc-model", body, checker, (checker != Checker::Loom).then_some(500))
    }

    fn passes_exhaustively(body: fn()) {
        let r = check(body, Checker::Loom);
        assert_eq!((r.verdict, &r.coverage), (Verdict::Passed, &Coverage::Exhaustive), "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
    }

    #[test]
    fn a_receiver_that_stops_early_fails_an_unwrapped_send_and_draining_passes() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(receiver_stops_early, checker);
            // An unwrap is a panic of the model, not one of its assertions.
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Panic)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("SendError"), "{}", r.render());
            let r = check(receiver_drains, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
    }

    #[test]
    fn when_every_sender_is_gone_recv_fails() {
        passes_exhaustively(senders_go);
        for checker in [Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(senders_go, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        }
    }

    #[test]
    fn a_deadlock_with_a_channel_end_on_a_blocked_thread_is_reported() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(nobody_receives, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
        }
    }

    #[test]
    fn a_receiver_that_stops_but_keeps_its_end_blocks_the_sender_and_dropping_it_passes() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
            let r = check(|| receiver_stops_but_stays(false), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
            let r = check(|| receiver_stops_but_stays(true), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
    }

    #[test]
    fn a_producer_and_consumer_over_sync_channel_1_pass_exhaustively() {
        passes_exhaustively(producer_consumer);
        // The same compiled model on real threads.
        let r = check(producer_consumer, Checker::Stress);
        assert_eq!((r.verdict, r.executions), (Verdict::Passed, 500), "{}", r.render());
    }

    #[test]
    fn a_rendezvous_hands_over_and_the_non_blocking_calls_say_why_not() {
        passes_exhaustively(rendezvous);
        // One thread: every assertion held, and the check says that nothing concurrent was shown.
        let r = check(tries, Checker::Loom);
        assert_eq!(r.inconclusive, Some(crate::report::Undecided::NoThreads), "{}", r.render());
    }
}
