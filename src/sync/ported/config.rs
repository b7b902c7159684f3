// A lazily loaded configuration: checking `get` and then `set` lets two threads both load it;
// `get_or_init` loads it once.

fn run_config(load: fn(&OnceLock<u32>, &AtomicUsize) -> u32) {
    let cell = Arc::new(OnceLock::new());
    let loads = Arc::new(AtomicUsize::new(0));
    let (c, l) = (cell.clone(), loads.clone());
    let t = thread::spawn(move || load(&c, &l));
    let mine = load(&cell, &loads);
    let theirs = t.join().unwrap();
    assert_eq!(mine, theirs);
    assert_eq!(loads.load(Ordering::SeqCst), 1, "the configuration was loaded twice");
}

fn read_file(loads: &AtomicUsize) -> u32 {
    loads.fetch_add(1, Ordering::SeqCst);
    42
}

pub fn buggy() {
    run_config(|cell, loads| {
        if cell.get().is_none() {
            let _ = cell.set(read_file(loads));
        }
        *cell.get().unwrap()
    })
}

pub fn fixed() {
    run_config(|cell, loads| *cell.get_or_init(|| read_file(loads)))
}
