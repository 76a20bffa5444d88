//! PostgreSQL's COPY for the bulk paths. sqlx 0.9 leaves TCP_NODELAY off on its sockets
//! (docs/benchmarks.md, "Stack pitfalls"), so every statement larger than a TCP segment waits
//! ≈ 40 ms for a delayed ACK; a COPY streams its rows and pays that once. Rows are written in COPY's text format.

use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::sqlx::PgPool;
use sea_orm::DbErr;
use std::fmt::Write;

/// Rows in COPY's text format: tab-separated fields, `\N` for NULL, backslash escapes.
#[derive(Debug, Default)]
pub struct CopyRows {
    buf: String,
    fields_in_row: usize,
    rows: u64,
}

impl CopyRows {
    fn separate(&mut self) {
        if self.fields_in_row > 0 {
            self.buf.push('\t');
        }
        self.fields_in_row += 1;
    }

    pub fn text(&mut self, value: Option<&str>) -> &mut Self {
        self.separate();
        match value {
            None => self.buf.push_str("\\N"),
            Some(text) => {
                for c in text.chars() {
                    match c {
                        '\\' => self.buf.push_str("\\\\"),
                        '\t' => self.buf.push_str("\\t"),
                        '\n' => self.buf.push_str("\\n"),
                        '\r' => self.buf.push_str("\\r"),
                        c => self.buf.push(c),
                    }
                }
            }
        }
        self
    }

    pub fn int(&mut self, value: Option<i64>) -> &mut Self {
        self.separate();
        match value {
            None => self.buf.push_str("\\N"),
            Some(n) => {
                let _ = write!(self.buf, "{n}");
            }
        }
        self
    }

    pub fn boolean(&mut self, value: bool) -> &mut Self {
        self.separate();
        self.buf.push(if value { 't' } else { 'f' });
        self
    }

    pub fn time(&mut self, value: Option<DateTime<Utc>>) -> &mut Self {
        self.separate();
        match value {
            None => self.buf.push_str("\\N"),
            Some(t) => {
                let _ = write!(self.buf, "{}", t.format("%Y-%m-%d %H:%M:%S%.6f+00"));
            }
        }
        self
    }

    pub fn end_row(&mut self) {
        self.buf.push('\n');
        self.fields_in_row = 0;
        self.rows += 1;
    }

    #[cfg(test)]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        &self.buf
    }
}

/// Copies `rows` into `columns` of `table` in one statement (one transaction of its own): all
/// of them or, on any error, none. Returns how many rows the server took.
pub async fn copy_in(
    pool: &PgPool,
    table: &str,
    columns: &str,
    rows: CopyRows,
) -> Result<u64, StoreError> {
    let fail = |e: sea_orm::sqlx::Error| DbErr::Custom(format!("COPY {table}: {e}"));
    let mut copy = pool
        .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
        .await
        .map_err(fail)?;
    // Large chunks: each `send` is a write to the socket.
    const CHUNK: usize = 4 << 20;
    let bytes = rows.buf.into_bytes();
    for chunk in bytes.chunks(CHUNK) {
        if let Err(e) = copy.send(chunk).await {
            let _ = copy.abort(e.to_string()).await;
            return Err(StoreError::from(fail(e)));
        }
    }
    copy.finish().await.map_err(fail).map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_escapes_and_marks_nulls() {
        let mut rows = CopyRows::default();
        rows.int(Some(7))
            .text(Some("a\tb\\c\nd"))
            .text(None)
            .boolean(true)
            .time(Some(
                DateTime::parse_from_rfc3339("2026-11-26T09:00:00.5Z")
                    .unwrap()
                    .with_timezone(&Utc),
            ))
            .end_row();
        rows.int(None).end_row();
        assert_eq!(
            rows.as_str(),
            "7\ta\\tb\\\\c\\nd\t\\N\tt\t2026-11-26 09:00:00.500000+00\n\\N\n"
        );
        assert_eq!(rows.rows(), 2);
    }
}
