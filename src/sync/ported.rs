//! Seven small programs written against std (`src/sync/ported/*.rs`), each compiled twice: once
//! with std's `use` lines, run as they are, and once with conclab's, checked by the engines.
//! The files are the same text: porting std code changes `use` lines and nothing else.

use crate::report::{BlindSpot, Coverage, Kind, Report, Verdict};
use crate::runner::{self, Checker};

macro_rules! ported {
    ($name:ident, $file:literal) => {
        mod $name {
            #[allow(unused_imports, dead_code)]
            pub mod on_std {
                use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
                use std::sync::{mpsc, Arc, Condvar, LazyLock, Mutex, OnceLock};
                use std::{hint, thread};
                include!($file);
            }
            #[allow(unused_imports, dead_code)]
            pub mod on_conclab {
                use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
                use crate::sync::{mpsc, Arc, Condvar, LazyLock, Mutex, OnceLock};
                use crate::{hint, thread};
                include!($file);
            }
        }
    };
}

ported!(bank, "ported/bank.rs");
ported!(counter, "ported/counter.rs");
ported!(spinlock, "ported/spinlock.rs");
ported!(mailbox, "ported/mailbox.rs");
ported!(config, "ported/config.rs");
ported!(latch, "ported/latch.rs");
ported!(pool, "ported/pool.rs");

fn check(body: fn(), checker: Checker) -> Report {
    // loom: enough to end every search here (the mailbox's fix takes the most); shuttle: samples.
    let iterations = if checker == Checker::Loom { 200_000 } else { 5_000 };
    runner::check_in_process("ported", body, checker, Some(iterations))
}

fn assert_found(body: fn(), checker: Checker, kind: Kind) {
    let r = check(body, checker);
    assert_eq!((r.verdict, r.kind), (Verdict::BugFound, Some(kind)), "{}: {}", checker.name(), r.render());
}

fn assert_passes(body: fn(), checker: Checker) {
    let r = check(body, checker);
    assert_eq!(r.verdict, Verdict::Passed, "{}: {}", checker.name(), r.render());
    assert!(r.executions > 1, "{}", r.render());
    if checker == Checker::Loom {
        assert_eq!(r.coverage, Coverage::Exhaustive, "{}", r.render());
    }
}

const SHUTTLE: [Checker; 2] = [Checker::ShuttleRandom, Checker::ShuttlePct];

#[test]
fn the_std_programs_run_as_they_are() {
    for fixed in [bank::on_std::fixed, counter::on_std::fixed, spinlock::on_std::fixed, mailbox::on_std::fixed] {
        fixed();
    }
    config::on_std::fixed();
    latch::on_std::fixed();
    pool::on_std::fixed();
}

#[test]
fn a_bank_that_locks_payer_then_payee_deadlocks() {
    for checker in SHUTTLE {
        assert_found(bank::on_conclab::buggy, checker, Kind::Deadlock);
        assert_passes(bank::on_conclab::fixed, checker);
    }
    assert_passes(bank::on_conclab::fixed, Checker::Loom);
}

#[test]
fn a_read_then_write_counter_loses_hits() {
    for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
        assert_found(counter::on_conclab::buggy, checker, Kind::Assertion);
        assert_passes(counter::on_conclab::fixed, checker);
    }
}

#[test]
fn a_relaxed_spinlock_is_a_weak_memory_bug_only_loom_shows() {
    assert_found(spinlock::on_conclab::buggy, Checker::Loom, Kind::Assertion);
    assert_passes(spinlock::on_conclab::fixed, Checker::Loom);
    let r = check(spinlock::on_conclab::buggy, Checker::ShuttleRandom);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.render());
    assert!(r.not_covered.contains(&BlindSpot::WeakMemory), "{}", r.render());
}

#[test]
fn a_mailbox_checked_with_if_takes_an_empty_slot() {
    // The program's own `expect("a message in the slot")` fails: its check, an assertion.
    for checker in SHUTTLE {
        assert_found(mailbox::on_conclab::buggy, checker, Kind::Assertion);
        assert_passes(mailbox::on_conclab::fixed, checker);
    }
    assert_found(mailbox::on_conclab::buggy, Checker::Loom, Kind::Assertion);
    assert_passes(mailbox::on_conclab::fixed, Checker::Loom);
}

#[test]
fn a_config_checked_then_set_loads_twice() {
    for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
        assert_found(config::on_conclab::buggy, checker, Kind::Assertion);
        assert_passes(config::on_conclab::fixed, checker);
    }
}

#[test]
fn a_latch_waited_on_once_with_a_timeout_opens_early() {
    for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
        assert_found(latch::on_conclab::buggy, checker, Kind::Assertion);
        assert_passes(latch::on_conclab::fixed, checker);
    }
}

#[test]
fn a_pool_that_stops_when_its_workers_are_finished_loses_a_result_in_flight() {
    for checker in [Checker::Loom, Checker::ShuttleRandom, Checker::ShuttlePct] {
        assert_found(pool::on_conclab::buggy, checker, Kind::Assertion);
        assert_passes(pool::on_conclab::fixed, checker);
    }
}
