//! A one-slot queue whose consumers wait with `if`, not `while`.
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

struct Slot {
    item: Mutex<Option<u32>>,
    cv: Condvar,
}

fn take(s: &Slot, recheck: bool) -> u32 {
    let mut g = s.item.lock().unwrap();
    if recheck {
        while g.is_none() {
            g = s.cv.wait(g).unwrap();
        }
    } else if g.is_none() {
        g = s.cv.wait(g).unwrap();
    }
    g.take().expect("woke to an empty slot")
}

fn run(recheck: bool) {
    let s = Arc::new(Slot { item: Mutex::new(None), cv: Condvar::new() });
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            thread::spawn(move || take(&s, recheck))
        })
        .collect();
    for i in 0..2 {
        loop {
            let mut g = s.item.lock().unwrap();
            if g.is_none() {
                *g = Some(i);
                s.cv.notify_all();
                break;
            }
            drop(g);
            thread::yield_now();
        }
    }
    let mut got: Vec<u32> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
    got.sort();
    assert_eq!(got, vec![0, 1]);
}

pub fn buggy() {
    run(false)
}

pub fn fixed() {
    run(true)
}
