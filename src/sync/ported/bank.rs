// A bank whose `transfer` locks two accounts. Written against std: only the `use` lines of the
// module that includes this file differ between std and conclab.

struct Bank {
    accounts: Vec<Mutex<u64>>,
}

impl Bank {
    fn new(balances: &[u64]) -> Self {
        Bank { accounts: balances.iter().map(|&b| Mutex::new(b)).collect() }
    }

    /// Locks the payer's account, then the payee's: two opposite transfers can deadlock.
    fn transfer_buggy(&self, from: usize, to: usize, amount: u64) {
        let mut a = self.accounts[from].lock().unwrap();
        let mut b = self.accounts[to].lock().unwrap();
        if *a >= amount {
            *a -= amount;
            *b += amount;
        }
    }

    /// Locks the two accounts in index order, whoever pays.
    fn transfer(&self, from: usize, to: usize, amount: u64) {
        let (first, second) = if from < to { (from, to) } else { (to, from) };
        let mut x = self.accounts[first].lock().unwrap();
        let mut y = self.accounts[second].lock().unwrap();
        let (a, b) = if from < to { (&mut *x, &mut *y) } else { (&mut *y, &mut *x) };
        if *a >= amount {
            *a -= amount;
            *b += amount;
        }
    }

    fn total(&self) -> u64 {
        self.accounts.iter().map(|a| *a.lock().unwrap()).sum()
    }
}

fn run_bank(transfer: fn(&Bank, usize, usize, u64)) {
    let bank = Arc::new(Bank::new(&[100, 100]));
    let b2 = bank.clone();
    let t = thread::spawn(move || transfer(&b2, 1, 0, 30));
    transfer(&bank, 0, 1, 50);
    t.join().unwrap();
    assert_eq!(bank.total(), 200, "money appeared or vanished");
}

pub fn buggy() {
    run_bank(Bank::transfer_buggy)
}

pub fn fixed() {
    run_bank(Bank::transfer)
}
