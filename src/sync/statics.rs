//! `static`s of the facade's types, as std code writes them (`static HITS: AtomicUsize =
//! AtomicUsize::new(0);`): each execution of a check starts from their initial values, and
//! outside any check they behave as std's.

use super::atomic::{AtomicUsize, Ordering::SeqCst};
use super::{Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock};
use crate::report::{Coverage, Kind, Report, Undecided::EngineLimit, Verdict};
use crate::runner::{self, Checker};
use crate::thread;

fn check(body: fn(), checker: Checker) -> Report {
    runner::check_in_process("statics", body, checker, Some(5_000))
}

/// A page counts its hits in a static, as a server would.
static HITS: AtomicUsize = AtomicUsize::new(0);
/// The same page, counted right, in a static of its own.
static HITS_FIXED: AtomicUsize = AtomicUsize::new(0);

/// Two requests each count a hit with a load and a store.
fn hits_counted_with_load_then_store() {
    let t = thread::spawn(|| {
        let n = HITS.load(SeqCst);
        HITS.store(n + 1, SeqCst); // BUG: the other request's hit may land in between
    });
    let n = HITS.load(SeqCst);
    HITS.store(n + 1, SeqCst);
    t.join().unwrap();
    assert_eq!(HITS.load(SeqCst), 2, "a hit was lost");
}

/// The fix: one read-modify-write per hit. Passing it in a second execution needs the static to
/// start from 0 again: kept from the first, it would read 4.
fn hits_counted_with_fetch_add() {
    let t = thread::spawn(|| {
        HITS_FIXED.fetch_add(1, SeqCst);
    });
    HITS_FIXED.fetch_add(1, SeqCst);
    t.join().unwrap();
    assert_eq!(HITS_FIXED.load(SeqCst), 2, "a hit was lost");
}

#[test]
fn a_static_counter_starts_afresh_in_every_execution() {
    for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
        let r = check(hits_counted_with_load_then_store, checker);
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
        assert!(r.message.as_deref().unwrap_or("").contains("a hit was lost"), "{}", r.render());
        let r = check(hits_counted_with_fetch_add, checker);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
    }
    let r = check(hits_counted_with_fetch_add, Checker::Loom);
    assert_eq!(r.coverage, Coverage::Exhaustive, "{}", r.render());
    let r = runner::check_in_process("statics", hits_counted_with_fetch_add, Checker::Stress, Some(50));
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
}

/// Workers register by name in a static registry whose values own memory (`String`s).
static WORKERS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static WORKERS_FIXED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Registers `name` unless it is there: looked up under one lock, added under another.
fn register_checked_then_added(name: &str) {
    let known = WORKERS.lock().unwrap().iter().any(|n| n == name);
    if !known {
        WORKERS.lock().unwrap().push(name.to_string()); // BUG: another may have added it meanwhile
    }
}

/// Two threads register the same worker: it must be there once.
fn one_worker_registered_twice() {
    let t = thread::spawn(|| register_checked_then_added("backup"));
    register_checked_then_added("backup");
    t.join().unwrap();
    assert_eq!(WORKERS.lock().unwrap().len(), 1, "the worker was registered twice");
}

/// The fix: look up and add under one lock.
fn one_worker_registered_under_one_lock() {
    let register = || {
        let mut workers = WORKERS_FIXED.lock().unwrap();
        if !workers.iter().any(|n| n == "backup") {
            workers.push("backup".to_string());
        }
    };
    let t = thread::spawn(register);
    register();
    t.join().unwrap();
    assert_eq!(*WORKERS_FIXED.lock().unwrap(), ["backup"], "the worker was registered twice");
}

#[test]
fn a_static_registry_of_owned_values_starts_empty_in_every_execution() {
    for checker in [Checker::Loom, Checker::ShuttleRandom] {
        let r = check(one_worker_registered_twice, checker);
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
        let r = check(one_worker_registered_under_one_lock, checker);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
    }
}

/// Every kind of static std allows, used by two threads.
static CONFIG: OnceLock<String> = OnceLock::new();
static LOADS: AtomicUsize = AtomicUsize::new(0);
static LIMITS: LazyLock<Mutex<u32>> = LazyLock::new(|| Mutex::new(10));
static SETUP: Once = Once::new();
static SETUPS: AtomicUsize = AtomicUsize::new(0);
static TABLE: RwLock<[u8; 2]> = RwLock::new([0, 0]);
static READY: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());
static BOTH: Barrier = Barrier::new(2);

fn every_kind_of_static() {
    let work = |i: usize| {
        let config = CONFIG.get_or_init(|| {
            LOADS.fetch_add(1, SeqCst);
            "config".to_string()
        });
        assert_eq!(config, "config");
        SETUP.call_once(|| {
            SETUPS.fetch_add(1, SeqCst);
        });
        *LIMITS.lock().unwrap() -= 1;
        TABLE.write().unwrap()[i] = 1;
        BOTH.wait();
    };
    let t = thread::spawn(move || {
        work(1);
        *READY.0.lock().unwrap() = true;
        READY.1.notify_one();
    });
    work(0);
    let mut ready = READY.0.lock().unwrap();
    while !*ready {
        ready = READY.1.wait(ready).unwrap();
    }
    drop(ready);
    t.join().unwrap();
    assert_eq!((LOADS.load(SeqCst), SETUPS.load(SeqCst)), (1, 1), "initialised twice");
    assert_eq!(*LIMITS.lock().unwrap(), 8);
    assert_eq!(*TABLE.read().unwrap(), [1, 1]);
}

#[test]
fn every_kind_of_static_starts_afresh_in_every_execution() {
    for checker in [Checker::Loom, Checker::ShuttleRandom] {
        let r = check(every_kind_of_static, checker);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
    }
}

/// Outside any check the types are std's: a crate's other tests use them as they are.
static OUTSIDE_HITS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn outside_any_check_the_types_behave_as_std_s() {
    let pair = std::sync::Arc::new((Mutex::new(0), Condvar::new()));
    let p = pair.clone();
    let t = thread::spawn(move || {
        *p.0.lock().unwrap() += 1;
        p.1.notify_one();
        OUTSIDE_HITS.fetch_add(1, SeqCst);
    });
    let mut n = pair.0.lock().unwrap();
    while *n == 0 {
        n = pair.1.wait(n).unwrap();
    }
    drop(n);
    t.join().unwrap();
    OUTSIDE_HITS.fetch_add(1, SeqCst);
    assert_eq!(OUTSIDE_HITS.load(SeqCst), 2);
    let cell = OnceLock::new();
    assert_eq!(*cell.get_or_init(|| 7), 7);
    assert_eq!(crate::rt::dynamic::engine(), None, "a thread spawned outside any check is in none either");
}

/// Guards dropped so far: a static first used in a `Drop`.
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Counts itself dropped.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, SeqCst);
    }
}

/// A bug whose unwinding drops a guard that touches a static for the first time in the
/// execution: under loom that atomic is made while the execution unwinds (it must not unwind
/// again, which would abort the process).
fn a_guard_dropped_while_a_bug_unwinds() {
    let _guard = Guard;
    let t = thread::spawn(|| ());
    t.join().unwrap();
    panic!("the bug");
}

#[test]
fn a_static_first_used_while_an_execution_unwinds_is_no_abort() {
    for checker in [Checker::Loom, Checker::ShuttleRandom] {
        let r = check(a_guard_dropped_while_a_bug_unwinds, checker);
        assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(Kind::Assertion)), "{}", r.render());
    }
}

/// A registry a std `LazyLock` makes at run time, holding a conclab lock: the lock's initial value
/// is no constant (the image holds the empty `LazyLock`), so it cannot be copied for a second
/// execution, and the check says so instead of sharing the first execution's strings.
static STD_LAZY: std::sync::LazyLock<Mutex<Vec<String>>> =
    std::sync::LazyLock::new(|| Mutex::new(vec![String::from("seed")]));

fn a_conclab_lock_in_a_std_lazy_lock() {
    let t = thread::spawn(|| ());
    let seed = STD_LAZY.lock().unwrap().pop();
    assert_eq!(seed.as_deref(), Some("seed"), "the seed was corrupted");
    STD_LAZY.lock().unwrap().push(String::from("grown"));
    t.join().unwrap();
}

#[test]
fn a_conclab_object_a_std_lazy_lock_made_is_refused_in_a_second_execution_with_the_reason() {
    for checker in [Checker::Loom, Checker::ShuttleRandom] {
        let r = check(a_conclab_lock_in_a_std_lazy_lock, checker);
        assert_eq!((r.verdict, r.inconclusive), (Verdict::Inconclusive, Some(EngineLimit)), "{}", r.render());
        assert!(r.message.as_deref().unwrap_or("").contains("std's `LazyLock`"), "{}", r.render());
    }
}

/// Connections open now; a connection closes (and counts it) when dropped.
static OPEN: AtomicUsize = AtomicUsize::new(0);
static CONNECTIONS: Mutex<Vec<Connection>> = Mutex::new(Vec::new());

struct Connection;

impl Drop for Connection {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, SeqCst);
    }
}

/// A thread nobody joins keeps a static's lock past the model's main function, and the static
/// holds values whose `Drop` uses another static: a static's value lives on, as std's does (it
/// is never dropped), and the thread runs in its execution to the end.
fn a_thread_nobody_joins_holds_a_static_past_main() {
    OPEN.fetch_add(1, SeqCst);
    CONNECTIONS.lock().unwrap().push(Connection);
    thread::spawn(|| {
        let mut connections = CONNECTIONS.lock().unwrap();
        OPEN.fetch_add(1, SeqCst);
        connections.push(Connection);
        thread::yield_now();
        assert_eq!(connections.len(), 2);
    });
}

#[test]
fn statics_outlive_the_model_s_main_function_and_are_never_dropped() {
    for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
        let r = check(a_thread_nobody_joins_holds_a_static_past_main, checker);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
    }
}

/// How often the model caught a panic around a static's first use.
static CAUGHT: AtomicUsize = AtomicUsize::new(0);

/// A model that catches panics around an atomic's first use: under loom that first use may be
/// where the execution's pool of atomics runs short, which must not reach the model as a panic.
fn catches_panics_around_a_first_use() {
    let t = thread::spawn(|| ());
    let r = std::panic::catch_unwind(|| CAUGHT.fetch_add(1, SeqCst));
    assert!(r.is_ok(), "the first use of an atomic panicked");
    t.join().unwrap();
}

#[test]
fn a_model_that_catches_panics_never_sees_the_engine_s_own() {
    let r = check(catches_panics_around_a_first_use, Checker::Loom);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
}

/// An object used in an execution and then outside any check gets a binding outside, which goes
/// with the object: another object made later at the same address starts from its own initial
/// value, not from what the first left.
#[test]
fn an_object_s_bindings_go_with_it() {
    use super::atomic::AtomicU64;
    let _engine = crate::rt::dynamic::EngineScope::enter(crate::vocab::Engine::Stress);
    for _ in 0..3 {
        crate::rt::bind::begin();
        let a = Box::new(AtomicU64::new(0));
        a.fetch_add(1000, SeqCst);
        // The execution is over; outside any check now.
        crate::rt::bind::adopt((0, None));
        assert_eq!(a.fetch_add(1, SeqCst), 0, "an earlier object's binding was found");
    }
}

/// A static whose constant holds a pointer the loader relocates (a string literal's): still a
/// constant, copied for each execution.
static GREETING: Mutex<(String, &str)> = Mutex::new((String::new(), "hello"));

fn a_constant_with_a_string_literal() {
    let t = thread::spawn(|| GREETING.lock().unwrap().0.push('!'));
    GREETING.lock().unwrap().0.push('!');
    t.join().unwrap();
    let g = GREETING.lock().unwrap();
    assert_eq!((g.0.as_str(), g.1), ("!!", "hello"));
}

/// A lock whose value is held in `ManuallyDrop` (no drop glue, but it owns its buffer), made at
/// run time by a std `LazyLock`: a copy for a second execution would share the first's freed
/// buffer, so it is refused.
static STD_LAZY_MANUAL: std::sync::LazyLock<Mutex<std::mem::ManuallyDrop<Vec<u64>>>> =
    std::sync::LazyLock::new(|| Mutex::new(std::mem::ManuallyDrop::new(vec![1, 2])));

fn a_manually_dropped_vector_made_at_run_time() {
    let t = thread::spawn(|| ());
    let mut guard = STD_LAZY_MANUAL.lock().unwrap();
    drop(std::mem::take(&mut **guard));
    drop(guard);
    t.join().unwrap();
}

/// A static conclab lock kept in a std lock, written through `get_mut` in one execution: its
/// initial value is no constant any more, and a later execution is refused instead of copying
/// the string it holds.
static HOLDER: std::sync::Mutex<Mutex<Option<String>>> = std::sync::Mutex::new(Mutex::new(None));

fn written_through_get_mut() {
    let t = thread::spawn(|| ());
    // (A refusal unwinds while it holds this std lock: it is poisoned for the next check.)
    let mut holder = HOLDER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let value = holder.get_mut().unwrap();
    *value = Some(value.take().unwrap_or_default() + "x");
    drop(holder);
    t.join().unwrap();
}

/// Executions of `used_then_written_through_get_mut` so far (std's: it counts across them).
static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The first execution uses the lock; the next ones write it through `get_mut` before any use.
fn used_then_written_through_get_mut() {
    if RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
        let t = thread::spawn(|| ());
        let _ = HOLDER.lock().unwrap_or_else(std::sync::PoisonError::into_inner).lock().unwrap().is_some();
        t.join().unwrap();
    } else {
        written_through_get_mut();
    }
}

#[test]
fn only_constants_and_plain_values_are_copied_for_each_execution() {
    for checker in [Checker::Loom, Checker::ShuttleRandom] {
        let r = check(a_constant_with_a_string_literal, checker);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
        assert!(r.executions > 1, "{}", r.render());
        for model in [a_manually_dropped_vector_made_at_run_time as fn(), used_then_written_through_get_mut] {
            RUNS.store(0, std::sync::atomic::Ordering::Relaxed);
            let r = check(model, checker);
            assert_eq!((r.verdict, r.inconclusive), (Verdict::Inconclusive, Some(EngineLimit)), "{}", r.render());
            assert!(r.message.as_deref().unwrap_or("").contains("cannot be copied"), "{}", r.render());
        }
    }
}

/// A static whose constant points to `&'static` data with pointers of its own (in RELRO): a
/// constant too.
static WORDS: Mutex<&[&str]> = Mutex::new(&["a", "b"]);

fn a_constant_pointing_to_relocated_data() {
    let t = thread::spawn(|| *WORDS.lock().unwrap() = &["c"]);
    let first = WORDS.lock().unwrap()[0];
    t.join().unwrap();
    assert!(first == "a" || first == "c");
    assert_eq!(*WORDS.lock().unwrap(), ["c"]);
}

/// The name a static cell holds, and a std static that keeps a `&'static` to it across
/// executions (safe code may): the cell's values are never dropped, so it stays readable.
static NAME: OnceLock<String> = OnceLock::new();
static KEPT: std::sync::Mutex<Option<&'static String>> = std::sync::Mutex::new(None);

fn a_reference_kept_past_its_execution() {
    if let Some(old) = *KEPT.lock().unwrap() {
        assert_eq!(old.as_str(), "A".repeat(48), "a kept reference reads freed memory");
    }
    let t = thread::spawn(|| ());
    let name: &'static String = NAME.get_or_init(|| "A".repeat(48));
    *KEPT.lock().unwrap() = Some(name);
    let _ = std::hint::black_box("B".repeat(48));
    t.join().unwrap();
}

#[test]
fn references_a_static_lent_stay_valid_and_relocated_constants_copy() {
    for checker in [Checker::Loom, Checker::ShuttleRandom] {
        for model in [a_constant_pointing_to_relocated_data as fn(), a_reference_kept_past_its_execution] {
            let r = check(model, checker);
            assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
            assert!(r.executions > 1, "{}", r.render());
        }
    }
}
