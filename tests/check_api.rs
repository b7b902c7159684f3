//! `conclab::check` in a crate's own `cargo test`: models written against conclab's std facade,
//! checked from plain `#[test]`s. Each check's engines run in children that re-run the test
//! (a loom deadlock cannot abort this binary).

use conclab::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use conclab::sync::{Arc, Mutex};
use conclab::{thread, Check, Checker, Kind};

/// Two accounts; each transfer locks its source, then its destination: opposite transfers can
/// each hold one lock and wait for the other.
fn transfers(ordered: bool) {
    let a = Arc::new(Mutex::new(100).named("a"));
    let b = Arc::new(Mutex::new(100).named("b"));
    let (a2, b2) = (a.clone(), b.clone());
    let t = thread::spawn(move || {
        let (first, second) = if ordered { (&a2, &b2) } else { (&b2, &a2) };
        let mut from = first.lock().unwrap();
        let mut to = second.lock().unwrap();
        *from -= 10;
        *to += 10;
    });
    {
        let mut from = a.lock().unwrap();
        let mut to = b.lock().unwrap();
        *from -= 20;
        *to += 20;
    }
    t.join().unwrap();
    assert_eq!(*a.lock().unwrap() + *b.lock().unwrap(), 200, "the total changed");
}

fn transfers_in_opposite_orders() {
    transfers(false)
}

fn transfers_in_one_order() {
    transfers(true)
}

/// Two threads count with a load and a store.
fn racy_counter() {
    let hits = Arc::new(AtomicUsize::new(0).named("hits"));
    let h = hits.clone();
    let t = thread::spawn(move || {
        let n = h.load(SeqCst);
        h.store(n + 1, SeqCst);
    });
    let n = hits.load(SeqCst);
    hits.store(n + 1, SeqCst);
    t.join().unwrap();
    assert_eq!(hits.load(SeqCst), 2, "a hit was lost");
}

/// `threads` threads count with a load and a store; the mutex-guarded count with `locked`.
fn counters(threads: usize, locked: bool) {
    let hits = Arc::new(Mutex::new(0).named("hits"));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let hits = hits.clone();
            thread::spawn(move || {
                if locked {
                    *hits.lock().unwrap() += 1;
                } else {
                    let n = *hits.lock().unwrap();
                    *hits.lock().unwrap() = n + 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(*hits.lock().unwrap(), threads, "a hit was lost");
}

/// A model may be a closure that captures plain data, as loom's and shuttle's may: one test checks
/// a family of models, each check in its own children, each bug with a token that replays it.
#[test]
fn a_closure_that_captures_its_parameters_is_a_model() {
    for threads in [2, 3] {
        let r = Check::new().checker(Checker::Loom).report(move || counters(threads, false));
        assert_eq!(r.kind, Some(Kind::Assertion), "{threads} threads: {}", r.render());
        assert_eq!(r.threads.len(), threads + 1, "{threads} threads: {}", r.render());
        let r = Check::new().report(move || counters(threads, true));
        assert_eq!(r.verdict, conclab::report::Verdict::Passed, "{threads} threads: {}", r.render());
        assert!(r.executions > 1, "{}", r.render());
    }
}

/// An object the test makes and the model captures starts afresh in every execution, as a
/// `static` does: each execution counts from 0 (kept from the last, the count would be 4).
#[test]
fn an_object_the_model_captures_starts_afresh_in_every_execution() {
    let hits = Arc::new(AtomicUsize::new(0).named("hits"));
    let r = Check::new().report(move || {
        let h = hits.clone();
        let t = thread::spawn(move || {
            h.fetch_add(1, SeqCst);
        });
        hits.fetch_add(1, SeqCst);
        t.join().unwrap();
        assert_eq!(hits.load(SeqCst), 2, "a hit was lost");
    });
    assert_eq!(r.verdict, conclab::report::Verdict::Passed, "{}", r.render());
    assert!(r.executions > 1, "{}", r.render());
    // A captured value that owns memory cannot be copied for each execution: said, not guessed.
    let log = Arc::new(Mutex::new(vec![String::from("start")]));
    let r = Check::new().checker(Checker::ShuttleRandom).iterations(10).report(move || {
        let l = log.clone();
        thread::spawn(move || l.lock().unwrap().push("worker".into())).join().unwrap();
    });
    assert_eq!(r.inconclusive, Some(conclab::report::Undecided::EngineLimit), "not a bug: {}", r.render());
    assert!(r.message.as_deref().unwrap_or("").contains("used in more than one execution"), "{}", r.render());
}

/// A check inside a model is refused with the reason (in-process it would wait for itself).
#[test]
fn a_check_inside_a_model_is_refused() {
    let r = Check::new().checker(Checker::ShuttleRandom).iterations(5).report(|| {
        thread::spawn(|| {}).join().unwrap();
        conclab::check(|| {});
    });
    assert!(r.found_bug(), "{}", r.render());
    assert!(r.message.as_deref().unwrap_or("").contains("a check cannot run inside a model"), "{}", r.render());
}

/// A deadlock is a verdict with who waits for what.
#[test]
fn a_deadlock_under_loom_is_a_verdict_with_its_trace() {
    let r = Check::new().checker(Checker::Loom).report(transfers_in_opposite_orders);
    assert_eq!(r.kind, Some(Kind::Deadlock), "{}", r.render());
    assert!(r.render().contains("waits"), "who waits for what: {}", r.render());
    Check::new().checker(Checker::Loom).expect(Kind::Deadlock).run(transfers_in_opposite_orders);
}

#[test]
fn the_default_check_passes_a_fix_having_explored_every_engine() {
    let r = Check::new().report(transfers_in_one_order);
    assert_eq!(r.verdict, conclab::report::Verdict::Passed, "{}", r.render());
    assert!(r.executions > 1, "{}", r.render());
    for engine in ["loom", "shuttle-pct", "shuttle-random"] {
        assert!(r.notes.iter().any(|n| n.starts_with(engine)), "{engine} ran: {:?}", r.notes);
    }
    conclab::check(transfers_in_one_order);
}

/// A failed check panics with the report, the token and the command that replays it; the
/// command, run, prints that execution's trace.
#[test]
fn a_bug_fails_the_test_with_its_trace_and_a_replay_command_that_works() {
    let failed = std::panic::catch_unwind(|| conclab::check(racy_counter)).expect_err("a lost hit fails the test");
    let text = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("BUG FOUND (assertion)") && text.contains("a hit was lost"), "{text}");
    let token = text.split("CONCLAB_REPLAY='").nth(1).and_then(|t| t.split('\'').next()).expect("a replay command");
    assert!(
        token.starts_with("a_bug_fails_the_test_with_its_trace_and_a_replay_command_that_works:check-1:"),
        "{token}"
    );
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["replayed_by_token", "--exact", "--nocapture", "--include-ignored"])
        .env(
            "CONCLAB_REPLAY",
            token.replace("a_bug_fails_the_test_with_its_trace_and_a_replay_command_that_works", "replayed_by_token"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("a hit was lost") && stdout.contains("replayed"), "{stdout}");
}

/// Run by the test above, with its token (the same model under another test name).
#[test]
#[ignore = "run by a_bug_fails_the_test_with_its_trace_and_a_replay_command_that_works"]
fn replayed_by_token() {
    let r = Check::new().report(racy_counter);
    println!("{}", r.render());
    assert!(r.notes.iter().any(|n| n == "replayed"), "{:?}", r.notes);
}

/// A test with two checks: the child that works for the second one returns the first one's
/// report (its parent's) instead of searching again (and exits 2, failing the check, if it had
/// none to return).
#[test]
fn a_test_may_check_twice() {
    let first = Check::new().checker(Checker::ShuttleRandom).iterations(200).report(racy_counter);
    assert_eq!(first.kind, Some(Kind::Assertion), "{}", first.render());
    let second = Check::new().checker(Checker::Loom).report(transfers_in_one_order);
    assert_eq!(second.verdict, conclab::report::Verdict::Passed, "{}", second.render());
    assert!(second.replay.is_none() && second.executions > 1, "{}", second.render());
}

/// An execution that never ends (no facade call: no engine gets control back) is stopped at
/// the time budget: `timeout`, inconclusive, with what was covered. In this process nothing
/// could stop it; the engines run in a child that re-runs this test.
#[test]
fn an_execution_without_end_is_stopped_at_the_time_budget() {
    fn spins() {
        let stop = AtomicUsize::new(0).named("stop");
        if stop.load(SeqCst) == 0 {
            loop {
                std::hint::spin_loop();
            }
        }
    }
    let r = Check::new().checker(Checker::ShuttleRandom).timeout(std::time::Duration::from_secs(1)).report(spins);
    assert_eq!(r.verdict, conclab::report::Verdict::Inconclusive, "{}", r.render());
    assert_eq!(r.inconclusive, Some(conclab::report::Undecided::Timeout), "{}", r.render());
}

/// A model that ends its process (here `abort`; a stack overflow or an engine's own abort does
/// the same) ends its child, not the test binary: the check fails with what the child said.
#[test]
fn a_model_that_ends_its_process_does_not_end_the_test_binary() {
    fn aborts() {
        std::process::abort();
    }
    let failed = std::panic::catch_unwind(|| Check::new().checker(Checker::ShuttleRandom).report(aborts));
    let text = failed.expect_err("no report").downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("worker died"), "{text}");
}

/// `.expect(kind)` passes on a bug of that kind only: a pass, or a bug of another kind, fails.
#[test]
fn expect_fails_on_a_pass_and_on_another_kind() {
    for (model, says) in [(transfers_in_one_order as fn(), "PASSED"), (racy_counter, "BUG FOUND (assertion)")] {
        let failed = std::panic::catch_unwind(|| Check::new().checker(Checker::Loom).expect(Kind::Deadlock).run(model));
        let text = failed.expect_err("not the expected bug").downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.starts_with("expected a bug of kind `deadlock`") && text.contains(says), "{text}");
    }
}

/// A flag published with Relaxed stores: the reader can see the flag and miss the data. Only
/// loom models it; the default check needs no hint to run loom (before, code without catalog
/// metadata got shuttle alone, which passed it).
fn relaxed_publication() {
    use conclab::sync::atomic::Ordering::Relaxed;
    let data = Arc::new(AtomicUsize::new(0).named("data"));
    let ready = Arc::new(AtomicUsize::new(0).named("ready"));
    let (d, r) = (data.clone(), ready.clone());
    let writer = thread::spawn(move || {
        d.store(42, Relaxed);
        r.store(1, Relaxed);
    });
    if ready.load(Relaxed) == 1 {
        assert_eq!(data.load(Relaxed), 42, "the flag was up but the data was not there");
    }
    writer.join().unwrap();
}

#[test]
fn the_default_check_finds_a_weak_memory_bug_without_hints() {
    let r = Check::new().report(relaxed_publication);
    assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
    assert_eq!(r.found_by.as_deref(), Some("loom"), "{}", r.render());
}

/// A check that could not run (caught by the test) still has its number: the next check's child
/// works on the next model, not on that one again.
#[test]
fn a_check_that_failed_to_run_keeps_its_number() {
    fn aborts() {
        std::process::abort();
    }
    let failed = std::panic::catch_unwind(|| Check::new().checker(Checker::ShuttleRandom).report(aborts));
    assert!(failed.is_err());
    let r = Check::new().checker(Checker::Loom).report(transfers_in_one_order);
    assert_eq!(r.verdict, conclab::report::Verdict::Passed, "{}", r.render());
}

/// A model that starts no thread through `conclab::thread` shows the engines one thread: nothing
/// concurrent was checked, and the check says so rather than pass — above all when the threads
/// and locks are std's own, which the engines cannot see (a lost update here would read as a pass).
#[test]
fn a_model_without_conclab_threads_is_inconclusive_not_a_pass() {
    fn alone() {
        let m = Mutex::new(1).named("m");
        *m.lock().unwrap() += 1;
        assert_eq!(*m.lock().unwrap(), 2);
    }
    fn std_threads_with_a_lost_update() {
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let hits = hits.clone();
                std::thread::spawn(move || {
                    let seen = hits.load(SeqCst);
                    hits.store(seen + 1, SeqCst);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    }
    for (what, model) in [("alone", alone as fn()), ("std threads", std_threads_with_a_lost_update)] {
        let r = Check::new().report(model);
        assert_eq!(r.verdict, conclab::report::Verdict::Inconclusive, "{what}: {}", r.render());
        assert_eq!(r.inconclusive, Some(conclab::report::Undecided::NoThreads), "{what}: {}", r.render());
        assert!(r.render().contains("the model started no thread"), "{what}: {}", r.render());
        let failed = std::panic::catch_unwind(|| Check::new().run(model));
        assert!(failed.is_err(), "{what}: `check` does not return as if it passed");
    }
}

/// A malformed `CONCLAB_REPLAY` fails the check and says why; it is not silently ignored.
#[test]
fn a_malformed_replay_token_fails_the_check() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["replayed_by_token", "--exact", "--nocapture", "--include-ignored"])
        .env("CONCLAB_REPLAY", "garbage")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CONCLAB_REPLAY: malformed replay token `garbage`"), "{stderr}");
}

/// Two polite people in a corridor: each takes their half, tries the other's, steps back and
/// retries. The retry is declared (`conclab::lab::liveness`), so a lockstep of retries is a
/// livelock — which only shuttle drives (loom deprioritises a yielding thread). The default
/// check needs no hint to run shuttle.
fn polite(ordered: bool) {
    use conclab::lab::liveness::{progress, retry};
    let halves = Arc::new([Mutex::new(()).named("left"), Mutex::new(()).named("right")]);
    let walk = move |halves: &[Mutex<()>; 2], first: usize| {
        let first = if ordered { 0 } else { first };
        loop {
            let _mine = halves[first].lock().unwrap();
            if let Ok(_theirs) = halves[1 - first].try_lock() {
                progress("passes");
                return;
            }
            drop(_mine);
            retry("steps back", 3);
            thread::yield_now();
        }
    };
    let h = halves.clone();
    let other = thread::spawn(move || walk(&h, 1));
    walk(&halves, 0);
    other.join().unwrap();
}

#[test]
fn the_default_check_finds_a_retry_livelock_without_hints_and_passes_its_fix() {
    let r = Check::new().report(|| polite(false));
    assert_eq!(r.kind, Some(Kind::Livelock), "{}", r.render());
    assert!(r.found_by.as_deref().is_some_and(|b| b.starts_with("shuttle")), "{}", r.render());
    conclab::check(|| polite(true));
}

/// An object the test sets up before the check and the model then uses: each execution would
/// start from its initial value, not from the set-up, so the check refuses it and says why
/// (inconclusive: the program is not buggy, the check cannot model it as written).
#[test]
fn an_object_set_up_before_the_check_is_refused_with_the_reason() {
    let hits = Arc::new(AtomicUsize::new(0));
    hits.store(10, SeqCst);
    let r = Check::new().checker(Checker::ShuttleRandom).iterations(10).report(move || {
        let h = hits.clone();
        thread::spawn(move || h.fetch_add(1, SeqCst)).join().unwrap();
        assert!(hits.load(SeqCst) >= 11, "the set-up was lost");
    });
    assert_eq!(r.inconclusive, Some(conclab::report::Undecided::EngineLimit), "not a bug: {}", r.render());
    assert!(r.message.as_deref().unwrap_or("").contains("used outside any check and then in one"), "{}", r.render());
}
