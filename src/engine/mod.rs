//! Use cases, one function each, each owning its transaction. The CLI, the web layer and the
//! scheduler all come through here; nothing else writes state.

pub mod accounts;
pub mod activations;
pub mod admin_queue;
pub mod audit;
pub mod bench_support;
pub mod campaigns;
pub mod challenges;
pub mod close;
pub mod credentials;
pub mod decide;
pub mod definitions;
pub mod directory;
pub mod evidence;
pub mod health;
pub mod import;
mod import_input;
pub mod launch;
pub mod leavers;
pub mod lifecycle_report;
pub mod login_guard;
pub mod mail_links;
pub mod names;
pub mod oidc;
pub mod outbox;
pub mod process;
pub mod remediate;
mod remediate_in_database;
pub mod remind;
pub mod reports;
pub mod rerun;
pub mod review;
pub mod stages;
pub mod suspend;
pub mod sync;
pub mod webhook_events;
pub mod webhooks;

use crate::clock::Clock;
use crate::domain::records::RowError;
use crate::sources::builtin::BuiltinSource;
use crate::sources::config::SourceConfig;
use crate::sources::registry::Sources;
use crate::sources::EligibilitySource;
use crate::store::{Store, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::DbErr;
use std::fmt;
use std::sync::Arc;

/// The application: a store, a clock and the eligibility source.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    clock: Arc<dyn Clock>,
    source: Arc<dyn EligibilitySource>,
    /// The configured sources (`[sources.NAME]`): syncs, and removals of campaigns over them.
    sources: Arc<Sources>,
    /// Names this process in leases, so several instances can share one database.
    instance: String,
    /// Sign-in throttling and the bound on password checks at once: per process, shared by
    /// the engine's clones.
    login_guard: Arc<login_guard::LoginGuard>,
    /// What mail links derive from (`ATTEST_LINK_KEY`, or random for this process).
    link_key: mail_links::LinkKey,
    /// `[oidc]`: OpenID Connect sign-in, when configured.
    oidc: Option<Arc<crate::oidc::OidcProvider>>,
    /// `[webhooks.NAME]`: who wants which outbound event (none: nothing is queued).
    webhooks: Arc<webhooks::WebhookRouting>,
    /// `[lifecycle]`: the leavers' grace period.
    lifecycle: crate::domain::leavers::LifecycleSettings,
}

impl Engine {
    /// An engine on the built-in source.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        let source = Arc::new(BuiltinSource::new(store.conn().clone()));
        let instance = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        let login_guard = Arc::new(login_guard::LoginGuard::new(
            login_guard::hashes_at_once(),
            login_guard::MAX_ENTRIES,
            login_guard::HASH_WAIT,
        ));
        Self {
            store,
            clock,
            source,
            sources: Arc::new(Sources::default()),
            instance,
            login_guard,
            link_key: mail_links::LinkKey::random(),
            oidc: None,
            webhooks: Arc::new(webhooks::WebhookRouting::default()),
            lifecycle: Default::default(),
        }
    }

    /// The same engine deriving mail links from `key` (`ATTEST_LINK_KEY`).
    pub fn with_link_key(mut self, key: mail_links::LinkKey) -> Self {
        self.link_key = key;
        self
    }

    pub fn link_key(&self) -> &mail_links::LinkKey {
        &self.link_key
    }

    pub fn login_guard(&self) -> &login_guard::LoginGuard {
        &self.login_guard
    }

    /// The same engine removing through another source (tests use a failing one).
    pub fn with_source(mut self, source: Arc<dyn EligibilitySource>) -> Self {
        self.source = source;
        self
    }

    /// The same engine with the sources of attest.toml.
    pub fn with_sources(
        mut self,
        configs: std::collections::BTreeMap<String, SourceConfig>,
    ) -> Self {
        self.sources = Arc::new(Sources::new(configs));
        self
    }

    /// The same engine with OpenID Connect sign-in (`[oidc]` of attest.toml).
    pub fn with_oidc(mut self, provider: crate::oidc::OidcProvider) -> Self {
        self.oidc = Some(Arc::new(provider));
        self
    }

    /// The OpenID provider, when `[oidc]` is configured.
    pub fn oidc(&self) -> Option<&crate::oidc::OidcProvider> {
        self.oidc.as_deref()
    }

    /// Whether the email-and-password sign-in is on: always without `[oidc]`, else as its
    /// `local_login` says.
    pub fn local_login(&self) -> bool {
        self.oidc().is_none_or(|o| o.settings().local_login)
    }

    pub fn sources(&self) -> &Sources {
        self.sources.as_ref()
    }

    pub fn source(&self) -> &dyn EligibilitySource {
        self.source.as_ref()
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Now, at the microsecond precision both databases keep.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }
}

/// Reports how far a long use case has got, for progress bars and job pages.
pub trait Progress: Send + Sync {
    /// `done` units of work finished so far (rows read, items inserted, …).
    fn update(&self, done: u64);

    /// How many units there are in all, or an estimate that improves as the work goes on (an
    /// import knows how much of its file it has read, not how many rows are left): lets a bar
    /// show the time left.
    fn total(&self, _total: u64) {}

    /// What the work is doing now, for work in stages whose units are not all alike (a close
    /// settles items, then schedules removals).
    fn stage(&self, _what: &str) {}

    /// Whether someone watches: work whose total costs a query of its own (a launch counting
    /// its population) asks only then, so scripts and benchmarks do not pay for it.
    fn watched(&self) -> bool {
        false
    }
}

/// For callers that show no progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _done: u64) {}
}

/// Why a use case did not happen. Every variant leaves the database as it was.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request itself is wrong (bad argument, unknown name); exit code 2.
    #[error("{0}")]
    Invalid(String),
    /// A file had bad rows; exit code 2.
    #[error("{0}")]
    Rejected(Rejection),
    /// It would duplicate or contradict what exists; exit code 2.
    #[error("{0}")]
    Conflict(String),
    /// The database failed, refused a duplicate, or holds what attest cannot read; exit code
    /// 1, or 2 for a duplicate (see [`StoreError`]).
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
    /// The eligibility source failed; the work is retried. Its messages name the source.
    #[error("{0}")]
    Source(#[from] crate::sources::SourceError),
    /// A launch waits because its source could not be synced (it would review stale data);
    /// the scheduler tries again. Exit code 1.
    #[error("{0}")]
    LaunchWaits(String),
    /// No such campaign, definition or item; exit code 2.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (a reviewer deciding another's item); exit code 2.
    #[error("{0}")]
    Forbidden(String),
}

/// What kind of failure an [`EngineError`] is, for the adapters that answer it: the web maps
/// it to a status, the CLI to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong.
    Invalid,
    /// It would duplicate or contradict what exists.
    Conflict,
    /// What the caller named is not there.
    NotFound,
    /// The caller may not do this.
    Forbidden,
    /// An eligibility source failed or a launch waits for one; trying again later may work.
    Source,
    /// Attest or its database failed; the cause is for the log, not the caller.
    Internal,
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Invalid(_) | EngineError::Rejected(_) => ErrorKind::Invalid,
            EngineError::Conflict(_) | EngineError::Store(StoreError::Conflict(_)) => {
                ErrorKind::Conflict
            }
            EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::Forbidden(_) => ErrorKind::Forbidden,
            EngineError::Source(_) | EngineError::LaunchWaits(_) => ErrorKind::Source,
            EngineError::Store(_) | EngineError::Io(_) => ErrorKind::Internal,
        }
    }

    /// The CLI's exit code: 2 for what the caller must change, 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self.kind() {
            ErrorKind::Invalid
            | ErrorKind::Conflict
            | ErrorKind::NotFound
            | ErrorKind::Forbidden => 2,
            ErrorKind::Source | ErrorKind::Internal => 1,
        }
    }
}

impl From<DbErr> for EngineError {
    /// A transaction's begin or commit failing: the store's kinds apply.
    fn from(e: DbErr) -> Self {
        EngineError::Store(e.into())
    }
}

/// The bad rows of a file (the first few, and how many in all).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rejection {
    pub file: String,
    pub problems: Vec<RowError>,
    pub total: u64,
}

/// How many bad rows a rejection lists; the rest are counted.
pub const MAX_PROBLEMS_SHOWN: usize = 20;

impl Rejection {
    pub fn new(file: &str) -> Self {
        Self {
            file: file.to_string(),
            problems: Vec::new(),
            total: 0,
        }
    }

    pub fn add(&mut self, problem: RowError) {
        self.total += 1;
        if self.problems.len() < MAX_PROBLEMS_SHOWN {
            self.problems.push(problem);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.total == 1 { "" } else { "s" };
        write!(
            f,
            "{}: {} problem{s}; nothing was imported",
            self.file, self.total
        )?;
        for p in &self.problems {
            write!(f, "\n  {}:{}: ", self.file, p.line)?;
            if let Some(field) = &p.field {
                write!(f, "{field}: ")?;
            }
            f.write_str(&p.reason)?;
        }
        if self.total > self.problems.len() as u64 {
            write!(
                f,
                "\n  … and {} more",
                self.total - self.problems.len() as u64
            )?;
        }
        Ok(())
    }
}

/// `N` bytes from the operating system's random source: for tokens, salts and keys.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], EngineError> {
    let mut bytes = [0u8; N];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut bytes)
        .map_err(|e| EngineError::Io(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// 256 random bits, base64url: reviewer links, session cookies and API tokens.
pub(crate) fn random_token() -> Result<String, EngineError> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}
