//! Double-checked initialisation: a flag says the data is ready.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

struct Lazy {
    ready: AtomicBool,
    value: AtomicUsize,
    lock: Mutex<()>,
}

impl Lazy {
    fn get(&self, flag_order: Ordering, load_order: Ordering) -> usize {
        if self.ready.load(load_order) {
            return self.value.load(Ordering::Relaxed);
        }
        let _g = self.lock.lock().unwrap();
        if !self.ready.load(Ordering::Relaxed) {
            self.value.store(42, Ordering::Relaxed);
            self.ready.store(true, flag_order);
        }
        self.value.load(Ordering::Relaxed)
    }
}

fn run(flag: Ordering, load: Ordering) {
    let l = Arc::new(Lazy { ready: AtomicBool::new(false), value: AtomicUsize::new(0), lock: Mutex::new(()) });
    let l2 = l.clone();
    let t = thread::spawn(move || l2.get(flag, load));
    let a = l.get(flag, load);
    let b = t.join().unwrap();
    assert_eq!((a, b), (42, 42));
}

pub fn buggy() {
    run(Ordering::Relaxed, Ordering::Relaxed)
}

pub fn fixed() {
    run(Ordering::Release, Ordering::Acquire)
}
