//! `attest serve`: the web, the scheduler, the mail worker and the webhook sender in one
//! process, until Ctrl-C.
//! Several may run against one PostgreSQL database.

use super::Failure;
use crate::config::Config;
use crate::engine::Engine;
use crate::mail::{transport_from_config, Mailer};
use crate::web::{self, AppState};
use std::time::Duration;
use tokio::sync::watch;

/// How often the mail worker looks at the outbox.
const MAIL_INTERVAL: Duration = Duration::from_secs(2);

/// Binds the web address, then runs everything until Ctrl-C. `on_ready` runs once the address
/// is bound (the demo prints its links then).
pub async fn serve(
    engine: Engine,
    config: &Config,
    tick: Duration,
    on_ready: impl FnOnce(),
) -> Result<(), Failure> {
    let engine = with_oidc(engine, config)?;
    let transport = transport_from_config(config).map_err(Failure::usage)?;
    let mailer = Mailer::new(
        engine.clone(),
        transport,
        &config.mail_from,
        &config.base_url,
    )
    .map_err(Failure::usage)?
    .with_retry(config.mail.retry());
    let webhooks = if config.webhooks.is_empty() {
        None
    } else {
        Some(
            crate::webhooks::WebhookSender::new(engine.clone(), &config.webhooks)
                .map_err(Failure::usage)?,
        )
    };
    let listener = tokio::net::TcpListener::bind(&config.bind).await.map_err(|e| {
        Failure::runtime(format!(
            "cannot listen on {}: {e} (is another attest running? set ATTEST_BIND to another address)",
            config.bind
        ))
    })?;
    let heartbeat = engine
        .start_heartbeat("serve")
        .await
        .map_err(|e| Failure::runtime(format!("cannot register this process: {e}")))?;
    if std::env::var_os("ATTEST_LINK_KEY").is_none() {
        tracing::info!(
            "ATTEST_LINK_KEY is not set: a mail sent again after a crash, or by another instance, carries a new link (both work); set it (the same on every instance) to keep one link per mail"
        );
    }
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        stop_requested().await;
        let _ = stop.send(true);
    });
    let web_stopped = wait(stopped.clone());
    let web = tokio::spawn(web::serve(
        listener,
        AppState {
            engine: engine.clone(),
            base_url: config.base_url.clone(),
        },
        web_stopped,
    ));
    tracing::info!(
        bind = %config.bind,
        database = %crate::config::mask_url(&config.database_url),
        smtp = %config.smtp_url.as_deref().map_or_else(|| format!(".eml files in {}", config.outbox_dir.display()), crate::config::mask_url),
        "attest serve: web, scheduler every {} s, mail every {} s; Ctrl-C (or SIGTERM) stops",
        tick.as_secs(),
        MAIL_INTERVAL.as_secs()
    );
    // Its own task: a slow endpoint must hold up neither the scheduler nor the mail.
    let sender =
        webhooks.map(|sender| tokio::spawn(send_webhooks(engine.clone(), sender, stopped.clone())));
    on_ready();
    let mut scheduler = tokio::time::interval(tick);
    let mut mail = tokio::time::interval(MAIL_INTERVAL);
    let mut shutdown = stopped;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = scheduler.tick() => match crate::scheduler::tick(&engine).await {
                Ok(report) if !report.is_idle() => tracing::info!(?report, "scheduler tick"),
                Ok(_) => {}
                Err(e) => tracing::error!("scheduler tick failed (retried at the next): {e}"),
            },
            _ = mail.tick() => {
                if let Err(e) = mailer.drain().await {
                    tracing::error!("mail worker failed (retried shortly): {e}");
                }
            }
        }
    }
    if let Some(sender) = sender {
        let _ = sender.await;
    }
    if let Err(e) = heartbeat.stop().await {
        tracing::warn!("could not record that this process stopped: {e}");
    }
    match web.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::runtime(format!("web server: {e}"))),
        Err(e) => Err(Failure::runtime(format!("web server: {e}"))),
    }
}

/// Ctrl-C, or SIGTERM: what `systemctl stop`, `docker stop` and Kubernetes send. Either lets
/// the step in progress finish and records that this process stopped, so its leases are taken
/// over at once rather than after a heartbeat's silence.
async fn stop_requested() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            // Without a SIGTERM handler the default stands (the process ends at once); Ctrl-C
            // still stops it cleanly.
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// The engine with `[oidc]` sign-in when configured. Only `serve` needs the client secret, so
/// `attest user …` keeps working on the server without it (the break-glass recovery path).
fn with_oidc(engine: Engine, config: &Config) -> Result<Engine, Failure> {
    let Some(settings) = config.oidc.clone() else {
        return Ok(engine);
    };
    let secret = settings.client_secret().map_err(Failure::usage)?;
    let local_login = settings.local_login;
    let provider = crate::oidc::OidcProvider::new(settings, secret).map_err(Failure::usage)?;
    tracing::info!(
        issuer = %provider.settings().issuer,
        local_login,
        "OpenID Connect sign-in is on"
    );
    Ok(engine.with_oidc(provider))
}

/// The webhook sender's loop: steps until nothing is due, then waits a moment, until stopped.
async fn send_webhooks(
    engine: Engine,
    sender: crate::webhooks::WebhookSender,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        loop {
            match sender.step().await {
                Ok(0) => break,
                Ok(_) if *stopped.borrow() => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("webhook sender failed (retried shortly): {e}");
                    break;
                }
            }
        }
        match engine.webhooks_waiting().await {
            Ok(waiting) => {
                for (endpoint, n) in waiting {
                    crate::telemetry::webhooks_waiting(&endpoint, n);
                }
            }
            Err(e) => tracing::warn!("cannot count waiting webhook deliveries: {e}"),
        }
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(crate::webhooks::sender::INTERVAL) => {}
        }
    }
}

async fn wait(mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        if stopped.changed().await.is_err() {
            return;
        }
    }
}
