//! A ticket lock whose holder check is a load, then a separate increment.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

struct Ticket {
    next: AtomicUsize,
    serving: AtomicUsize,
}

impl Ticket {
    fn lock(&self, atomic_take: bool) -> usize {
        let me = if atomic_take {
            self.next.fetch_add(1, Ordering::SeqCst)
        } else {
            let n = self.next.load(Ordering::SeqCst);
            self.next.store(n + 1, Ordering::SeqCst);
            n
        };
        while self.serving.load(Ordering::SeqCst) != me {
            thread::yield_now();
        }
        me
    }
    fn unlock(&self) {
        self.serving.fetch_add(1, Ordering::SeqCst);
    }
}

fn run(atomic_take: bool) {
    let t = Arc::new(Ticket { next: AtomicUsize::new(0), serving: AtomicUsize::new(0) });
    let inside = Arc::new(Mutex::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let (t, inside) = (t.clone(), inside.clone());
            thread::spawn(move || {
                t.lock(atomic_take);
                {
                    let mut n = inside.try_lock().expect("two threads hold the ticket lock");
                    *n += 1;
                }
                t.unlock();
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

pub fn buggy() {
    run(false)
}

pub fn fixed() {
    run(true)
}
