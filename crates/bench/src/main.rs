//! keyseal's benchmark harness. `cargo xtask bench` builds it in release
//! mode and runs `keyseal-bench run` inside a private Secret Service session
//! (gnome-keyring); it measures keyseal side by side with the disk's write
//! floor, a plaintext JSON file and the keyring layouts keyseal replaces,
//! and writes `BENCHMARKS.md` and the scaling plot.
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
mod keyring_core;
mod plot;
#[cfg(target_os = "linux")]
mod postgres;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod rmcp;
mod stats;

use std::process::ExitCode;

const USAGE: &str = "usage: keyseal-bench run [--quick] [--out DIR] [--work DIR] [--command TEXT]";

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        #[cfg(target_os = "linux")]
        Some((mode, rest)) if mode == "child" => children::run(started, rest),
        #[cfg(target_os = "linux")]
        Some((mode, rest)) if mode == "run" => run::run(started, rest),
        _ => {
            let _ = started;
            eprintln!("{USAGE}\n(the benchmarks run on Linux, where CI runs them)");
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
    use std::path::PathBuf;
    use std::time::Instant;

    use crate::cases::{Bench, Plan, timed};
    use crate::common::{BenchKey, Result, fresh_dir};
    use crate::report::{Machine, Report};

    /// Where the plot goes, beside the report.
    pub(crate) const PLOT_FILE: &str = "benchmarks-scaling.svg";

    pub(crate) fn run(started: Instant, args: &[String]) -> Result {
        let mut quick = false;
        let mut out = PathBuf::from("target/bench");
        let mut work = PathBuf::from("target/bench-work");
        let mut command = String::from("cargo xtask bench");
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => quick = true,
                "--out" => out = PathBuf::from(value()?),
                "--work" => work = PathBuf::from(value()?),
                "--command" => command = value()?,
                other => return Err(format!("unknown option {other}\n{}", super::USAGE).into()),
            }
        }
        let dir = fresh_dir(&work)?;
        let bench = Bench {
            plan: Plan { quick },
            dir: dir.canonicalize()?,
            key: BenchKey::generate()?,
            service: format!("keyseal-bench-{}", std::process::id()),
        };
        let machine = Machine::read(&bench.dir, command, quick);
        let result = measure(&bench);
        let cleaned = bench.clean_keyrings();
        let _ = std::fs::remove_dir_all(&bench.dir);
        let mut report = result?;
        cleaned?;
        report.machine = Some(machine);
        report.seconds = started.elapsed().as_secs_f64();

        std::fs::create_dir_all(&out)?;
        let doc = out.join("BENCHMARKS.md");
        std::fs::write(&doc, report.markdown(PLOT_FILE))?;
        if let Some(svg) = report.plot() {
            std::fs::write(out.join(PLOT_FILE), svg)?;
        }
        println!();
        println!("{}", report.summary());
        println!(
            "keyseal-bench: wrote {} and {} in {:.0} s",
            doc.display(),
            out.join(PLOT_FILE).display(),
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
