//! The workspace's task runner: `cargo xtask <task>`.
//!
//! `cargo xtask ci` is the one command CI and contributors both run. It needs
//! nothing but `cargo` and, for the test step, the Debian packages it installs
//! itself when it runs as root.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on its own output streams"
)]

mod release;
mod session;

use std::env;
use std::process::{Command, ExitCode};

/// A task's failure: a message for the person running it.
type Result<T = (), E = String> = std::result::Result<T, E>;

const HELP: &str = "\
Usage: cargo xtask <task>

Tasks:
  ci      fmt check, clippy, all tests (inside a real Secret Service session),
          torture --quick, bench --quick, rustdoc, cargo-deny; stops at the
          first failure
  test    all tests inside a real Secret Service session
          (extra arguments go to `cargo test`)
  deny    cargo deny check bans licenses sources (installs cargo-deny if missing)
  vectors docs/vectors/verify_v1.py, v2, v3: the independent Python readers
          open every known-answer vector (installs python3-cryptography and
          python3-nacl if missing)
  release <patch|minor|major|X.Y.Z> [--plan]
                    bump every manifest, write CHANGELOG.md, package every crate in
          dependency order, write the manual page and shell completions to
          target/release-artifacts/, and commit that as chore(release): vX.Y.Z
  release --artifacts
          only write keyseal.1 and the completions to target/release-artifacts/
  release --execute
          publish the prepared release in dependency order, then tag it
  fuzz [--smoke | --seconds N]
          every cargo-fuzz target in fuzz/ (nightly; installs cargo-fuzz if
          missing), 20 s each with --smoke, else N s (default 600)
  torture [--quick] [--kills N]
          real processes under crashes (SIGKILL), contention, hostile files
          and keys, and faults; full size writes docs/RELIABILITY.md, --quick
          (run by ci) takes a few minutes
  bench [--quick]
          keyseal beside the write floor, a plaintext JSON file and the
          keyring layouts it replaces (release build, real Secret Service);
          fills in the tables of docs/BENCHMARKS.md (its prose is written by
          hand), or with --quick (under two minutes, a smoke test) a copy in
          target/bench/

Environment:
  KEYSEAL_REQUIRE_SERVICES=1  tests that need the Secret Service or the kernel
                              keyring fail instead of skipping (ci sets it)
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => test(args.get(1..).unwrap_or_default(), false),
        Some("deny") => deny(),
        Some("vectors") => vectors(),
        Some("release") => release::release(args.get(1..).unwrap_or_default()),
        Some("fuzz") => fuzz(args.get(1..).unwrap_or_default()),
        Some("torture") => torture(args.get(1..).unwrap_or_default()),
        Some("bench") => bench(args.get(1..).unwrap_or_default()),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn ci() -> Result {
    step("cargo fmt --check", || {
        run(cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    step("cargo clippy", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("tests (inside a Secret Service session)", || {
        test(&[], true)
    })?;
    step(
        "known-answer vectors, read by the independent Python readers",
        vectors,
    )?;
    step("torture --quick", || torture(&["--quick".to_owned()]))?;
    step("bench --quick (a smoke run; writes target/bench/)", || {
        bench(&["--quick".to_owned()])
    })?;
    step("cargo doc", || {
        run(cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"))
    })?;
    step("cargo deny", deny)?;
    println!("\nxtask: ci passed");
    Ok(())
}

/// Runs the whole test suite inside a fresh D-Bus session with an unlocked
/// gnome-keyring, so the keyring tests run against a real Secret Service.
fn test(extra: &[String], require_services: bool) -> Result {
    session::ensure_packages()?;
    let mut args = vec![
        "test".to_owned(),
        "--workspace".to_owned(),
        "--all-features".to_owned(),
    ];
    args.extend(extra.iter().cloned());
    session::run_in_secret_service(&cargo_path(), &args, require_services, &[])
}

/// Runs `docs/vectors/verify_v{1,2,3}.py`: readers written from
/// `docs/FORMAT.md` alone that open every committed vector (the Rust tests
/// check the same vectors from the other side).
fn vectors() -> Result {
    session::ensure_python_modules()?;
    for version in 1..=3 {
        run(Command::new(session::python()).arg(format!("docs/vectors/verify_v{version}.py")))?;
    }
    Ok(())
}

fn deny() -> Result {
    if !Command::new(cargo_path())
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!(
            "xtask: cargo-deny is missing; installing it with `cargo install --locked cargo-deny`"
        );
        run(cargo().args(["install", "--locked", "cargo-deny"]))?;
    }
    // `advisories` needs to fetch the RustSec database, which this machine
    // cannot reach; see README.md for running it where the network is open.
    run(cargo().args([
        "deny",
        "--all-features",
        "check",
        "bans",
        "licenses",
        "sources",
    ]))
}

const FUZZ_TARGETS: [&str; 3] = ["header", "body", "legacy"];

fn fuzz(args: &[String]) -> Result {
    let seconds = match args {
        [flag] if flag == "--smoke" => "20".to_owned(),
        [] => "600".to_owned(),
        [flag, n] if flag == "--seconds" && n.parse::<u32>().is_ok() => n.clone(),
        _ => {
            return Err(format!(
                "usage: cargo xtask fuzz [--smoke | --seconds N]\n\n{HELP}"
            ));
        }
    };
    if !Command::new(cargo_path())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        run(cargo().args(["install", "--locked", "cargo-fuzz"]))?;
    }
    for target in FUZZ_TARGETS {
        let work = std::env::temp_dir().join(format!("keyseal-fuzz-{target}"));
        std::fs::create_dir_all(&work)
            .map_err(|e| format!("could not create {}: {e}", work.display()))?;
        println!(
            "xtask: fuzzing {target} for {seconds} s (working corpus {})",
            work.display()
        );
        run(Command::new("cargo")
            .current_dir("fuzz")
            .args(["+nightly", "fuzz", "run", target])
            .arg(&work)
            .arg(format!("corpus/{target}"))
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-print_final_stats=1",
            ]))?;
    }
    Ok(())
}

/// The `#[ignore]`d `torture_*` runs of every `torture` test binary
/// (crates/cli, crates/rmcp, crates/postgres), as libtest lists them, so a
/// new run is found without a list kept by hand.
fn torture_runs(profile: &[&str]) -> Result<Vec<String>> {
    let mut list = cargo();
    list.args(["test", "--workspace", "--all-features", "--test", "torture"])
        .args(profile)
        .args(["--", "--list", "--ignored"]);
    let out = list
        .output()
        .map_err(|e| format!("could not list the torture runs: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "listing the torture runs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut runs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .filter(|name| name.starts_with("torture_"))
        .map(str::to_owned)
        .collect();
    runs.sort();
    runs.dedup();
    if runs.is_empty() {
        return Err("no torture_* run was found in the torture test binaries".to_owned());
    }
    Ok(runs)
}

fn torture(args: &[String]) -> Result {
    let mut quick = false;
    let mut kills: Option<String> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--kills" => match rest.next().filter(|n| n.parse::<u32>().is_ok()) {
                Some(n) => kills = Some(n.clone()),
                None => return Err(format!("--kills needs a number\n\n{HELP}")),
            },
            other => return Err(format!("unknown torture option `{other}`\n\n{HELP}")),
        }
    }
    session::ensure_packages()?;
    let report = std::env::temp_dir().join(format!("keyseal-torture-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let mut envs = vec![
        ("KEYSEAL_TORTURE_REPORT", report.display().to_string()),
        (
            "KEYSEAL_TORTURE_QUICK",
            if quick { "1" } else { "0" }.to_owned(),
        ),
    ];
    let blob_kills = kills.unwrap_or_else(|| if quick { "50" } else { "500" }.to_owned());
    envs.push(("KEYSEAL_TORTURE_KILLS", blob_kills.clone()));
    let profile: &[&str] = if quick { &[] } else { &["--release"] };
    let started = std::time::Instant::now();
    // The file store alone: writers SIGKILLed while updating.
    let mut blob_args: Vec<String> = [
        "test",
        "--workspace",
        "--all-features",
        "--test",
        "processes",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    blob_args.extend(profile.iter().map(|s| (*s).to_owned()));
    blob_args.extend(["--", "--nocapture"].iter().map(|s| (*s).to_owned()));
    session::run_in_secret_service(&cargo_path(), &blob_args, true, &envs)?;
    // The whole stack through real processes and the `keyseal` binary, and
    // (crates/rmcp/tests/torture.rs) rmcp's refresh through keyseal-rmcp.
    // `--workspace --all-features`, like the test step, so ci reuses its
    // build instead of compiling the dependencies again with other features.
    // Each run in a Secret Service session of its own: gnome-keyring 42
    // can abort when a client is killed mid-call (docs/THREAT-MODEL.md),
    // and a daemon restarted locked must not fail the runs after it.
    let mut failed = Vec::new();
    for name in torture_runs(profile)? {
        let mut cli_args: Vec<String> =
            ["test", "--workspace", "--all-features", "--test", "torture"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        cli_args.extend(profile.iter().map(|s| (*s).to_owned()));
        cli_args.extend(
            ["--", "--ignored", "--nocapture", "--exact", name.as_str()]
                .iter()
                .map(|s| (*s).to_owned()),
        );
        if let Err(e) = session::run_in_secret_service(&cargo_path(), &cli_args, true, &envs) {
            println!("xtask: torture run {name} failed: {e}");
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        return Err(format!("torture runs failed: {}", failed.join(", ")));
    }
    let lines = std::fs::read_to_string(&report)
        .map_err(|e| format!("no torture report at {}: {e}", report.display()))?;
    let table = reliability_table(&lines)?;
    println!("\n{table}");
    if !quick {
        write_reliability(&table, &blob_kills, started.elapsed())?;
    }
    Ok(())
}

/// Builds the benchmark harness in release mode and runs it in a private
/// Secret Service session; it fills in the tables of `docs/BENCHMARKS.md`
/// itself (to `target/bench/` with `--quick`).
fn bench(args: &[String]) -> Result {
    let quick = match args {
        [] => false,
        [flag] if flag == "--quick" => true,
        _ => return Err(format!("usage: cargo xtask bench [--quick]\n\n{HELP}")),
    };
    session::ensure_packages()?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "keyseal-bench",
        "-p",
        "keyseal-cli",
    ]))?;
    let target = env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    let harness = std::path::Path::new(&target).join("release/keyseal-bench");
    let out = if quick { "target/bench" } else { "docs" };
    let command = if quick {
        "cargo xtask bench --quick"
    } else {
        "cargo xtask bench"
    };
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map_or_else(
                || "unknown".to_owned(),
                |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            )
    };
    // The report this run rewrites does not count as a change.
    let dirty = !output(
        "git",
        &["status", "--porcelain", "--", ".", ":!docs/BENCHMARKS.md"],
    )
    .is_empty();
    let commit = format!(
        "{}{}",
        output("git", &["rev-parse", "--short=12", "HEAD"]),
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    let envs = [
        ("KEYSEAL_BENCH_RUSTC", output("rustc", &["-V"])),
        ("KEYSEAL_BENCH_COMMIT", commit),
        (
            "KEYSEAL_BENCH_DATE",
            output("date", &["-u", "+%Y-%m-%d %H:%M"]),
        ),
    ];
    let mut harness_args = vec![
        "run".to_owned(),
        "--out".to_owned(),
        out.to_owned(),
        "--work".to_owned(),
        format!("{target}/bench-work"),
        "--command".to_owned(),
        command.to_owned(),
    ];
    if quick {
        harness_args.push("--quick".to_owned());
    }
    session::run_in_secret_service(&harness.display().to_string(), &harness_args, true, &envs)
}

/// The torture report as a Markdown table.
fn reliability_table(jsonl: &str) -> Result<String> {
    let mut out =
        String::from("| category | tried | survived | lost | what |\n|---|---:|---:|---:|---|\n");
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let field = |name: &str| -> String {
            // The report is this repository's own flat JSON; read it without a parser.
            let key = format!("\"{name}\":");
            line.split(&key)
                .nth(1)
                .map(|rest| {
                    let rest = rest.trim_start();
                    if let Some(text) = rest.strip_prefix('"') {
                        text.split('"').next().unwrap_or_default().to_owned()
                    } else {
                        rest.split([',', '}'])
                            .next()
                            .unwrap_or_default()
                            .trim()
                            .to_owned()
                    }
                })
                .unwrap_or_default()
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            field("category"),
            field("tried"),
            field("survived"),
            field("lost"),
            field("note")
        ));
    }
    Ok(out)
}

fn write_reliability(table: &str, blob_kills: &str, took: std::time::Duration) -> Result {
    let path = "docs/RELIABILITY.md";
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let marker = "<!-- torture results -->";
    let head = existing
        .split(marker)
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned();
    let machine = Command::new("uname")
        .arg("-srm")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let body = format!(
        "{head}\n\n{marker}\n\n## Latest full run\n\n`cargo xtask torture` on {machine}, {} cores, {:.0} s in all; \
         the file-store SIGKILL run (`keyseal-blob`, tests/processes.rs) used {blob_kills} kills and passed.\n\n{table}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        took.as_secs_f64()
    );
    std::fs::write(path, body).map_err(|e| format!("could not write {path}: {e}"))
}

fn step(name: &str, f: impl FnOnce() -> Result) -> Result {
    println!("\nxtask: ==> {name}");
    f().map_err(|e| format!("step `{name}` failed: {e}"))
}

pub(crate) fn cargo_path() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn cargo() -> Command {
    Command::new(cargo_path())
}

fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} exited with {status}"))
    }
}
