use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use rand::RngCore;
use serde_json::json;

use super::{CLEAR_PNG_BYTES, MAX_BYTES, sniff, store, url};
use crate::accounts::Authenticated;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{Db, millis};
use crate::error::{ApiError, ApiResult, extractors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/media")
            .app_data(web::PayloadConfig::new(MAX_BYTES + 64 * 1024))
            .route(web::post().to(upload)),
    )
    .route("/media/clear-png.png", web::get().to(clear_png))
    .route("/media/{id}", web::get().to(serve));
}

async fn clear_png() -> HttpResponse {
    HttpResponse::Ok().content_type("image/png").body(CLEAR_PNG_BYTES)
}

async fn upload(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
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
    let size = bytes.len();
    let item =
        store::NewMedia { id: id.clone(), agent_id: me.id, content_type, filename: filename.clone(), bytes };
    let now = millis(clock.now());
    db.write(move |tx| store::insert(tx, &item, now)).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": id, "url": url(&settings, &id), "content_type": content_type, "size": size, "filename": filename,
    })))
}

async fn serve(db: web::Data<Db>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let found = db.read(move |c| store::get(c, &id)).await?;
    let (content_type, bytes) = found.ok_or_else(|| ApiError::not_found("media"))?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "private, max-age=86400"))
        .body(bytes))
}
