//! An OAuth 2.1 authorization server on loopback, enough for rmcp's
//! `AuthorizationManager`: the MCP server's protected resource metadata
//! (RFC 9728) naming it, its own metadata (RFC 8414), and a
//! token endpoint whose refresh tokens rotate with reuse detection: each
//! refresh token works once; using one again is answered `invalid_grant`
//! and revokes its whole family, as providers that follow the OAuth 2.1
//! draft do. Access tokens expire at once (`expires_in: 0`), so every
//! `get_access_token` refreshes.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What the server counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Refreshes answered with new tokens.
    pub(crate) refreshes: usize,
    /// Refreshes answered `invalid_grant`.
    pub(crate) invalid_grant: usize,
    /// Families revoked because a refresh token was used twice.
    pub(crate) revoked_families: usize,
}

#[derive(Default)]
struct Family {
    revoked: bool,
    current_refresh: String,
    /// Every access token issued in this family.
    access: Vec<String>,
}

#[derive(Default)]
struct State {
    families: Vec<Family>,
    /// Refresh token -> (family, already used).
    refresh: HashMap<String, (usize, bool)>,
    counts: Counts,
    serial: u64,
}

/// The server; it runs on its own threads for as long as the test process.
#[derive(Clone)]
pub(crate) struct AuthServer {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    state: Arc<Mutex<State>>,
}

impl AuthServer {
    /// Starts a server; each token request takes at least `delay` (a token
    /// endpoint's round trip), which widens the window two unguarded
    /// refreshes race in.
    pub(crate) fn start(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = Self {
            base,
            state: Arc::default(),
        };
        let handler = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = handler.clone();
                std::thread::spawn(move || handler.serve(stream, delay));
            }
        });
        server
    }

    /// The MCP server's URL (the resource the tokens are for).
    pub(crate) fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// Issues a first token family (as a completed authorization would):
    /// its refresh token, and the JSON of the token response.
    pub(crate) fn authorize(&self) -> (String, serde_json::Value) {
        let mut state = self.lock();
        let family = state.families.len();
        state.families.push(Family::default());
        let (access, refresh) = state.issue(family);
        (refresh.clone(), token_json(&access, &refresh))
    }

    pub(crate) fn counts(&self) -> Counts {
        self.lock().counts.clone()
    }

    /// The refresh token that works now in `family`, and whether the family
    /// was revoked.
    pub(crate) fn family(&self, family: usize) -> (String, bool) {
        let state = self.lock();
        let f = &state.families[family];
        (f.current_refresh.clone(), f.revoked)
    }

    /// Whether `access` was issued and its family is not revoked.
    pub(crate) fn works(&self, access: &str) -> bool {
        self.lock()
            .families
            .iter()
            .any(|f| !f.revoked && f.access.iter().any(|a| a == access))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self, mut stream: TcpStream, delay: Duration) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let Some((head, body)) = read_request(&mut stream) else {
            return;
        };
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (status, json) = match (method, path) {
            // RFC 9728: the MCP server names its authorization server.
            ("GET", "/.well-known/oauth-protected-resource/mcp") => (
                200,
                serde_json::json!({
                    "resource": self.mcp_url(),
                    "authorization_servers": [self.base],
                }),
            ),
            // RFC 8414 at the issuer, which has no path.
            ("GET", "/.well-known/oauth-authorization-server") => (200, self.metadata()),
            ("POST", "/token") => {
                std::thread::sleep(delay);
                self.token(&form(&body))
            }
            _ => (404, serde_json::json!({ "error": "not_found" })),
        };
        let body = json.to_string();
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            _ => "Not Found",
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }

    fn metadata(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.base,
            "authorization_endpoint": format!("{}/authorize", self.base),
            "token_endpoint": format!("{}/token", self.base),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        })
    }

    fn token(&self, form: &HashMap<String, String>) -> (u16, serde_json::Value) {
        let invalid = |why: &str| {
            (
                400,
                serde_json::json!({ "error": "invalid_grant", "error_description": why }),
            )
        };
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return (
                400,
                serde_json::json!({ "error": "unsupported_grant_type" }),
            );
        }
        let mut state = self.lock();
        let Some(presented) = form.get("refresh_token") else {
            state.counts.invalid_grant += 1;
            return invalid("no refresh token");
        };
        let Some(&(family, used)) = state.refresh.get(presented) else {
            state.counts.invalid_grant += 1;
            return invalid("unknown refresh token");
        };
        if state.families[family].revoked {
            state.counts.invalid_grant += 1;
            return invalid("the token family was revoked");
        }
        if used {
            // Reuse: someone holds a copy; revoke the whole family.
            state.families[family].revoked = true;
            state.counts.revoked_families += 1;
            state.counts.invalid_grant += 1;
            return invalid("refresh token reused; the family is revoked");
        }
        state.refresh.insert(presented.clone(), (family, true));
        let (access, refresh) = state.issue(family);
        state.counts.refreshes += 1;
        (200, token_json(&access, &refresh))
    }
}

impl State {
    fn issue(&mut self, family: usize) -> (String, String) {
        self.serial += 1;
        let access = format!("access-{family}-{}", self.serial);
        let refresh = format!("refresh-{family}-{}", self.serial);
        self.refresh.insert(refresh.clone(), (family, false));
        let f = &mut self.families[family];
        f.current_refresh.clone_from(&refresh);
        f.access.push(access.clone());
        (access, refresh)
    }
}

fn token_json(access: &str, refresh: &str) -> serde_json::Value {
    serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 0,
        "refresh_token": refresh,
    })
}

/// The request's head and body (by `Content-Length`).
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 || bytes.len() > 64 * 1024 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

/// An `application/x-www-form-urlencoded` body.
fn form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode(k), decode(v)))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
