//! `conclab explain <id>`: a scenario told in words — its story, its invariant, the guilty lines
//! (the file's `// BUG:` comments and the code under them) and the minimal failing trace as prose
//! ("agent-1 reads seats_left = 1 at airplane_seat.rs:82; agent-2 reads …").
//!
//! The pieces are also what the HTML page ([`crate::html`]) shows above its swimlanes.

use std::fmt::Write as _;

use crate::catalog::Scenario;
use crate::report::Report;
use crate::trace::Step;

/// The scenario file's `//!` documentation, without the comment markers.
pub fn doc(s: &Scenario) -> String {
    let lines: Vec<&str> =
        s.source_text.lines().map_while(|l| l.strip_prefix("//!")).map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
    lines.join("\n").trim().to_string()
}

/// The documentation's paragraphs, the `# title` line left out.
pub fn paragraphs(s: &Scenario) -> Vec<String> {
    let doc = doc(s);
    doc.split("\n\n")
        .map(|p| p.lines().filter(|l| !l.starts_with("# ")).collect::<Vec<_>>().join(" "))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The paragraph that starts with `**Story.**`, without that label.
pub fn story(s: &Scenario) -> String {
    labelled(s, "**Story.**")
}

fn labelled(s: &Scenario, label: &str) -> String {
    paragraphs(s).into_iter().find_map(|p| p.strip_prefix(label).map(|r| r.trim().to_string())).unwrap_or_default()
}

/// One guilty place in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BugLine {
    /// 1-based line number of the `// BUG:` comment.
    pub line: usize,
    /// The comment's text after `BUG:`.
    pub why: String,
    /// The code line under the comment (the guilty statement), with its line number.
    pub code: Option<(usize, String)>,
}

/// Every `// BUG:` comment of the file and the code line under it.
pub fn bug_lines(s: &Scenario) -> Vec<BugLine> {
    let lines: Vec<&str> = s.source_text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let why = l.trim().strip_prefix("// BUG:")?.trim().to_string();
            let code = lines[i + 1..]
                .iter()
                .enumerate()
                .find(|(_, c)| !c.trim().is_empty() && !c.trim().starts_with("//"))
                .map(|(j, c)| (i + 2 + j, c.trim().to_string()));
            Some(BugLine { line: i + 1, why, code })
        })
        .collect()
}

/// `scenarios/airplane_seat.rs:82` → `airplane_seat.rs:82`.
fn short(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}

/// One step in words: `reads seats_left = 1`.
pub fn step_prose(step: &Step) -> String {
    let (op, obj) = (step.op.as_str(), step.object.as_str());
    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let w = words(op);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["load", "→", v] => format!("reads {obj} = {v}"),
        ["load", "→", v, rest @ ..] => format!("reads {obj} = {v} {}", rest.join(" ")),
        ["store", "←", v] => format!("writes {obj} = {v}"),
        ["swap", old, "←", new] => format!("swaps {obj} from {old} to {new}"),
        ["cas", e, "→", n, "ok"] => format!("changes {obj} from {e} to {n} (compare-and-swap)"),
        ["cas", e, "→", "fail", ..] => {
            format!("tries to change {obj} from {e}, but it changed ({})", w[4..].join(" "))
        }
        ["lock"] => format!("locks {obj}"),
        ["unlock"] => format!("unlocks {obj}"),
        ["try_lock", "→", "ok"] => format!("tries {obj} and gets it"),
        ["try_lock", "→", "busy"] => format!("tries {obj}: busy"),
        ["read", "lock"] => format!("locks {obj} for reading"),
        ["write", "lock"] => format!("locks {obj} for writing"),
        ["read", "unlock"] | ["write", "unlock"] => format!("unlocks {obj} ({})", w[0]),
        ["try_read", "→", "ok"] => format!("tries {obj} for reading and gets it"),
        ["try_write", "→", "ok"] => format!("tries {obj} for writing and gets it"),
        ["try_read", "→", "busy"] | ["try_write", "→", "busy"] => format!("tries {obj}: busy ({})", w[0]),
        ["wait"] => format!("waits on {obj}"),
        ["woken"] => format!("wakes up on {obj}"),
        ["notify_one"] | ["notify_all"] => format!("signals {obj} ({op})"),
        ["done"] => "finishes".to_string(),
        ["spawn", t] => format!("spawns {t}"),
        ["kill", "→", sig] => format!("sends {sig}"),
        ["⚡", sig, ..] => format!("is interrupted: the {sig} handler runs"),
        ["↩", sig, ..] => format!("returns from the {sig} handler"),
        ["↺", ..] => format!("{} (retries)", w[1..].join(" ")),
        ["✓", ..] => format!("{} (progress)", w[1..].join(" ")),
        ["yield"] => "yields".to_string(),
        ["join", t] => format!("joins {t}"),
        ["✗", ..] => format!("breaks the invariant: {}", w[1..].join(" ")),
        [name, old, "→", new] if !obj.is_empty() => format!("{name}s {obj}: {old} → {new}"),
        _ if obj.is_empty() => op.to_string(),
        _ => format!("{obj} {op}"),
    }
}

/// The trace as sentences: one per run of consecutive steps by the same thread.
pub fn trace_prose(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let mut current: Option<(&str, Vec<String>)> = None;
    for s in &report.trace {
        let at = if s.location.is_empty() { String::new() } else { format!(" at {}", short(&s.location)) };
        let part = format!("{}{at}", step_prose(s));
        match &mut current {
            Some((t, parts)) if *t == s.thread => parts.push(part),
            _ => {
                if let Some((t, parts)) = current.take() {
                    out.push(format!("{t} {}", parts.join(", then ")));
                }
                current = Some((s.thread.as_str(), vec![part]));
            }
        }
    }
    if let Some((t, parts)) = current {
        out.push(format!("{t} {}", parts.join(", then ")));
    }
    for b in &report.blocked {
        let held = b.held_by.as_deref().map(|h| format!(", which {h} holds")).unwrap_or_default();
        out.push(format!("{} waits to {} {}{held}", b.thread, b.op, b.object));
    }
    out
}

/// The checker `explain` uses unless told: the first of shuttle-pct, shuttle-random and loom that
/// the scenario says finds its bug (shuttle's schedules shrink to the fewest preemptions).
pub fn default_checker(s: &Scenario) -> crate::vocab::Checker {
    use crate::vocab::Checker;
    [Checker::ShuttlePct, Checker::ShuttleRandom, Checker::Loom]
        .into_iter()
        .find(|c| s.entry.found_by.contains(c))
        .unwrap_or(Checker::Portfolio)
}

/// The whole explanation, as `conclab explain` prints it. `report`: a check of the buggy
/// variant (its minimised trace is told).
pub fn render(s: &Scenario, report: &Report) -> String {
    let e = s.entry;
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}\n", e.id, e.title);
    for p in paragraphs(s) {
        // The invariant is printed from the metadata below; the source is in `conclab show`.
        if p.starts_with("**") && !p.starts_with("**Invariant.**") && !p.starts_with("**Source.**") {
            let _ = writeln!(out, "{}\n", wrap(&p.replace("**", ""), 96));
        }
    }
    if !e.invariant.is_empty() {
        let _ = writeln!(out, "Invariant: {}\n", e.invariant);
    }
    let bugs = bug_lines(s);
    if !bugs.is_empty() {
        let file = crate::catalog::all()
            .iter()
            .position(|x| x.id() == s.id())
            .map_or_else(|| format!("{}.rs", e.id), |i| format!("scenarios/{}.rs", crate::catalog::MODULES[i]));
        let _ = writeln!(out, "The buggy lines ({file}):");
    }
    for b in bugs {
        let _ = writeln!(out, "  {:>4} │ // BUG: {}", b.line, b.why);
        if let Some((n, code)) = &b.code {
            let _ = writeln!(out, "  {n:>4} │ {code}");
        }
    }
    out.push('\n');
    if let Some(why) = report.inconclusive {
        let _ = writeln!(out, "{} could not decide: {}.", report.checker, why.words());
        return out;
    }
    if !report.found_bug() {
        let _ = writeln!(out, "{} did not find the bug this time ({}).", report.checker, report.coverage);
        return out;
    }
    let kind = report.kind.map(|k| k.to_string()).unwrap_or_default();
    let _ = writeln!(
        out,
        "How it goes wrong ({kind}, found by {}):",
        report.found_by.as_deref().unwrap_or(&report.checker)
    );
    if let Some(m) = &report.minimised {
        let _ = writeln!(out, "  {}", wrap(&format!("({})", m.summary()), 96));
    }
    for (i, sentence) in trace_prose(report).iter().enumerate() {
        let _ = writeln!(out, "{:>4}. {sentence};", i + 1);
    }
    let _ = writeln!(out, "  → {}", report.message.as_deref().unwrap_or("the execution failed"));
    if let Some(token) = &report.replay {
        let _ =
            writeln!(out, "\nreplay: conclab replay {} --variant {} {token}", report.replay_target(), report.variant);
    }
    out
}

/// Greedy word wrap with a two-space indent on continuation lines.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.chars().count() > width {
            out.push_str("\n  ");
            line = 2;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.chars().count();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn step(op: &str, object: &str) -> Step {
        Step { step: 1, thread: "t".into(), op: op.into(), object: object.into(), location: String::new() }
    }

    #[test]
    fn steps_read_as_words() {
        assert_eq!(step_prose(&step("load → 1", "seats_left")), "reads seats_left = 1");
        assert_eq!(step_prose(&step("store ← 0", "seats_left")), "writes seats_left = 0");
        assert_eq!(step_prose(&step("lock", "ledger")), "locks ledger");
        assert_eq!(step_prose(&step("read lock", "cache")), "locks cache for reading");
        assert_eq!(step_prose(&step("write unlock", "cache")), "unlocks cache (write)");
        assert_eq!(step_prose(&step("try_write → busy", "cache")), "tries cache: busy (try_write)");
        assert_eq!(step_prose(&step("✗ seat 1 sold twice", "")), "breaks the invariant: seat 1 sold twice");
        assert_eq!(step_prose(&step("sells seat 1", "")), "sells seat 1");
    }

    #[test]
    fn every_scenario_has_a_story_and_its_bug_lines() {
        for s in catalog::all() {
            assert!(!story(s).is_empty(), "{}", s.id());
            let bugs = bug_lines(s);
            assert!(!bugs.is_empty() && bugs.iter().all(|b| b.code.is_some()), "{}", s.id());
        }
    }
}
