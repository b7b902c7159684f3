// A worker pool: workers scale their jobs by a configuration loaded lazily (the first thread
// to need it loads it; any other waits) and send the results back. The supervisor waits for
// results a tick at a time and, on a quiet tick, asks whether every worker has finished.
// Stopping then forgets a result sent between the quiet tick and the question; draining the
// channel after it does not. (One worker here, to keep loom's search short: the supervisor
// needs the configuration too.)

use std::time::Duration;

struct Config {
    scale: u32,
}

const TICK: Duration = Duration::from_millis(5);

fn run_pool(stop: fn(&mpsc::Receiver<u32>, &mut Vec<u32>)) {
    let loads = Arc::new(AtomicUsize::new(0));
    let l = loads.clone();
    let config = Arc::new(LazyLock::new(move || {
        l.fetch_add(1, Ordering::SeqCst);
        Config { scale: 10 }
    }));
    let (tx, results) = mpsc::channel();
    let workers: Vec<_> = [2]
        .into_iter()
        .map(|job| {
            let (config, tx) = (config.clone(), tx.clone());
            thread::spawn(move || tx.send(job * config.scale).unwrap())
        })
        .collect();
    drop(tx);
    let expected: Vec<u32> = [2].iter().map(|job| job * config.scale).collect();
    let mut got = Vec::new();
    loop {
        match results.recv_timeout(TICK) {
            Ok(result) => got.push(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if workers.iter().all(|w| w.is_finished()) {
                    stop(&results, &mut got);
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(got, expected, "a result was lost");
    assert_eq!(loads.load(Ordering::SeqCst), 1, "the configuration was loaded once");
}

pub fn buggy() {
    run_pool(|_results, _got| {})
}

pub fn fixed() {
    run_pool(|results, got| got.extend(results.try_iter()))
}
