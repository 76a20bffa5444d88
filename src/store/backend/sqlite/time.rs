//! Times as SQLite keeps them: text, in more than one form.

use chrono::{DateTime, Utc};
use sea_orm::DbErr;

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
