//! A real Secret Service for the tests: a private D-Bus session with
//! gnome-keyring unlocked from a known password and a fresh keyring directory.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Result;

/// Debian packages the tests need, and a command each one provides.
/// An absolute path is checked as it is (Debian's PostgreSQL keeps its
/// programs off `PATH`).
const PACKAGES: [(&str, &str); 8] = [
    ("dbus", "dbus-run-session"),
    ("gnome-keyring", "gnome-keyring-daemon"),
    ("keyutils", "keyctl"),
    ("libsecret-tools", "secret-tool"),
    // keyseal-postgres's tests start throwaway servers of their own
    // (crates/testkit/src/postgres.rs); nothing uses a system service.
    ("postgresql-15", "/usr/lib/postgresql/15/bin/initdb"),
    // The test servers' TLS certificates.
    ("openssl", "openssl"),
    // The hidden prompt's test types into a real terminal.
    ("tmux", "tmux"),
    // The manual page's test renders it with `man -l`.
    ("man-db", "man"),
];

/// The password the throwaway test keyring is created and unlocked with.
const TEST_KEYRING_PASSWORD: &str = "keyseal-test-keyring";

/// Runs inside `dbus-run-session`: start and unlock gnome-keyring, wait until
/// it owns its bus name, prove the Secret Service answers with a
/// store/lookup/clear round trip, then run the command given as arguments.
///
/// `gnome-keyring-daemon --unlock` can return before the daemon it forked owns
/// `org.freedesktop.secrets`. A client that asks in that window makes D-Bus
/// start a second daemon, which races the first over the new keyring file
/// ("keyring was in an invalid or unrecognized format") and then wants a
/// prompt: seen once in CI. So the script waits for the name, and any failure
/// before the command starts exits with [`SETUP_FAILED`] so the caller can
/// start over in a new session.
const SESSION_SCRIPT: &str = r#"
set -euo pipefail
setup_failed() {
  echo "xtask: Secret Service setup failed: $1" >&2
  sed 's/^/xtask: gnome-keyring: /' "$XDG_DATA_HOME/gnome-keyring.log" >&2 || true
  exit 97
}
out="$(printf '%s' "$KEYSEAL_TEST_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets 2>>"$XDG_DATA_HOME/gnome-keyring.log")" \
  || setup_failed "gnome-keyring-daemon --unlock failed"
eval "$out"
export GNOME_KEYRING_CONTROL
unset KEYSEAL_TEST_KEYRING_PASSWORD
owned=no
for _ in $(seq 200); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
    owned=yes
    break
  fi
  sleep 0.05
done
[ "$owned" = yes ] || setup_failed "nothing owns org.freedesktop.secrets after 10 s"
printf probe | timeout 20 secret-tool store --label='keyseal ci probe' keyseal-ci probe \
  || setup_failed "secret-tool store failed"
[ "$(timeout 20 secret-tool lookup keyseal-ci probe)" = probe ] || setup_failed "secret-tool lookup failed"
timeout 20 secret-tool clear keyseal-ci probe || setup_failed "secret-tool clear failed"
echo "xtask: Secret Service is up (gnome-keyring, keyring in $XDG_DATA_HOME)"
exec "$@"
"#;

/// The session script's exit code when the Secret Service did not come up.
const SETUP_FAILED: i32 = 97;

/// How many fresh sessions to try before giving up on the Secret Service.
const SETUP_ATTEMPTS: u32 = 3;

/// Harmless noise from the session daemons (see shared machine notes).
const NOISE: [&str; 3] = [
    "Failed to set fd limit",
    "gcr-prompter",
    "couldn't access control socket",
];

/// Debian packages of the Python modules the vector readers import, and
/// each module's name.
const PYTHON_PACKAGES: [(&str, &str); 2] = [
    ("python3-cryptography", "cryptography"),
    ("python3-nacl", "nacl"),
];

/// The Python the Debian packages serve: `/usr/bin/python3` (a `python3`
/// earlier on `PATH`, such as pyenv's, does not see them).
pub(crate) fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Installs the Debian packages of the vector readers' Python modules when
/// [`python`] cannot import them.
pub(crate) fn ensure_python_modules() -> Result {
    let importable = |module: &str| {
        Command::new(python())
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let missing: Vec<&str> = PYTHON_PACKAGES
        .iter()
        .filter(|(_, module)| !importable(module))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)?;
    match PYTHON_PACKAGES
        .iter()
        .find(|(_, module)| !importable(module))
    {
        Some((pkg, module)) => Err(format!(
            "installed {pkg} but {} still cannot import {module}",
            python()
        )),
        None => Ok(()),
    }
}

pub(crate) fn ensure_packages() -> Result {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, cmd)| !on_path(cmd))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)?;
    match PACKAGES.iter().find(|(_, cmd)| !on_path(cmd)) {
        Some((pkg, cmd)) => Err(format!("installed {pkg} but `{cmd}` is still missing")),
        None => Ok(()),
    }
}

/// Installs Debian packages with `apt-get` (as root; otherwise says how).
fn apt_install(missing: &[&str]) -> Result {
    if !is_root() {
        return Err(format!(
            "the tests need the Debian packages {}; install them with \
             `sudo apt-get install -y {}` and run again",
            missing.join(" "),
            missing.join(" ")
        ));
    }
    println!("xtask: installing {}", missing.join(" "));
    let apt = |args: &[&str]| -> Result {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("could not run apt-get: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("apt-get {} exited with {status}", args.join(" ")))
        }
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q"];
    install.extend(missing.iter().copied());
    apt(&install)
}

pub(crate) fn run_in_secret_service(
    program: &str,
    args: &[String],
    require: bool,
    envs: &[(&str, String)],
) -> Result {
    for attempt in 1..=SETUP_ATTEMPTS {
        let status = run_session(program, args, require, envs)?;
        if status.success() {
            return Ok(());
        }
        if status.code() != Some(SETUP_FAILED) {
            return Err(format!(
                "the tests in the Secret Service session exited with {status}"
            ));
        }
        if attempt < SETUP_ATTEMPTS {
            println!(
                "xtask: starting a new Secret Service session (attempt {})",
                attempt + 1
            );
        }
    }
    Err(format!(
        "the Secret Service did not come up in {SETUP_ATTEMPTS} fresh sessions \
         (gnome-keyring's own messages are above)"
    ))
}

/// One `dbus-run-session` with a new keyring directory; returns how it ended.
fn run_session(
    program: &str,
    args: &[String],
    require: bool,
    envs: &[(&str, String)],
) -> Result<std::process::ExitStatus> {
    let keyring_dir = fresh_dir()?;
    let mut cmd = Command::new("dbus-run-session");
    cmd.args([
        "--",
        "bash",
        "-c",
        SESSION_SCRIPT,
        "keyseal-session",
        program,
    ])
    .args(args)
    .env("XDG_DATA_HOME", &keyring_dir)
    .env("KEYSEAL_TEST_KEYRING_PASSWORD", TEST_KEYRING_PASSWORD)
    .stderr(Stdio::piped());
    if require {
        cmd.env("KEYSEAL_REQUIRE_SERVICES", "1");
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start dbus-run-session: {e}"))?;
    // Pass stderr through line by line, minus the daemons' known noise.
    let filter = child.stderr.take().map(|stderr| {
        thread::spawn(move || {
            let mut out = std::io::stderr().lock();
            for line in BufReader::new(stderr)
                .lines()
                .map_while(std::io::Result::ok)
            {
                if !NOISE.iter().any(|n| line.contains(n)) {
                    let _ = writeln!(out, "{line}");
                }
            }
        })
    });
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the test session failed: {e}"))?;
    if let Some(filter) = filter {
        let _ = filter.join();
    }
    let _ = std::fs::remove_dir_all(&keyring_dir);
    Ok(status)
}

/// A new, empty directory for the session's keyring: a keyring left by an
/// earlier run with another password would stay locked.
fn fresh_dir() -> Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("keyseal-keyring-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn on_path(cmd: &str) -> bool {
    if cmd.starts_with('/') {
        return std::path::Path::new(cmd).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(cmd).is_file()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
