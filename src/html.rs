//! Self-contained HTML pages (no network, no external assets): the failing execution as
//! swimlanes (`check --html`, `replay --html`) and the checker comparison (`bench --html`).
//!
//! The trace page: the scenario's story and invariant on top, then one lane per thread and one
//! row per step (operation, object, value, source line); each lock's holding is a coloured bar
//! down the holder's lane; the failing step — or, for a deadlock, the cycle of who holds what and
//! waits for what — is highlighted. A few lines of script highlight every step on the object under
//! the pointer; the page reads fine without them. Element ids and classes (`#swimlanes`,
//! `th.lane`, `td.cell`, `.hold`, `tr.failing`, `#cycle`) are what the tests look for.

use std::fmt::Write as _;

use crate::catalog::Scenario;
use crate::explain;
use crate::report::{Kind, Report};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The doc comments' light Markdown (`**bold**`, `` `code` ``, `*em*`) as HTML, escaped.
pub(crate) fn inline_md(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut open: Vec<&str> = vec![];
    while let Some(i) = rest.find(['*', '`']) {
        out.push_str(&esc(&rest[..i]));
        rest = &rest[i..];
        let (mark, tag) = if rest.starts_with("**") {
            ("**", "strong")
        } else if rest.starts_with('`') {
            ("`", "code")
        } else {
            ("*", "em")
        };
        if tag == "code" {
            match rest[1..].find('`') {
                Some(end) => {
                    let _ = write!(out, "<code>{}</code>", esc(&rest[1..1 + end]));
                    rest = &rest[end + 2..];
                }
                None => {
                    out.push('`');
                    rest = &rest[1..];
                }
            }
            continue;
        }
        if open.last() == Some(&tag) {
            open.pop();
            let _ = write!(out, "</{tag}>");
        } else {
            open.push(tag);
            let _ = write!(out, "<{tag}>");
        }
        rest = &rest[mark.len()..];
    }
    out.push_str(&esc(rest));
    for tag in open.into_iter().rev() {
        let _ = write!(out, "</{tag}>");
    }
    out
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:22px 0 8px}
.meta{color:#555} .verdict{font-weight:600;margin:10px 0}
.bug{color:#a4161a} .ok{color:#2b7a0b} .inconclusive{color:#8a5a00}
.invariant{border-left:4px solid #2c6fbb;background:#eef4fb;padding:8px 12px;margin:12px 0}
.story p{max-width:60em;margin:6px 0}
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
code{background:#f2f2f2;padding:0 3px;border-radius:3px}
table{border-collapse:collapse}
#swimlanes th,#swimlanes td{border-right:1px solid #dde;padding:3px 10px 3px 16px;vertical-align:top}
#swimlanes thead th{position:sticky;top:0;background:#f6f7fb;border-bottom:2px solid #99a;text-align:left}
#swimlanes td.n{color:#888;text-align:right;padding-left:6px}
#swimlanes td.at{color:#666;font-family:ui-monospace,monospace;font-size:12px;border-right:0}
td.cell{position:relative;min-width:9em;font-family:ui-monospace,monospace;font-size:12.5px}
.hold{position:absolute;top:0;bottom:0;width:5px;opacity:.85}
.hold.start{top:3px;border-radius:3px 3px 0 0}
.lockname{font-size:10px;color:#555;margin-left:4px}
tr.failing td{background:#fde2e1} tr.failing td.cell.acted{font-weight:700;color:#a4161a}
tr.blocked td{background:#fff1d6}
td.cell.hot{outline:2px solid #2c6fbb;outline-offset:-2px}
#cycle li{margin:3px 0}
.legend span{display:inline-block;margin-right:14px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
#results td,#results th{border:1px solid #ccd;padding:3px 8px;text-align:left}
#results th{background:#f6f7fb} #results td.num{text-align:right}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('td.cell[data-object]').forEach(function(c){
  c.addEventListener('mouseenter',function(){var o=c.dataset.object;
    document.querySelectorAll('td.cell[data-object="'+o+'"]').forEach(function(d){d.classList.add('hot')});});
  c.addEventListener('mouseleave',function(){
    document.querySelectorAll('td.cell.hot').forEach(function(d){d.classList.remove('hot')});});
});
document.body.dataset.ready='yes';
"#;

pub(crate) const PALETTE: [&str; 8] =
    ["#2c6fbb", "#d9822b", "#3a9a5b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b"];

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n{body}<script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(title)
    )
}

/// A lock held by a thread over a range of steps (row indices; `end` exclusive, or the end of
/// the trace if it was never released).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    /// The holding thread.
    pub thread: String,
    /// The lock's name.
    pub object: String,
    /// Row of the acquiring step.
    pub start: usize,
    /// Row of the releasing step (still held there) or `None`: held to the end.
    pub end: Option<usize>,
}

/// The lock holdings a trace shows: from `lock` (or a successful `try_lock`, or waking from a
/// wait) to `unlock` (or going to sleep in `wait`); a reader-writer lock's from `read lock` or
/// `write lock` (or a successful `try_read`/`try_write`) to `read unlock`/`write unlock`.
pub fn holdings(report: &Report) -> Vec<Holding> {
    let mut out: Vec<Holding> = vec![];
    for (row, s) in report.trace.iter().enumerate() {
        let acquires = matches!(
            s.op.as_str(),
            "lock" | "try_lock → ok" | "woken" | "read lock" | "write lock" | "try_read → ok" | "try_write → ok"
        );
        let releases = matches!(s.op.as_str(), "unlock" | "wait" | "read unlock" | "write unlock");
        if acquires {
            out.push(Holding { thread: s.thread.clone(), object: s.object.clone(), start: row, end: None });
        } else if releases {
            if let Some(h) =
                out.iter_mut().rev().find(|h| h.end.is_none() && h.thread == s.thread && h.object == s.object)
            {
                h.end = Some(row);
            }
        }
    }
    out
}

/// The row of the step where the execution failed: the invariant's violation, or the last step.
pub fn failing_row(report: &Report) -> Option<usize> {
    if !report.found_bug() || report.trace.is_empty() {
        return None;
    }
    report.trace.iter().rposition(|s| s.op.starts_with('✗')).or(Some(report.trace.len() - 1))
}

/// The trace page for a check or replay of `s`.
pub fn trace_page(s: &Scenario, report: &Report) -> String {
    let e = s.entry;
    let mut b = String::new();
    let _ = writeln!(b, "<header><h1>{}</h1>", esc(e.title));
    let _ = writeln!(
        b,
        "<div class=\"meta\"><code>{}</code> · variant <code>{}</code> · checker {}{} · {}</div>",
        esc(e.id),
        esc(&report.variant),
        esc(&report.checker),
        report.found_by.as_deref().map(|f| format!(" (found by {})", esc(f))).unwrap_or_default(),
        esc(e.source)
    );
    let (class, verdict) = match (report.inconclusive, report.kind) {
        (Some(why), _) => ("inconclusive", format!("Inconclusive: {}", why.words())),
        (None, Some(k)) => ("bug", format!("Bug found: {k}")),
        (None, None) => ("ok", "Passed".to_string()),
    };
    let msg = report.message.as_deref().map(|m| format!(" — {}", esc(m))).unwrap_or_default();
    let _ = writeln!(b, "<div id=\"verdict\" class=\"verdict {class}\">{}{msg}</div></header>", esc(&verdict));
    let _ = writeln!(b, "<section class=\"story\" id=\"story\"><h2>Story</h2>");
    // The invariant has its own box below.
    for p in explain::paragraphs(s).into_iter().filter(|p| !p.starts_with("**Invariant.**")) {
        let _ = writeln!(b, "<p>{}</p>", inline_md(&p));
    }
    let _ = writeln!(b, "</section>");
    let _ =
        writeln!(b, "<div class=\"invariant\" id=\"invariant\"><strong>Invariant.</strong> {}</div>", esc(e.invariant));
    let _ = writeln!(
        b,
        "<p class=\"meta\">{} execution(s), {} ms; {}</p>",
        report.executions,
        report.elapsed_ms,
        esc(&report.coverage.to_string())
    );
    if !report.not_covered.is_empty() {
        let words: Vec<&str> = report.not_covered.iter().map(|b| b.words()).collect();
        let _ = writeln!(
            b,
            "<p id=\"not-covered\" class=\"meta\">Not covered by {}: {}</p>",
            esc(&report.checker),
            esc(&words.join("; "))
        );
    }
    if let Some(m) = report.minimised.as_ref().filter(|_| report.found_bug()) {
        let _ = writeln!(b, "<p id=\"minimised\" class=\"meta\">Trace: {}</p>", esc(&m.summary()));
    }
    if report.found_bug() || (report.is_inconclusive() && !report.trace.is_empty()) {
        swimlanes(&mut b, report);
    }
    if let Some(t) = &report.replay {
        let _ = writeln!(
            b,
            "<p>Replay: <code>conclab replay {} --variant {} {}</code></p>",
            esc(report.replay_target()),
            esc(&report.variant),
            esc(t)
        );
    }
    for n in &report.notes {
        let _ = writeln!(b, "<p class=\"meta\">Note: {}</p>", esc(n));
    }
    page(&format!("{} / {} — conclab", e.id, report.variant), &b)
}

fn swimlanes(b: &mut String, report: &Report) {
    let holds = holdings(report);
    let mut locks: Vec<&str> = vec![];
    for h in &holds {
        if !locks.contains(&h.object.as_str()) {
            locks.push(&h.object);
        }
    }
    let colour = |o: &str| PALETTE[locks.iter().position(|l| *l == o).unwrap_or(0) % PALETTE.len()];
    let fail = failing_row(report);
    let deadlock = report.kind == Some(Kind::Deadlock);
    let _ = writeln!(b, "<h2>Interleaving</h2>");
    if !locks.is_empty() {
        let _ = write!(b, "<p class=\"legend\">Locks held: ");
        for l in &locks {
            let _ = write!(b, "<span><i class=\"swatch\" style=\"background:{}\"></i>{}</span>", colour(l), esc(l));
        }
        let _ = writeln!(b, "</p>");
    }
    let _ = writeln!(b, "<table id=\"swimlanes\">\n<thead><tr><th>step</th>");
    for t in &report.threads {
        let _ = write!(b, "<th class=\"lane\" data-thread=\"{0}\">{0}</th>", esc(t));
    }
    let _ = writeln!(b, "<th>at</th></tr></thead>\n<tbody>");
    let rows = report.trace.len();
    for (row, s) in report.trace.iter().enumerate() {
        let failing = !deadlock && fail == Some(row);
        let _ = write!(
            b,
            "<tr class=\"step{}\" data-step=\"{}\"><td class=\"n\">{}</td>",
            if failing { " failing" } else { "" },
            s.step,
            s.step
        );
        for t in &report.threads {
            let acted = *t == s.thread;
            let object = if acted && !s.object.is_empty() {
                format!(" data-object=\"{}\"", esc(&s.object))
            } else {
                String::new()
            };
            let _ = write!(
                b,
                "<td class=\"cell{}\" data-thread=\"{}\"{object}>",
                if acted { " acted" } else { "" },
                esc(t)
            );
            let held: Vec<&Holding> =
                holds.iter().filter(|h| h.thread == *t && h.start <= row && h.end.is_none_or(|e| row <= e)).collect();
            for (k, h) in held.iter().enumerate() {
                let _ = write!(
                    b,
                    "<span class=\"hold{}\" data-lock=\"{}\" title=\"{} holds {}\" style=\"left:{}px;background:{}\"></span>",
                    if h.start == row { " start" } else { "" },
                    esc(&h.object),
                    esc(t),
                    esc(&h.object),
                    3 + 6 * k,
                    colour(&h.object)
                );
            }
            if acted {
                let text = if s.object.is_empty() { s.op.clone() } else { format!("{} {}", s.object, s.op) };
                let _ = write!(b, "{}", esc(&text));
            }
            b.push_str("</td>");
        }
        let _ = writeln!(b, "<td class=\"at\">{}</td></tr>", esc(&s.location));
    }
    if deadlock && !report.blocked.is_empty() {
        let _ = write!(b, "<tr class=\"blocked failing\" data-step=\"{}\"><td class=\"n\">end</td>", rows + 1);
        for t in &report.threads {
            let _ = write!(b, "<td class=\"cell\" data-thread=\"{}\">", esc(t));
            for h in holds.iter().filter(|h| h.thread == *t && h.end.is_none()) {
                let _ = write!(
                    b,
                    "<span class=\"hold\" data-lock=\"{}\" style=\"left:3px;background:{}\"></span>",
                    esc(&h.object),
                    colour(&h.object)
                );
            }
            if let Some(w) = report.blocked.iter().find(|w| w.thread == *t) {
                let by = w.held_by.as_deref().map(|h| format!(" (held by {})", esc(h))).unwrap_or_default();
                let _ = write!(b, "<strong>waits to {} {}</strong>{by}", esc(&w.op), esc(&w.object));
            }
            b.push_str("</td>");
        }
        let _ = writeln!(b, "<td class=\"at\">blocked when the execution stopped</td></tr>");
    }
    let _ = writeln!(b, "</tbody>\n</table>");
    if deadlock && !report.blocked.is_empty() {
        let _ = writeln!(b, "<h2>The deadlock's cycle</h2>\n<ul id=\"cycle\">");
        for w in &report.blocked {
            let holds: Vec<String> =
                holds.iter().filter(|h| h.thread == w.thread && h.end.is_none()).map(|h| esc(&h.object)).collect();
            let held = if holds.is_empty() { String::new() } else { format!("holds <b>{}</b> and ", holds.join(", ")) };
            let by = w.held_by.as_deref().map(|h| format!(", held by <b>{}</b>", esc(h))).unwrap_or_default();
            let at =
                if w.location.is_empty() { String::new() } else { format!(" at <code>{}</code>", esc(&w.location)) };
            let _ = writeln!(
                b,
                "<li><b>{}</b> {held}waits to {} <b>{}</b>{by}{at}</li>",
                esc(&w.thread),
                esc(&w.op),
                esc(&w.object)
            );
        }
        let _ = writeln!(b, "</ul>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_light_markdown_rendered() {
        assert_eq!(esc("<a href='x'>&</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
        assert_eq!(inline_md("**Story.** a `x<y` *b*"), "<strong>Story.</strong> a <code>x&lt;y</code> <em>b</em>");
        assert_eq!(inline_md("unclosed **bold"), "unclosed <strong>bold</strong>");
    }
}
