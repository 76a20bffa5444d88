//! `attest import activations FILE`: activation history, added to and never rewritten. Each
//! holder × role × scope × start is recorded once, so a re-import adds nothing; an activation
//! later than its eligibility's `last_activated_at` moves that forward (recommendations use it).

use super::{unknown, Job, Records};
use crate::domain::activations::ActivationRow;
use crate::domain::limits::clip;
use crate::domain::records::{ImportKind, RowError};
use crate::engine::EngineError;
use crate::store::activations::{self as store, ActivationWrite};
use crate::store::directory as dir;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

impl Job<'_> {
    pub(super) async fn activations(&mut self) -> Result<(), EngineError> {
        let roles = dir::role_ids(self.txn).await?;
        let mut seen: HashMap<u128, u64> = HashMap::new();
        // The latest activation per eligibility, applied once the whole file is good.
        let mut latest: HashMap<(i64, i64, String), chrono::DateTime<chrono::Utc>> = HashMap::new();
        let via = format!("import of {}", self.report.file);
        let mut records = Records::open(self.input, ImportKind::Activations);
        while let Some(batch) = records.next().await {
            self.count(batch.len(), &records);
            let mut rows = Vec::with_capacity(batch.len());
            for record in batch {
                match record.and_then(|r| ActivationRow::parse(&r)) {
                    Err(problem) => self.problems.add(problem),
                    Ok(row) => match seen.entry(row.key()) {
                        Entry::Occupied(first) => self.problems.add(RowError::new(
                            row.line,
                            None,
                            format!(
                                "duplicate: line {} already lists {} × {} × {} at {}",
                                first.get(),
                                clip(&row.principal),
                                clip(&row.role),
                                clip(&row.scope),
                                row.activated_at.to_rfc3339()
                            ),
                        )),
                        Entry::Vacant(slot) => {
                            slot.insert(row.line);
                            rows.push(row);
                        }
                    },
                }
            }
            let ids: Vec<&str> = rows.iter().map(|r| r.principal.as_str()).collect();
            let principals = dir::principal_refs(self.txn, &ids).await?;
            let mut writes = Vec::with_capacity(rows.len());
            for row in rows {
                match (principals.get(&row.principal), roles.get(&row.role)) {
                    (None, _) => self.problems.add(unknown(
                        row.line,
                        "principal_id",
                        "person",
                        &row.principal,
                    )),
                    (_, None) => self
                        .problems
                        .add(unknown(row.line, "role", "role", &row.role)),
                    (Some(p), Some(role_id)) => {
                        let key = (p.id, *role_id, row.scope.clone());
                        let at = latest.entry(key).or_insert(row.activated_at);
                        *at = (*at).max(row.activated_at);
                        writes.push(ActivationWrite {
                            principal_id: p.id,
                            role_id: *role_id,
                            scope: row.scope,
                            activated_at: row.activated_at,
                            ended_at: row.ended_at,
                            justification: row.justification,
                        });
                    }
                }
            }
            if self.problems.is_empty() {
                self.report.inserted += store::insert(self.txn, &writes, &via, self.now).await?;
            }
        }
        let summary = self.finish(records).await?;
        self.check()?;
        for ((principal_id, role_id, scope), at) in latest {
            if store::advance_last_activated(self.txn, principal_id, role_id, &scope, at, self.now)
                .await?
            {
                self.report.last_activation_advanced += 1;
            }
        }
        self.report.unchanged = self.report.rows.saturating_sub(self.report.inserted);
        self.report.sha256 = summary.sha256;
        self.report.warnings = summary.warnings;
        Ok(())
    }
}
