//! One bound connection to the directory (TLS as configured), paged searches over it, and
//! ldap3's answers and errors as readable one-line clauses.

use super::LdapConnector;
use crate::sources::SourceError;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use std::time::Duration;

/// How long connecting (TCP, TLS, StartTLS) may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one operation may wait for the server's next answer.
pub(super) const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Entries per page of the people search (below the 1000 that Active Directory allows).
pub(super) const PAGE_SIZE: i32 = 500;

impl LdapConnector {
    /// Connects (TLS as configured) and binds.
    pub(super) async fn connect(&self) -> Result<Ldap, SourceError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(CONNECT_TIMEOUT)
            .set_starttls(self.starttls)
            .set_no_tls_verify(self.tls_insecure);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| {
                let reason = describe(&e);
                // rustls reports an untrusted certificate as an I/O error; say what it means.
                if reason.contains("certificate") {
                    self.error(format!(
                        "the TLS handshake with {} failed: {reason} (a certificate no trusted \
                         authority signed is accepted only with tls_insecure = true, for test \
                         directories)",
                        self.url
                    ))
                } else {
                    self.error(format!("cannot reach {}: {reason}", self.url))
                }
            })?;
        ldap3::drive!(conn);
        let bound = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .simple_bind(&self.bind_dn, &self.password)
            .await;
        let failure = match bound {
            Ok(result) if result.rc == 0 => return Ok(ldap),
            Ok(result) if result.rc == 49 => format!(
                "the directory refused the bind as {}: invalid credentials (check the password in ${})",
                self.bind_dn, self.password_env
            ),
            Ok(result) => format!(
                "the directory refused the bind as {}: {}",
                self.bind_dn,
                result_text(&result)
            ),
            Err(e) => format!("binding as {} failed: {}", self.bind_dn, describe(&e)),
        };
        let _ = ldap.unbind().await;
        Err(self.error(failure))
    }

    /// A subtree search through paged results (RFC 2696).
    pub(super) async fn search_paged(
        &self,
        ldap: &mut Ldap,
        base: &str,
        filter: &str,
        attrs: Vec<&str>,
    ) -> Result<Vec<SearchEntry>, SourceError> {
        let failed = |e: LdapError| match &e {
            LdapError::LdapResult { result } if result.rc == 32 => {
                self.error(format!("the people base {base} does not exist"))
            }
            _ => self.error(format!(
                "searching {base} for {filter} failed: {}",
                describe(&e)
            )),
        };
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(PAGE_SIZE)),
        ];
        let mut stream = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
            .await
            .map_err(failed)?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.next().await.map_err(failed)? {
            entries.push(SearchEntry::construct(entry));
        }
        stream.finish().await.success().map_err(failed)?;
        Ok(entries)
    }
}

/// The first value of `attr` (matched case-insensitively: servers answer in their own case).
pub(super) fn first(entry: &SearchEntry, attr: &str) -> Option<String> {
    values(entry, attr)
        .into_iter()
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

pub(super) fn values(entry: &SearchEntry, attr: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(attr))
        .flat_map(|(_, values)| values.iter().cloned())
        .collect()
}

/// A result code with its name and the server's text, e.g. "insufficientAccessRights (50): …".
pub(super) fn result_text(result: &ldap3::LdapResult) -> String {
    // ldap3 names the codes only in its Display ("rc=50 (insufficientAccessRights), dn: …").
    let shown = result.to_string();
    let name = shown
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("unknown", |(name, _)| name);
    if result.text.trim().is_empty() {
        format!("{name} ({})", result.rc)
    } else {
        format!("{name} ({}): {}", result.rc, result.text.trim())
    }
}

/// An ldap3 error as one readable clause.
pub(super) fn describe(error: &LdapError) -> String {
    match error {
        LdapError::LdapResult { result } => result_text(result),
        LdapError::Timeout { .. } => "no answer in time".into(),
        LdapError::Io { source } => source.to_string(),
        other => other.to_string(),
    }
}

pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
