//! `cargo xtask release` against a small workspace in a temporary git
//! repository with commits of each kind.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

struct Repo(PathBuf);

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sh(dir: &Path, program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn commit(dir: &Path, file: &str, message: &str) {
    write(dir, file, message);
    sh(dir, "git", &["add", "-A"]);
    sh(dir, "git", &["commit", "-q", "-m", message]);
}

fn crate_manifest(name: &str, deps: &[&str]) -> String {
    let deps: String = deps
        .iter()
        .map(|d| format!("{d}.workspace = true\n"))
        .collect();
    format!(
        "[package]\nname = \"{name}\"\nversion.workspace = true\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"test crate {name}\"\n\n[dependencies]\n{deps}"
    )
}

/// A workspace of c -> b -> a, released once as v0.1.0, then four commits.
fn repo() -> Repo {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "keyseal-release-test-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    sh(&dir, "git", &["init", "-q", "-b", "main"]);
    write(
        &dir,
        "Cargo.toml",
        "[workspace]\nresolver = \"2\"\nmembers = [\"c\", \"b\", \"a\"]\n\n[workspace.package]\n# The one version of every crate.\nversion = \"0.1.0\"\nrepository = \"https://example.com/repo\"\n\n[workspace.dependencies]\na = { path = \"a\", version = \"0.1.0\" } # internal\nb = { path = \"b\", version = \"0.1.0\" }\n",
    );
    write(&dir, "a/Cargo.toml", &crate_manifest("a", &[]));
    write(&dir, "b/Cargo.toml", &crate_manifest("b", &["a"]));
    write(&dir, "c/Cargo.toml", &crate_manifest("c", &["a", "b"]));
    for c in ["a", "b", "c"] {
        write(&dir, &format!("{c}/src/lib.rs"), "//! test\n");
    }
    write(
        &dir,
        "CHANGELOG.md",
        "# Changelog\n\n## [0.1.0] - 2026-01-01\n\n- first\n",
    );
    write(&dir, ".gitignore", "/target\n");
    sh(&dir, "cargo", &["generate-lockfile", "--offline"]);
    sh(&dir, "git", &["add", "-A"]);
    sh(&dir, "git", &["commit", "-q", "-m", "chore: initial"]);
    sh(&dir, "git", &["tag", "-a", "v0.1.0", "-m", "v0.1.0"]);
    commit(&dir, "a/notes.txt", "feat(a): add the thing");
    commit(&dir, "b/notes.txt", "fix(b): mend the thing");
    commit(&dir, "notes.txt", "docs: explain the thing");
    commit(
        &dir,
        "c/notes.txt",
        "feat(c)!: change the thing\n\nBREAKING CHANGE: the thing is different",
    );
    Repo(dir)
}

fn xtask(dir: &Path, args: &[&str], skip_ci: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("release").args(args).current_dir(dir);
    if skip_ci {
        cmd.env("KEYSEAL_RELEASE_SKIP_CI", "1");
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_plan_has_the_version_the_order_and_the_changelog_and_changes_nothing() {
    let repo = repo();
    let before = std::fs::read_to_string(repo.0.join("Cargo.toml")).unwrap();
    let out = xtask(&repo.0, &["patch", "--plan"], false);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("release plan: 0.1.0 -> 0.2.0"),
        "a breaking change must force 0.2.0: {t}"
    );
    assert!(t.contains("minor (0.x)"), "{t}");
    assert!(t.contains("publish order: a -> b -> c"), "{t}");
    let json_line = t
        .lines()
        .skip_while(|l| !l.starts_with("plan as JSON"))
        .nth(1)
        .unwrap();
    let plan: serde_json::Value = serde_json::from_str(json_line).unwrap();
    assert_eq!(plan["version"], "0.2.0");
    assert_eq!(plan["since"], "v0.1.0");
    assert_eq!(plan["publish_order"], serde_json::json!(["a", "b", "c"]));
    let section = plan["changelog"].as_str().unwrap();
    assert!(
        section.contains("### Breaking changes\n\n- feat(c): change the thing"),
        "{section}"
    );
    assert!(
        section.contains("### Features\n\n- feat(a): add the thing"),
        "{section}"
    );
    assert!(
        section.contains("### Fixes\n\n- fix(b): mend the thing"),
        "{section}"
    );
    assert!(
        section.contains("### Other\n\n- docs: explain the thing"),
        "{section}"
    );
    assert!(
        section.contains("](https://example.com/repo/commit/"),
        "{section}"
    );
    assert!(
        !section.contains("chore: initial"),
        "commits before the tag were included"
    );
    assert_eq!(
        std::fs::read_to_string(repo.0.join("Cargo.toml")).unwrap(),
        before
    );
}

#[test]
fn preparing_bumps_every_manifest_the_lockfile_and_the_changelog() {
    let repo = repo();
    let out = xtask(&repo.0, &["minor"], true);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("nothing was published"), "{t}");
    // One commit holds it all, and the tree is clean again.
    let head = sh(&repo.0, "git", &["log", "-1", "--format=%s"]);
    assert_eq!(
        String::from_utf8_lossy(&head.stdout).trim(),
        "chore(release): v0.2.0"
    );
    let files = sh(
        &repo.0,
        "git",
        &["show", "--name-only", "--format=", "HEAD"],
    );
    let files = String::from_utf8_lossy(&files.stdout).into_owned();
    for f in ["Cargo.toml", "Cargo.lock", "CHANGELOG.md"] {
        assert!(
            files.lines().any(|l| l == f),
            "{f} is not in the release commit: {files}"
        );
    }
    let status = sh(&repo.0, "git", &["status", "--porcelain"]);
    assert!(
        status.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    let manifest = std::fs::read_to_string(repo.0.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("# The one version of every crate.\nversion = \"0.2.0\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("a = { path = \"a\", version = \"0.2.0\" } # internal"),
        "{manifest}"
    );
    assert!(
        manifest.contains("b = { path = \"b\", version = \"0.2.0\" }"),
        "{manifest}"
    );
    let lock = std::fs::read_to_string(repo.0.join("Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"c\"\nversion = \"0.2.0\""), "{lock}");
    let changelog = std::fs::read_to_string(repo.0.join("CHANGELOG.md")).unwrap();
    let new = changelog.find("## [0.2.0]").unwrap();
    let old = changelog.find("## [0.1.0]").unwrap();
    assert!(
        changelog.starts_with("# Changelog") && new < old,
        "{changelog}"
    );
    assert!(
        repo.0.join("target/package/c-0.2.0.crate").exists(),
        "c was not packaged"
    );
}

#[test]
fn a_dirty_tree_another_branch_or_a_failing_ci_is_refused() {
    let repo = repo();
    write(&repo.0, "a/src/lib.rs", "//! changed\n");
    let out = xtask(&repo.0, &["patch"], true);
    assert!(!out.status.success());
    assert!(text(&out).contains("uncommitted changes"), "{}", text(&out));
    sh(&repo.0, "git", &["checkout", "-q", "--", "."]);

    sh(&repo.0, "git", &["checkout", "-q", "-b", "topic"]);
    let out = xtask(&repo.0, &["patch"], true);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("releases are made from main"),
        "{}",
        text(&out)
    );
    sh(&repo.0, "git", &["checkout", "-q", "main"]);

    // Badly formatted code: the ci's first step fails, so no release.
    commit(&repo.0, "a/src/lib.rs", "//! x\npub fn   f( ) {}\n");
    let out = xtask(&repo.0, &["patch"], false);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cargo xtask ci fails"),
        "{}",
        text(&out)
    );
    let manifest = std::fs::read_to_string(repo.0.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("version = \"0.1.0\""),
        "a refused release changed the manifest"
    );

    let out = xtask(&repo.0, &["0.0.9", "--plan"], false);
    assert!(!out.status.success());
    assert!(text(&out).contains("not newer"), "{}", text(&out));
}

#[test]
fn the_documented_flow_prepares_once_publishes_in_order_and_tags_last() {
    let repo = repo();
    // A changelog that does not exist yet is created and committed too.
    sh(&repo.0, "git", &["rm", "-q", "CHANGELOG.md"]);
    sh(
        &repo.0,
        "git",
        &["commit", "-q", "-m", "chore: no changelog"],
    );
    // 1. the plan
    let out = xtask(&repo.0, &["patch", "--plan"], true);
    assert!(out.status.success(), "{}", text(&out));
    // 2. prepare
    let out = xtask(&repo.0, &["patch"], true);
    assert!(out.status.success(), "{}", text(&out));
    // 3. review: the commit is there; 4. execute, with a stand-in registry
    // that logs each publish and whether the tag existed at that moment.
    let log = repo.0.join("published.log");
    let publisher = repo.0.join("publish.sh");
    write(
        &repo.0,
        "publish.sh",
        &format!(
            "#!/bin/sh\nprintf '%s tag=%s\\n' \"$1\" \"$(git tag -l v0.2.0)\" >> {}\n",
            log.display()
        ),
    );
    sh(&repo.0, "chmod", &["+x", "publish.sh"]);
    // The helper script is not part of the release: keep the tree clean.
    write(&repo.0, ".git/info/exclude", "publish.sh\npublished.log\n");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["release", "--execute"])
        .current_dir(&repo.0)
        .env("KEYSEAL_RELEASE_PUBLISHER", &publisher);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "a tag=\nb tag=\nc tag=\n",
        "not published in dependency order, or tagged before publishing"
    );
    // One bump, the tag on the release commit, the changelog tracked.
    let manifest = std::fs::read_to_string(repo.0.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("version = \"0.2.0\""), "{manifest}");
    let tagged = sh(&repo.0, "git", &["rev-list", "-n", "1", "v0.2.0"]);
    let head = sh(&repo.0, "git", &["rev-parse", "HEAD"]);
    assert_eq!(
        tagged.stdout, head.stdout,
        "the tag is not on the release commit"
    );
    sh(
        &repo.0,
        "git",
        &["ls-files", "--error-unmatch", "CHANGELOG.md"],
    );
    // Executing twice is refused: it was released.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["release", "--execute"])
        .current_dir(&repo.0)
        .env("KEYSEAL_RELEASE_PUBLISHER", &publisher)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("tagged already"), "{}", text(&out));
}

#[test]
fn execute_without_a_prepared_release_is_refused() {
    let repo = repo();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["release", "--execute"])
        .current_dir(&repo.0)
        .env("KEYSEAL_RELEASE_PUBLISHER", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not the prepared release"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_prepare_that_fails_half_way_puts_every_file_back() {
    let repo = repo();
    let before = std::fs::read_to_string(repo.0.join("Cargo.toml")).unwrap();
    // The commit step fails (a hook refuses it), after the bump and the
    // changelog were written.
    write(&repo.0, ".git/hooks/pre-commit", "#!/bin/sh\nexit 1\n");
    sh(&repo.0, "chmod", &["+x", ".git/hooks/pre-commit"]);
    let out = xtask(&repo.0, &["patch"], true);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(repo.0.join("Cargo.toml")).unwrap(),
        before
    );
    let status = sh(&repo.0, "git", &["status", "--porcelain"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).trim().is_empty(),
        "the tree is not clean: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    // The same command works once the hook is gone.
    std::fs::remove_file(repo.0.join(".git/hooks/pre-commit")).unwrap();
    let out = xtask(&repo.0, &["patch"], true);
    assert!(out.status.success(), "{}", text(&out));
}
