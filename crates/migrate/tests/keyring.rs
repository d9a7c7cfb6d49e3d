//! Legacy items written into a real Secret Service by an independent client
//! (`secret-tool`), migrated through `KeyringSource`, by one process and by
//! two at once.
#![cfg(test)]

use std::process::{Command, Stdio};

use keyseal::blob::FileStore;
use keyseal::keys::EnvKeyProvider;
use keyseal::{ExposeSecret, Store};
use keyseal_migrate::{KeyringSource, Layout, LegacySource, Options, migrate};

use keyseal_testkit::unique;

fn required() -> bool {
    std::env::var_os("KEYSEAL_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

/// Whether a Secret Service answers; prints why not (or fails under CI).
fn secret_service_here(service: &str) -> bool {
    match KeyringSource::new().search(service) {
        Ok(_) => true,
        Err(e) => {
            assert!(
                !required(),
                "KEYSEAL_REQUIRE_SERVICES=1 but no Secret Service answers: {e}"
            );
            eprintln!("SKIPPED: no Secret Service answers: {e}");
            false
        }
    }
}

fn secret_tool_items(service: &str) -> usize {
    keyseal_testkit::secret_tool_search(service)
        .matches("[/")
        .count()
}

/// docker-agent's item names under a unique service.
fn docker_agent_like(service: &str) -> Layout {
    let preset = Layout::docker_agent();
    let mut layout = Layout::new(service);
    layout.bundle_item = preset.bundle_item;
    layout.item_prefix = preset.item_prefix;
    layout.index_item = preset.index_item;
    layout
}

use keyseal_testkit::secret_tool_store;

fn write_legacy(service: &str) {
    secret_tool_store(
        service,
        "oauth:tokens",
        r#"{"https://mcp.a.example":{"access_token":"A","refresh_token":"RA"}}"#,
    );
    secret_tool_store(
        service,
        "oauth:https://mcp.b.example",
        r#"{"access_token":"B"}"#,
    );
    secret_tool_store(
        service,
        "oauth:https://mcp.c.example",
        r#"{"access_token":"C"}"#,
    );
    secret_tool_store(service, "oauth:_index", r#"["https://mcp.b.example"]"#);
}

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn store_at(path: &std::path::Path) -> Store {
    Store::builder(
        EnvKeyProvider::new("KEYSEAL_TEST_MIGRATE_KEY"),
        FileStore::new(path),
        "migration-test",
    )
    .build()
}

fn assert_migrated(store: &Store) {
    let a = store.get_bytes("https://mcp.a.example").unwrap().unwrap();
    assert_eq!(
        a.expose_secret(),
        br#"{"access_token":"A","refresh_token":"RA"}"#
    );
    for (name, token) in [
        ("https://mcp.b.example", "B"),
        ("https://mcp.c.example", "C"),
    ] {
        let v = store.get_bytes(name).unwrap().unwrap();
        assert_eq!(
            v.expose_secret(),
            format!(r#"{{"access_token":"{token}"}}"#).as_bytes()
        );
    }
    assert_eq!(store.list().unwrap().len(), 3);
}

#[test]
#[ignore = "child process of the migration tests"]
fn child_migrate() {
    if std::env::var_os("KEYSEAL_TEST_CHILD").is_none() {
        return;
    }
    let service = std::env::var("KEYSEAL_TEST_SERVICE").unwrap();
    let path = std::env::var("KEYSEAL_TEST_PATH").unwrap();
    let report = migrate(
        &store_at(path.as_ref()),
        &KeyringSource::new(),
        &docker_agent_like(&service),
        &Options::raw(),
    )
    .unwrap();
    println!("moved={}", report.moved.len());
    println!("report={report:?}");
}

fn run_child(service: &str, path: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_migrate",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEYSEAL_TEST_CHILD", "1")
        .env("KEYSEAL_TEST_SERVICE", service)
        .env("KEYSEAL_TEST_PATH", path)
        .env("KEYSEAL_TEST_MIGRATE_KEY", KEY)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(unique(tag)).join("store.sealed")
}

#[test]
fn secret_tool_items_migrate_are_deleted_and_a_second_run_does_nothing() {
    let service = unique("migrate-ss");
    if !secret_service_here(&service) {
        return;
    }
    write_legacy(&service);
    assert_eq!(secret_tool_items(&service), 4);
    let path = temp_path("migrate-ss");
    let out = run_child(&service, &path).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("moved=3") && stdout.contains("1 passed"),
        "{stdout}"
    );
    assert_eq!(secret_tool_items(&service), 0, "legacy items are left");

    let second = run_child(&service, &path).wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&second.stdout).contains("moved=0"));

    keyseal_testkit::run_child(
        "child_check",
        &[
            ("KEYSEAL_TEST_PATH", path.to_str().unwrap()),
            ("KEYSEAL_TEST_MIGRATE_KEY", KEY),
        ],
        &[],
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
#[ignore = "child process: reads the migrated store back"]
fn child_check() {
    if std::env::var_os("KEYSEAL_TEST_CHILD").is_none() {
        return;
    }
    let store = store_at(std::env::var("KEYSEAL_TEST_PATH").unwrap().as_ref());
    assert_migrated(&store);
    assert_eq!(
        store.status().generation,
        Some(1),
        "the migration wrote more than once"
    );
}

#[test]
fn two_processes_migrating_at_once_do_the_work_once() {
    let service = unique("migrate-2p");
    if !secret_service_here(&service) {
        return;
    }
    write_legacy(&service);
    let path = temp_path("migrate-2p");
    let children = [run_child(&service, &path), run_child(&service, &path)];
    let mut reports = Vec::new();
    let moved: Vec<usize> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(stdout.contains("1 passed"), "{stdout}");
            reports.extend(
                stdout
                    .lines()
                    .filter(|l| l.contains("report="))
                    .map(str::to_owned),
            );
            stdout
                .split("moved=")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(
        moved.iter().sum::<usize>(),
        3,
        "entries moved twice or not at all: {moved:?}"
    );
    let left = Command::new("secret-tool")
        .args(["search", "--all", "service", &service])
        .output()
        .unwrap();
    assert_eq!(
        secret_tool_items(&service),
        0,
        "{}\n{reports:?}",
        String::from_utf8_lossy(&left.stdout)
    );
    keyseal_testkit::run_child(
        "child_check",
        &[
            ("KEYSEAL_TEST_PATH", path.to_str().unwrap()),
            ("KEYSEAL_TEST_MIGRATE_KEY", KEY),
        ],
        &[],
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
