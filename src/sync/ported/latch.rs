// A countdown latch: two scoped workers count down, `main` waits until the count is 0 — but
// only for so long. Waiting once with `wait_timeout` and taking the latch as open forgets the
// timeout; `wait_timeout_while` waits until it is open or the time is up, and says which.

use std::time::Duration;

struct Latch {
    left: Mutex<usize>,
    open: Condvar,
}

fn run(wait: fn(&Latch) -> bool) {
    let latch = Latch { left: Mutex::new(2), open: Condvar::new() };
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                done.fetch_add(1, Ordering::SeqCst);
                let mut left = latch.left.lock().unwrap();
                *left -= 1;
                if *left == 0 {
                    latch.open.notify_all();
                }
            });
        }
        if wait(&latch) {
            assert_eq!(done.load(Ordering::SeqCst), 2, "the latch opened before every worker was done");
        }
    });
}

pub fn buggy() {
    run(|latch| {
        let left = latch.left.lock().unwrap();
        if *left > 0 {
            let _ = latch.open.wait_timeout(left, Duration::from_secs(1)).unwrap();
        }
        true
    })
}

pub fn fixed() {
    run(|latch| {
        let left = latch.left.lock().unwrap();
        let (_left, waited) = latch.open.wait_timeout_while(left, Duration::from_secs(1), |left| *left > 0).unwrap();
        !waited.timed_out()
    })
}
