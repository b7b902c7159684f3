//! Memory-model litmus programs on loom, through the facade: SeqCst keeps its meaning (store
//! buffering, Dekker, Peterson pass exhaustively), weaker orderings keep loom's weak memory
//! (the same programs with Release/Acquire fail), and a bug that only mixing orderings shows is
//! reported as what it is. Test-only.

use std::sync::atomic::Ordering::{self, Acquire, Relaxed, Release, SeqCst};

use crate::hint;
use crate::lab::invariant;
use crate::report::{Coverage, Kind, Report, Undecided, Verdict};
use crate::rt::{Loom, SeqCstModel};
use crate::runner::{self, Checker, Options};
use crate::sync::atomic::{AtomicBool, AtomicUsize};
use crate::sync::Arc;
use crate::thread;

/// Store buffering: each thread stores its flag, then reads the other's. Under SeqCst at least
/// one of them sees the other's store; with Release stores and Acquire loads both may read 0.
fn store_buffering(store: Ordering, load: Ordering) {
    let x = Arc::new(AtomicUsize::new(0).named("x"));
    let y = Arc::new(AtomicUsize::new(0).named("y"));
    let (x1, y1) = (x.clone(), y.clone());
    let t = thread::spawn(move || {
        x1.store(1, store);
        y1.load(load)
    });
    y.store(1, store);
    let r2 = x.load(load);
    let r1 = t.join().unwrap();
    invariant(r1 == 1 || r2 == 1, || "both threads read 0: each missed the other's store".into());
}

fn sb_seqcst() {
    store_buffering(SeqCst, SeqCst)
}
fn sb_release_acquire() {
    store_buffering(Release, Acquire)
}

/// 2+2W: each thread writes both atomics, in opposite orders; after both, neither atomic may
/// hold its first-written value on both (that needs a cycle in SeqCst's single order). Release
/// stores allow it.
fn two_plus_two_writes(store: Ordering) {
    let x = Arc::new(AtomicUsize::new(0).named("x"));
    let y = Arc::new(AtomicUsize::new(0).named("y"));
    let (x1, y1) = (x.clone(), y.clone());
    let t = thread::spawn(move || {
        x1.store(1, store);
        y1.store(2, store);
    });
    y.store(1, store);
    x.store(2, store);
    t.join().unwrap();
    let (a, b) = (x.load(SeqCst), y.load(SeqCst));
    invariant(!(a == 1 && b == 1), || "x = 1 and y = 1: each thread's first store came last".into());
}

fn two_plus_two_writes_seqcst() {
    two_plus_two_writes(SeqCst)
}
fn two_plus_two_writes_release() {
    two_plus_two_writes(Release)
}

/// Dekker's entry protocol, one attempt each: raise my flag, enter only if the other's is down.
/// Under SeqCst the two cannot both enter.
fn dekker(store: Ordering, load: Ordering) {
    let flags = Arc::new([AtomicBool::new(false).named("flag-0"), AtomicBool::new(false).named("flag-1")]);
    let inside = Arc::new(AtomicUsize::new(0).named("inside"));
    let attempt = move |me: usize, flags: &[AtomicBool; 2], inside: &AtomicUsize| {
        flags[me].store(true, store);
        if !flags[1 - me].load(load) {
            let n = inside.fetch_add(1, SeqCst) + 1;
            invariant(n == 1, || "both threads are in the critical section".into());
            inside.fetch_sub(1, SeqCst);
        }
        flags[me].store(false, store);
    };
    let (f, i) = (flags.clone(), inside.clone());
    let t = thread::spawn(move || attempt(1, &f, &i));
    attempt(0, &flags, &inside);
    t.join().unwrap();
}

fn dekker_seqcst() {
    dekker(SeqCst, SeqCst)
}
fn dekker_release_acquire() {
    dekker(Release, Acquire)
}

/// Peterson's lock for two threads, each entering once.
fn peterson(store: Ordering, load: Ordering) {
    let flags = Arc::new([AtomicBool::new(false).named("flag-0"), AtomicBool::new(false).named("flag-1")]);
    let turn = Arc::new(AtomicUsize::new(0).named("turn"));
    let inside = Arc::new(AtomicUsize::new(0).named("inside"));
    let enter = move |me: usize, flags: &[AtomicBool; 2], turn: &AtomicUsize, inside: &AtomicUsize| {
        let other = 1 - me;
        flags[me].store(true, store);
        turn.store(other, store);
        while flags[other].load(load) && turn.load(load) == other {
            hint::spin_loop();
        }
        let n = inside.fetch_add(1, SeqCst) + 1;
        invariant(n == 1, || "both threads are in the critical section".into());
        inside.fetch_sub(1, SeqCst);
        flags[me].store(false, store);
    };
    let (f, tu, i) = (flags.clone(), turn.clone(), inside.clone());
    let t = thread::spawn(move || enter(1, &f, &tu, &i));
    enter(0, &flags, &turn, &inside);
    t.join().unwrap();
}

fn peterson_seqcst() {
    peterson(SeqCst, SeqCst)
}
fn peterson_release_acquire() {
    peterson(Release, Acquire)
}

/// Mixed orderings: the writer's Relaxed stores of `data` and then `done` are ordered for no one,
/// so a reader may see `done` up and `data` still 0 — a real bug. Both threads also load `x`
/// with SeqCst: a SeqCst load acquires but releases nothing, so it orders nothing here. (When
/// the exact model ran SeqCst loads as SeqCst read-modify-writes, which release, they hid it.)
fn mixed_orderings() {
    let data = Arc::new(AtomicUsize::new(0).named("data"));
    let done = Arc::new(AtomicUsize::new(0).named("done"));
    let x = Arc::new(AtomicUsize::new(0).named("x"));
    let (d, f, x1) = (data.clone(), done.clone(), x.clone());
    let writer = thread::spawn(move || {
        d.store(1, Relaxed);
        x1.load(SeqCst);
        f.store(1, Relaxed);
    });
    let seen = done.load(Relaxed);
    x.load(SeqCst);
    let got = data.load(Relaxed);
    invariant(seen == 0 || got == 1, || "done was up but the data read was stale".into());
    writer.join().unwrap();
}

/// Store buffering with Relaxed stores and SeqCst loads: a Relaxed store is not in SeqCst's
/// single order, so each load may miss the other thread's store — both read 0, a real bug under
/// the C++/Rust model. The exact model's SeqCst loads read the newest value and cannot show it;
/// plain loom can, and cannot tell it from its false alarms.
fn sb_relaxed_stores_seqcst_loads() {
    store_buffering(Relaxed, SeqCst)
}

/// A Release store read by a SeqCst load, nothing else: correct, and mixed (the plain search
/// runs, where the SeqCst load is a plain load).
fn release_store_seqcst_load() {
    let x = Arc::new(AtomicUsize::new(0).named("x"));
    let x1 = x.clone();
    let t = thread::spawn(move || x1.store(1, Release));
    let seen = x.load(SeqCst);
    t.join().unwrap();
    invariant(seen <= 1, || "a value nobody wrote".into());
}

/// Checks `body` with loom as the runner does (SeqCst exact, then plain loom when the orderings
/// mix), in this process.
fn check(name: &'static str, body: fn()) -> Report {
    runner::check_in_process(name, body, Checker::Loom, None)
}

fn assert_exhaustive_pass(r: &Report) {
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
    assert_eq!(r.coverage, Coverage::Exhaustive, "{}", r.render());
    assert!(r.executions > 1, "{}", r.render());
}

fn assert_found(r: &Report) {
    assert_eq!(r.verdict, Verdict::BugFound, "{}", r.render());
    assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
}

#[test]
fn all_seqcst_litmus_programs_pass_loom_exhaustively() {
    for (name, body) in [
        ("sb", sb_seqcst as fn()),
        ("2+2w", two_plus_two_writes_seqcst as fn()),
        ("dekker", dekker_seqcst as fn()),
        ("peterson", peterson_seqcst as fn()),
    ] {
        let r = check(name, body);
        assert_exhaustive_pass(&r);
        assert!(!r.notes.iter().any(|n| n.contains("AcqRel")), "no second search: nothing mixes\n{}", r.render());
    }
}

#[test]
fn the_same_programs_with_release_and_acquire_are_found() {
    for (name, body) in [
        ("sb", sb_release_acquire as fn()),
        ("2+2w", two_plus_two_writes_release as fn()),
        ("dekker", dekker_release_acquire as fn()),
        ("peterson", peterson_release_acquire as fn()),
    ] {
        assert_found(&check(name, body));
    }
}

/// Plain loom (SeqCst as AcqRel) reports the all-SeqCst programs buggy: this is what the exact
/// model fixes, and the proof that the passing test above can fail.
#[test]
fn plain_loom_would_raise_false_alarms_on_them() {
    // The atomics are loom's (outside any check they would be real threads').
    let _engine = crate::rt::dynamic::EngineScope::enter(crate::catalog::Engine::Loom);
    for body in [sb_seqcst as fn(), dekker_seqcst as fn(), peterson_seqcst as fn()] {
        Loom::set_seqcst_model(SeqCstModel::AcqRel);
        let mut b = loom::model::Builder::new();
        b.log = false;
        b.checkpoint_file = None;
        let found = std::panic::catch_unwind(|| crate::engine::loom::check_bare(&b, body));
        Loom::set_seqcst_model(SeqCstModel::Exact);
        let message = found
            .map_err(|p| crate::engine::panic_text(&*p))
            .expect_err("plain loom no longer weakens SeqCst: the exact model may be unneeded");
        // The program's own invariant failed, not the check's set-up.
        assert!(message.starts_with("invariant violated"), "{message}");
    }
}

#[test]
fn a_real_bug_of_mixed_orderings_is_found_by_the_exact_model() {
    let r = check("mixed", mixed_orderings);
    assert_found(&r);
    assert!(r.replay.as_deref().is_some_and(|t| t.starts_with("mixed:model:loom:b")), "{}", r.render());
}

#[test]
fn a_failure_only_plain_loom_shows_is_reported_as_weakened_seqcst_not_dropped() {
    let r = check("sb-mixed", sb_relaxed_stores_seqcst_loads);
    assert_eq!(r.verdict, Verdict::Inconclusive, "{}", r.render());
    assert_eq!(r.inconclusive, Some(Undecided::WeakSeqCst), "{}", r.render());
    assert_eq!(r.kind, Some(Kind::Assertion), "{}", r.render());
    assert!(r.render().contains("possible only if SeqCst were AcqRel"), "{}", r.render());
    assert!(!r.trace.is_empty(), "the execution is shown:\n{}", r.render());
    // Its token replays it in loom's own model, where it fails again, and says so again.
    let token = r.replay.clone().expect("a token");
    assert!(token.starts_with("sb-mixed:model:loom-acqrel:b"), "{token}");
    let s = crate::catalog::ad_hoc("sb-mixed", sb_relaxed_stores_seqcst_loads);
    let options = Options { isolation: runner::Isolation::InProcess, ..Options::new(Checker::Loom, "") };
    let again = runner::replay_scenario(&s, "model", &token, &options).expect("the token reproduces");
    assert_eq!(again.inconclusive, Some(Undecided::WeakSeqCst), "{}", again.render());
    assert_eq!(again.trace, r.trace);
}

/// Random two-thread programs over two atomics, every access SeqCst: the outcomes loom explores
/// under the exact model must be exactly the outcomes of the interleavings — none more (no
/// false alarm is possible) and none fewer (no bug is missed).
mod random_programs {
    use std::collections::BTreeSet;
    use std::sync::Mutex as StdMutex;

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Copy, Debug)]
    enum Op {
        Load(usize),
        Store(usize, usize),
        FetchAdd(usize),
    }

    /// What an execution showed: each thread's loaded values, then the atomics' final values.
    type Outcome = (Vec<usize>, Vec<usize>, [usize; 2]);

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..2usize).prop_map(Op::Load),
            (0..2usize, 1..4usize).prop_map(|(v, x)| Op::Store(v, x)),
            (0..2usize).prop_map(Op::FetchAdd),
        ]
    }

    /// Runs one thread's ops on `vars` in `o`, returning the values its loads read.
    fn run(ops: &[Op], load: &mut dyn FnMut(usize) -> usize, write: &mut dyn FnMut(Op)) -> Vec<usize> {
        let mut seen = vec![];
        for &op in ops {
            match op {
                Op::Load(v) => seen.push(load(v)),
                other => write(other),
            }
        }
        seen
    }

    /// Every outcome of every interleaving of the two threads.
    fn interleavings(a: &[Op], b: &[Op]) -> BTreeSet<Outcome> {
        fn go(
            a: &[Op],
            b: &[Op],
            i: usize,
            j: usize,
            mem: [usize; 2],
            seen: (Vec<usize>, Vec<usize>),
            out: &mut BTreeSet<Outcome>,
        ) {
            if i == a.len() && j == b.len() {
                out.insert((seen.0, seen.1, mem));
                return;
            }
            for (which, ops, k) in [(0, a, i), (1, b, j)] {
                let Some(&op) = ops.get(k) else { continue };
                let (mut mem, mut seen) = (mem, seen.clone());
                match op {
                    Op::Load(v) => {
                        if which == 0 {
                            seen.0.push(mem[v])
                        } else {
                            seen.1.push(mem[v])
                        }
                    }
                    Op::Store(v, x) => mem[v] = x,
                    Op::FetchAdd(v) => mem[v] += 1,
                }
                let (i, j) = if which == 0 { (i + 1, j) } else { (i, j + 1) };
                go(a, b, i, j, mem, seen, out);
            }
        }
        let mut out = BTreeSet::new();
        go(a, b, 0, 0, [0, 0], (vec![], vec![]), &mut out);
        out
    }

    /// One thread's ops on `vars`: all SeqCst, or (any other `o`) Release/Acquire/AcqRel.
    fn thread_ops(ops: &[Op], vars: &[AtomicUsize; 2], o: Ordering) -> Vec<usize> {
        let (load_o, store_o, rmw_o) =
            if o == SeqCst { (SeqCst, SeqCst, SeqCst) } else { (Acquire, Release, Ordering::AcqRel) };
        run(ops, &mut |v| vars[v].load(load_o), &mut |op| match op {
            Op::Store(v, x) => vars[v].store(x, store_o),
            Op::FetchAdd(v) => {
                vars[v].fetch_add(1, rmw_o);
            }
            Op::Load(_) => unreachable!(),
        })
    }

    /// Every outcome loom explores, with SeqCst exact (`o` = SeqCst) or weaker orderings.
    fn explored(a: Vec<Op>, b: Vec<Op>, o: Ordering) -> BTreeSet<Outcome> {
        static SEEN: StdMutex<Option<BTreeSet<Outcome>>> = StdMutex::new(None);
        let _one_at_a_time = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        *SEEN.lock().unwrap() = Some(BTreeSet::new());
        Loom::set_seqcst_model(SeqCstModel::Exact);
        let _engine = crate::rt::dynamic::EngineScope::enter(crate::catalog::Engine::Loom);
        let mut builder = loom::model::Builder::new();
        builder.log = false;
        builder.checkpoint_file = None;
        crate::engine::loom::check_bare(&builder, move || {
            let vars = Arc::new([AtomicUsize::new(0).named("x"), AtomicUsize::new(0).named("y")]);
            let (b2, v2) = (b.clone(), vars.clone());
            let t = thread::spawn(move || thread_ops(&b2, &v2, o));
            let seen_a = thread_ops(&a, &vars, o);
            let seen_b = t.join().unwrap();
            let end = [vars[0].load(SeqCst), vars[1].load(SeqCst)];
            SEEN.lock().unwrap().as_mut().unwrap().insert((seen_a, seen_b, end));
        });
        SEEN.lock().unwrap().take().unwrap()
    }

    /// loom 0.7.3's DPOR misses interleavings of plain (non-read-modify-write) loads (loom#166,
    /// #392): here the main thread's Acquire load of `x` never runs after the other thread's
    /// store, because loom compares that store only with the other thread's own earlier load.
    /// This is why a loom pass lists `weak_load_interleavings` as not covered when the program
    /// used Relaxed or Acquire loads, and why the exact model's SeqCst loads (read-modify-writes,
    /// which loom does compare) have all their interleavings. Should loom fix it, this test fails:
    /// then drop the blind spot.
    #[test]
    fn loom_misses_interleavings_of_weaker_loads() {
        let (a, b) = (vec![Op::Load(0)], vec![Op::Load(0), Op::Store(0, 1)]);
        let all = interleavings(&a, &b);
        assert_eq!(explored(a.clone(), b.clone(), SeqCst), all);
        let weak = explored(a, b, Release);
        assert!(weak.len() < all.len(), "loom now explores every interleaving of weaker loads: {weak:?}");
    }

    /// loom's model is one per OS thread, but the outcome set above is shared.
    static LOCK: StdMutex<()> = StdMutex::new(());

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn all_seqcst_programs_have_exactly_their_interleavings_outcomes(
            a in proptest::collection::vec(op(), 1..4),
            b in proptest::collection::vec(op(), 1..4),
        ) {
            prop_assert_eq!(explored(a.clone(), b.clone(), SeqCst), interleavings(&a, &b));
        }
    }
}

/// In the plain search a SeqCst load is a plain load, which loom's DPOR compares poorly: a pass
/// that ran that search says so, though the program has no weaker load of its own.
#[test]
fn a_pass_after_the_plain_search_lists_the_weak_load_gap() {
    let r = check("release-seqcst", release_store_seqcst_load);
    assert_exhaustive_pass(&r);
    assert!(r.notes.iter().any(|n| n.contains("AcqRel")), "the plain search ran:\n{}", r.render());
    assert!(r.not_covered.contains(&crate::report::BlindSpot::WeakLoadInterleavings), "{}", r.render());
}
