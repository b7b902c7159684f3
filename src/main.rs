//! `conclab`: the command line over the runner. Parses arguments, calls the library, prints.
//! Exit codes: 0 passed, 1 bug found, 2 usage or input error, 3 inconclusive (a limit or the
//! time budget was reached; the report says which), 130 stopped by Ctrl-C before a bug was found
//! (a partial report is printed). A closed pipe is not an error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use conclab::assign::{self, AssignOptions};
use conclab::bench;
use conclab::catalog::{self, Category};
use conclab::demo::{self, DemoOptions};
use conclab::report::Report;
use conclab::runner::{self, Checker, Options};
use conclab::{load, server};
use std::time::Duration;

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
        /// Scenario id (see `conclab list`), or a Rust file `FILE.rs` written against std (each
        /// argument-less `pub fn` is a variant; std::sync, std::thread and std::hint become conclab's).
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
        /// loom: run the unbounded search alone, skipping bounds 0, 1 and 2 (verifies a fix in
        /// fewer executions; finds a bug later, and its trace is not minimal in preemptions).
        #[arg(long, conflicts_with = "preemption_bound")]
        unbounded_only: bool,
        /// shuttle-pct: the bug depth.
        #[arg(long, default_value_t = 3)]
        depth: usize,
        /// Show the first failing schedule found, without searching for a shorter one.
        #[arg(long)]
        no_minimize: bool,
        #[command(flatten)]
        budget: Budget,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the trace as a self-contained HTML page (swimlanes) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Replay a token printed by `check`: the same execution, the same trace.
    Replay {
        /// Scenario id (see `conclab list`), or a Rust file `FILE.rs` written against std (each
        /// argument-less `pub fn` is a variant; std::sync, std::thread and std::hint become conclab's).
        id: String,
        /// The variant the token was recorded on.
        #[arg(long, default_value = "buggy")]
        variant: String,
        /// The replay token, exactly as `check` printed it (one that is malformed, or that does
        /// not reproduce a failure of this program, is refused with exit 2).
        #[arg(required_unless_present = "fuzz_input", conflicts_with = "fuzz_input")]
        token: Option<String>,
        /// Replay a fuzzer's saved `schedule` input (e.g. a crash file) instead of a token: a
        /// regular file of at most 1 MiB (a FIFO, a device or a larger file is refused).
        #[arg(long, value_name = "FILE")]
        fuzz_input: Option<PathBuf>,
        #[command(flatten)]
        budget: Budget,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the trace as a self-contained HTML page (swimlanes) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Fuzz a scenario's schedule for a bounded time (cargo-fuzz when it is installed, else
    /// random schedules) and show the first bug as a conclab trace.
    Fuzz {
        /// Scenario id.
        id: String,
        /// The variant to fuzz.
        #[arg(long, default_value = "buggy")]
        variant: String,
        /// Time budget.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Seed of the fuzzer.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Random schedules even when cargo-fuzz is available.
        #[arg(long)]
        random: bool,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Explain a scenario in words: story, invariant, the buggy lines and the minimal failing
    /// trace as prose.
    Explain {
        /// Scenario id (see `conclab list`), or a Rust file `FILE.rs` written against std (each
        /// argument-less `pub fn` is a variant; std::sync, std::thread and std::hint become conclab's).
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
        #[command(flatten)]
        budget: Budget,
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
    /// Run the line echo server (first line on stdout: `listening on <addr>`). SIGINT/SIGTERM
    /// stop it gracefully: lines in progress are finished, the final stats are printed.
    Serve {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
        /// How connections are served.
        #[arg(long, value_enum, default_value_t = server::Mode::Threads)]
        mode: server::Mode,
        /// Worker threads (`pool`), each a readiness loop over the connections it holds (new
        /// ones packed on the first worker that is not saturated, spread when one is); by
        /// default one per CPU (more only add wakeups: no worker ever waits on a client).
        #[arg(long, default_value_t = server::default_workers() as u64, value_parser = clap::value_parser!(u64).range(1..))]
        workers: u64,
        /// Connections open at once; one more is answered `BUSY …` and closed.
        #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
        max_conns: u64,
        /// Slots in each worker's queue of new connections (`pool`); when every queue stays
        /// full for 100 ms (the workers are behind), a new client is answered `BUSY` at once.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
        queue_slots: u64,
        /// What each line gets back.
        #[arg(long, value_enum, default_value_t = server::Service::Echo)]
        service: server::Service,
        /// Longest line accepted (newline included); a longer one gets an error and a close.
        #[arg(long, default_value_t = 64 * 1024, value_parser = clap::value_parser!(u64).range(2..))]
        max_line: u64,
        /// Close a connection silent for this long (at least 1: a zero timeout is refused).
        #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
        idle_timeout_ms: u64,
        /// Drop a client that does not read its replies for this long (at least 1: a zero
        /// timeout is refused, as std refuses it on a socket).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        write_timeout_ms: u64,
        /// After SIGINT/SIGTERM, how long a connection mid-line may take to finish its line.
        #[arg(long, default_value_t = 5_000)]
        grace_ms: u64,
        /// Testing aid: a handler that receives this line panics.
        #[arg(long, hide = true)]
        panic_on_line: Option<String>,
    },
    /// Load the echo server: N clients send M lines each and check every byte comes back once,
    /// in order; K more clients stall mid-line. Reports throughput and latency.
    Load {
        /// The server's address (`conclab serve` prints it).
        #[arg(long)]
        addr: String,
        /// Active clients.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
        clients: u64,
        /// Lines per active client.
        #[arg(long, default_value_t = 1000)]
        lines: u64,
        /// Bytes per line, newline included (at least 16).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(16..))]
        line_bytes: u64,
        /// Clients that send half a line and stall for the whole run.
        #[arg(long, default_value_t = 0)]
        stalled: u64,
        /// A reply slower than this counts as an error (at least 1).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        timeout_ms: u64,
        /// The server's PID: report its CPU time per line (from /proc; Linux).
        #[arg(long)]
        server_pid: Option<u32>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a scenario as a course assignment: a student crate with the story, the buggy code in
    /// `src/lib.rs`, and `cargo test` running the checkers on it. `--all`: the whole course.
    Assign {
        /// `<ID> <DIR>`: the scenario (see `conclab list`) — or an instructor's own `FILE.rs` (story
        /// from its `//!` docs, each `pub fn fixed…` kept as the key, `buggy` for the student to
        /// fix) — and the directory to write (created; it must not hold a crate yet). With
        /// `--all`: just `<DIR>`.
        #[arg(required = true, num_args = 1..=2, value_names = ["ID", "DIR"])]
        args: Vec<String>,
        /// Every scenario, in course order, one folder each, with an index.
        #[arg(long)]
        all: bool,
        /// Write the reference fix instead of the buggy code (for instructors).
        #[arg(long)]
        with_solution: bool,
        /// Real-thread runs measured for the questions' numbers (0: skip measuring).
        #[arg(long, default_value_t = 10_000)]
        stress_runs: usize,
        /// The target directory the generated crates share, written into their
        /// `.cargo/config.toml` as given (default: `target/` of the course pack, named relative
        /// to each crate, so that the pack can be moved or handed out).
        #[arg(long)]
        target_dir: Option<std::path::PathBuf>,
        /// Wall-clock budget in seconds of each measuring check (fractions allowed); a check
        /// still running then is stopped and its number left out.
        #[arg(long, value_name = "SECS", default_value = "600", value_parser = runner::parse_time_budget)]
        timeout: u64,
    },
    /// Grade an assignment directory: each checker on each property, a score, the trace of a
    /// failure. Exit code 0 passed, 1 not passed, 2 not an assignment.
    Grade {
        /// The assignment's directory (written by `conclab assign`).
        dir: std::path::PathBuf,
        /// One JSON object: scenario, passed, score, checks.
        #[arg(long)]
        json: bool,
        /// The shared target directory to build in (default as for `assign`).
        #[arg(long)]
        target_dir: Option<std::path::PathBuf>,
        /// Wall-clock budget in seconds of each checker's run (fractions allowed); one still
        /// running then is stopped, its checks are scored as not passed ("timeout"), and grading
        /// goes on.
        #[arg(long, value_name = "SECS", default_value = "60", value_parser = runner::parse_time_budget)]
        timeout: u64,
    },
    /// Print hint N (from 1) of a scenario's assignment; each gives more away.
    Hint {
        /// Scenario id.
        id: String,
        /// Which hint.
        n: usize,
    },
    /// Internal: run one job sent on stdin (used by the runner to isolate loom and stress).
    #[command(name = "__worker", hide = true)]
    Worker,
}

/// `--timeout` of the commands that run one check.
#[derive(clap::Args)]
struct Budget {
    /// Wall-clock budget in seconds (fractions allowed); a check still running then is
    /// stopped and reported as `inconclusive` (timeout) with what it covered — exit code 3.
    #[arg(long, value_name = "SECS", default_value = "600", value_parser = runner::parse_time_budget)]
    timeout: u64,
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

/// Refuses an `--html FILE` that cannot be written — a directory, a missing parent folder, no
/// permission — before any work, so that a long check or bench never ends in that error. It
/// opens FILE for writing without truncating it (an existing page is kept until the new one
/// replaces it) and removes it again if it did not exist.
fn check_writable(file: Option<&std::path::Path>) -> Result<()> {
    use anyhow::Context as _;
    let Some(file) = file else { return Ok(()) };
    let shown = file.display();
    if file.is_dir() {
        anyhow::bail!("--html {shown} is a directory; give the name of the page to write");
    }
    // Only a regular file (or none yet) is opened: opening a FIFO for writing would block.
    if file.metadata().is_ok_and(|m| !m.is_file()) {
        anyhow::bail!("--html {shown} is not a regular file; give the name of the page to write");
    }
    let existed = file.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(file)
        .with_context(|| format!("--html {shown}: cannot write the page there"))?;
    if !existed {
        let _ = std::fs::remove_file(file);
    }
    Ok(())
}

fn options(checker: Checker) -> Result<Options> {
    Ok(Options::new(checker, std::env::current_exe()?))
}

/// A report on what `id` names: for a file, the file's path (`Report::file`) and its own path in
/// every location the trace shows, not the scratch crate's copy.
fn on_target(id: &str, s: &catalog::Scenario, report: Report) -> Report {
    if conclab::file::is_file(id) {
        return conclab::file::shown_as(report, s.id(), id);
    }
    report
}

/// What `check`, `replay` and `explain` act on: a catalog scenario, or a Rust file (`FILE.rs`,
/// compiled into a worker of its own); the variant to use; options whose checks run in the
/// right worker (the checker is the caller's to set).
fn target(id: &str, variant: &str) -> Result<(catalog::Scenario, String, Options)> {
    if conclab::file::is_file(id) {
        let p = conclab::file::prepare(std::path::Path::new(id))?;
        let variant = conclab::file::variant(&p, variant)?.to_string();
        return Ok((p.scenario, variant, Options::new(Checker::Portfolio, p.exe)));
    }
    Ok((*catalog::lookup(id, variant)?, variant.to_string(), options(Checker::Portfolio)?))
}

/// Exit code of a check that could decide neither way: a limit or the time budget was reached, or
/// only loom's weakened SeqCst shows the failure (the report says which).
const INCONCLUSIVE: u8 = 3;

/// Exit code of a check or bench that Ctrl-C stopped before it found anything (128 + SIGINT).
const INTERRUPTED: u8 = 130;

/// Prints a command's result: pretty JSON with `--json`, else its text.
fn print(out: &mut impl Write, json: bool, value: &impl serde::Serialize, text: impl FnOnce() -> String) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    } else {
        write!(out, "{}", text())?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    // Not locked for the whole command: the worker's panic hook writes from model threads.
    let mut out = std::io::stdout();
    if !matches!(
        cli.command,
        Cmd::Demo { .. } | Cmd::DemoChild { .. } | Cmd::Serve { .. } | Cmd::Load { .. } | Cmd::Fuzz { .. }
    ) {
        // Ctrl-C stops a check between executions, with a partial report. The demos keep the
        // default (their child processes have signal handlers of their own); so does `load`
        // (Ctrl-C ends it); `serve` sets its own (a flag only: its `processes` mode forks from
        // a single-threaded parent, and ctrlc's handler runs on a thread).
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
            print(&mut out, json, &r, || r.render())?;
            return Ok(if r.found_bug() { ExitCode::from(1) } else { ExitCode::SUCCESS });
        }
        Cmd::Serve {
            addr,
            mode,
            workers,
            max_conns,
            queue_slots,
            service,
            max_line,
            idle_timeout_ms,
            write_timeout_ms,
            grace_ms,
            panic_on_line,
        } => {
            let config = server::Config {
                addr,
                mode,
                workers: workers as usize,
                max_conns: max_conns as usize,
                queue_slots: queue_slots as usize,
                service,
                max_line: max_line as usize,
                idle_timeout: Duration::from_millis(idle_timeout_ms),
                write_timeout: Duration::from_millis(write_timeout_ms),
                grace: Duration::from_millis(grace_ms),
                panic_on: panic_on_line.map(String::into_bytes),
            };
            server::serve_main(config, &mut out)?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Load { addr, clients, lines, line_bytes, stalled, timeout_ms, server_pid, json } => {
            let cfg = load::LoadConfig {
                addr,
                clients: clients as usize,
                lines: lines as usize,
                line_bytes: line_bytes as usize,
                stalled: stalled as usize,
                timeout: Duration::from_millis(timeout_ms),
                server_pid,
            };
            let r = load::run(&cfg, !json && std::io::stderr().is_terminal())?;
            print(&mut out, json, &r, || r.render())?;
            return Ok(if r.errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        Cmd::Assign { args, all, with_solution, stress_runs, target_dir, timeout } => {
            let o = AssignOptions {
                with_solution,
                target_dir,
                stress_runs,
                exe: std::env::current_exe()?,
                time_budget_ms: timeout,
            };
            match (all, args.as_slice()) {
                (false, [file, dir]) if conclab::file::is_file(file) => {
                    assign::write_file_assignment(file.as_ref(), dir.as_ref(), &o)?;
                    writeln!(out, "wrote {dir}: `cd {dir} && cargo test`")?;
                }
                (false, [id, dir]) => {
                    assign::write_assignment(id, dir.as_ref(), &o)?;
                    writeln!(out, "wrote {dir}: `cd {dir} && cargo test`")?;
                }
                (true, [dir]) => {
                    for d in assign::write_course(dir.as_ref(), &o)? {
                        writeln!(out, "wrote {}", d.display())?;
                    }
                    writeln!(out, "index: {dir}/README.md")?;
                }
                (false, _) => anyhow::bail!("usage: conclab assign <ID> <DIR> (or: conclab assign --all <DIR>)"),
                (true, _) => anyhow::bail!("with --all, give only the directory: conclab assign --all <DIR>"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Grade { dir, json, target_dir, timeout } => {
            let target_dir = target_dir.unwrap_or_else(assign::default_target_dir);
            let (passed, text) = assign::grade_dir(&dir, json, &target_dir, timeout)?;
            write!(out, "{text}")?;
            return Ok(if passed { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        Cmd::Hint { id, n } => {
            writeln!(out, "hint {n}: {}", assign::hint(&id, n)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::List { json } => {
            if json {
                let items: Vec<_> = catalog::all()
                    .iter()
                    .map(|s| {
                        let e = s.entry;
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
                    let in_cat: Vec<_> = catalog::all().iter().filter(|s| s.entry.category == cat).collect();
                    if in_cat.is_empty() {
                        continue;
                    }
                    writeln!(out, "{}", serde_json::to_value(cat)?.as_str().unwrap_or_default())?;
                    for s in in_cat {
                        let e = s.entry;
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
            check_writable(html.as_deref())?;
            let plan = bench::Plan::new(&scenarios, &checkers, seeds, std::env::current_exe()?)?;
            let table = bench::run(&plan, !json && !csv && std::io::stderr().is_terminal())?;
            if let Some(file) = &html {
                write_file(file, &conclab::bench::page(&table))?;
            }
            print(&mut out, json, &table, || if csv { table.csv() } else { table.markdown() })?;
            return Ok(if table.method.interrupted { ExitCode::from(INTERRUPTED) } else { ExitCode::SUCCESS });
        }
        Cmd::Explain { id, variant, checker, seed, budget: Budget { timeout } } => {
            let (s, variant, base) = target(&id, &variant)?;
            let checker = checker.unwrap_or_else(|| conclab::explain::default_checker(&s));
            let o = Options { checker, seed, time_budget_ms: timeout, ..base };
            let report = on_target(&id, &s, runner::check_scenario(&s, &variant, &o)?);
            write!(out, "{}", conclab::explain::render(&s, &report))?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Check {
            id,
            variant,
            checker,
            iterations,
            seed,
            preemption_bound,
            unbounded_only,
            depth,
            no_minimize,
            budget: Budget { timeout },
            json,
            html,
        } => {
            check_writable(html.as_deref())?;
            let (s, variant, base) = target(&id, &variant)?;
            let opts = Options {
                checker,
                time_budget_ms: timeout,
                iterations,
                seed,
                preemption_bound,
                unbounded_only,
                pct_depth: depth,
                minimize: !no_minimize,
                progress: !json && std::io::stderr().is_terminal(),
                ..base
            };
            (on_target(&id, &s, runner::check_scenario(&s, &variant, &opts)?), json, html, s)
        }
        Cmd::Replay { id, variant, token, fuzz_input, budget: Budget { timeout }, json, html } => {
            check_writable(html.as_deref())?;
            match (token, fuzz_input) {
                (_, Some(file)) => {
                    let s = *catalog::lookup(&id, &variant)?;
                    (conclab::fuzz::replay_input(&id, &variant, &file)?, json, html, s)
                }
                (Some(token), None) => {
                    let (s, variant, base) = target(&id, &variant)?;
                    let o = Options { time_budget_ms: timeout, ..base };
                    (on_target(&id, &s, runner::replay_scenario(&s, &variant, &token, &o)?), json, html, s)
                }
                (None, None) => anyhow::bail!("give a replay token or --fuzz-input FILE"),
            }
        }
        Cmd::Fuzz { id, variant, seconds, seed, random, json } => {
            let r = conclab::fuzz::run(&id, &variant, seconds, seed, random)?;
            print(&mut out, json, &r, || r.render())?;
            return Ok(if r.found_bug() { ExitCode::from(1) } else { ExitCode::SUCCESS });
        }
    };
    let (report, json, html, s) = report;
    if let Some(file) = &html {
        write_file(file, &conclab::html::trace_page(&s, &report))?;
    }
    print(&mut out, json, &report, || report.render())?;
    Ok(if report.found_bug() {
        ExitCode::from(1)
    } else if report.is_inconclusive() {
        ExitCode::from(INCONCLUSIVE)
    } else if report.interrupted() {
        ExitCode::from(INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}
