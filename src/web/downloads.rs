//! Files the console and the API hand out alike: a campaign's evidence zip.

use crate::engine::{Engine, EngineError};
use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

/// Campaign `id`'s evidence as a zip attachment.
pub async fn evidence_zip(engine: &Engine, id: i64) -> Result<Response, EngineError> {
    let download = engine.evidence_download(id).await?;
    let headers = [
        (header::CONTENT_TYPE, "application/zip".to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", download.file_name),
        ),
    ];
    let body = download
        .body
        .map_err(|e| std::io::Error::other(e.to_string()));
    Ok((headers, Body::from_stream(body)).into_response())
}
