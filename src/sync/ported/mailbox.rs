// A one-slot mailbox on a Mutex and a Condvar: a consumer that checks with `if` instead of
// `while` may take a message another consumer already took.

struct Mailbox {
    slot: Mutex<Option<u32>>,
    changed: Condvar,
}

fn run_mailbox(take: fn(&Mailbox) -> u32) {
    let mailbox = Arc::new(Mailbox { slot: Mutex::new(None), changed: Condvar::new() });
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let m = mailbox.clone();
            thread::spawn(move || take(&m))
        })
        .collect();
    for message in [1, 2] {
        let mut slot = mailbox.slot.lock().unwrap();
        while slot.is_some() {
            slot = mailbox.changed.wait(slot).unwrap();
        }
        *slot = Some(message);
        mailbox.changed.notify_all();
    }
    let mut got: Vec<u32> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
    got.sort();
    assert_eq!(got, [1, 2], "each message is taken once");
}

fn take_if(m: &Mailbox) -> u32 {
    let mut slot = m.slot.lock().unwrap();
    if slot.is_none() {
        slot = m.changed.wait(slot).unwrap();
    }
    let message = slot.take().expect("a message in the slot");
    m.changed.notify_all();
    message
}

fn take_while(m: &Mailbox) -> u32 {
    let mut slot = m.slot.lock().unwrap();
    while slot.is_none() {
        slot = m.changed.wait(slot).unwrap();
    }
    let message = slot.take().expect("a message in the slot");
    m.changed.notify_all();
    message
}

pub fn buggy() {
    run_mailbox(take_if)
}

pub fn fixed() {
    run_mailbox(take_while)
}
