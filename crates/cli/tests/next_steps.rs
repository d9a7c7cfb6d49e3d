//! Every error path of the command, each run for real: the message names
//! the store (where there is one), says what failed, and gives a next step
//! a person can take (a command, a flag, a variable, a fix).
#![cfg(test)]
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keyseal_testkit::TempDir;
use support::{KEY, OTHER_KEY, args, code, env_keyseal, keyseal, run, set, stderr};

/// Words that start a next step, or name what to change.
const NEXT_STEPS: [&str; 20] = [
    "`keyseal",
    "Run ",
    "Check ",
    "Set ",
    "Pick ",
    "Give ",
    "Store ",
    "Move ",
    "Restore ",
    "Fix ",
    "Type ",
    "Pipe ",
    "point ",
    "for example",
    "try again",
    "make it readable",
    "try '--help'",
    "pass --",
    "set KEYSEAL_",
    "use --",
];

/// One error path: what it is, how to make it happen, what must be said.
struct Case {
    what: &'static str,
    cmd: Command,
    stdin: Vec<u8>,
    code: i32,
    /// The store's location, when the message must name it.
    names: Option<PathBuf>,
}

fn check(case: Case) {
    let mut cmd = case.cmd;
    let out: Output = run(
        std::mem::replace(&mut cmd, Command::new("true")),
        &case.stdin,
    );
    let message = stderr(&out);
    assert_eq!(code(&out), case.code, "{}: {message}", case.what);
    // Ours start with `keyseal:`; clap's usage errors with `error:`.
    assert!(
        message.starts_with("keyseal: ") || message.starts_with("error: "),
        "{}: no message: {message:?}",
        case.what
    );
    if let Some(location) = &case.names {
        assert!(
            message.contains(&location.display().to_string()),
            "{}: the store is not named: {message}",
            case.what
        );
    }
    assert!(
        NEXT_STEPS.iter().any(|step| message.contains(step)),
        "{}: no next step in: {message}",
        case.what
    );
}

fn with(cmd: Command, envs: &[(&str, &str)], removed: &[&str]) -> Command {
    let mut cmd = cmd;
    for (k, v) in envs {
        cmd.env(k, v);
    }
    for k in removed {
        cmd.env_remove(k);
    }
    cmd
}

fn case(what: &'static str, cmd: Command, code: i32, names: Option<&Path>) -> Case {
    Case {
        what,
        cmd,
        stdin: Vec::new(),
        code,
        names: names.map(Path::to_path_buf),
    }
}

#[test]
fn every_error_names_the_store_and_a_next_step() {
    let dir = TempDir::new("cli-next");
    let store = dir.file();
    set(&store, "api", b"value");
    set(&store, "token", br#"{"access_token":"a"}"#);

    // A store that is not one, a tampered one, a directory.
    let garbage = dir.path().join("garbage.sealed");
    std::fs::write(&garbage, b"this is not a keyseal store at all").unwrap();
    let tampered = dir.path().join("tampered.sealed");
    std::fs::copy(&store, &tampered).unwrap();
    let mut bytes = std::fs::read(&tampered).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&tampered, bytes).unwrap();
    let directory = dir.path().join("a-directory");
    std::fs::create_dir(&directory).unwrap();
    // A directory other users can write to.
    let open_dir = dir.path().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let in_open = open_dir.join("store.sealed");
    // Key files.
    let open_key = dir.path().join("open-key");
    std::fs::write(&open_key, [0x99u8; 32]).unwrap();
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let missing_key = dir.path().join("no-such-key");

    let cases = vec![
        case(
            "get of a missing entry",
            args(env_keyseal(&store), &["get", "nope"]),
            1,
            Some(&store),
        ),
        case(
            "rm of a missing entry",
            args(env_keyseal(&store), &["rm", "nope"]),
            1,
            Some(&store),
        ),
        case(
            "a name with a control character",
            args(env_keyseal(&store), &["set", "a\u{7}b"]),
            2,
            None,
        ),
        case(
            "a lock timeout that is not a number",
            args(env_keyseal(&store), &["--lock-timeout=-1", "list"]),
            2,
            None,
        ),
        case(
            "a file that is not a store",
            args(env_keyseal(&garbage), &["list"]),
            3,
            Some(&garbage),
        ),
        case(
            "a tampered store",
            args(env_keyseal(&tampered), &["get", "api"]),
            3,
            Some(&tampered),
        ),
        case(
            "a directory as the store",
            args(env_keyseal(&directory), &["list"]),
            3,
            Some(&directory),
        ),
        case(
            "a store in a directory others can write to",
            args(env_keyseal(&in_open), &["set", "x"]),
            3,
            Some(&open_dir),
        ),
        case(
            "the wrong key",
            with(
                args(env_keyseal(&store), &["get", "api"]),
                &[("KEYSEAL_KEY", OTHER_KEY)],
                &[],
            ),
            4,
            Some(&store),
        ),
        case(
            "no KEYSEAL_KEY",
            with(
                args(env_keyseal(&store), &["get", "api"]),
                &[],
                &["KEYSEAL_KEY"],
            ),
            5,
            None,
        ),
        case(
            "a malformed KEYSEAL_KEY",
            with(
                args(env_keyseal(&store), &["get", "api"]),
                &[("KEYSEAL_KEY", "not-base64!")],
                &[],
            ),
            5,
            None,
        ),
        case(
            "--keys file with no key file",
            with(
                args(keyseal(&store), &["get", "api"]),
                &[("KEYSEAL_KEYS", "file")],
                &[],
            ),
            5,
            None,
        ),
        case(
            "a key file others can read",
            with(
                args(keyseal(&store), &["get", "api"]),
                &[
                    ("KEYSEAL_KEYS", "file"),
                    ("KEYSEAL_KEY_FILE", open_key.to_str().unwrap()),
                ],
                &[],
            ),
            5,
            None,
        ),
        case(
            "a key file that is not there",
            with(
                args(keyseal(&store), &["get", "api"]),
                &[
                    ("KEYSEAL_KEYS", "file"),
                    ("KEYSEAL_KEY_FILE", missing_key.to_str().unwrap()),
                ],
                &[],
            ),
            5,
            None,
        ),
        case(
            "a field that is not there",
            args(
                env_keyseal(&store),
                &["get", "token", "--field", "refresh_token"],
            ),
            1,
            Some(&store),
        ),
        case(
            "a field of a value that is not JSON",
            args(env_keyseal(&store), &["get", "api", "--field", "a"]),
            1,
            Some(&store),
        ),
        case(
            "run with a missing entry",
            args(
                env_keyseal(&store),
                &["run", "--env", "X=nope", "--", "true"],
            ),
            1,
            Some(&store),
        ),
        case(
            "run with a malformed mapping",
            args(
                env_keyseal(&store),
                &["run", "--env", "no-equals", "--", "true"],
            ),
            2,
            None,
        ),
        case(
            "run of a command that is not there",
            args(
                env_keyseal(&store),
                &["run", "--", "no-such-command-keyseal"],
            ),
            127,
            None,
        ),
        case(
            "rotate-key with a read-only key",
            args(env_keyseal(&store), &["rotate-key"]),
            5,
            Some(&store),
        ),
        case(
            "a recovery key that is not one",
            args(env_keyseal(&store), &["recover"]),
            2,
            None,
        ),
        case(
            "a password typed in --store",
            args(
                env_keyseal(&store),
                &["--store", "postgres://u:hunter2@127.0.0.1/db", "list"],
            ),
            2,
            None,
        ),
    ];
    let mut cases = cases;
    if let Some(recover) = cases
        .iter_mut()
        .find(|c| c.what == "a recovery key that is not one")
    {
        recover.stdin = b"KSR9-not-a-key".to_vec();
    }
    for c in cases {
        check(c);
    }
    // What the tests above leave must be as it was.
    let out = run(args(env_keyseal(&store), &["get", "api"]), b"");
    assert_eq!(out.stdout, b"value");
    let _ = KEY;
}
