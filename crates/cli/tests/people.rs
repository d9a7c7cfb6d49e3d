//! The command for people: `get --field`, `run`, the hidden prompt in a
//! real terminal (tmux), shell completions and the manual page.
#![cfg(test)]
#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyseal_testkit::{TempDir, services_required};

const TOKEN: &str =
    r#"{"access_token":"gho_s3cret","refresh_token":"ghr_r3fresh","scopes":["repo"]}"#;

fn set(store: &Path, name: &str, value: &[u8]) {
    let mut cmd = support::env_keyseal(store);
    cmd.args(["set", name]);
    let out = support::run(cmd, value);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keyseal(store: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = support::env_keyseal(store);
    cmd.args(args);
    support::run(cmd, b"")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `printf %s TEXT | sha256sum`, as the child computes it.
fn sha256(text: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", "printf %s \"$1\" | sha256sum", "sh", text])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn get_field_prints_one_field_by_dotted_path_or_pointer() {
    let dir = TempDir::new("cli-field");
    let store = dir.file();
    set(&store, "github", TOKEN.as_bytes());
    for path in ["access_token", "/access_token"] {
        let out = keyseal(&store, &["get", "github", "--field", path]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(out.stdout, b"gho_s3cret");
    }
    let out = keyseal(&store, &["get", "github", "--field", "scopes.0"]);
    assert_eq!(out.stdout, b"repo");
    let out = keyseal(&store, &["get", "github", "--field", "scopes"]);
    assert_eq!(out.stdout, br#"["repo"]"#);
    let out = keyseal(&store, &["get", "github", "--field", "id_token"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no such field") && stderr(&out).contains("--help"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("gho_s3cret"));
    set(&store, "plain", b"not json");
    let out = keyseal(&store, &["get", "plain", "--field", "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not JSON"), "{}", stderr(&out));
    let out = keyseal(&store, &["get", "github", "--field", "/a~9"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_gives_the_child_exactly_the_mapped_values_and_prints_none() {
    let dir = TempDir::new("cli-run");
    let store = dir.file();
    set(&store, "github", TOKEN.as_bytes());
    set(&store, "api", b"k3y with spaces\n");
    // keyseal's own key is in its environment, and a stale ABSENT too.
    let mut cmd = support::env_keyseal(&store);
    cmd.env("ABSENT", "stale").env("PGPASSWORD", "db-password");
    cmd.args(
        [
            "run",
            "--env",
            "GITHUB_TOKEN=github#access_token",
            "--env",
            "API_KEY=api",
            "--optional-env",
            "ABSENT=nothing-here",
            "--",
            "sh",
            "-c",
                        "printf '%s|%s|%s|%s|%s' \"$GITHUB_TOKEN\" \"$API_KEY\" \"${ABSENT-unset}\" \"${KEYSEAL_KEY-none}\" \"${PGPASSWORD-none}\" | sha256sum",
        ],
    );
    let out = support::run(cmd, b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout.clone()).unwrap(),
        sha256("gho_s3cret|k3y with spaces\n|unset|none|none")
    );
    for leaked in ["gho_s3cret", "k3y with", "ghr_r3fresh"] {
        assert!(!String::from_utf8_lossy(&out.stdout).contains(leaked));
        assert!(!stderr(&out).contains(leaked));
    }
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn run_passes_the_exit_status_and_a_missing_entry_stops_it_before_it_starts() {
    let dir = TempDir::new("cli-run-exit");
    let store = dir.file();
    set(&store, "api", b"v");
    let out = keyseal(
        &store,
        &["run", "--env", "API=api", "--", "sh", "-c", "exit 7"],
    );
    assert_eq!(out.status.code(), Some(7));
    let marker = dir.path().join("started");
    let script = format!("touch {}", marker.display());
    let out = keyseal(
        &store,
        &["run", "--env", "API=missing", "--", "sh", "-c", &script],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("keyseal set missing"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists(), "the command ran");
    let out = keyseal(
        &store,
        &["run", "--env", "API=api#field", "--", "sh", "-c", &script],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!marker.exists(), "the command ran");
    let out = keyseal(&store, &["run", "--env", "NOT-A-VAR=api", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let out = keyseal(&store, &["run", "--", "no-such-command-keyseal"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
}

#[test]
fn a_sigterm_sent_to_run_reaches_the_command() {
    let dir = TempDir::new("cli-run-signal");
    let store = dir.file();
    set(&store, "api", b"v");
    let mut cmd = support::env_keyseal(&store);
    cmd.args([
        "run",
        "--env",
        "API=api",
        "--",
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(42));
}

#[test]
fn completions_load_in_bash_and_every_shell_gets_a_script() {
    let dir = TempDir::new("cli-completions");
    let store = dir.file();
    let out = keyseal(&store, &["completions", "bash"]);
    assert!(out.status.success());
    let script = dir.path().join("keyseal.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let loaded = Command::new("bash")
        .args([
            "-c",
            &format!("source {} && complete -p keyseal", script.display()),
        ])
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("keyseal"));
    for shell in ["zsh", "fish", "powershell"] {
        let out = keyseal(&store, &["completions", shell]);
        assert!(out.status.success() && out.stdout.len() > 500, "{shell}");
    }
}

#[test]
fn the_manual_page_renders_with_man() {
    let dir = TempDir::new("cli-man");
    let out = keyseal(&dir.file(), &["man"]);
    assert!(out.status.success());
    let page = dir.path().join("keyseal.1");
    std::fs::write(&page, &out.stdout).unwrap();
    if Command::new("man").arg("--version").output().is_err() {
        assert!(
            !services_required(),
            "KEYSEAL_REQUIRE_SERVICES=1 but man is not installed"
        );
        eprintln!("skipped: man is not installed");
        return;
    }
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let text = String::from_utf8_lossy(&rendered.stdout);
    for expected in ["keyseal", "Exit codes", "run", "completions"] {
        assert!(
            text.contains(expected),
            "the page lacks {expected:?}:\n{text}"
        );
    }
}

/// A tmux server of this test's own.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]);
        cmd
    }

    fn pane(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "prompt"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let pane = self.pane();
            if pane.contains(text) {
                return pane;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} in the terminal:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

#[test]
fn set_at_a_terminal_asks_once_without_echo_and_stores_the_bytes_typed() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            !services_required(),
            "KEYSEAL_REQUIRE_SERVICES=1 but tmux is not installed"
        );
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let dir = TempDir::new("cli-prompt");
    let store = dir.file();
    let script = dir.path().join("run.sh");
    std::fs::write(
        &script,
        format!(
            "export KEYSEAL_KEYS=env KEYSEAL_KEY='{}' KEYSEAL_STORE='{}' XDG_STATE_HOME='{}'\n\
                          '{}' set github\necho \"exit=$?\"\n\
             echo \"echo-state=$(stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo)\"\n\
             '{}' set other\necho \"second-exit=$?\"\n\
             echo \"second-echo-state=$(stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo)\"\n\
             sleep 60\n",
            support::KEY,
            store.display(),
            dir.path().display(),
            env!("CARGO_BIN_EXE_keyseal"),
            env!("CARGO_BIN_EXE_keyseal"),
        ),
    )
    .unwrap();
    let tmux = Tmux {
        socket: format!("keyseal-test-{}", std::process::id()),
    };
    let started = tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "prompt",
            "-x",
            "200",
            "-y",
            "20",
            "sh",
        ])
        .arg(&script)
        .env("TERM", "xterm")
        .status()
        .unwrap();
    assert!(started.success());
    tmux.wait_for("(input hidden)");
    let typed = "s3cret value-!@#";
    let sent = tmux
        .cmd()
        .args(["send-keys", "-t", "prompt", "-l", typed])
        .status()
        .unwrap();
    assert!(sent.success());
    tmux.cmd()
        .args(["send-keys", "-t", "prompt", "Enter"])
        .status()
        .unwrap();
    let pane = tmux.wait_for("exit=");
    assert!(!pane.contains("s3cret"), "the value was echoed:\n{pane}");
    assert!(
        pane.contains(&format!("stored github ({} bytes)", typed.len())),
        "{pane}"
    );
    assert!(pane.contains("exit=0"), "{pane}");
    // Asked once: one prompt on the screen; the echo is back afterwards.
    assert_eq!(
        pane.matches("Value for github (input hidden)").count(),
        1,
        "{pane}"
    );
    let pane = tmux.wait_for("echo-state=");
    assert!(
        pane.contains("echo-state=echo"),
        "the echo did not come back:\n{pane}"
    );
    let out = keyseal(&store, &["get", "github"]);
    assert_eq!(out.stdout, typed.as_bytes());
    // Ctrl-C halfway through an answer: nothing stored, echo back, exit 130.
    tmux.wait_for("Value for other (input hidden)");
    tmux.cmd()
        .args(["send-keys", "-t", "prompt", "-l", "half-typed"])
        .status()
        .unwrap();
    tmux.cmd()
        .args(["send-keys", "-t", "prompt", "C-c"])
        .status()
        .unwrap();
    let pane = tmux.wait_for("second-echo-state=");
    assert!(pane.contains("second-exit=130"), "{pane}");
    assert!(
        pane.contains("second-echo-state=echo"),
        "the echo did not come back:\n{pane}"
    );
    assert!(!pane.contains("half-typed"), "{pane}");
    let out = keyseal(&store, &["get", "other"]);
    assert_eq!(out.status.code(), Some(1), "a cancelled answer was stored");
}

/// Runs `keyseal ARGS` with a pseudo-terminal as its standard output and
/// error (util-linux `script`), with `envs` set; everything it wrote, as
/// the terminal got it.
fn at_a_terminal(store: &Path, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let mut line = format!("'{}'", env!("CARGO_BIN_EXE_keyseal"));
    for arg in args {
        line.push_str(&format!(" '{arg}'"));
    }
    let cmd = support::env_keyseal(store);
    let mut script = Command::new("script");
    script.args(["-q", "-e", "-c", &line, "/dev/null"]);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    for (k, v) in envs {
        script.env(k, v);
    }
    let out = script.stdin(Stdio::null()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn progress_and_colour_show_at_a_terminal_and_never_in_a_pipe() {
    let dir = TempDir::new("cli-style");
    let store = dir.file();
    set(&store, "api", b"v");
    let out = keyseal(&store, &["doctor"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains('\u{1b}'),
        "colour in a pipe"
    );
    let (ok, shown) = at_a_terminal(&store, &["doctor"], &[]);
    assert!(ok, "{shown}");
    assert!(
        shown.contains("\u{1b}[32mnone") || shown.contains("\u{1b}[31m"),
        "no colour at a terminal:\n{shown}"
    );
    let (_, plain) = at_a_terminal(&store, &["doctor"], &[("NO_COLOR", "1")]);
    assert!(
        !plain.contains("\u{1b}[3"),
        "colour despite NO_COLOR:\n{plain}"
    );
    // rotate-key (refused here: an environment key cannot be replaced)
    // shows its progress line at a terminal, then clears it.
    let (_, rotated) = at_a_terminal(&store, &["rotate-key"], &[]);
    let line = "\r\u{1b}[2Krotate-key: resealing";
    assert!(
        rotated.contains(line),
        "no progress at a terminal:\n{rotated:?}"
    );
    let after = rotated.split(line).nth(1).unwrap_or_default();
    assert!(
        after.contains("\r\u{1b}[2K"),
        "the progress line was not cleared:\n{rotated:?}"
    );
    let out = keyseal(&store, &["rotate-key"]);
    assert!(
        !stderr(&out).contains("resealing"),
        "progress in a pipe: {}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains('\u{1b}'),
        "escapes in a pipe: {}",
        stderr(&out)
    );
}
