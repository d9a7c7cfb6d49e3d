//! The store's URL: a libpq-style `postgres://` URL, plus keyseal's own
//! query parameters, taken out before the rest goes to the client.

use std::path::PathBuf;
use std::str::FromStr;

use tokio_postgres::config::{Host, SslMode};

/// The table a store uses when the URL names none.
pub const DEFAULT_TABLE: &str = "keyseal_blobs";

/// The store (row) name when the URL names none.
pub const DEFAULT_STORE: &str = "default";

/// The longest table name: PostgreSQL's 63-byte identifiers, minus the
/// version sequence's `_version` suffix.
const MAX_TABLE: usize = 54;

/// The longest store name (a row's key, and part of a quarantined row's).
const MAX_STORE: usize = 200;

/// How the connection is protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tls {
    /// No TLS (`sslmode=disable`): for a server on loopback or a private
    /// network the operator trusts.
    Disabled,
    /// TLS, with the server's certificate verified for its host name
    /// against these roots (`sslmode=verify-full`, the default).
    Verified(Roots),
}

/// The certificates a server's chain must end in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Roots {
    /// The operating system's trusted roots (`sslrootcert=system`, or no
    /// `sslrootcert`).
    System,
    /// The PEM certificates in this file (`sslrootcert=PATH`).
    File(PathBuf),
}

/// A parsed store URL.
pub(crate) struct StoreUrl {
    /// What tokio-postgres connects with (holds the password, if any).
    pub(crate) config: tokio_postgres::Config,
    pub(crate) store: String,
    pub(crate) table: String,
    pub(crate) tls: Tls,
    /// The URL for people: no password, ever.
    pub(crate) location: String,
}

/// A store URL that cannot be used; says why, never showing a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the PostgreSQL store URL cannot be used: {reason}")]
pub struct InvalidUrl {
    reason: String,
}

impl InvalidUrl {
    pub(crate) fn new(reason: String) -> Self {
        Self { reason }
    }

    /// What is wrong with the URL (never its password).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Whether `s` is a URL this crate takes (`postgres://` or `postgresql://`).
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl StoreUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, InvalidUrl> {
        let invalid = |reason: String| InvalidUrl { reason };
        if !is_postgres_url(url) {
            return Err(invalid(
                "it must start with postgres:// or postgresql://".to_owned(),
            ));
        }
        let parts = UrlParts::split(url);
        let user = parts
            .credentials
            .map(|c| c.split_once(':').map_or(c, |(user, _)| user));
        if user.is_some_and(|u| u.contains(['/', '?'])) {
            return Err(invalid(
                "an @ after the host (in the database or a parameter) must be written %40: \
                 the user part runs to the first @"
                    .to_owned(),
            ));
        }
        if parts.host_and_path.contains('@') {
            return Err(invalid(
                "its user part has an @ that is not percent-encoded; write it as %40".to_owned(),
            ));
        }
        let mut store = DEFAULT_STORE.to_owned();
        let mut table = DEFAULT_TABLE.to_owned();
        let mut sslmode = None;
        let mut sslrootcert = None;
        let mut passed = Vec::new();
        for pair in parts.query.split('&').filter(|p| !p.is_empty()) {
            let (raw_key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Keys are decoded as tokio-postgres decodes them, so an
            // encoded name (`pass%77ord`) means what it decodes to.
            let key = percent_decode(raw_key).ok_or_else(|| {
                invalid("a parameter name is not valid percent-encoded UTF-8".to_owned())
            })?;
            let decoded = percent_decode(value).ok_or_else(|| {
                invalid(format!(
                    "the value of `{key}` is not valid percent-encoded UTF-8"
                ))
            })?;
            match key.as_str() {
                "store" => store = decoded,
                "table" => table = decoded,
                "sslmode" => sslmode = Some(decoded),
                "sslrootcert" => sslrootcert = Some(decoded),
                // The password stays out of query strings: it would be
                // shown wherever the URL is.
                "password" => {
                    return Err(invalid(
                        "a password in the query string; put it in the URL's user part \
                         (postgres://user:PASSWORD@host/db) given through an environment \
                         variable, or in PGPASSWORD"
                            .to_owned(),
                    ));
                }
                _ => passed.push(pair),
            }
        }
        check_store(&store).map_err(invalid)?;
        check_table(&table).map_err(invalid)?;
        let tls = match sslmode.as_deref() {
            None | Some("verify-full") => Tls::Verified(match sslrootcert.as_deref() {
                None | Some("system") => Roots::System,
                Some(path) => Roots::File(PathBuf::from(path)),
            }),
            Some("disable") => {
                if sslrootcert.is_some() {
                    return Err(invalid(
                        "sslrootcert with sslmode=disable: say sslmode=verify-full to use it"
                            .to_owned(),
                    ));
                }
                Tls::Disabled
            }
            Some(other) => {
                return Err(invalid(format!(
                    "sslmode={other}: keyseal verifies the server or uses no TLS; \
                     say sslmode=verify-full (the default, with sslrootcert=PATH for a \
                     private CA) or sslmode=disable for a trusted network"
                )));
            }
        };
        let mut rest = format!("{}{}", parts.prefix, parts.host_and_path);
        if let Some(credentials) = parts.credentials {
            rest = format!("{}{credentials}@{}", parts.prefix, parts.host_and_path);
        }
        if !passed.is_empty() {
            rest = format!("{rest}?{}", passed.join("&"));
        }
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| {
            // tokio-postgres names the part it could not parse; the text is
            // shown only when it cannot contain the password.
            let detail = e.to_string();
            let password = parts.password();
            let shows = |p: &str| {
                !p.is_empty()
                    && (detail.contains(p)
                        || percent_decode(p).is_some_and(|decoded| detail.contains(&decoded)))
            };
            if password.is_some_and(shows) {
                invalid("it is not a valid postgres:// URL".to_owned())
            } else {
                invalid(format!("it is not a valid postgres:// URL ({detail})"))
            }
        })?;
        if config.get_password().is_none()
            && let Some(password) = std::env::var_os("PGPASSWORD")
        {
            config.password(password.as_encoded_bytes());
        }
        config.ssl_mode(match tls {
            Tls::Disabled => SslMode::Disable,
            Tls::Verified(_) => SslMode::Require,
        });
        let location = location(&config, &store, &table);
        Ok(Self {
            config,
            store,
            table,
            tls,
            location,
        })
    }
}

/// `postgres://user@host:port,…/db?store=NAME[&table=T]`, never a password.
fn location(config: &tokio_postgres::Config, store: &str, table: &str) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            let port = ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            format!("{name}:{port}")
        })
        .collect();
    let user = config
        .get_user()
        .map(|u| format!("{}@", percent_encode(u)))
        .unwrap_or_default();
    let db = config.get_dbname().map(percent_encode).unwrap_or_default();
    let mut out = format!(
        "postgres://{user}{}/{db}?store={}",
        hosts.join(","),
        percent_encode(store)
    );
    if table != DEFAULT_TABLE {
        out.push_str("&table=");
        out.push_str(table);
    }
    out
}

/// Whether a store URL carries a password (in its user part, or as a
/// query parameter), so a caller can keep it off command lines.
pub fn has_password(url: &str) -> bool {
    let parts = UrlParts::split(url);
    parts.password().is_some()
        || parts.query.split('&').any(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            percent_decode(key).is_some_and(|k| k == "password")
        })
}

/// A URL cut where tokio-postgres cuts it: the user part runs to the first
/// `@` (so a `/` or `?` in a password stays in the password), then the
/// hosts and database run to the first `?`.
struct UrlParts<'a> {
    prefix: &'a str,
    credentials: Option<&'a str>,
    host_and_path: &'a str,
    query: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Self {
        let prefix_len = ["postgres://", "postgresql://"]
            .iter()
            .find(|p| url.starts_with(*p))
            .map_or(0, |p| p.len());
        let (prefix, rest) = url.split_at(prefix_len);
        let (credentials, after) = match rest.split_once('@') {
            Some((credentials, after)) => (Some(credentials), after),
            None => (None, rest),
        };
        let (host_and_path, query) = after.split_once('?').unwrap_or((after, ""));
        Self {
            prefix,
            credentials,
            host_and_path,
            query,
        }
    }

    /// The password as written (percent-encoded), if any.
    fn password(&self) -> Option<&'a str> {
        self.credentials
            .and_then(|c| c.split_once(':'))
            .map(|(_, p)| p)
    }
}

fn check_store(store: &str) -> Result<(), String> {
    if store.is_empty() || store.len() > MAX_STORE {
        return Err(format!("the store name must be 1 to {MAX_STORE} bytes"));
    }
    if store.chars().any(char::is_control) {
        return Err("the store name contains a control character".to_owned());
    }
    Ok(())
}

/// A table name is an unquoted identifier, so it is safe to put in SQL.
pub(crate) fn check_table(table: &str) -> Result<(), String> {
    let mut chars = table.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok
        || table.len() > MAX_TABLE
        || !table
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "the table name {table:?} must be lower-case letters, digits and _, \
             starting with a letter or _, at most {MAX_TABLE} bytes"
        ));
    }
    Ok(())
}

/// Decodes `%XX` escapes (and `+` as itself); `None` for bad escapes or
/// bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Escapes what a URL's parts cannot hold as is.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> StoreUrl {
        match StoreUrl::parse(url) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    fn refused(url: &str) -> String {
        match StoreUrl::parse(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn keyseal_parameters_are_taken_out_and_the_password_never_shown() {
        let url = parse(
            "postgres://app:s3cr%40t-pw@db1:5433,db2/tokens?store=gateway%2Fprod&table=kb\
             &target_session_attrs=read-write&sslrootcert=/etc/ca.pem&connect_timeout=3",
        );
        assert_eq!(url.store, "gateway/prod");
        assert_eq!(url.table, "kb");
        assert_eq!(url.tls, Tls::Verified(Roots::File("/etc/ca.pem".into())));
        assert_eq!(url.config.get_password(), Some(&b"s3cr@t-pw"[..]));
        assert_eq!(
            url.location,
            "postgres://app@db1:5433,db2:5432/tokens?store=gateway%2Fprod&table=kb"
        );
        assert!(!url.location.contains("s3cr"));
    }

    #[test]
    fn defaults_verify_the_server_against_the_system_roots() {
        let url = parse("postgresql://localhost/db");
        assert_eq!(url.store, DEFAULT_STORE);
        assert_eq!(url.table, DEFAULT_TABLE);
        assert_eq!(url.tls, Tls::Verified(Roots::System));
        let plain = parse("postgres://localhost/db?sslmode=disable");
        assert_eq!(plain.tls, Tls::Disabled);
    }

    #[test]
    fn unverified_tls_bad_names_and_query_passwords_are_refused() {
        assert!(refused("postgres://h/db?sslmode=require").contains("verify-full"));
        assert!(refused("postgres://h/db?sslmode=prefer").contains("verify-full"));
        assert!(refused("postgres://h/db?table=Robert%27%3B%20DROP").contains("table name"));
        assert!(refused("postgres://h/db?store=").contains("store name"));
        assert!(refused("postgres://h/db?store=%0a").contains("control"));
        let shown = refused("postgres://h/db?password=hunter2");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(refused("mysql://h/db").contains("postgres://"));
        let shown = refused("postgres://u:hunter2@h/db?nonsense_option=1");
        assert!(!shown.contains("hunter2"), "{shown}");
        // An encoded `password` key is still a password.
        let shown = refused("postgres://h/db?pass%77ord=hunter2");
        assert!(
            !shown.contains("hunter2") && shown.contains("query string"),
            "{shown}"
        );
        assert!(has_password("postgres://h/db?pass%77ord=hunter2"));
        // An unencoded @ in the password would put its tail in the host.
        let shown = refused("postgres://app:hun@ter2@db/x");
        assert!(!shown.contains("ter2"), "{shown}");
    }

    #[test]
    fn a_slash_or_question_mark_in_the_password_stays_in_the_password() {
        for (url, password) in [
            ("postgres://app:pa/ss@db/tokens?store=s", "pa/ss"),
            ("postgres://app:pa?ss@db/tokens?store=s", "pa?ss"),
            ("postgres://app:p%40ss@db/tokens", "p@ss"),
        ] {
            assert!(has_password(url), "{url}");
            let parsed = parse(url);
            assert_eq!(
                parsed.config.get_password(),
                Some(password.as_bytes()),
                "{url}"
            );
            assert!(!parsed.location.contains(password), "{}", parsed.location);
            assert!(
                parsed.location.starts_with("postgres://app@db:5432/tokens"),
                "{}",
                parsed.location
            );
        }
        assert!(!has_password("postgres://app@db/tokens?store=a:b"));
        // An @ in a parameter would make the URL's start a user name.
        assert!(refused("postgres://db/app?store=ops@eu").contains("%40"));
    }
}
