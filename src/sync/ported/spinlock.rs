// A spinlock guarding a plain counter kept in an atomic with Relaxed accesses. With Relaxed
// lock operations nothing orders the counter's accesses between the two holders: a weak-memory
// bug that only an engine with weak memory can show.

struct SpinLock {
    locked: AtomicBool,
    value: AtomicUsize,
}

fn run_spinlock(acquire: Ordering, release: Ordering) {
    let lock = Arc::new(SpinLock { locked: AtomicBool::new(false), value: AtomicUsize::new(0) });
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let lock = lock.clone();
            thread::spawn(move || {
                while lock.locked.compare_exchange(false, true, acquire, Ordering::Relaxed).is_err() {
                    hint::spin_loop();
                }
                let v = lock.value.load(Ordering::Relaxed);
                lock.value.store(v + 1, Ordering::Relaxed);
                lock.locked.store(false, release);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(lock.value.load(Ordering::Relaxed), 2, "an increment under the lock was lost");
}

pub fn buggy() {
    run_spinlock(Ordering::Relaxed, Ordering::Relaxed)
}

pub fn fixed() {
    run_spinlock(Ordering::Acquire, Ordering::Release)
}
