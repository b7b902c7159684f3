// A hit counter: `record` reads and writes back, `record_atomically` adds in one step.

fn count_hits(record: fn(&AtomicUsize)) {
    let hits = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let hits = hits.clone();
            thread::spawn(move || record(&hits))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2, "a hit was lost");
}

pub fn buggy() {
    count_hits(|hits| {
        let n = hits.load(Ordering::SeqCst);
        hits.store(n + 1, Ordering::SeqCst);
    })
}

pub fn fixed() {
    count_hits(|hits| {
        hits.fetch_add(1, Ordering::SeqCst);
    })
}
