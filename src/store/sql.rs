//! A small builder for statements sea-orm's query builder cannot express (multi-row upserts with
//! conditional updates), numbering placeholders the way each backend wants them.

use sea_orm::{DbBackend, Statement, Value};

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
