//! Where composed mail goes: an SMTP server (pooled connections; STARTTLS, implicit TLS, or
//! plain for loopback; optional authentication, all from `ATTEST_SMTP_URL`), or `.eml` files.

use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

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

    /// Whether links should also be logged (no real mail leaves the machine).
    fn logs_links(&self) -> bool {
        false
    }
}

/// An SMTP server, with a connection pool.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Smtp {
    /// `smtp://host:port` (plain; for loopback), `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://host:465` (implicit TLS); `user:password@` for authentication.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("ATTEST_SMTP_URL {}: {e}", crate::config::mask_url(url)))?
            .pool_config(
                PoolConfig::new()
                    .max_size(8)
                    .idle_timeout(Duration::from_secs(30)),
            )
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Self { transport })
    }
}

#[async_trait::async_trait]
impl MailTransport for Smtp {
    async fn send(&self, message: &Message) -> Result<String, SendError> {
        match self.transport.send(message.clone()).await {
            Ok(response) => Ok(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Temporary(e.to_string())),
        }
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

#[async_trait::async_trait]
impl MailTransport for EmlFiles {
    async fn send(&self, message: &Message) -> Result<String, SendError> {
        let id = message
            .headers()
            .get_raw("Message-ID")
            .unwrap_or("mail")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>();
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| SendError::Temporary(format!("{}: {e}", self.dir.display())))?;
        let path = self.dir.join(format!("{id}.eml"));
        tokio::fs::write(&path, message.formatted())
            .await
            .map_err(|e| SendError::Temporary(format!("{}: {e}", path.display())))?;
        Ok(format!("written to {}", path.display()))
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
