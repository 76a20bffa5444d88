//! Where composed mail goes: an SMTP server (pooled connections; STARTTLS, implicit TLS, or
//! plain for loopback; optional authentication, all from `ATTEST_SMTP_URL`), or `.eml` files.

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
#[allow(deprecated)] // see `Encrypted`
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

/// Why a mail was not sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (server down, 4xx).
    #[error("{0}")]
    Temporary(String),
    /// Will never succeed as it is (5xx, bad address).
    #[error("{0}")]
    Permanent(String),
}

#[async_trait::async_trait]
pub trait MailTransport: Send + Sync {
    /// Sends one message; returns the server's response (or where the file went).
    async fn send(&self, message: &Message) -> Result<String, SendError>;

    /// Sends several messages; each one's result, in order. Transports that can overlap sends
    /// (several connections) do so here.
    async fn send_all(&self, messages: &[&Message]) -> Vec<Result<String, SendError>> {
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.send(message).await);
        }
        results
    }

    /// Whether links may also be logged (no real mail leaves the machine); even then only at
    /// debug level under the `attest::links` target.
    fn logs_links(&self) -> bool {
        false
    }
}

/// Connections an [`Smtp`] transport keeps open at most: the mails of a worker step go out over
/// all of them at once.
const SMTP_CONNECTIONS: usize = 4;
/// How long one SMTP exchange (connecting, or sending one mail) may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// An idle connection is closed after this long (servers drop idle clients after a minute or
/// more)…
const SMTP_IDLE_LIMIT: Duration = Duration::from_secs(30);
/// …and checked with a NOOP before reuse after this long, instead of before every mail.
const SMTP_IDLE_CHECK: Duration = Duration::from_secs(1);

/// How the connection is secured, from the URL.
#[derive(Clone)]
enum Security {
    /// `smtp://` without `tls`: plain (loopback or a trusted relay).
    Plain,
    /// `?tls=opportunistic`: STARTTLS when the server offers it.
    Opportunistic(TlsParameters),
    /// `?tls=required`: STARTTLS or fail.
    Required(TlsParameters),
    /// `smtps://`: TLS from the first byte.
    Implicit(TlsParameters),
}

/// An SMTP server, with a pool of connections opened by attest itself: lettre's own pool
/// leaves TCP_NODELAY off (≈ 23 mails/s per connection on loopback, ≈ 40 ms of delayed ACK
/// per mail) and sends a NOOP before every mail.
pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// One permit per connection that may be open and busy at once.
    permits: Semaphore,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Smtp {
    /// `smtp://host:port` (plain; for loopback), `smtp://host:587?tls=required` (STARTTLS),
    /// `?tls=opportunistic`, `smtps://host:465` (implicit TLS); `user:password@` for
    /// authentication; a path names the client in EHLO (`smtp://host/client.example`). The
    /// same URLs lettre's `from_url` reads.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let bad = |e: &dyn std::fmt::Display| {
            format!("ATTEST_SMTP_URL {}: {e}", crate::config::mask_url(url))
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| bad(&"no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let params = || TlsParameters::new(host.clone()).map_err(|e| bad(&e));
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::Required(params()?), 587),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic(params()?), 587),
            ("smtps", _) => (Security::Implicit(params()?), 465),
            (scheme, tls) => {
                return Err(bad(&format!(
                    "unknown scheme {scheme} or tls={}",
                    tls.unwrap_or("")
                )))
            }
        };
        let hello = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        let credentials = match parsed.password() {
            Some(password) => {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .map(|s| s.into_owned())
                        .map_err(|e| bad(&e))
                };
                Some(Credentials::new(
                    decode(parsed.username())?,
                    decode(password)?,
                ))
            }
            None => None,
        };
        Ok(Self {
            port: parsed.port().unwrap_or(default_port),
            host,
            security,
            hello,
            credentials,
            permits: Semaphore::new(SMTP_CONNECTIONS),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Opens a connection: our own TCP socket with TCP_NODELAY, then TLS and authentication as
    /// the URL says.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let unreachable = |e: std::io::Error| {
            SendError::Temporary(format!("connecting to {}:{}: {e}", self.host, self.port))
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(unreachable)?;
        tcp.set_nodelay(true).map_err(unreachable)?;
        let mut conn = match &self.security {
            Security::Implicit(tls) => {
                #[allow(deprecated)] // the only way to have lettre start TLS on our socket
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                stream.upgrade_tls(tls.clone()).await.map_err(classify)?;
                AsyncSmtpConnection::connect_with_transport(
                    Box::new(Encrypted(stream.compat())),
                    &self.hello,
                )
                .await
            }
            _ => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await,
        }
        .map_err(classify)?;
        match &self.security {
            Security::Required(tls) => conn.starttls(tls.clone(), &self.hello).await,
            Security::Opportunistic(tls) if conn.can_starttls() => {
                conn.starttls(tls.clone(), &self.hello).await
            }
            _ => Ok(()),
        }
        .map_err(classify)?;
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }

    /// A pooled connection that still answers, else a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let parked = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
            let Some((mut conn, since)) = parked else {
                break;
            };
            let idle_for = since.elapsed();
            if idle_for > SMTP_IDLE_LIMIT || conn.has_broken() {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.quit()).await;
                continue;
            }
            if idle_for < SMTP_IDLE_CHECK
                || tokio::time::timeout(SMTP_TIMEOUT, conn.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Ok(conn);
            }
        }
        match tokio::time::timeout(SMTP_TIMEOUT, self.connect()).await {
            Ok(connected) => connected,
            Err(_) => Err(SendError::Temporary(format!(
                "connecting to {}:{} timed out",
                self.host, self.port
            ))),
        }
    }
}

/// A TLS stream lettre opened on our socket, handed back to it as a plain transport (implicit
/// TLS: the greeting already travels encrypted).
#[derive(Debug)]
#[allow(deprecated)]
struct Encrypted(Compat<AsyncNetworkStream>);

impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().peer_addr()
    }
}

impl tokio::io::AsyncRead for Encrypted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Encrypted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Temporary(e.to_string())
    }
}

#[async_trait::async_trait]
impl MailTransport for Smtp {
    async fn send(&self, message: &Message) -> Result<String, SendError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| SendError::Temporary(e.to_string()))?;
        let mut conn = self.connection().await?;
        let raw = message.formatted();
        match tokio::time::timeout(SMTP_TIMEOUT, conn.send(message.envelope(), &raw)).await {
            Ok(Ok(response)) => {
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push((conn, Instant::now()));
                }
                Ok(format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ))
            }
            Ok(Err(e)) => {
                // lettre aborts a connection on any error; a broken one is not parked again.
                Err(classify(e))
            }
            Err(_) => {
                conn.abort().await;
                Err(SendError::Temporary(format!(
                    "sending to {}:{} timed out",
                    self.host, self.port
                )))
            }
        }
    }

    /// One sender per connection, each taking the next mail not yet taken.
    async fn send_all(&self, messages: &[&Message]) -> Vec<Result<String, SendError>> {
        let next = AtomicUsize::new(0);
        let senders = (0..SMTP_CONNECTIONS.min(messages.len())).map(|_| async {
            let mut sent = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(message) = messages.get(index) else {
                    return sent;
                };
                sent.push((index, self.send(message).await));
            }
        });
        let mut results = vec![None; messages.len()];
        for (index, result) in futures::future::join_all(senders)
            .await
            .into_iter()
            .flatten()
        {
            results[index] = Some(result);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(SendError::Temporary("not sent".into()))))
            .collect()
    }
}

/// Writes each mail as `<message-id>.eml` into a folder: the default with no SMTP server, so
/// `cargo run` needs nothing else.
pub struct EmlFiles {
    dir: PathBuf,
    log_links: bool,
}

impl EmlFiles {
    /// Files in `dir`, with each mail's link logged (the way to find them without a mail server).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            log_links: true,
        }
    }

    /// Files only, nothing logged (benchmarks write thousands).
    pub fn quiet(dir: PathBuf) -> Self {
        Self {
            dir,
            log_links: false,
        }
    }
}

/// Writes one mail: under a temporary name first, renamed when complete, so a reader of the
/// folder (and the outbox record that follows) never sees half a file. The name comes from the
/// Message-ID, so a resend after a crash replaces the file instead of adding one.
fn write_eml(dir: &std::path::Path, message: &Message) -> Result<String, SendError> {
    let id = message
        .headers()
        .get_raw("Message-ID")
        .unwrap_or("mail")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>();
    let path = dir.join(format!("{id}.eml"));
    let partial = dir.join(format!(".{id}.eml.partial"));
    let failed = |e: std::io::Error| SendError::Temporary(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::create(&partial).map_err(failed)?;
    std::io::Write::write_all(&mut file, &message.formatted()).map_err(failed)?;
    #[cfg(not(target_os = "linux"))] // no syncfs(2): each file on its own
    file.sync_all().map_err(failed)?;
    drop(file);
    std::fs::rename(&partial, &path).map_err(failed)?;
    Ok(format!("written to {}", path.display()))
}

/// Makes a batch of written files (and their names) durable before the outbox records them as
/// sent: on Linux one syncfs(2) for the whole batch, since an fsync per file costs ≈ 3 ms on
/// ext4, more than a mail may take.
fn make_durable(dir: &std::path::Path) -> std::io::Result<()> {
    let folder = std::fs::File::open(dir)?;
    #[cfg(target_os = "linux")]
    rustix::fs::syncfs(&folder)?;
    #[cfg(not(target_os = "linux"))]
    folder.sync_all()?;
    Ok(())
}

#[async_trait::async_trait]
impl MailTransport for EmlFiles {
    async fn send(&self, message: &Message) -> Result<String, SendError> {
        self.send_all(&[message])
            .await
            .pop()
            .unwrap_or_else(|| Err(SendError::Temporary("nothing written".into())))
    }

    /// The whole batch in one blocking task: one hop to the blocking pool instead of two per
    /// file.
    async fn send_all(&self, messages: &[&Message]) -> Vec<Result<String, SendError>> {
        let dir = self.dir.clone();
        let owned: Vec<Message> = messages.iter().map(|m| (*m).clone()).collect();
        let count = owned.len();
        let written = tokio::task::spawn_blocking(move || {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                let error = SendError::Temporary(format!("{}: {e}", dir.display()));
                return vec![Err(error); owned.len()];
            }
            let mut results: Vec<Result<String, SendError>> =
                owned.iter().map(|m| write_eml(&dir, m)).collect();
            if let Err(e) = make_durable(&dir) {
                let error = SendError::Temporary(format!("{}: {e}", dir.display()));
                results.iter_mut().for_each(|r| *r = Err(error.clone()));
            }
            results
        })
        .await;
        written.unwrap_or_else(|e| vec![Err(SendError::Temporary(e.to_string())); count])
    }

    fn logs_links(&self) -> bool {
        self.log_links
    }
}

/// The transport the configuration asks for.
pub fn transport_from_config(
    config: &crate::config::Config,
) -> Result<std::sync::Arc<dyn MailTransport>, String> {
    Ok(match &config.smtp_url {
        Some(url) => std::sync::Arc::new(Smtp::from_url(url)?),
        None => std::sync::Arc::new(EmlFiles::new(config.outbox_dir.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_same_urls_as_lettre() {
        let plain = Smtp::from_url("smtp://127.0.0.1:2525").expect("plain");
        assert!(matches!(plain.security, Security::Plain));
        assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 2525));
        assert!(plain.credentials.is_none());

        let starttls = Smtp::from_url("smtp://mailer:p%40ss%2Fword@mail.example.com?tls=required")
            .expect("starttls");
        assert!(matches!(starttls.security, Security::Required(_)));
        assert_eq!(starttls.port, 587);
        assert_eq!(
            starttls.credentials,
            Some(Credentials::new("mailer".into(), "p@ss/word".into()))
        );

        let implicit = Smtp::from_url("smtps://mail.example.com/client.example").expect("smtps");
        assert!(matches!(implicit.security, Security::Implicit(_)));
        assert_eq!(implicit.port, 465);
        assert_eq!(implicit.hello, ClientId::Domain("client.example".into()));

        assert!(matches!(
            Smtp::from_url("smtp://mail.example.com?tls=opportunistic")
                .expect("opportunistic")
                .security,
            Security::Opportunistic(_)
        ));
        assert!(Smtp::from_url("http://mail.example.com").is_err());
        assert!(Smtp::from_url("smtp://mail.example.com?tls=sometimes").is_err());
    }
}
