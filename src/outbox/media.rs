//! Media (R-SND-6): `POST /v1/media` takes one image, video or gif (multipart, at most 5 MB, its
//! type read from its bytes, not its name) and gives an id for `media_ids` and an unguessable URL
//! under the public URL, where Twilio fetches it for an MMS.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use rand::RngCore;
use serde_json::json;

use crate::accounts::Authenticated;
use crate::app::AppState;
use crate::db::millis;
use crate::error::{ApiError, ApiResult, extractors};

pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// What Twilio takes for MMS and a phone shows: JPEG, PNG, GIF, MP4.
const ACCEPTED: &[&str] = &["image/jpeg", "image/png", "image/gif", "video/mp4"];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/media")
            .app_data(web::PayloadConfig::new(MAX_BYTES + 64 * 1024))
            .route(web::post().to(upload)),
    )
    .route("/media/{id}", web::get().to(serve));
}

/// The URL Twilio fetches a media item at.
pub fn url(state: &AppState, id: &str) -> String {
    format!("{}/media/{id}", state.settings.server.public_url.trim_end_matches('/'))
}

/// The content type of a media file, read from its first bytes; `None` when not accepted.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let kind = infer::get(bytes)?;
    ACCEPTED.iter().copied().find(|t| *t == kind.mime_type())
}

async fn upload(
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    mut form: Multipart,
) -> ApiResult<HttpResponse> {
    let bad = |detail: String| ApiError::invalid("invalid_media", detail);
    let mut file: Option<(Vec<u8>, Option<String>)> = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| bad(format!("The upload is not a multipart form: {e}.")))?;
        if field.name() != Some("file") || file.is_some() {
            return Err(bad("Send one file, in a form field named `file`.".into()));
        }
        let filename = field.content_disposition().and_then(|d| d.get_filename()).map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| bad(format!("The upload broke off: {e}.")))?;
            if bytes.len() + chunk.len() > MAX_BYTES {
                return Err(extractors::too_large(MAX_BYTES));
            }
            bytes.extend_from_slice(&chunk);
        }
        file = Some((bytes, filename));
    }
    let (bytes, filename) = file.ok_or_else(|| bad("Send one file, in a form field named `file`.".into()))?;
    let content_type = sniff(&bytes).ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media",
            "Unsupported media",
            "Send a JPEG, PNG or GIF image or an MP4 video; the type is read from the file itself.",
        )
    })?;
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    let id = URL_SAFE_NO_PAD.encode(raw);
    let (row_id, size, now) = (id.clone(), bytes.len(), millis(state.clock.now()));
    let name = filename.clone();
    state
        .db
        .write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO media (id, agent_id, content_type, size, filename, bytes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(rusqlite::params![
                row_id,
                me.id,
                content_type,
                size as i64,
                name,
                bytes,
                now
            ])?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": id, "url": url(&state, &id), "content_type": content_type, "size": size, "filename": filename,
    })))
}

async fn serve(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let found: Option<(String, Vec<u8>)> = state
        .db
        .read(move |c| {
            use rusqlite::OptionalExtension;
            Ok(c.prepare_cached("SELECT content_type, bytes FROM media WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await?;
    let (content_type, bytes) = found.ok_or_else(|| ApiError::not_found("media"))?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "private, max-age=86400"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn types_are_read_from_the_bytes() {
        assert_eq!(super::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(super::sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"), Some("image/jpeg"));
        assert_eq!(super::sniff(b"GIF89a\x01\0\x01\0"), Some("image/gif"));
        assert_eq!(super::sniff(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"), Some("video/mp4"));
        assert_eq!(super::sniff(b"%PDF-1.7\n"), None);
        assert_eq!(super::sniff(b"<html>"), None);
    }
}
