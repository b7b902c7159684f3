//! `conclab check FILE.rs`: a Rust file written against std, never seen by the catalog, checked,
//! replayed and explained as a catalog id is; and every way a file can be wrong is exit 2.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn conclab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclab")).args(args).output().expect("conclab runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh directory of model files under the test target directory.
fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("files").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A cache of hits, written as anyone would against std: the check-then-insert is not atomic.
const CACHE: &str = r#"//! A memoising cache: two threads miss at once and both compute.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

struct Cache {
    map: RwLock<HashMap<u32, u32>>,
    computed: AtomicUsize,
}

impl Cache {
    fn get_racy(&self, k: u32) -> u32 {
        if let Some(v) = self.map.read().unwrap().get(&k) {
            return *v;
        }
        self.computed.fetch_add(1, Ordering::SeqCst);
        self.map.write().unwrap().insert(k, k * 2);
        k * 2
    }

    fn get(&self, k: u32) -> u32 {
        let mut map = self.map.write().unwrap();
        if let Some(v) = map.get(&k) {
            return *v;
        }
        self.computed.fetch_add(1, Ordering::SeqCst);
        map.insert(k, k * 2);
        k * 2
    }
}

fn run(get: fn(&Cache, u32) -> u32) {
    let cache = Arc::new(Cache { map: RwLock::new(HashMap::new()), computed: AtomicUsize::new(0) });
    let done = Arc::new(Mutex::new(0));
    let (c, d) = (cache.clone(), done.clone());
    let t = thread::spawn(move || {
        get(&c, 1);
        *d.lock().unwrap() += 1;
    });
    get(&cache, 1);
    t.join().unwrap();
    assert_eq!(cache.computed.load(Ordering::SeqCst), 1, "computed twice");
}

pub fn buggy() {
    run(Cache::get_racy)
}

pub fn fixed() {
    run(Cache::get)
}
"#;

#[test]
fn a_std_file_is_checked_replayed_and_explained_like_a_catalog_id() {
    let d = dir("cache");
    let file = d.join("cache.rs");
    std::fs::write(&file, CACHE).unwrap();
    let f = file.to_str().unwrap();

    let out = conclab(&["check", f, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((r["scenario"].as_str(), r["variant"].as_str()), (Some("cache"), Some("buggy")), "{r}");
    assert_eq!(r["kind"], "assertion", "{r}");
    assert!(r["message"].as_str().unwrap().contains("computed twice"), "{r}");
    assert_eq!(r["file"].as_str(), Some(f), "{r}");
    // Locations name the user's file, not the scratch crate's copy of it.
    let at: Vec<&str> = r["trace"].as_array().unwrap().iter().filter_map(|s| s["location"].as_str()).collect();
    assert!(at.iter().any(|l| l.starts_with(&format!("{f}:"))), "{at:?}");
    assert!(!r.to_string().contains("src/model/"), "{r}");
    let token = r["replay"].as_str().expect("a token").to_string();

    let out = conclab(&["replay", f, &token]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("computed twice"), "{}", stdout(&out));
    assert!(stdout(&out).contains(&format!("replay: conclab replay {f} --variant buggy {token}")), "{}", stdout(&out));

    let out = conclab(&["explain", f]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("How it goes wrong (assertion"), "{}", stdout(&out));

    let out = conclab(&["check", f, "--variant", "fixed"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("PASSED  cache / fixed"), "{}", stdout(&out));
    for engine in ["loom", "shuttle-pct", "shuttle-random"] {
        assert!(stdout(&out).contains(&format!("note: {engine}: ")), "{engine}: {}", stdout(&out));
    }

    let html = d.join("cache.html");
    let out = conclab(&["check", f, "--html", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&html).unwrap().contains("computed twice"));
}

#[test]
fn a_file_that_cannot_be_checked_is_exit_2_with_the_reason() {
    let d = dir("bad");
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let broken = write("broken.rs", "use std::sync::Mutex;\npub fn buggy() {\n    let x: u8 = \"no\";\n}\n");
    let none = write("none.rs", "fn helper() {}\npub fn takes(x: u8) {}\n");
    let cache = write("cache.rs", CACHE);
    let grouped = write("grouped.rs", "use std::{sync::{Arc, Mutex}, thread};\npub fn buggy() {}\n");
    let missing = d.join("missing.rs").to_str().unwrap().to_string();
    for (args, says) in [
        (vec!["check", broken.as_str()], "does not compile against conclab"),
        (vec!["check", broken.as_str()], "expected `u8`, found `&str`"),
        (vec!["check", none.as_str()], "has no variant to check"),
        (
            vec!["check", cache.as_str(), "--variant", "nope"],
            "has no variant `nope`; its variants (argument-less `pub fn`s): buggy, fixed",
        ),
        (vec!["check", missing.as_str()], "cannot read"),
        (vec!["check", grouped.as_str()], "grouped.rs:1: `std::{sync::{Arc, Mutex}, thread}` names std's concurrency"),
        (vec!["replay", cache.as_str(), "cache:buggy:loom:b1:e99999"], "does not reproduce"),
    ] {
        let out = conclab(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

/// A file may have any name, `main.rs` and `lib.rs` too (the scratch crate's own roots).
#[test]
fn a_file_named_main_rs_is_checked_too() {
    let d = dir("main");
    let file = d.join("main.rs");
    std::fs::write(&file, CACHE).unwrap();
    let out = conclab(&["check", file.to_str().unwrap(), "--variant", "fixed", "--checker", "loom"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
}

/// Programs written against std that the catalog never saw (`tests/unseen/`): a double-checked
/// initialisation with a Relaxed flag, a condvar wait with `if`, a Relaxed single-producer ring
/// (loom's DPOR gap), a ticket lock that takes its ticket with a load and a store, and a service
/// registry kept in statics (a fix that passes a second execution had its statics start afresh).
/// The default check finds each buggy variant as an assertion and passes each fix having
/// explored more than one execution.
#[test]
fn programs_the_catalog_never_saw_are_found_and_their_fixes_pass() {
    // One file (one scratch crate to build): each program in a module of its own, its variants
    // as `<name>_buggy` and `fixed_<name>`.
    let unseen = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/unseen");
    let names = ["dcl", "condvar_if", "spsc", "ticket", "statics"];
    let mut text = String::new();
    for name in names {
        let source = std::fs::read_to_string(unseen.join(format!("{name}.rs"))).unwrap();
        // Indented, as rustfmt would: a variant is a top-level `pub fn` at the start of a line.
        let indented: String =
            source.lines().map(|l| if l.is_empty() { "\n".into() } else { format!("    {l}\n") }).collect();
        text += &format!("pub mod {name} {{\n{indented}}}\n\n");
        text += &format!("pub fn {name}_buggy() {{\n    {name}::buggy()\n}}\n\n");
        text += &format!("pub fn fixed_{name}() {{\n    {name}::fixed()\n}}\n\n");
    }
    let file = dir("unseen").join("unseen.rs");
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    for name in names {
        let out = conclab(&["check", f, "--variant", &format!("{name}_buggy"), "--json"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}{}", stdout(&out), stderr(&out));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["kind"], "assertion", "{name}: {r}");
        let out = conclab(&["check", f, "--variant", &format!("fixed_{name}"), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}{}", stdout(&out), stderr(&out));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(r["executions"].as_u64().unwrap() > 1, "{name}: {r}");
    }
}
