//! Sending endpoints: Send (a quote id), Verify & Send (a quote's body), one-contact replies,
//! batches and messages, cancel, the sandbox's record and the built-in media.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::send::Sending;
use super::status::Status;
use super::store::{self, Priority};
use crate::accounts::Authenticated;
use crate::clock::Clock;
use crate::compose::quote::QuoteRequest;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{self, Key};
use crate::twilio::SmsProvider;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/messages/send", web::post().to(send))
        .route("/v1/messages/scheduled", web::get().to(scheduled))
        .route("/v1/messages/scheduled/{id}", web::delete().to(unschedule))
        .route("/v1/messages/batches/{id}", web::get().to(batch))
        .route("/v1/messages/{id}", web::get().to(message))
        .route("/v1/messages/{id}/cancel", web::post().to(cancel))
        .route("/v1/sandbox/messages", web::get().to(sandbox_messages));
}

/// Where the send's content comes from.
enum Source {
    Quote(String),
    Verify(QuoteRequest),
}

fn parse_send(body: &[u8]) -> ApiResult<Source> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {e}.")))?;
    if let Some(obj) = value.as_object().filter(|o| o.contains_key("quote_id")) {
        let id = obj.get("quote_id").and_then(Value::as_str).filter(|_| obj.len() == 1).ok_or_else(|| {
            ApiError::invalid(
                "invalid_body",
                "Send takes `{\"quote_id\": …}` alone, or a quote's body (Verify & Send).",
            )
        })?;
        return Ok(Source::Quote(id.to_owned()));
    }
    serde_json::from_value(value)
        .map(Source::Verify)
        .map_err(|e| ApiError::invalid("invalid_body", format!("The JSON body does not fit: {e}.")))
}

async fn scheduled(db: web::Data<Db>, Authenticated(me): Authenticated) -> ApiResult<HttpResponse> {
    let items = db.read(move |c| store::scheduled::scheduled_sends(c, me.id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn unschedule(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (id, now) = (id.into_inner().0, clock.now());
    db.write(move |tx| match store::scheduled::cancel_send(tx, me.id, id, now)? {
        None => Err(ApiError::not_found("scheduled send").into()),
        Some(false) => {
            Err(ApiError::conflict("not_pending", "Only a send that has not gone out can be canceled.")
                .into())
        }
        Some(true) => Ok(()),
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn send(
    sending: web::Data<Sending>,
    req: HttpRequest,
    Authenticated(me): Authenticated,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let source = parse_send(&body)?;
    let key = Key::from_request(&req, &body)?;
    let db = sending.db.clone();
    idempotency::once(&db, me.id, key, |key| async move {
        let (request, quote_id) = match source {
            Source::Verify(r) => (r, None),
            Source::Quote(id) => {
                let agent = me.id;
                let stored =
                    sending.db.read(move |c| crate::compose::store::stored_quote(c, agent, id)).await?;
                let stored = stored.ok_or_else(|| ApiError::not_found("quote"))?;
                let request: QuoteRequest =
                    serde_json::from_str(&stored.request).map_err(|e| ApiError::internal(e.into()))?;
                (request, Some(stored))
            }
        };
        Ok(sending.into_inner().queue(&me, request, quote_id, Priority::Bulk, key).await?)
    })
    .await
}

async fn batch(
    db: web::Data<Db>,
    Authenticated(me): Authenticated,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let agent = me.id;
    let found = db
        .read(move |c| {
            let Some(progress) = store::batch_progress(c, agent, &id)? else { return Ok(None) };
            Ok(Some((id.clone(), progress, store::of_batch(c, &id)?)))
        })
        .await?;
    let (id, store::Progress { kind, created_at, counts }, messages) =
        found.ok_or_else(|| ApiError::not_found("batch"))?;
    let mut by_status = serde_json::Map::new();
    for s in Status::ALL {
        by_status.insert(s.as_str().into(), 0.into());
    }
    let (mut total, mut credits) = (0, 0);
    for (status, n, c) in counts {
        total += n;
        credits += c;
        by_status.insert(status, n.into());
    }
    Ok(HttpResponse::Ok().json(json!({
        "batch_id": id, "kind": kind, "created_at": created_at, "total": total, "credits": credits,
        "by_status": by_status, "messages": messages,
    })))
}

async fn message(
    db: web::Data<Db>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (id, agent) = (id.into_inner().0, me.id);
    let m =
        db.read(move |c| store::get(c, agent, id)).await?.ok_or_else(|| ApiError::not_found("message"))?;
    Ok(HttpResponse::Ok().json(m))
}

async fn cancel(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (id, agent, now) = (id.into_inner().0, me.id, clock.now());
    let m = db
        .write(move |tx| {
            if store::get(tx, agent, id)?.is_none() {
                return Err(ApiError::not_found("message").into());
            }
            if !store::end_unsent(
                tx,
                id,
                Status::Queued,
                Status::Canceled,
                None,
                "canceled by the sender",
                now,
            )? {
                return Err(ApiError::conflict(
                    "not_cancelable",
                    "Only a text still queued can be canceled.",
                )
                .into());
            }
            store::get(tx, agent, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(m))
}

/// The sandbox's record of the caller's own texts (another agent's are not theirs to read).
async fn sandbox_messages(
    db: web::Data<Db>,
    sms: web::Data<SmsProvider>,
    Authenticated(me): Authenticated,
) -> ApiResult<HttpResponse> {
    let items = db.read(move |c| store::sandbox_record(c, me.id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "sandbox": sms.is_sandbox(), "items": items })))
}
