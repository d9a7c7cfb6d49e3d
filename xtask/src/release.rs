//! `cargo xtask release`: bump, changelog, publish order, package, all in
//! one commit; `--execute` then publishes that commit and tags it last.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::{Value, json};

use crate::Result;

/// A semantic version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version {
    major: u64,
    minor: u64,
    patch: u64,
}

impl Version {
    pub(crate) fn parse(s: &str) -> Result<Self> {
        let mut parts = s.trim().trim_start_matches('v').split('.');
        let mut next = || -> Result<u64> {
            parts
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("{s:?} is not a version X.Y.Z"))
        };
        let v = Self {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        if parts.next().is_some() {
            return Err(format!("{s:?} is not a version X.Y.Z"));
        }
        Ok(v)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// One conventional commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Commit {
    pub(crate) hash: String,
    pub(crate) kind: String,
    pub(crate) scope: String,
    pub(crate) subject: String,
    pub(crate) breaking: bool,
}

/// Parses `git log --format=%H%x1f%B%x1e` output.
pub(crate) fn parse_commits(log: &str) -> Vec<Commit> {
    log.split('\u{1e}')
        .filter_map(|record| {
            let (hash, message) = record.trim_start_matches('\n').split_once('\u{1f}')?;
            let mut lines = message.lines();
            let header = lines.next()?.trim();
            let body: Vec<&str> = lines.collect();
            let footer_breaking = body
                .iter()
                .any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
            let (prefix, subject) = header.split_once(": ").unwrap_or(("", header));
            let bang = prefix.ends_with('!');
            let bare = prefix.trim_end_matches('!');
            let (kind, scope) = match bare.split_once('(') {
                Some((kind, scope)) => (kind.to_owned(), scope.trim_end_matches(')').to_owned()),
                None => (bare.to_owned(), String::new()),
            };
            Some(Commit {
                hash: hash.trim().to_owned(),
                kind: if kind.chars().all(|c| c.is_ascii_lowercase()) && !kind.is_empty() {
                    kind
                } else {
                    "other".to_owned()
                },
                scope,
                subject: subject.trim().to_owned(),
                breaking: bang || footer_breaking,
            })
        })
        .collect()
}

/// The new version, and a note when a breaking change forced more than asked.
pub(crate) fn next_version(
    current: Version,
    request: &str,
    commits: &[Commit],
) -> Result<(Version, Option<String>)> {
    let bumped = |kind: &str| -> Version {
        match kind {
            "major" => Version {
                major: current.major + 1,
                minor: 0,
                patch: 0,
            },
            "minor" => Version {
                major: current.major,
                minor: current.minor + 1,
                patch: 0,
            },
            _ => Version {
                patch: current.patch + 1,
                ..current
            },
        }
    };
    let asked = match request {
        "patch" | "minor" | "major" => bumped(request),
        explicit => Version::parse(explicit)?,
    };
    if asked <= current {
        return Err(format!(
            "{asked} is not newer than the current version {current}"
        ));
    }
    let breaking: Vec<&Commit> = commits.iter().filter(|c| c.breaking).collect();
    if breaking.is_empty() {
        return Ok((asked, None));
    }
    let least = if current.major == 0 {
        bumped("minor")
    } else {
        bumped("major")
    };
    let what = if current.major == 0 {
        "minor (0.x)"
    } else {
        "major"
    };
    if asked >= least {
        return Ok((asked, None));
    }
    let note = format!(
        "{} breaking change(s) since the last release ({}): a {what} bump is the least allowed, so the version is {least}, not {asked}",
        breaking.len(),
        breaking
            .iter()
            .map(|c| short(&c.hash))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((least, Some(note)))
}

fn short(hash: &str) -> &str {
    hash.get(..7).unwrap_or(hash)
}

/// The CHANGELOG section for `version`.
pub(crate) fn changelog_section(
    version: Version,
    date: &str,
    commits: &[Commit],
    repo: &str,
) -> String {
    let mut groups: BTreeMap<u8, (&str, Vec<&Commit>)> = BTreeMap::new();
    for c in commits {
        let (order, title) = if c.breaking {
            (0, "Breaking changes")
        } else {
            match c.kind.as_str() {
                "feat" => (1, "Features"),
                "fix" => (2, "Fixes"),
                _ => (3, "Other"),
            }
        };
        groups.entry(order).or_insert((title, Vec::new())).1.push(c);
    }
    let mut out = format!("## [{version}] - {date}\n");
    for (title, list) in groups.values() {
        out.push_str(&format!("\n### {title}\n\n"));
        for c in list {
            let kind = match (c.kind.as_str(), c.scope.as_str()) {
                ("other", _) => String::new(),
                (kind, "") => format!("{kind}: "),
                (kind, scope) => format!("{kind}({scope}): "),
            };
            out.push_str(&format!(
                "- {kind}{} ([{}]({repo}/commit/{}))\n",
                c.subject,
                short(&c.hash),
                c.hash
            ));
        }
    }
    out
}

/// Publishable workspace crates in dependency order, from `cargo metadata`.
pub(crate) fn publish_order(metadata: &Value) -> Result<Vec<String>> {
    let members: BTreeSet<String> = metadata["workspace_members"]
        .as_array()
        .ok_or("cargo metadata has no workspace_members")?
        .iter()
        .filter_map(|m| m.as_str().map(ToOwned::to_owned))
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata has no packages")?;
    let publishable: BTreeSet<String> = packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
        .filter(|p| !matches!(p["publish"].as_array(), Some(list) if list.is_empty()))
        .filter_map(|p| p["name"].as_str().map(ToOwned::to_owned))
        .collect();
    for p in packages {
        let Some(name) = p["name"].as_str().filter(|n| publishable.contains(*n)) else {
            continue;
        };
        let internal = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str())
            .filter(|d| publishable.contains(*d) && *d != name)
            .map(ToOwned::to_owned)
            .collect();
        deps.insert(name.to_owned(), internal);
    }
    // Kahn's algorithm; ties in name order, so the plan is stable.
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while order.len() < deps.len() {
        let ready: Vec<String> = deps
            .iter()
            .filter(|(n, d)| !done.contains(*n) && d.iter().all(|x| done.contains(x)))
            .map(|(n, _)| n.clone())
            .collect();
        if ready.is_empty() {
            return Err("the internal dependency graph has a cycle".to_owned());
        }
        for n in ready {
            done.insert(n.clone());
            order.push(n);
        }
    }
    Ok(order)
}

/// Sets `[workspace.package] version` and the `version` of every internal
/// (path) dependency in `[workspace.dependencies]`, keeping the rest of the
/// file (comments, order, formatting) as it is.
pub(crate) fn bump_manifest(toml: &str, version: Version) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = toml
        .parse()
        .map_err(|e| format!("Cargo.toml does not parse: {e}"))?;
    let v = version.to_string();
    let package = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("package"))
        .and_then(|p| p.as_table_like_mut())
        .ok_or("Cargo.toml has no [workspace.package]")?;
    set_version(package, &v);
    if let Some(deps) = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("dependencies"))
        .and_then(|d| d.as_table_like_mut())
    {
        for (_, dep) in deps.iter_mut() {
            if let Some(table) = dep.as_table_like_mut()
                && table.contains_key("path")
            {
                set_version(table, &v);
            }
        }
    }
    Ok(doc.to_string())
}

/// Sets `version` in a table, keeping the comments and spacing around it.
fn set_version(table: &mut dyn toml_edit::TableLike, v: &str) {
    match table
        .get_mut("version")
        .and_then(toml_edit::Item::as_value_mut)
    {
        Some(value) => {
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(v);
            *value.decor_mut() = decor;
        }
        None => {
            table.insert("version", toml_edit::value(v));
        }
    }
}

fn git(args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| format!("could not run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo(args: &[&str]) -> Result<String> {
    let out = Command::new(crate::cargo_path())
        .args(args)
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `name@version` is on crates.io. Asked from outside the
/// workspace: inside it, `cargo info` answers a member's name and version
/// from the local manifest, which the release commit has already bumped.
fn published(spec: &str) -> bool {
    Command::new(crate::cargo_path())
        .args(["info", "--registry", "crates-io", spec])
        .current_dir(std::env::temp_dir())
        .output()
        .is_ok_and(|out| out.status.success())
}

fn run_checked(cmd: &mut Command) -> Result {
    let out = cmd
        .output()
        .map_err(|e| format!("could not run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn today() -> String {
    git(&["log", "-1", "--format=%cs"])
        .map_or_else(|_| "unreleased".to_owned(), |d| d.trim().to_owned())
}

/// `cargo xtask release <patch|minor|major|X.Y.Z> [--plan]` plans or
/// prepares (one commit), `cargo xtask release --execute` publishes it.
pub(crate) fn release(args: &[String]) -> Result {
    let mut request = None;
    let (mut plan_only, mut execute) = (false, false);
    for a in args {
        match a.as_str() {
            "--plan" => plan_only = true,
            "--execute" => execute = true,
            "--artifacts" => return artifacts(),
            other if request.is_none() && !other.starts_with('-') => {
                request = Some(other.to_owned())
            }
            other => {
                return Err(format!("unexpected argument `{other}`; {USAGE}"));
            }
        }
    }
    if execute {
        if request.is_some() || plan_only {
            return Err(format!(
                "--execute publishes the release prepared before, alone; {USAGE}"
            ));
        }
        return execute_release();
    }
    let request = request.ok_or(USAGE)?;

    let manifest = read_manifest()?;
    let doc = parse_manifest(&manifest)?;
    let current = workspace_version(&doc)?;
    let last_tag = git(&["describe", "--tags", "--abbrev=0", "--match", "v*"])
        .ok()
        .map(|t| t.trim().to_owned());
    let range = last_tag
        .as_ref()
        .map_or_else(|| "HEAD".to_owned(), |t| format!("{t}..HEAD"));
    let commits = parse_commits(&git(&["log", "--format=%H%x1f%B%x1e", &range])?);
    let (version, note) = next_version(current, &request, &commits)?;
    let order = publish_order_here()?;
    let repo = doc
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("repository"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned();
    let section = changelog_section(version, &today(), &commits, &repo);

    let plan = json!({
        "current": current.to_string(),
        "version": version.to_string(),
        "tag": format!("v{version}"),
        "since": last_tag,
        "note": note,
        "publish_order": order,
        "changelog": section,
    });
    println!("release plan: {current} -> {version} (tag v{version})");
    if let Some(note) = &note {
        println!("note: {note}");
    }
    println!("publish order: {}", order.join(" -> "));
    println!("\n{section}");
    println!("plan as JSON:\n{plan}");
    if plan_only {
        return Ok(());
    }

    // Refusals, before anything changes.
    refuse_dirty_tree_or_other_branch()?;
    if std::env::var_os("KEYSEAL_RELEASE_SKIP_CI").is_none() {
        crate::ci().map_err(|e| format!("cargo xtask ci fails, so no release: {e}"))?;
    }

    // Prepare: manifests, lockfile, changelog, packages, one commit. A step
    // that fails puts every file back as it was, so the tree is clean again
    // and the same command can be run once more.
    let had_changelog = std::path::Path::new("CHANGELOG.md").exists();
    prepare(&manifest, version, &section, &order).inspect_err(|_| {
        let _ = git(&["checkout", "HEAD", "--", "Cargo.toml", "Cargo.lock"]);
        if had_changelog {
            let _ = git(&["checkout", "HEAD", "--", "CHANGELOG.md"]);
        } else {
            let _ = git(&["rm", "-q", "--cached", "--ignore-unmatch", "CHANGELOG.md"]);
            let _ = std::fs::remove_file("CHANGELOG.md");
        }
    })?;
    println!(
        "prepared {version} in the commit `{}`: Cargo.toml, Cargo.lock, CHANGELOG.md; every crate packaged",
        release_message(version)
    );
    println!(
        "nothing was published; review it (git show HEAD), then run `cargo xtask release --execute`"
    );
    Ok(())
}

/// Bumps, writes the changelog, packages and commits.
fn prepare(manifest: &str, version: Version, section: &str, order: &[String]) -> Result {
    std::fs::write("Cargo.toml", bump_manifest(manifest, version)?).map_err(|e| e.to_string())?;
    cargo(&["update", "--workspace", "--offline"])
        .or_else(|_| cargo(&["update", "--workspace"]))?;
    let changelog =
        std::fs::read_to_string("CHANGELOG.md").unwrap_or_else(|_| "# Changelog\n".to_owned());
    let (head, tail) = changelog
        .split_once("\n## ")
        .map_or((changelog.as_str(), String::new()), |(h, t)| {
            (h, format!("\n## {t}"))
        });
    std::fs::write(
        "CHANGELOG.md",
        format!("{}\n\n{section}{tail}", head.trim_end()),
    )
    .map_err(|e| e.to_string())?;
    let mut package = vec!["package", "--no-verify", "--allow-dirty"];
    for name in order {
        package.extend(["-p", name.as_str()]);
    }
    cargo(&package)?;
    // The command's manual page and completions, when it is released.
    if order.iter().any(|name| name == "keyseal-cli") {
        artifacts()?;
    }
    // Named files, so a changelog made just now is in the commit too.
    git(&["add", "--", "Cargo.toml", "Cargo.lock", "CHANGELOG.md"])?;
    git(&["commit", "-q", "-m", &release_message(version)])?;
    Ok(())
}

const USAGE: &str = "usage: cargo xtask release <patch|minor|major|X.Y.Z> [--plan], then cargo xtask release --execute; cargo xtask release --artifacts writes the manual page and completions alone";

/// Where the release's files beside the crates go: the manual page and the
/// shell completions, generated by the built `keyseal` from its own
/// definitions.
const ARTIFACTS: &str = "target/release-artifacts";

/// Writes `keyseal.1` and the completion scripts into [`ARTIFACTS`].
fn artifacts() -> Result {
    cargo(&["build", "--release", "-q", "-p", "keyseal-cli"])?;
    std::fs::create_dir_all(ARTIFACTS).map_err(|e| format!("cannot create {ARTIFACTS}: {e}"))?;
    let binary = std::path::Path::new("target/release/keyseal");
    let outputs: [(&[&str], &str); 5] = [
        (&["man"], "keyseal.1"),
        (&["completions", "bash"], "keyseal.bash"),
        (&["completions", "zsh"], "_keyseal"),
        (&["completions", "fish"], "keyseal.fish"),
        (&["completions", "powershell"], "_keyseal.ps1"),
    ];
    for (args, file) in outputs {
        let out = std::process::Command::new(binary)
            .args(args)
            .output()
            .map_err(|e| format!("could not run {}: {e}", binary.display()))?;
        if !out.status.success() || out.stdout.is_empty() {
            return Err(format!(
                "keyseal {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let path = format!("{ARTIFACTS}/{file}");
        std::fs::write(&path, &out.stdout).map_err(|e| format!("cannot write {path}: {e}"))?;
        println!("wrote {path}");
    }
    Ok(())
}

fn release_message(version: Version) -> String {
    format!("chore(release): v{version}")
}

fn read_manifest() -> Result<String> {
    std::fs::read_to_string("Cargo.toml")
        .map_err(|e| format!("run this at the workspace root: {e}"))
}

fn parse_manifest(manifest: &str) -> Result<toml_edit::DocumentMut> {
    manifest
        .parse()
        .map_err(|e| format!("Cargo.toml does not parse: {e}"))
}

fn workspace_version(doc: &toml_edit::DocumentMut) -> Result<Version> {
    Version::parse(
        doc.get("workspace")
            .and_then(|w| w.get("package"))
            .and_then(|p| p.get("version"))
            .and_then(|v| v.as_str())
            .ok_or("Cargo.toml has no [workspace.package] version")?,
    )
}

fn publish_order_here() -> Result<Vec<String>> {
    let metadata: Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps"])?)
            .map_err(|e| format!("cargo metadata: {e}"))?;
    publish_order(&metadata)
}

fn refuse_dirty_tree_or_other_branch() -> Result {
    if !git(&["status", "--porcelain"])?.trim().is_empty() {
        return Err(
            "the working tree has uncommitted changes; commit or stash them first".to_owned(),
        );
    }
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"])?;
    if branch.trim() != "main" {
        return Err(format!(
            "releases are made from main, not from {:?}",
            branch.trim()
        ));
    }
    Ok(())
}

/// Publishes the release that the last commit prepared, in dependency order
/// (skipping versions already published, retrying while the index catches
/// up), then creates the tag, last. `KEYSEAL_RELEASE_PUBLISHER` names a
/// command to run instead of `cargo publish -p <crate>` (it gets the crate
/// name as its one argument, and skips the "already published" check): a
/// stand-in registry for the tests.
fn execute_release() -> Result {
    refuse_dirty_tree_or_other_branch()?;
    let version = workspace_version(&parse_manifest(&read_manifest()?)?)?;
    let head = git(&["log", "-1", "--format=%s"])?;
    if head.trim() != release_message(version) {
        return Err(format!(
            "the last commit is not the prepared release `{}`; run `cargo xtask release <patch|minor|major|X.Y.Z>` first",
            release_message(version)
        ));
    }
    let tag = format!("v{version}");
    if !git(&["tag", "-l", &tag])?.trim().is_empty() {
        return Err(format!("{tag} is tagged already: it was released"));
    }
    let order = publish_order_here()?;
    let publisher = std::env::var("KEYSEAL_RELEASE_PUBLISHER").ok();
    for name in &order {
        if let Some(publisher) = &publisher {
            run_checked(Command::new(publisher).arg(name))?;
            continue;
        }
        let spec = format!("{name}@{version}");
        if published(&spec) {
            println!("{spec} is already published; skipping");
            continue;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match cargo(&["publish", "-p", name]) {
                Ok(_) => break,
                Err(e) if attempt < 6 && e.contains("no matching package") => {
                    println!("the index has not caught up ({e}); retrying in 20 s");
                    std::thread::sleep(std::time::Duration::from_secs(20));
                }
                Err(e) => return Err(e),
            }
        }
    }
    git(&["tag", "-a", &tag, "-m", &format!("keyseal {tag}")])?;
    println!("released {tag}; push the commit and the tag");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn commit(kind: &str, breaking: bool) -> Commit {
        Commit {
            hash: "0123456789abcdef".into(),
            kind: kind.into(),
            scope: String::new(),
            subject: "s".into(),
            breaking,
        }
    }

    #[test]
    fn commits_parse_kinds_scopes_and_breaking_markers() {
        let log = "aaa\u{1f}feat(seal): add a thing\n\u{1e}\nbbb\u{1f}fix!: drop a thing\n\u{1e}\nccc\u{1f}refactor: x\n\nBREAKING CHANGE: gone\n\u{1e}\nddd\u{1f}Merge branch x\n\u{1e}";
        let c = parse_commits(log);
        assert_eq!(c.len(), 4);
        assert_eq!(
            (c[0].kind.as_str(), c[0].subject.as_str(), c[0].breaking),
            ("feat", "add a thing", false)
        );
        assert_eq!((c[1].kind.as_str(), c[1].breaking), ("fix", true));
        assert_eq!((c[2].kind.as_str(), c[2].breaking), ("refactor", true));
        assert_eq!(c[3].kind, "other");
    }

    #[test]
    fn breaking_changes_force_a_minor_bump_before_1_0_and_a_major_after() {
        assert_eq!(
            next_version(v("0.1.0"), "patch", &[commit("fix", false)]).unwrap(),
            (v("0.1.1"), None)
        );
        let (version, note) = next_version(v("0.1.0"), "patch", &[commit("feat", true)]).unwrap();
        assert_eq!(version, v("0.2.0"));
        assert!(note.unwrap().contains("minor (0.x)"));
        let (version, note) = next_version(v("1.4.2"), "minor", &[commit("feat", true)]).unwrap();
        assert_eq!(version, v("2.0.0"));
        assert!(note.unwrap().contains("major"));
        assert_eq!(
            next_version(v("0.1.0"), "0.3.0", &[commit("feat", true)]).unwrap(),
            (v("0.3.0"), None)
        );
        assert!(next_version(v("0.3.0"), "0.2.0", &[]).is_err());
        assert!(next_version(v("0.3.0"), "banana", &[]).is_err());
    }

    #[test]
    fn manifests_bump_in_place_keeping_comments() {
        let toml = "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\n# the version\nversion = \"0.1.0\" # keep me\n\n[workspace.dependencies]\na = { path = \"a\", version = \"0.1.0\" }\nserde = \"1\"\n";
        let out = bump_manifest(toml, v("0.2.0")).unwrap();
        assert!(out.contains("# the version\nversion = \"0.2.0\""), "{out}");
        assert!(
            out.contains("a = { path = \"a\", version = \"0.2.0\" }"),
            "{out}"
        );
        assert!(out.contains("serde = \"1\""), "{out}");
    }

    #[test]
    fn the_changelog_groups_and_links_commits() {
        let commits = vec![
            commit("feat", false),
            commit("fix", false),
            commit("docs", false),
            commit("feat", true),
        ];
        let s = changelog_section(v("0.2.0"), "2026-11-29", &commits, "https://example.com/r");
        let breaking = s.find("### Breaking changes").unwrap();
        let features = s.find("### Features").unwrap();
        let fixes = s.find("### Fixes").unwrap();
        let other = s.find("### Other").unwrap();
        assert!(
            breaking < features && features < fixes && fixes < other,
            "{s}"
        );
        assert!(s.starts_with("## [0.2.0] - 2026-11-29"));
        assert!(
            s.contains("([0123456](https://example.com/r/commit/0123456789abcdef))"),
            "{s}"
        );
    }
}
