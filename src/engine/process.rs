//! This process as the database knows it: registered when it starts taking leased work
//! (launches, mail, removals), its heartbeat renewed in the background, stopped cleanly when it
//! ends. Another process takes over the leases of one whose heartbeat stopped within seconds
//! (`domain::liveness`), instead of waiting for them to run out.

use super::{Engine, EngineError};
use crate::domain::liveness::HEARTBEAT_EVERY;
use crate::store::process;

/// Keeps this process's heartbeat going until stopped or dropped.
pub struct Heartbeat {
    engine: Engine,
    task: tokio::task::JoinHandle<()>,
}

impl Engine {
    /// Registers this process as `command` (`serve`, `campaign close`, …) and renews its
    /// heartbeat every few seconds from a background task until the returned guard goes.
    pub async fn start_heartbeat(&self, command: &str) -> Result<Heartbeat, EngineError> {
        self.register_process(command).await?;
        let engine = self.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                // A missed beat is no harm until several are: the database may be away.
                match engine.heartbeat().await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            process = engine.instance(),
                            "this process was not registered (forgotten?); registering again"
                        );
                        let _ = engine.register_process("(registered again)").await;
                    }
                    Err(e) => tracing::warn!("heartbeat not recorded (tried again shortly): {e}"),
                }
            }
        });
        Ok(Heartbeat {
            engine: self.clone(),
            task,
        })
    }

    /// Records this process (host, pid, `command`) as taking leased work from now.
    pub async fn register_process(&self, command: &str) -> Result<(), EngineError> {
        let host = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown host".into());
        process::register(
            self.store().conn(),
            self.instance(),
            &host,
            std::process::id(),
            command,
            self.now(),
        )
        .await?;
        Ok(())
    }

    /// Renews this process's heartbeat once; false when it is not registered.
    pub async fn heartbeat(&self) -> Result<bool, EngineError> {
        Ok(process::heartbeat(self.store().conn(), self.instance(), self.now()).await?)
    }

    /// Who holds a lease named `owner`, in words: "process 1234 on host h (serve), last heard
    /// from 12:00:03 UTC", or the bare name when it never registered.
    pub async fn describe_process(&self, owner: &str) -> Result<String, EngineError> {
        Ok(match process::process(self.store().conn(), owner).await? {
            Some(p) => format!(
                "process {} on {} ({}), {} {}",
                p.pid,
                p.host,
                p.command,
                if p.stopped_at.is_some() {
                    "stopped at"
                } else {
                    "last heard from at"
                },
                p.stopped_at
                    .unwrap_or(p.heartbeat_at)
                    .format("%Y-%m-%d %H:%M:%S UTC")
            ),
            None => format!("process {owner}"),
        })
    }
}

impl Heartbeat {
    /// Ends the heartbeat and gives this process's leases on mail and removals back at once.
    pub async fn stop(self) -> Result<(), EngineError> {
        self.task.abort();
        process::stop(
            self.engine.store().conn(),
            self.engine.instance(),
            self.engine.now(),
        )
        .await?;
        Ok(())
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
