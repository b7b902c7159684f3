//! A service registry kept in statics: each service takes an id from a global counter, and each
//! thread remembers its own in a thread-local.
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static REGISTRY: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
static PREFIX: OnceLock<String> = OnceLock::new();

thread_local! {
    static MINE: Cell<u64> = const { Cell::new(0) };
}

fn next_id(atomic: bool) -> u64 {
    if atomic {
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    } else {
        let id = NEXT_ID.load(Ordering::Relaxed);
        NEXT_ID.store(id + 1, Ordering::Relaxed);
        id
    }
}

fn register(atomic: bool, who: &str) {
    let prefix = PREFIX.get_or_init(|| "svc".to_string());
    let id = next_id(atomic);
    REGISTRY.lock().unwrap().push((id, format!("{prefix}-{who}")));
    MINE.set(id);
}

fn run(atomic: bool) {
    let t = thread::spawn(move || {
        register(atomic, "a");
        MINE.get()
    });
    register(atomic, "b");
    let theirs = t.join().unwrap();
    assert_ne!(MINE.get(), theirs, "two threads remember one id");
    let mut ids: Vec<u64> = REGISTRY.lock().unwrap().iter().map(|(id, _)| *id).collect();
    ids.sort();
    assert_eq!(ids, [1, 2], "two services got the same id");
}

pub fn buggy() {
    run(false)
}

pub fn fixed() {
    run(true)
}
