//! The Secret Service session algorithm, a choice on the provider's
//! builder (used on Linux only; the type exists everywhere so code that
//! sets it builds everywhere).

/// How the secret crosses the session bus between the Secret Service and
/// this process (`docs/THREAT-MODEL.md`, "The Secret Service session").
/// What is stored, and where, is the same either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SessionAlgorithm {
    /// `plain`: the secret is sent as it is, over the user's own session
    /// bus, as the Go clients that share these keyrings do. About 8 ms
    /// faster per process. (gnome-keyring 42 aborts when a client dies while
    /// its session opens, with either algorithm; the daemon D-Bus starts
    /// again has every collection locked.)
    Plain,
    /// `dh-ietf1024-sha256-aes128-cbc-pkcs7`: a Diffie-Hellman exchange
    /// when the session opens, then AES-128-CBC per secret. The default,
    /// as it is libsecret's.
    #[default]
    DiffieHellman,
}

impl SessionAlgorithm {
    /// Every algorithm, the default first.
    pub const ALL: [Self; 2] = [Self::DiffieHellman, Self::Plain];

    /// The algorithm's name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::DiffieHellman => "dh-ietf1024-sha256-aes128-cbc-pkcs7",
        }
    }
}

impl core::fmt::Display for SessionAlgorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for SessionAlgorithm {
    type Err = String;

    /// `plain`, or `dh` (also the full name).
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        match s {
            "plain" => Ok(Self::Plain),
            "dh" | "dh-ietf1024-sha256-aes128-cbc-pkcs7" => Ok(Self::DiffieHellman),
            other => Err(format!(
                "unknown Secret Service session algorithm {other:?} (plain or dh)"
            )),
        }
    }
}
