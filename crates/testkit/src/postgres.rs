//! Throwaway PostgreSQL servers on loopback, in temporary directories, for
//! keyseal-postgres's tests: started by the test that uses them, stopped
//! (and removed) when dropped. No system service is involved.
//!
//! PostgreSQL refuses to run as root; as root, the servers run as the
//! `postgres` user Debian's package creates (`runuser -u postgres`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, is_root, services_required};

/// The superuser every test server has, and its password (host
/// connections use scram-sha-256).
pub const USER: &str = "keyseal";
/// The superuser's password.
pub const PASSWORD: &str = "keyseal-test-password";
/// The database the tests use.
pub const DATABASE: &str = "keyseal";

/// A running test server (or a stopped one that can start again).
#[derive(Debug)]
pub struct PgServer {
    dir: TempDir,
    data: PathBuf,
    port: u16,
    bin: PathBuf,
    /// The CA certificate (PEM) its server certificate is signed by, when
    /// started with TLS.
    ca: Option<PathBuf>,
}

/// What a new server is started with.
#[derive(Clone, Copy, Debug, Default)]
pub struct PgOptions {
    /// Serve TLS with a certificate for `localhost` and `127.0.0.1`, signed
    /// by a CA of its own ([`PgServer::ca`]).
    pub tls: bool,
}

/// The directory of PostgreSQL's programs, if the package is installed.
pub fn bin_dir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// A free loopback port (bound and released: another process could take
/// it in between, which the start then reports).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

impl PgServer {
    /// A new server, or `None` (the test skips) when PostgreSQL is not
    /// installed; under `KEYSEAL_REQUIRE_SERVICES=1` a missing server is a
    /// failure.
    pub fn start(options: PgOptions) -> Option<Self> {
        let Some(bin) = bin_dir() else {
            assert!(
                !services_required(),
                "KEYSEAL_REQUIRE_SERVICES=1 but PostgreSQL is not installed (apt-get install postgresql-15)"
            );
            eprintln!("skipped: PostgreSQL is not installed");
            return None;
        };
        let dir = TempDir::new("pg");
        let data = dir.path().join("data");
        let server = Self {
            port: free_port(),
            data,
            bin,
            ca: None,
            dir,
        };
        server.own_dir();
        let pwfile = server.dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).unwrap_or_else(|e| panic!("{e}"));
        server.chown(&pwfile);
        server.run_ok(
            "initdb",
            &[
                "-D".as_ref(),
                server.data.as_os_str(),
                "-U".as_ref(),
                USER.as_ref(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "--pwfile".as_ref(),
                pwfile.as_os_str(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
            ],
        );
        let mut server = server;
        let mut conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             max_connections = 100\nfsync = on\nsynchronous_commit = on\n",
            server.port,
            server.dir.path().display()
        );
        if options.tls {
            let ca = server.make_certificates();
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
            server.ca = Some(ca);
        }
        server.append_conf(&conf);
        server.pg_ctl_start();
        server.create_database();
        Some(server)
    }

    /// A streaming standby of `primary` (`pg_basebackup -R -X stream`) on a
    /// port of its own; with `synchronous`, the primary waits for it on
    /// every commit (`synchronous_standby_names = '*'`).
    pub fn standby_of(primary: &Self, synchronous: bool) -> Self {
        let dir = TempDir::new("pg-standby");
        let data = dir.path().join("data");
        let standby = Self {
            port: free_port(),
            data,
            bin: primary.bin.clone(),
            ca: primary.ca.clone(),
            dir,
        };
        standby.own_dir();
        standby.run_ok_env(
            "pg_basebackup",
            &[
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                primary.port.to_string().as_ref(),
                "-U".as_ref(),
                USER.as_ref(),
                "-D".as_ref(),
                standby.data.as_os_str(),
                "-R".as_ref(),
                "-X".as_ref(),
                "stream".as_ref(),
                // A spread checkpoint would take minutes.
                "--checkpoint=fast".as_ref(),
                "--no-sync".as_ref(),
            ],
            &[("PGPASSWORD", PASSWORD)],
        );
        standby.append_conf(&format!(
            "\nport = {}\nunix_socket_directories = '{}'\n",
            standby.port,
            standby.dir.path().display()
        ));
        standby.pg_ctl_start();
        if synchronous {
            primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'");
            primary.psql("SELECT pg_reload_conf()");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let state = primary.psql("SELECT sync_state FROM pg_stat_replication");
                if state.trim() == "sync" {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the standby did not become synchronous: {state:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        standby
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate of a TLS server.
    pub fn ca(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// A directory the test may use, removed with the server.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// A store URL without TLS for the store `store`, password included.
    pub fn url(&self, store: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{DATABASE}?sslmode=disable&store={store}",
            self.port
        )
    }

    /// A store URL with verified TLS against the server's own CA, for the
    /// host name `host` (`localhost` or `127.0.0.1`).
    pub fn tls_url(&self, host: &str, store: &str) -> String {
        let ca = self
            .ca
            .as_ref()
            .unwrap_or_else(|| panic!("not a TLS server"));
        format!(
            "postgres://{USER}:{PASSWORD}@{host}:{}/{DATABASE}?sslmode=verify-full&sslrootcert={}&store={store}",
            self.port,
            ca.display()
        )
    }

    /// Runs SQL through `psql` on the server's socket; its output (tuples
    /// only, unaligned). Panics when psql fails.
    pub fn psql(&self, sql: &str) -> String {
        let out = self.psql_output(sql);
        assert!(
            out.status.success(),
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs SQL through `psql`, however it ends.
    pub fn psql_output(&self, sql: &str) -> Output {
        let port = self.port.to_string();
        let host = self.dir.path().display().to_string();
        self.command("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h", &host, "-p", &port, "-U", USER, "-d", DATABASE, "-c", sql,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("could not run psql: {e}"))
    }

    /// `pg_ctl stop -m immediate`: the server stops at once, as in a crash
    /// (it recovers from its WAL at the next start).
    pub fn stop_immediately(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    /// Starts a stopped server again.
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// SIGKILL to the postmaster and every process it started.
    pub fn kill(&self) {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid"))
            .unwrap_or_else(|e| panic!("no postmaster.pid: {e}"));
        let pid = pid_file
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let children = Command::new("pgrep")
            .args(["-P", &pid])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        for child in children.split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", child]).status();
        }
        // The port is free once the postmaster is gone (or a zombie: in a
        // container nothing may reap it).
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_running(&pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // A dead server's pid file would make `pg_ctl stop` wait for it.
        let _ = std::fs::remove_file(self.data.join("postmaster.pid"));
    }

    /// `pg_ctl promote`: a standby becomes a primary.
    pub fn promote(&self) {
        self.pg_ctl(&["promote", "-w"]);
    }

    fn pg_ctl_start(&self) {
        let log = self.dir.path().join("server.log");
        if !log.exists() {
            std::fs::write(&log, "").unwrap_or_else(|e| panic!("{e}"));
            self.chown(&log);
        }
        let started = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("could not run pg_ctl: {e}"));
        if !started.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("the test PostgreSQL server did not start:\n{text}");
        }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("could not run pg_ctl: {e}"));
        assert!(status.success(), "pg_ctl {args:?} failed");
    }

    fn create_database(&self) {
        let out = self
            .command("createdb")
            .args(["-h", &self.dir.path().display().to_string()])
            .args(["-p", &self.port.to_string(), "-U", USER, DATABASE])
            .output()
            .unwrap_or_else(|e| panic!("could not run createdb: {e}"));
        assert!(
            out.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A CA and a server certificate for localhost and 127.0.0.1, in the
    /// data directory; returns the CA's certificate.
    fn make_certificates(&self) -> PathBuf {
        let dir = self.dir.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap_or_else(|e| panic!("could not run openssl: {e}"));
            assert!(
                out.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-days",
            "2",
            "-subj",
            "/CN=keyseal test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        openssl(&csr);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
             basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.crt",
            "-extfile",
            "server.ext",
        ]);
        for name in ["server.crt", "server.key"] {
            let to = self.data.join(name);
            std::fs::copy(dir.join(name), &to).unwrap_or_else(|e| panic!("{e}"));
            set_mode(&to, 0o600);
            self.chown(&to);
        }
        dir.join("ca.pem")
    }

    fn append_conf(&self, text: &str) {
        use std::io::Write as _;
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.conf"))
            .unwrap_or_else(|e| panic!("no postgresql.conf: {e}"));
        conf.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The temporary directory (and the data directory in it) belong to
    /// the user the server runs as.
    fn own_dir(&self) {
        set_mode(self.dir.path(), 0o755);
        self.chown(self.dir.path());
    }

    fn chown(&self, path: &Path) {
        if is_root() {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(path)
                .status()
                .unwrap_or_else(|e| panic!("could not run chown: {e}"));
            assert!(status.success(), "chown postgres {} failed", path.display());
        }
    }

    /// A command for one of PostgreSQL's programs, as the server's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn run_ok(&self, program: &str, args: &[&std::ffi::OsStr]) {
        self.run_ok_env(program, args, &[]);
    }

    fn run_ok_env(&self, program: &str, args: &[&std::ffi::OsStr], envs: &[(&str, &str)]) {
        let mut cmd = self.command(program);
        cmd.args(args).stdin(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("could not run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["stop", "-m", "immediate", "-w"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Whether process `pid` exists and is not a zombie.
fn is_running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `pid (comm) state …`: the state follows the last `)`.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}
