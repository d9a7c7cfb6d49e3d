//! TLS through rustls: the server's certificate is verified for its host
//! name against the system's roots or a given CA file.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::tls::NoTls;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::url::{Roots, Tls};

/// The largest CA file read (a bundle of a few hundred roots fits).
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// How a connection is made: plain, or TLS with verification.
#[derive(Clone)]
pub(crate) enum Connector {
    Plain,
    Verified(MakeRustlsConnect),
}

impl Connector {
    /// The connector for `tls`; an error says why the roots are unusable.
    pub(crate) fn new(tls: &Tls) -> Result<Self, String> {
        let roots = match tls {
            Tls::Disabled => return Ok(Self::Plain),
            Tls::Verified(roots) => roots,
        };
        let mut store = rustls::RootCertStore::empty();
        match roots {
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    // A root the system lists but rustls cannot parse is
                    // skipped, as browsers do.
                    let _ = store.add(cert);
                }
                if store.is_empty() {
                    return Err("no trusted root certificates were found on this system; \
                         give the server's CA with sslrootcert=PATH"
                        .to_owned());
                }
            }
            Roots::File(path) => {
                for cert in read_ca_file(path)? {
                    store.add(cert).map_err(|e| {
                        format!("a certificate in {} is not usable: {e}", path.display())
                    })?;
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("rustls refused its own defaults: {e}"))?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(Self::Verified(MakeRustlsConnect::new(config)))
    }

    /// Connects, and drives the connection on the current runtime until
    /// the client is dropped (which closes it).
    pub(crate) async fn connect(&self, config: &Config) -> Result<Client, tokio_postgres::Error> {
        match self {
            Self::Plain => {
                let (client, connection) = config.connect(NoTls).await?;
                tokio::spawn(drive(connection));
                Ok(client)
            }
            Self::Verified(make) => {
                let (client, connection) = config.connect(make.clone()).await?;
                tokio::spawn(drive(connection));
                Ok(client)
            }
        }
    }
}

async fn drive<F: Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::debug!("a PostgreSQL connection ended: {e}");
    }
}

/// The PEM certificates in `path` (at least one).
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open sslrootcert {shown}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read sslrootcert {shown}: {e}"))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_CA_FILE {
        return Err(format!(
            "sslrootcert {shown} is larger than {MAX_CA_FILE} bytes"
        ));
    }
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("sslrootcert {shown} is not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("sslrootcert {shown} holds no certificate"));
    }
    Ok(certs)
}
