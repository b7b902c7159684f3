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

use crate::bench::{coverage_short, Comparison};
use crate::catalog::Scenario;
use crate::explain;
use crate::report::{Kind, Report};
use crate::runner::Checker;

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
fn inline_md(s: &str) -> String {
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

const PALETTE: [&str; 8] = ["#2c6fbb", "#d9822b", "#3a9a5b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b"];

fn page(title: &str, body: &str) -> String {
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

/// Log-scale x position of `n` executions in a chart `width` wide whose axis ends at `max`.
fn log_x(n: usize, max: usize, width: f64) -> f64 {
    let top = (max.max(10) as f64).log10().ceil().max(1.0);
    ((n.max(1) as f64).log10() / top * width).max(2.0)
}

/// The checker comparison as a page: the method, a chart of executions to the first bug (log
/// scale, median bar and max tick per checker), and the full table.
pub fn bench_page(c: &Comparison) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "<h1>conclab — checker comparison</h1>");
    let _ = writeln!(
        b,
        "<p>The SCTBench method (Thomson, Donaldson and Betts, PPoPP 2014) applied to conclab's catalog: \
         every checker runs every scenario's buggy variant, seeded, and each fix; the chart shows how many \
         executions each needed to find each bug.</p>\n<section id=\"method\"><h2>Method</h2><p>{}</p></section>",
        inline_md(&c.method.summary)
    );
    chart(&mut b, c);
    let _ = writeln!(b, "<h2>Results</h2>\n<table id=\"results\">\n<thead><tr><th>scenario</th><th>checker</th>\
         <th>expected</th><th>buggy: found</th><th>kind</th><th>executions to bug (median / max)</th>\
         <th>time (median)</th><th>trace steps / preemptions (first → minimised)</th><th>fixes</th></tr></thead>\n<tbody>");
    for r in &c.rows {
        let fixes: Vec<String> = r
            .fixed
            .iter()
            .map(|f| format!("{} {} ({}), {} ms", f.variant, f.executions, coverage_short(&f.coverage), f.time_ms))
            .collect();
        let _ = writeln!(
            b,
            "<tr data-scenario=\"{}\" data-checker=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} ms</td><td>{}</td><td>{}</td></tr>",
            esc(&r.scenario),
            r.checker.name(),
            esc(&r.scenario),
            r.checker.name(),
            if r.expected { "yes" } else { "no" },
            esc(&r.buggy.found_text()),
            r.buggy.kind.map(|k| k.to_string()).unwrap_or_else(|| "—".into()),
            esc(&r.buggy.executions_text()),
            r.buggy.time_ms_median,
            esc(&r.buggy.trace_text()),
            esc(&fixes.join("; "))
        );
    }
    let _ = writeln!(b, "</tbody>\n</table>");
    let notes: Vec<String> = c
        .rows
        .iter()
        .flat_map(|r| {
            r.notes
                .iter()
                .map(move |n| format!("<li><code>{}</code> / {}: {}</li>", esc(&r.scenario), r.checker.name(), esc(n)))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(b, "<h2>Notes</h2>\n<ul>{}</ul>", notes.join("\n"));
    }
    page("conclab — checker comparison", &b)
}

fn chart(b: &mut String, c: &Comparison) {
    let checkers: Vec<Checker> = {
        let mut v = vec![];
        for r in &c.rows {
            if !v.contains(&r.checker) {
                v.push(r.checker);
            }
        }
        v
    };
    let mut scenarios: Vec<&str> = vec![];
    for r in &c.rows {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let max = c.rows.iter().filter_map(|r| r.buggy.executions_max).max().unwrap_or(10);
    let (label_w, plot_w, bar_h) = (210.0, 560.0, 11.0);
    let group_h = bar_h * checkers.len() as f64 + 12.0;
    let height = 40.0 + group_h * scenarios.len() as f64 + 30.0;
    let width = label_w + plot_w + 130.0;
    let _ = writeln!(b, "<h2>Executions to the first bug (log scale)</h2>");
    let _ = writeln!(
        b,
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"system-ui,sans-serif\" font-size=\"11\">"
    );
    // Decades: 1, 10, 100, …
    let top = (max.max(10) as f64).log10().ceil() as u32;
    for d in 0..=top {
        let x = label_w + log_x(10usize.pow(d), max, plot_w).max(0.0) * f64::from(u8::from(d > 0));
        let _ = writeln!(
            b,
            "<line x1=\"{x:.1}\" y1=\"30\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#dde\"/><text x=\"{x:.1}\" y=\"22\" \
             text-anchor=\"middle\" fill=\"#666\">{}</text>",
            height - 30.0,
            10usize.pow(d)
        );
    }
    for (g, s) in scenarios.iter().enumerate() {
        let y0 = 36.0 + group_h * g as f64;
        let _ = writeln!(
            b,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"600\">{}</text>",
            label_w - 8.0,
            y0 + group_h / 2.0,
            esc(s)
        );
        for (k, ch) in checkers.iter().enumerate() {
            let y = y0 + bar_h * k as f64;
            let colour = PALETTE[k % PALETTE.len()];
            let Some(r) = c.rows.iter().find(|r| r.scenario == *s && r.checker == *ch) else { continue };
            match (r.buggy.executions_median, r.buggy.executions_max) {
                (Some(m), x) => {
                    let w = log_x(m, max, plot_w);
                    let _ = writeln!(
                        b,
                        "<rect class=\"bar\" data-scenario=\"{}\" data-checker=\"{}\" x=\"{label_w}\" y=\"{y:.1}\" \
                         width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{} / {}: median {m}, max {}</title></rect>",
                        esc(s),
                        ch.name(),
                        bar_h - 2.0,
                        esc(s),
                        ch.name(),
                        x.unwrap_or(m)
                    );
                    if let Some(x) = x.filter(|&x| x > m) {
                        let xm = label_w + log_x(x, max, plot_w);
                        let _ = writeln!(
                            b,
                            "<line x1=\"{xm:.1}\" y1=\"{y:.1}\" x2=\"{xm:.1}\" y2=\"{:.1}\" stroke=\"#222\" stroke-width=\"2\"/>",
                            y + bar_h - 2.0
                        );
                    }
                }
                (None, _) => {
                    let why = if r.buggy.runs == 0 {
                        "not run"
                    } else if r.buggy.found > 0 {
                        "found (no count)"
                    } else {
                        "not found"
                    };
                    let _ = writeln!(
                        b,
                        "<text class=\"miss\" x=\"{:.1}\" y=\"{:.1}\" fill=\"#999\">{} — {why}</text>",
                        label_w + 4.0,
                        y + bar_h - 3.0,
                        ch.name()
                    );
                }
            }
        }
    }
    let ly = height - 12.0;
    for (k, ch) in checkers.iter().enumerate() {
        let x = label_w + 120.0 * k as f64;
        let _ = writeln!(
            b,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{ly:.1}\">{}</text>",
            ly - 9.0,
            PALETTE[k % PALETTE.len()],
            x + 14.0,
            ch.name()
        );
    }
    let _ = writeln!(b, "</svg>\n<p class=\"meta\">Bars: median executions to the first bug over the seeds that found it; tick: the maximum. Stress counts real-thread runs, not executions, and has no bar.</p>");
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

    #[test]
    fn log_scale_grows_by_decades() {
        let (a, b, c) = (log_x(1, 1000, 300.0), log_x(10, 1000, 300.0), log_x(1000, 1000, 300.0));
        assert!(a < b && b < c && (c - 300.0).abs() < 1e-9, "{a} {b} {c}");
    }
}
