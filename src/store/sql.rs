//! A small builder for statements sea-orm's query builder cannot express (multi-row upserts with
//! conditional updates), numbering placeholders the way each backend wants them.

use super::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

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
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
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

/// A time as SQLite keeps it: text in one of the forms sqlx's own decoding accepts (sqlx writes
/// RFC 3339; the others are SQLite's date and time functions' forms, read as UTC).
pub(crate) fn sqlite_time(text: Option<&str>) -> Result<Option<DateTime<Utc>>, DbErr> {
    let Some(text) = text else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    const FORMATS: &[&str] = &[
        "%F %T%.f",
        "%F %R",
        "%F %RZ",
        "%F %R%:z",
        "%F %T%.fZ",
        "%F %T%.f%:z",
        "%FT%R",
        "%FT%RZ",
        "%FT%R%:z",
        "%FT%T%.f",
        "%FT%T%.fZ",
        "%FT%T%.f%:z",
    ];
    for format in FORMATS {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Ok(Some(at.with_timezone(&Utc)));
        }
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    Err(DbErr::Custom(format!("not a time: {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut pg = Sql::new(DbBackend::Postgres, "SELECT * FROM t WHERE a IN ");
        pg.tuple([Value::from(1i64), Value::from(2i64)])
            .push(" AND b = ")
            .bind("x");
        assert_eq!(
            pg.build().sql,
            "SELECT * FROM t WHERE a IN ($1, $2) AND b = $3"
        );

        let mut lite = Sql::new(DbBackend::Sqlite, "INSERT INTO t VALUES ");
        lite.rows([[Value::from(1i64)], [Value::from(2i64)]]);
        assert_eq!(lite.build().sql, "INSERT INTO t VALUES (?), (?)");
    }
}
