//! A bank as a library would write it — std's `Mutex` in the program, conclab's under test —
//! with a real bug and its fix, checked by `conclab::check` from plain `#[test]`s.
//!
//! `transfer` locks the account it takes money from, then the one it pays into. Two opposite
//! transfers can each take their first lock and wait forever for the other's: a deadlock no
//! test on real threads is likely to show. `transfer_ordered` takes the two locks in one global
//! order (by account number), so no cycle of waiting can form.
//!
//! Run its checks with `cargo test --example bank`; `cargo run --example bank` runs the program.

#[cfg(test)]
use conclab::sync::{Arc, Mutex};
#[cfg(not(test))]
use std::sync::{Arc, Mutex};

/// An account: its number orders the locks.
pub struct Account {
    number: usize,
    balance: Mutex<i64>,
}

impl Account {
    /// A new account.
    pub fn new(number: usize, balance: i64) -> Self {
        Account { number, balance: Mutex::new(balance) }
    }

    /// The balance now.
    pub fn balance(&self) -> i64 {
        *self.balance.lock().unwrap()
    }
}

/// Moves `amount` from `from` to `to`.
pub fn transfer(from: &Account, to: &Account, amount: i64) {
    let mut a = from.balance.lock().unwrap();
    // BUG: the second lock is taken in the caller's order; an opposite transfer takes them the other way.
    let mut b = to.balance.lock().unwrap();
    *a -= amount;
    *b += amount;
}

/// Moves `amount` from `from` to `to`, locking the lower-numbered account first.
pub fn transfer_ordered(from: &Account, to: &Account, amount: i64) {
    let (first, second) = if from.number < to.number { (from, to) } else { (to, from) };
    let mut first = first.balance.lock().unwrap();
    let mut second = second.balance.lock().unwrap();
    let sign = if from.number < to.number { 1 } else { -1 };
    *first -= sign * amount;
    *second += sign * amount;
}

/// Two clerks move money between the same two accounts in opposite directions.
fn two_clerks(transfer: fn(&Account, &Account, i64)) -> (i64, i64) {
    let a = Arc::new(Account::new(1, 100));
    let b = Arc::new(Account::new(2, 100));
    let (a2, b2) = (a.clone(), b.clone());
    #[cfg(test)]
    let clerk = conclab::thread::spawn(move || transfer(&b2, &a2, 30));
    #[cfg(not(test))]
    let clerk = std::thread::spawn(move || transfer(&b2, &a2, 30));
    transfer(&a, &b, 10);
    clerk.join().unwrap();
    (a.balance(), b.balance())
}

fn main() {
    let (a, b) = two_clerks(transfer_ordered);
    println!("account 1: {a}, account 2: {b}, total {}", a + b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use conclab::{Check, Kind};

    fn buggy() {
        let (a, b) = two_clerks(transfer);
        assert_eq!(a + b, 200, "money was made or lost");
    }

    fn fixed() {
        let (a, b) = two_clerks(transfer_ordered);
        assert_eq!((a, b), (120, 80), "each transfer happened once");
    }

    /// The checkers find the deadlock, with the trace of who waits for whom.
    #[test]
    fn opposite_transfers_deadlock() {
        Check::new().expect(Kind::Deadlock).run(buggy);
    }

    /// The fix passes every engine of the default check.
    #[test]
    fn ordered_transfers_keep_the_total() {
        conclab::check(fixed);
    }
}
