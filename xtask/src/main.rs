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

mod session;

use std::env;
use std::process::{Command, ExitCode};

/// A task's failure: a message for the person running it.
type Result<T = (), E = String> = std::result::Result<T, E>;

const HELP: &str = "\
Usage: cargo xtask <task>

Tasks:
  ci      fmt check, clippy, all tests (inside a real Secret Service session),
          rustdoc, cargo-deny; stops at the first failure
  test    all tests inside a real Secret Service session
          (extra arguments go to `cargo test`)
  deny    cargo deny check bans licenses sources (installs cargo-deny if missing)
  fuzz [--smoke | --seconds N]
          every cargo-fuzz target in fuzz/ (nightly; installs cargo-fuzz if
          missing), 20 s each with --smoke, else N s (default 600)
  torture [--kills N]
          the crash and many-process tests at full size: writers killed with
          SIGKILL N times (default 500; CI runs 25)

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
        Some("fuzz") => fuzz(args.get(1..).unwrap_or_default()),
        Some("torture") => torture(args.get(1..).unwrap_or_default()),
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

fn ci() -> Result {
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
    session::run_in_secret_service(&cargo_path(), &args, require_services)
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

fn torture(args: &[String]) -> Result {
    let kills = match args {
        [] => "500".to_owned(),
        [flag, n] if flag == "--kills" && n.parse::<u32>().is_ok() => n.clone(),
        _ => return Err(format!("usage: cargo xtask torture [--kills N]\n\n{HELP}")),
    };
    println!("xtask: torture with {kills} kills");
    run(cargo()
        .args([
            "test",
            "--package",
            "keyseal-blob",
            "--all-features",
            "--test",
            "processes",
            "--",
            "--nocapture",
        ])
        .env("KEYSEAL_TORTURE_KILLS", kills))
}

fn step(name: &str, f: impl FnOnce() -> Result) -> Result {
    println!("\nxtask: ==> {name}");
    f().map_err(|e| format!("step `{name}` failed: {e}"))
}

fn cargo_path() -> String {
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
