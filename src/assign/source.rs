//! The student's `src/lib.rs`, cut from a scenario file: the story and the buggy code without
//! the fixes and the catalog entry (or, for instructors, everything but the catalog entry), plus
//! the `run()` function the checkers call. Also: the checks a student must not change.

/// Where a scenario file's sections begin: a title between two `// ----` rules.
struct Section<'a> {
    title: &'a str,
    text: String,
}

/// Splits a scenario file into its preamble (docs, imports, shared model code) and its sections.
fn sections(source: &str) -> (String, Vec<Section<'_>>) {
    let lines: Vec<&str> = source.lines().collect();
    let rule = |i: usize| lines.get(i).is_some_and(|l| l.starts_with("// ----"));
    let mut preamble = String::new();
    let mut out: Vec<Section> = vec![];
    let mut i = 0;
    while i < lines.len() {
        if rule(i) && rule(i + 2) && lines[i + 1].starts_with("// ") {
            let title = lines[i + 1].trim_start_matches("// ").trim();
            out.push(Section { title, text: format!("{}\n{}\n{}\n", lines[i], lines[i + 1], lines[i + 2]) });
            i += 3;
            continue;
        }
        let target = match out.last_mut() {
            Some(s) => &mut s.text,
            None => &mut preamble,
        };
        target.push_str(lines[i]);
        target.push('\n');
        i += 1;
    }
    (preamble, out)
}

/// The module docs without the paragraph that gives the bug away (`**What goes wrong.**`), and
/// the code without its `// BUG:` comments.
fn student_docs(preamble: &str) -> String {
    let mut out = String::new();
    let (mut skipping, mut paragraph_start) = (false, true);
    for line in preamble.lines() {
        if let Some(rest) = line.strip_prefix("//!") {
            let rest = rest.trim();
            if paragraph_start {
                skipping = rest.starts_with("**What goes wrong.**");
            }
            paragraph_start = rest.is_empty();
            if skipping {
                continue;
            }
        } else if line.trim_start().starts_with("// BUG:") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

const RULE: &str = "// ---------------------------------------------------------------------------------------------";

/// The `src/lib.rs` of an assignment: the buggy code (or, `solution`, the whole file with its
/// fixes) and `run()`, the model the checkers explore.
pub fn student_file(source: &str, solution: bool) -> String {
    let (preamble, sections) = sections(source);
    let mut out = if solution { preamble } else { student_docs(&preamble) };
    for s in sections.iter().filter(|s| s.title != "Catalog entry.") {
        if solution || s.title.starts_with("Buggy") {
            let text = if solution { s.text.clone() } else { student_docs(&s.text) };
            out.push_str(&text);
        }
    }
    let (call, what) = if solution { ("fixed()", "the reference fix") } else { ("buggy()", "the code to fix") };
    out.push_str(&format!(
        "{RULE}\n// What the checkers run: keep this function and its name.\n{RULE}\n\n\
         /// The model every checker explores: {what}.\npub fn run() {{\n    {call}\n}}\n"
    ));
    out
}

/// The checks a fix must leave as handed out: every `rt::invariant(…)` and `rt::property(…)`
/// call, and the liveness declarations a verdict rests on (`arrive`, `enter`, `progress`), with
/// the property each checks (`invariant` for the invariant and the declarations). A fix may move
/// them; deleting one would hide the bug from the checkers. (`retry` is not among them: a fix
/// that stops retrying removes it.)
pub fn checks(source: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let declarations = ["rt::liveness::arrive(", "rt::liveness::enter(", "rt::liveness::progress("].map(|d| (d, None));
    for (at, name) in [("rt::invariant(", None), ("rt::property(", Some(()))].into_iter().chain(declarations) {
        for (i, _) in source.match_indices(at) {
            let Some(call) = call_text(&source[i..]) else { continue };
            let property = match name {
                None => "invariant".to_string(),
                Some(()) => {
                    call[at.len()..].trim_start().trim_start_matches('"').split('"').next().unwrap_or("").into()
                }
            };
            out.push((property, call));
        }
    }
    out
}

/// The text of a call from its name to its closing parenthesis (string literals skipped).
fn call_text(from: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in from.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(from[..=i].to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// Code without whitespace: how a check is compared after a student ran rustfmt.
pub fn squeeze(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn the_student_file_keeps_the_bug_and_drops_the_fixes() {
        let s = catalog::find("airplane-seat").unwrap();
        let f = student_file(s.source_text, false);
        assert!(f.contains("fn sell_buggy") && f.contains("pub fn run() {\n    buggy()\n}"));
        assert!(!f.contains("fn sell_locked") && !f.contains("pub const ENTRY") && !f.contains("// BUG:"));
        assert!(!f.contains("**What goes wrong.**") && f.contains("**Invariant.**"));
        let sol = student_file(s.source_text, true);
        assert!(sol.contains("fn sell_locked") && sol.contains("    fixed()\n") && !sol.contains("pub const ENTRY"));
    }

    #[test]
    fn checks_are_found_whole_and_named() {
        let s = catalog::find("airplane-seat").unwrap();
        let c = checks(s.source_text);
        assert!(c.iter().any(|(p, call)| p == "every-seat-sold" && call.ends_with(')') && call.contains("SEATS.min")));
        assert_eq!(c.iter().filter(|(p, _)| p == "invariant").count(), 2);
    }
}
