//! Ctrl-C: a long check stops cleanly between two executions and still reports what it covered
//! (`Coverage::Interrupted`), instead of dying with nothing.
//!
//! [`install`] sets a **ctrlc** handler that raises one process-wide flag; the engines poll it
//! between executions (shuttle's scheduler ends the run, loom's model closure unwinds with
//! [`Interrupted`], stress stops its loop). A terminal's Ctrl-C reaches the whole process group —
//! the CLI and its `__worker` child — but a SIGINT sent to the CLI alone must reach the worker
//! too: the handler forwards it to every worker started through [`register_child`].

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// The payload loom's model closure unwinds with when a stop was requested (raised with
/// `resume_unwind`, so no panic hook mistakes it for a failure).
#[derive(Debug)]
pub struct Interrupted;

/// Installs the Ctrl-C handler (once; later calls do nothing).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        request();
        for &pid in CHILDREN.lock().iter() {
            forward(pid);
        }
    });
}

/// Asks every running check of this process to stop (what Ctrl-C does).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Remembers a worker so that a stop reaches it; if a stop was already requested, it is passed on now.
pub fn register_child(pid: u32) {
    CHILDREN.lock().push(pid);
    if requested() {
        forward(pid);
    }
}

/// Forgets a worker that has ended.
pub fn unregister_child(pid: u32) {
    CHILDREN.lock().retain(|&p| p != pid);
}

#[cfg(target_os = "linux")]
fn forward(pid: u32) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
    }
}

#[cfg(not(target_os = "linux"))]
fn forward(_pid: u32) {
    // Elsewhere a terminal's Ctrl-C reaches the worker through the process group.
}
