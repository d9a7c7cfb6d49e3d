//! TLS through rustls: the server's certificate is verified for its host
//! name against the system's roots or a given CA file.

use std::io::Read;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, InvalidDnsNameError, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, NoTls, TlsConnect, TlsStream};
use tokio_postgres::{Client, Config};

use crate::url::{Roots, Tls};

/// The largest CA file read (a bundle of a few hundred roots fits).
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// How a connection is made: plain, or TLS with verification.
#[derive(Clone)]
pub(crate) enum Connector {
    Plain,
    Verified(MakeRustls),
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
        Ok(Self::Verified(MakeRustls {
            config: Arc::new(config),
        }))
    }

    /// Connects, and drives the connection on the current runtime until
    /// the client is dropped (which closes it). The flag is raised when the
    /// server warns that a commit's wait for its synchronous standby was
    /// cancelled.
    pub(crate) async fn connect(
        &self,
        config: &Config,
    ) -> Result<(Client, Arc<AtomicBool>), tokio_postgres::Error> {
        let warned = Arc::new(AtomicBool::new(false));
        let client = match self {
            Self::Plain => {
                let (client, connection) = config.connect(NoTls).await?;
                tokio::spawn(drive(connection, Arc::clone(&warned)));
                client
            }
            Self::Verified(make) => {
                let (client, connection) = config.connect(make.clone()).await?;
                tokio::spawn(drive(connection, Arc::clone(&warned)));
                client
            }
        };
        Ok((client, warned))
    }
}

/// Runs a connection, watching its notices for the one warning that
/// changes what a commit means.
async fn drive<S, T>(mut connection: tokio_postgres::Connection<S, T>, warned: Arc<AtomicBool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            // A commit sends no warning but the one for a cancelled wait
            // for the synchronous standby; matched by severity, since the
            // text is in the server's language. The flag is read after
            // commits only.
            Some(Ok(tokio_postgres::AsyncMessage::Notice(notice))) => {
                if notice.parsed_severity() == Some(tokio_postgres::error::Severity::Warning) {
                    warned.store(true, Ordering::SeqCst);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!("a PostgreSQL connection ended: {e}");
                return;
            }
            None => return,
        }
    }
}

/// The PEM certificates in `path` (at least one).
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let file = open_regular(path).map_err(|e| format!("cannot open sslrootcert {shown}: {e}"))?;
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

/// tokio-postgres's TLS for one store: rustls with the store's roots.
#[derive(Clone)]
pub(crate) struct MakeRustls {
    config: Arc<rustls::ClientConfig>,
}

/// The TLS of one connection, to the host it names.
pub(crate) struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = InvalidDnsNameError;

    /// The certificate must be valid for `domain`: a host name, or an IP
    /// address in its subject alternative names.
    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, InvalidDnsNameError> {
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.config)),
            name: ServerName::try_from(domain.to_owned())?,
        })
    }
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let stream = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(stream))
        })
    }
}

/// A connection's TLS stream.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    /// None: the server's certificate is verified, and SCRAM's channel
    /// binding (`tls-server-end-point`) would need the certificate's
    /// signature algorithm parsed from its DER.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Opens `path` for reading without blocking on a FIFO, and only if it is
/// a regular file.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(nonblock_flag());
    }
    let file = options.open(path)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(std::io::Error::other("it is not a regular file"))
    }
}

#[cfg(unix)]
fn nonblock_flag() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits().cast_signed()
}
