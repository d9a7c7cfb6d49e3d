//! keyseal's benchmark harness. `cargo xtask bench` builds it in release
//! mode and runs `keyseal-bench run` inside a private Secret Service session
//! (gnome-keyring); it measures keyseal side by side with the disk's write
//! floor, a plaintext JSON file and the keyring layouts keyseal replaces,
//! and fills in the tables of `docs/BENCHMARKS.md` (the prose around them
//! is written by hand).
//!
//! `keyseal-bench child ...` is how the harness runs its own fresh
//! processes (cold starts, contending writers, memory peaks).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line harness reports on its terminal"
)]

#[cfg(target_os = "linux")]
mod cases;
#[cfg(target_os = "linux")]
mod children;
#[cfg(target_os = "linux")]
mod common;
#[cfg(target_os = "linux")]
mod keyring;
#[cfg(target_os = "linux")]
mod report;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// keyseal's benchmark harness (`cargo xtask bench` runs it).
#[derive(Debug, Parser)]
#[command(name = "keyseal-bench")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Measures every comparison and writes BENCHMARKS.md.
    Run(RunArgs),
    /// One measurement in a fresh process (the harness runs these itself).
    #[cfg(target_os = "linux")]
    #[command(subcommand)]
    Child(children::ChildMode),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Fewer rounds and a smaller bundle ladder: a smoke test.
    #[arg(long)]
    quick: bool,
    /// The hand-written document whose generated blocks the run fills in.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    template: PathBuf,
    /// Where the filled-in BENCHMARKS.md goes.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Where the run's stores live while it measures (emptied first).
    #[arg(long, default_value = "target/bench-work")]
    work: PathBuf,
    /// The command the report says produced it.
    #[arg(long, default_value = "cargo xtask bench")]
    command: String,
}

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let cli = Cli::parse();
    let result = match cli.mode {
        #[cfg(target_os = "linux")]
        Mode::Child(mode) => children::run(started, mode),
        #[cfg(target_os = "linux")]
        Mode::Run(args) => run::run(started, &args),
        #[cfg(not(target_os = "linux"))]
        Mode::Run(_) => {
            let _ = started;
            eprintln!("keyseal-bench: the benchmarks run on Linux, where CI runs them");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyseal-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(target_os = "linux")]
mod run {
    use std::time::Instant;

    use crate::RunArgs;
    use crate::cases::{Bench, Plan, timed};
    use crate::common::{BenchKey, Result, fresh_dir};
    use crate::report::{Machine, Report, check_template, splice};

    pub(crate) fn run(started: Instant, args: &RunArgs) -> Result {
        // Read first: a document whose blocks do not match fails before
        // three minutes of measuring, not after.
        let template = std::fs::read_to_string(&args.template)
            .map_err(|e| format!("read {}: {e}", args.template.display()))?;
        check_template(&template).map_err(|e| format!("{}: {e}", args.template.display()))?;
        let dir = fresh_dir(&args.work)?;
        let bench = Bench {
            plan: Plan { quick: args.quick },
            dir: dir.canonicalize()?,
            key: BenchKey::generate()?,
            service: format!("keyseal-bench-{}", std::process::id()),
        };
        let machine = Machine::read(&bench.dir, args.command.clone(), args.quick);
        let result = measure(&bench);
        let cleaned = bench.clean_keyrings();
        let _ = std::fs::remove_dir_all(&bench.dir);
        let mut report = result?;
        cleaned?;
        report.machine = Some(machine);
        report.seconds = started.elapsed().as_secs_f64();

        let doc = splice(&template, &report.blocks())
            .map_err(|e| format!("{}: {e}", args.template.display()))?;
        std::fs::create_dir_all(&args.out)?;
        let path = args.out.join("BENCHMARKS.md");
        std::fs::write(&path, doc)?;
        println!();
        println!("{}", report.summary());
        println!(
            "keyseal-bench: wrote {} in {:.0} s",
            path.display(),
            report.seconds
        );
        if report.lost_updates() > 0 {
            return Err(format!(
                "{} updates were lost under contention",
                report.lost_updates()
            )
            .into());
        }
        Ok(())
    }

    fn measure(bench: &Bench) -> Result<Report> {
        let entries = 100;
        let aead = timed("9. AEAD throughput on 4 MiB", || bench.aead())?;
        let files = timed("1-2. write floor and plaintext JSON, 100 x 4 KiB", || {
            bench.files(entries)
        })?;
        let per_item = timed("3. one Secret Service item per secret", || {
            bench.per_item(entries)
        })?;
        let round_trips = timed("8. keyring round trips for 1,000 mixed operations", || {
            bench.round_trips()
        })?;
        bench.clean_keyrings()?;
        let bundle = timed("4. one bundle item in the Secret Service", || {
            bench.bundle()
        })?;
        let cold = timed("5. cold start", || bench.cold_start(entries))?;
        let steps = timed("5. the steps of a Secret Service key load", || {
            bench.secret_service_steps()
        })?;
        let cli = timed("5. the keyseal command from spawn to exit", || {
            bench.cli_cold()
        })?;
        let dh = timed("5. the client's Diffie-Hellman arithmetic", || {
            bench.dh_arithmetic()
        })?;
        let scaling = timed("6. scaling", || bench.scaling(&[10, 100, 1000, 10_000]))?;
        let contention = timed("7. contention", || bench.contention(&[1, 2, 4, 8], entries))?;
        let keyring_core = timed(
            "10. keyring-core: keyseal-keyring-store and the native store",
            || bench.keyring_core(entries),
        )?;
        let rmcp = timed("11. rmcp: keyseal-rmcp's load and refresh guard", || {
            bench.rmcp()
        })?;
        let postgres = timed(
            "12. PostgreSQL: keyseal-postgres, the file store and the database's floor",
            || bench.postgres(entries),
        )?;
        Ok(Report {
            machine: None,
            seconds: 0.0,
            files,
            per_item,
            bundle,
            cold,
            steps,
            cli,
            dh,
            scaling,
            contention,
            round_trips,
            aead,
            keyring_core,
            rmcp,
            postgres,
        })
    }
}
