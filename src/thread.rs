//! `std::thread` as a model checker sees it: spawn, name, join, `is_finished`, scope, park,
//! yield and sleep under the engine of the running check (see [`crate::sync`]). A `sleep` is a
//! scheduling point, not a delay: the checkers explore what may happen meanwhile.
//!
//! Engine limits: loom models at most 4 threads besides `main` in one execution
//! (`loom::MAX_THREADS` = 5); a 5th spawn fails the check with a message that names the limit
//! (check such a model with shuttle). [`scope`] runs on every engine (loom has none of its own:
//! the facade joins the scope's threads itself). Under the checkers, `park_timeout` is a
//! scheduling point that returns at once (a spurious return, which std allows).

use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

pub use std::thread::{panicking, Result};

pub use local::{AccessError, LocalKey};

use crate::rt::{self, Dynamic};

mod local;

/// `std::thread::ThreadId`: a thread's identity in the running execution (`main` is the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(usize);

/// `std::thread::Thread`: a handle to a thread of the running check.
#[derive(Clone)]
pub struct Thread {
    inner: rt::Thread<Dynamic>,
}

impl Thread {
    /// The name it was given: `main` for the check's first thread, `None` for a thread spawned
    /// without one (its trace column is `thread-<n>`).
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// The thread's identity in this execution.
    pub fn id(&self) -> ThreadId {
        ThreadId(self.inner.index())
    }

    /// Makes the thread's token available: its next [`park`] returns at once, or a parked
    /// thread wakes.
    #[track_caller]
    pub fn unpark(&self) {
        self.inner.unpark()
    }
}

impl std::fmt::Debug for Thread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thread").field("id", &self.id()).field("name", &self.name()).finish()
    }
}

/// The running thread.
pub fn current() -> Thread {
    Thread { inner: rt::current::<Dynamic>() }
}

/// Blocks until this thread's token is available (an [`Thread::unpark`]), then takes it. May
/// return spuriously, as std's may: park in a loop over a condition.
#[track_caller]
pub fn park() {
    rt::park::<Dynamic>()
}

/// [`park`] giving up after `dur` (under the checkers: a scheduling point, returning at once).
#[track_caller]
pub fn park_timeout(dur: Duration) {
    rt::park_timeout::<Dynamic>(dur)
}

/// `std::thread::JoinHandle`, checked.
pub struct JoinHandle<T: Send + 'static> {
    inner: rt::JoinHandle<T, Dynamic>,
    thread: Thread,
}

impl<T: Send + 'static> JoinHandle<T> {
    fn new(inner: rt::JoinHandle<T, Dynamic>) -> Self {
        let thread = Thread { inner: inner.thread() };
        JoinHandle { inner, thread }
    }

    /// Waits for the thread to finish; `Err` carries its panic.
    #[track_caller]
    pub fn join(self) -> Result<T> {
        self.inner.join()
    }

    /// Whether the thread's function has returned, without waiting (a `true` means `join` will
    /// not block). Under loom and shuttle a scheduling point: the poll races with the thread's
    /// end and both answers are explored; a `false` also yields, so a loop that polls is
    /// explored, not spun. Recorded in the trace as `is_finished <thread>: <answer>`.
    #[track_caller]
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The thread this handle joins.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }
}

impl<T: Send + 'static> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle").field("thread", &self.thread).finish_non_exhaustive()
    }
}

/// Spawns a thread of the running check (a column of its trace, `thread-<n>`).
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    JoinHandle::new(rt::spawn_thread::<Dynamic, F, T>(None, f))
}

/// `std::thread::Builder`: names a thread (its column in the trace) before spawning it.
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    /// A builder for an unnamed thread.
    pub fn new() -> Self {
        Builder { name: None }
    }

    /// Names the thread.
    pub fn name(mut self, name: String) -> Self {
        self.name = Some(name);
        self
    }

    /// Accepted and ignored: the checkers' threads are not OS threads, and the facade spawns
    /// real ones with the default stack.
    pub fn stack_size(self, _size: usize) -> Self {
        self
    }

    /// Spawns the thread; never fails under the checkers.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Ok(JoinHandle::new(rt::spawn_thread::<Dynamic, F, T>(self.name, f)))
    }

    /// Spawns a thread of `scope` (see [`Scope::spawn`]).
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> std::io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Ok(scope.spawn_named(self.name, f))
    }
}

/// A spawned scoped thread not joined yet: taken by its handle's `join` or at the scope's end.
type Unjoined = StdMutex<Option<rt::JoinHandle<(), Dynamic>>>;

/// `std::thread::Scope`: spawns threads that may borrow from outside the scope; every one is
/// joined before [`scope`] returns.
pub struct Scope<'scope, 'env: 'scope> {
    /// Every thread spawned in the scope (joined ones hold `None`).
    spawned: StdMutex<Vec<Arc<Unjoined>>>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// `std::thread::ScopedJoinHandle`: joins one thread of a [`Scope`].
pub struct ScopedJoinHandle<'scope, T> {
    unjoined: Arc<Unjoined>,
    result: Arc<StdMutex<Option<T>>>,
    thread: Thread,
    _scope: PhantomData<&'scope ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a thread that may borrow anything that outlives the scope; [`scope`] joins it
    /// before it returns, if its handle did not.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.spawn_named(None, f)
    }

    #[track_caller]
    fn spawn_named<F, T>(&'scope self, name: Option<String>, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let result = Arc::new(StdMutex::new(None));
        let slot = result.clone();
        let body: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || {
            let v = f();
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(v);
        });
        // SAFETY: as std's `scope` does with `spawn_unchecked`: every thread spawned here is
        // joined before `scope` returns — by its handle, or by `scope` itself, which also joins
        // them before letting a panic of its closure go on (on real threads; under loom and
        // shuttle a panic ends the execution, whose threads never run again, as with shuttle's
        // own `scope`). So nothing the body borrows for 'scope ends while it may run.
        let body: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(body) };
        let handle = rt::spawn_thread::<Dynamic, _, ()>(name, body);
        let thread = Thread { inner: handle.thread() };
        let unjoined = Arc::new(StdMutex::new(Some(handle)));
        self.spawned.lock().unwrap_or_else(PoisonError::into_inner).push(unjoined.clone());
        ScopedJoinHandle { unjoined, result, thread, _scope: PhantomData }
    }

    /// Joins every thread not joined yet, those spawned meanwhile by scoped threads too;
    /// whether one of them panicked.
    #[track_caller]
    fn join_all(&self) -> bool {
        let mut panicked = false;
        let mut next = 0;
        loop {
            let unjoined = {
                let spawned = self.spawned.lock().unwrap_or_else(PoisonError::into_inner);
                match spawned.get(next) {
                    Some(u) => u.clone(),
                    None => break,
                }
            };
            next += 1;
            let handle = unjoined.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(h) = handle {
                panicked |= h.join().is_err();
            }
        }
        panicked
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish; `Err` carries its panic.
    #[track_caller]
    pub fn join(self) -> Result<T> {
        let handle = self.unjoined.lock().unwrap_or_else(PoisonError::into_inner).take();
        let handle = handle.expect("a scoped thread is joined once, by its handle or by its scope's end");
        handle.join()?;
        Ok(self.result.lock().unwrap_or_else(PoisonError::into_inner).take().expect("the thread finished"))
    }

    /// Whether the thread's function has returned, without waiting; see
    /// [`JoinHandle::is_finished`].
    #[track_caller]
    pub fn is_finished(&self) -> bool {
        let unjoined = self.unjoined.lock().unwrap_or_else(PoisonError::into_inner);
        unjoined.as_ref().is_none_or(rt::JoinHandle::is_finished)
    }

    /// The thread this handle joins.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle").field("thread", &self.thread).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

/// `std::thread::scope`: runs `f` with a [`Scope`] whose threads may borrow from the caller;
/// returns once every thread spawned in it has finished. Panics if one of them panicked and
/// was not joined by its handle, as std's does. Runs on every engine (loom has no `scope` of
/// its own: the facade spawns and joins the threads itself).
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope { spawned: StdMutex::new(Vec::new()), scope: PhantomData, env: PhantomData };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let result = match result {
        // Under loom and shuttle the panic ends the execution (it may be the engine's own, a
        // deadlock it found): no model operation may run now.
        Err(e) if !<Dynamic as rt::Backend>::own_os_threads() => resume_unwind(e),
        other => other,
    };
    let panicked = scope.join_all();
    match result {
        Err(e) => resume_unwind(e),
        Ok(_) if panicked => panic!("a scoped thread panicked"),
        Ok(v) => v,
    }
}

/// `std::thread::available_parallelism`. Under loom and shuttle always 2, whatever the machine:
/// a model that sizes a pool by it is then the same model, and replays the same, everywhere
/// (and stays within loom's threads). On real threads, std's answer.
pub fn available_parallelism() -> std::io::Result<std::num::NonZeroUsize> {
    match rt::dynamic::engine() {
        Some(crate::vocab::Engine::Loom | crate::vocab::Engine::Shuttle) => {
            Ok(std::num::NonZeroUsize::new(2).expect("2 is not 0"))
        }
        _ => std::thread::available_parallelism(),
    }
}

/// Lets another thread run (the checkers deprioritise a yielding thread).
#[track_caller]
pub fn yield_now() {
    rt::yield_now::<Dynamic>()
}

/// A scheduling point standing for a sleep: the checkers have no clock, they explore what the
/// other threads may do meanwhile.
#[track_caller]
pub fn sleep(_duration: Duration) {
    rt::yield_now::<Dynamic>()
}

/// Threads, scopes and parking checked by loom, shuttle and real threads through one
/// compilation.
#[cfg(test)]
mod tests {
    use super::{current, park, scope, spawn, Builder, Thread};
    use crate::report::{Coverage, Kind, Report, Verdict};
    use crate::runner::{self, Checker};
    use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use crate::sync::{Arc, Mutex};

    fn check(body: fn(), checker: Checker) -> Report {
        // loom runs to the end of its search; shuttle and real threads sample.
        runner::check_in_process("thread-model", body, checker, (checker != Checker::Loom).then_some(500))
    }

    const MODELS: [Checker; 3] = [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct];

    /// Two scoped threads count into a counter on `main`'s stack, each with a load and a store.
    fn scoped_lost_update() {
        let count = AtomicUsize::new(0);
        scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let v = count.load(SeqCst);
                    count.store(v + 1, SeqCst); // BUG: another thread may have counted meanwhile
                });
            }
        });
        assert_eq!(count.load(SeqCst), 2, "a scoped thread's increment was lost");
    }

    /// The same with `fetch_add`; one thread joined by its handle, one spawned by a scoped
    /// thread, one left to the scope's end; the scope returns a value.
    fn scoped_counting() {
        let count = AtomicUsize::new(0);
        let seen = scope(|s| {
            let first = s.spawn(|| count.fetch_add(1, SeqCst));
            s.spawn(|| {
                s.spawn(|| count.fetch_add(1, SeqCst));
            });
            let named = Builder::new().name("third".into()).spawn_scoped(s, || {
                count.fetch_add(1, SeqCst);
                current().name().map(str::to_string)
            });
            assert_eq!(named.unwrap().join().unwrap().as_deref(), Some("third"));
            first.join().unwrap()
        });
        assert!(seen < 3);
        assert_eq!(count.load(SeqCst), 3, "every scoped thread was joined before scope returned");
    }

    #[test]
    fn scoped_threads_borrow_from_main_race_when_unsynchronised_and_are_all_joined() {
        for checker in MODELS {
            let r = check(scoped_lost_update, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("increment was lost"), "{}", r.render());
            let r = check(scoped_counting, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        assert_eq!(check(scoped_counting, Checker::Loom).coverage, Coverage::Exhaustive);
        let r = check(scoped_counting, Checker::Stress);
        assert_eq!((r.verdict, r.executions), (Verdict::Passed, 500), "{}", r.render());
    }

    /// A waiter checks a flag, then registers itself to be unparked and parks: the setter may
    /// set the flag and find nobody registered in between, and the waiter parks for ever.
    fn registered_after_the_check() {
        parked_handoff(false)
    }

    /// The fix: register first, then park while the flag is down.
    fn registered_before_the_check() {
        parked_handoff(true)
    }

    fn parked_handoff(register_first: bool) {
        let (ready, waiting) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(None::<Thread>)));
        let (r2, w2) = (ready.clone(), waiting.clone());
        let waiter = spawn(move || {
            if register_first {
                *w2.lock().unwrap() = Some(current());
                while !r2.load(SeqCst) {
                    park();
                }
            } else if !r2.load(SeqCst) {
                *w2.lock().unwrap() = Some(current()); // BUG: the flag may be up already
                park();
            }
        });
        ready.store(true, SeqCst);
        if let Some(t) = waiting.lock().unwrap().take() {
            t.unpark();
        }
        waiter.join().unwrap();
    }

    #[test]
    fn a_wakeup_lost_between_check_and_park_is_a_deadlock_and_registering_first_passes() {
        for checker in MODELS {
            let r = check(registered_after_the_check, checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Deadlock)), "{}", r.render());
            // The parked thread is named among the blocked, with where it parked.
            let text = r.render();
            assert!(text.contains("thread-1 waits to park until someone unparks thread-1 at src/thread.rs:"), "{text}");
            let r = check(registered_before_the_check, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        let r = check(registered_before_the_check, Checker::Stress);
        assert_eq!((r.verdict, r.executions), (Verdict::Passed, 500), "{}", r.render());
    }

    /// Names and ids as std gives them: `main`, a given name, none for an unnamed thread.
    fn names_and_ids() {
        let me = current();
        assert_eq!(me.name(), Some("main"));
        let named = Builder::new()
            .name("worker".into())
            .stack_size(1 << 16)
            .spawn(|| (current().name().map(str::to_string), current().id()))
            .unwrap();
        let unnamed = spawn(|| current().name().is_none());
        assert_eq!(named.thread().name(), Some("worker"));
        let (worker_id, unnamed_id) = (named.thread().id(), unnamed.thread().id());
        assert!(worker_id != me.id() && worker_id != unnamed_id && unnamed_id != me.id());
        let (name, id) = named.join().unwrap();
        assert_eq!((name.as_deref(), id), (Some("worker"), worker_id));
        assert!(unnamed.join().unwrap(), "an unnamed thread has no name");
        assert_eq!(current().id(), me.id());
    }

    #[test]
    fn current_names_ids_and_join_handle_threads_read_as_std_s() {
        for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::Stress] {
            let r = check(names_and_ids, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
        }
    }

    /// How often `polled_outcomes` saw each answer over a check: (not finished, finished).
    static POLLS: [AtomicUsizeStd; 2] = [AtomicUsizeStd::new(0), AtomicUsizeStd::new(0)];
    use std::sync::atomic::AtomicUsize as AtomicUsizeStd;

    /// Two workers count themselves done as their last act; a supervisor polls `is_finished`
    /// and compares. `exact` takes "finished" and "counted" to be the same: a worker may have
    /// counted and not yet returned. A finished worker has counted, though: `<=` holds.
    fn supervisor(exact: bool) {
        let done = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let done = done.clone();
                spawn(move || {
                    done.fetch_add(1, SeqCst);
                })
            })
            .collect();
        let finished = workers.iter().filter(|w| w.is_finished()).count();
        POLLS[usize::from(finished > 0)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let counted = done.load(SeqCst);
        if exact {
            assert_eq!(finished, counted, "a worker counted but had not finished");
        // BUG
        } else {
            assert!(finished <= counted, "a finished worker had not counted");
        }
        for w in workers {
            w.join().unwrap();
        }
    }

    /// A poll loop with no sleep or yield of its own, then a join; and a scoped thread polled
    /// the same way. Under the checkers the loop ends because a `false` answer yields.
    fn poll_until_finished() {
        let h = spawn(|| 7);
        while !h.is_finished() {}
        assert_eq!(h.join().unwrap(), 7);
        let x = AtomicUsize::new(0);
        scope(|s| {
            let h = s.spawn(|| x.fetch_add(1, SeqCst));
            while !h.is_finished() {}
            assert_eq!(x.load(SeqCst), 1, "a finished scoped thread's write is visible");
            assert_eq!(h.join().unwrap(), 0);
        });
        assert!(super::available_parallelism().unwrap().get() >= 1);
    }

    #[test]
    fn is_finished_races_with_the_thread_s_end_and_a_poll_loop_is_explored() {
        for checker in MODELS {
            let r = check(|| supervisor(true), checker);
            assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("had not finished"), "{}", r.render());
            if checker == Checker::Loom {
                // The poll is in the trace, with its answer.
                assert!(r.render().contains("is_finished thread-"), "{}", r.render());
            }
            let r = check(|| supervisor(false), checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
            let r = check(poll_until_finished, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
        for p in &POLLS {
            p.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        let r = check(|| supervisor(false), Checker::Loom);
        assert_eq!(r.coverage, Coverage::Exhaustive, "{}", r.render());
        let [running, finished] = POLLS.each_ref().map(|p| p.load(std::sync::atomic::Ordering::Relaxed));
        assert!(running > 0 && finished > 0, "not finished {running}, finished {finished}");
        for body in [(|| supervisor(false)) as fn(), poll_until_finished] {
            let r = check(body, Checker::Stress);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        }
    }

    /// Five workers besides `main`: one more than loom models.
    fn five_workers() {
        let count = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let count = count.clone();
                spawn(move || count.fetch_add(1, SeqCst))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(count.load(SeqCst), 5);
    }

    #[test]
    fn a_fifth_thread_under_loom_names_loom_s_limit_and_shuttle_checks_it() {
        let r = check(five_workers, Checker::Loom);
        assert_eq!(r.inconclusive, Some(crate::report::Undecided::EngineLimit), "not a bug: {}", r.render());
        let message = r.message.clone().unwrap_or_default();
        assert!(
            message.contains("engine limit: loom models at most 4 threads besides main")
                && message.contains("loom::MAX_THREADS = 5")
                && message.contains("thread number 5"),
            "{message}"
        );
        let r = check(five_workers, Checker::ShuttleRandom);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        // The default check lets shuttle judge what loom cannot model.
        let r = check(five_workers, Checker::Portfolio);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        assert!(r.notes.iter().any(|n| n.starts_with("loom: engine limit")), "{:?}", r.notes);
    }
}
