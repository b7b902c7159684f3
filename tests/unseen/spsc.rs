//! A single-producer single-consumer ring of two slots, published with Relaxed: plain loom
//! passes it "fully exhaustively" (its DPOR gap, loom#166); conclab's second loom search finds it.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

struct Ring {
    slots: [AtomicUsize; 2],
    head: AtomicUsize,
    tail: AtomicUsize,
}

fn run(publish: Ordering, observe: Ordering) {
    let r = Arc::new(Ring {
        slots: [AtomicUsize::new(0), AtomicUsize::new(0)],
        head: AtomicUsize::new(0),
        tail: AtomicUsize::new(0),
    });
    let p = r.clone();
    let producer = thread::spawn(move || {
        for v in 1..=2usize {
            let t = p.tail.load(Ordering::Relaxed);
            while t - p.head.load(observe) == 2 {
                thread::yield_now();
            }
            p.slots[t % 2].store(v * 10, Ordering::Relaxed);
            p.tail.store(t + 1, publish);
        }
    });
    let mut got = vec![];
    while got.len() < 2 {
        let h = r.head.load(Ordering::Relaxed);
        if r.tail.load(observe) > h {
            got.push(r.slots[h % 2].load(Ordering::Relaxed));
            r.head.store(h + 1, publish);
        } else {
            thread::yield_now();
        }
    }
    producer.join().unwrap();
    assert_eq!(got, vec![10, 20]);
}

pub fn buggy() {
    run(Ordering::Relaxed, Ordering::Relaxed)
}

pub fn fixed() {
    run(Ordering::Release, Ordering::Acquire)
}
