//! `conclab`: the command line over the runner. Parses arguments, calls the library, prints.
//! Exit codes: 0 passed, 1 bug found, 2 usage or input error, 130 stopped by Ctrl-C before a
//! bug was found (a partial report is printed). A closed pipe is not an error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use conclab::bench;
use conclab::catalog::{self, Category};
use conclab::demo::{self, DemoOptions};
use conclab::runner::{self, Checker, Options};

/// A concurrency-bug laboratory: classic bugs, explored by loom, shuttle and real threads.
#[derive(Parser)]
#[command(name = "conclab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the scenarios, grouped by category.
    List {
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a scenario's source: its story, the buggy code and the fixes.
    Show {
        /// Scenario id (see `conclab list`).
        id: String,
    },
    /// Check one variant of a scenario with one checker; print the verdict and the trace.
    Check {
        /// Scenario id (see `conclab list`).
        id: String,
        /// `buggy`, `fixed` or another variant the scenario lists.
        #[arg(long, default_value = "buggy")]
        variant: String,
        /// The checker.
        #[arg(long, value_enum, default_value_t = Checker::Portfolio)]
        checker: Checker,
        /// Schedules (shuttle), runs (stress) or the execution cap (loom).
        #[arg(long)]
        iterations: Option<usize>,
        /// Seed of the randomised checkers.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// loom: explore only this preemption bound (default: 0, 1, 2, then unbounded).
        #[arg(long)]
        preemption_bound: Option<usize>,
        /// shuttle-pct: the bug depth.
        #[arg(long, default_value_t = 3)]
        depth: usize,
        /// Show the first failing schedule found, without searching for a shorter one.
        #[arg(long)]
        no_minimize: bool,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the trace as a self-contained HTML page (swimlanes) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Replay a token printed by `check`: the same execution, the same trace.
    Replay {
        /// Scenario id.
        id: String,
        /// The variant the token was recorded on.
        #[arg(long, default_value = "buggy")]
        variant: String,
        /// The replay token.
        token: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the trace as a self-contained HTML page (swimlanes) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Explain a scenario in words: story, invariant, the buggy lines and the minimal failing
    /// trace as prose.
    Explain {
        /// Scenario id (see `conclab list`).
        id: String,
        /// The buggy variant to explain.
        #[arg(long, default_value = "buggy")]
        variant: String,
        /// The checker that finds the trace (default: shuttle-pct, or the first seeded checker the
        /// scenario names).
        #[arg(long, value_enum)]
        checker: Option<Checker>,
        /// Seed of the randomised checkers.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Run a signal scenario for real (Linux only): a child process, real POSIX signals, a watchdog.
    Demo {
        /// `job-list-reap` or `printf-signal-deadlock`.
        id: String,
        /// `buggy`, `fixed` or another variant the demo lists.
        #[arg(long, default_value = "buggy")]
        variant: String,
        /// Bound on attempts (forks or signals); default: the demo's own.
        #[arg(long)]
        runs: Option<usize>,
        /// A child silent for this long is hung: reported as a deadlock, then killed.
        #[arg(long, default_value_t = demo::DEFAULT_TIMEOUT_MS)]
        timeout_ms: u64,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Internal: the child process of `demo`.
    #[command(name = "__demo-child", hide = true)]
    DemoChild {
        id: String,
        variant: String,
        #[arg(long)]
        runs: usize,
    },
    /// Compare the checkers on the catalog: how often and how soon each finds each bug, and what
    /// verifying each fix costs. Prints a Markdown table (or `--json`, `--csv`).
    Bench {
        /// Seeds per randomised checker (shuttle-random, shuttle-pct) on a buggy variant.
        #[arg(long, default_value_t = bench::DEFAULT_SEEDS, value_parser = clap::value_parser!(u64).range(1..))]
        seeds: u64,
        /// Only this scenario (repeatable; default: the whole catalog).
        #[arg(long = "scenario", value_name = "ID")]
        scenarios: Vec<String>,
        /// Only this checker (repeatable; default: loom, shuttle-random, shuttle-pct, shuttle-dfs, stress).
        #[arg(long = "checker", value_name = "NAME", value_enum)]
        checkers: Vec<Checker>,
        /// One JSON object instead of the table.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV, one record per scenario × checker, instead of the table.
        #[arg(long)]
        csv: bool,
        /// Also write the comparison as a self-contained HTML page (table and chart) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Internal: run one job sent on stdin (used by the runner to isolate loom and stress).
    #[command(name = "__worker", hide = true)]
    Worker,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conclab: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    use anyhow::Context as _;
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

fn options(checker: Checker) -> Result<Options> {
    Ok(Options::new(checker, std::env::current_exe()?))
}

/// Exit code of a check or bench that Ctrl-C stopped before it found anything (128 + SIGINT).
const INTERRUPTED: u8 = 130;

fn run(cli: Cli) -> Result<ExitCode> {
    // Not locked for the whole command: the worker's panic hook writes from model threads.
    let mut out = std::io::stdout();
    if !matches!(cli.command, Cmd::Demo { .. } | Cmd::DemoChild { .. }) {
        // Ctrl-C stops a check between executions, with a partial report (the demos keep
        // the default: their child processes have signal handlers of their own).
        conclab::interrupt::install();
    }
    let report = match cli.command {
        Cmd::Worker => {
            runner::worker_main()?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::DemoChild { id, variant, runs } => {
            demo::child_main(&id, &variant, runs)?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Demo { id, variant, runs, timeout_ms, json } => {
            let r = demo::run(&id, &variant, &DemoOptions { runs, timeout_ms }, &std::env::current_exe()?)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
            } else {
                write!(out, "{}", r.render())?;
            }
            return Ok(if r.found_bug() { ExitCode::from(1) } else { ExitCode::SUCCESS });
        }
        Cmd::List { json } => {
            if json {
                let items: Vec<_> = catalog::all()
                    .iter()
                    .map(|s| {
                        let e = s.on_std;
                        serde_json::json!({
                            "id": e.id, "title": e.title, "category": e.category, "source": e.source,
                            "invariant": e.invariant, "expected": e.expected, "checkers": e.found_by,
                            "variants": s.variant_names(),
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
            } else {
                for cat in [Category::Race, Category::Deadlock, Category::Livelock, Category::Starvation] {
                    let in_cat: Vec<_> = catalog::all().iter().filter(|s| s.on_std.category == cat).collect();
                    if in_cat.is_empty() {
                        continue;
                    }
                    writeln!(out, "{}", serde_json::to_value(cat)?.as_str().unwrap_or_default())?;
                    for s in in_cat {
                        let e = s.on_std;
                        writeln!(
                            out,
                            "  {:<24} {} — expect {} ({})",
                            e.id,
                            e.title,
                            e.expected,
                            s.variant_names().join(", ")
                        )?;
                    }
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Show { id } => {
            let s = catalog::lookup(&id, "buggy")?;
            write!(out, "{}", s.source_text)?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Bench { seeds, scenarios, checkers, json, csv, html } => {
            let plan = bench::Plan::new(&scenarios, &checkers, seeds, std::env::current_exe()?)?;
            let table = bench::run(&plan, !json && !csv && std::io::stderr().is_terminal())?;
            if let Some(file) = &html {
                write_file(file, &conclab::html::bench_page(&table))?;
            }
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&table)?)?;
            } else if csv {
                write!(out, "{}", table.csv())?;
            } else {
                write!(out, "{}", table.markdown())?;
            }
            return Ok(if table.method.interrupted { ExitCode::from(INTERRUPTED) } else { ExitCode::SUCCESS });
        }
        Cmd::Explain { id, variant, checker, seed } => {
            let s = catalog::lookup(&id, &variant)?;
            let checker = checker.unwrap_or_else(|| conclab::explain::default_checker(s));
            let report = runner::check(&id, &variant, &Options { seed, ..options(checker)? })?;
            write!(out, "{}", conclab::explain::render(s, &report))?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Check { id, variant, checker, iterations, seed, preemption_bound, depth, no_minimize, json, html } => {
            let opts = Options {
                iterations,
                seed,
                preemption_bound,
                pct_depth: depth,
                minimize: !no_minimize,
                progress: !json && std::io::stderr().is_terminal(),
                ..options(checker)?
            };
            (runner::check(&id, &variant, &opts)?, json, html)
        }
        Cmd::Replay { id, variant, token, json, html } => {
            (runner::replay(&id, &variant, &token, &options(Checker::Loom)?)?, json, html)
        }
    };
    let (report, json, html) = report;
    if let Some(file) = &html {
        let s = catalog::lookup(&report.scenario, &report.variant)?;
        write_file(file, &conclab::html::trace_page(s, &report))?;
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(out, "{}", report.render())?;
    }
    Ok(match (report.found_bug(), report.interrupted()) {
        (true, _) => ExitCode::from(1),
        (false, true) => ExitCode::from(INTERRUPTED),
        (false, false) => ExitCode::SUCCESS,
    })
}
