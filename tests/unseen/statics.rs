//! A service registry kept in statics: each service takes an id from a global counter.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static REGISTRY: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
static PREFIX: OnceLock<String> = OnceLock::new();

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
}

fn run(atomic: bool) {
    let t = thread::spawn(move || register(atomic, "a"));
    register(atomic, "b");
    t.join().unwrap();
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
