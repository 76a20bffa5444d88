//! A small builder for statements sea-orm's query builder cannot express (multi-row upserts with
//! conditional updates), numbering placeholders the way each backend wants them.

use super::StoreError;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

/// Runs a `SELECT COUNT(*) AS n …` statement and returns `n` (0 when there is no row).
pub async fn count(conn: &impl ConnectionTrait, sql: Sql) -> Result<i64, StoreError> {
    Ok(conn
        .query_one_raw(sql.build())
        .await?
        .map(|row| row.try_get("", "n"))
        .transpose()?
        .unwrap_or(0))
}

#[derive(Debug)]
pub struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend, text: &str) -> Self {
        Self {
            backend,
            text: text.to_string(),
            values: Vec::new(),
        }
    }

    /// The backend the statement is written for.
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends one placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        super::backend::push_placeholder(self.backend, &mut self.text, self.values.len());
        self
    }

    /// Appends `(p1, p2, …)`, one placeholder a value.
    pub fn tuple(&mut self, values: impl IntoIterator<Item = Value>) -> &mut Self {
        self.text.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self.text.push(')');
        self
    }

    /// Appends `(row1), (row2), …` for a multi-row VALUES list.
    pub fn rows<I: IntoIterator<Item = Value>>(
        &mut self,
        rows: impl IntoIterator<Item = I>,
    ) -> &mut Self {
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.tuple(row);
        }
        self
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}
