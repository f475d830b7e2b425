//! Threads and notifications (R-IN-3): a contact's texts both ways in order, unread counts, and
//! one notification per reply; and the one-contact text from the thread (R-IN-5).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{self, Before};
use crate::accounts::Authenticated;
use crate::accounts::model::Agent;
use crate::clock::Clock;
use crate::compose::quote::{QuoteRequest, RecipientInput};
use crate::db::{Db, millis};
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{self, Key};
use crate::outbox::send::{SendError, Sending};
use crate::outbox::store::Priority;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/contacts/{id}/messages", web::get().to(thread))
        .route("/v1/contacts/{id}/messages", web::post().to(reply))
        .route("/v1/contacts/{id}/read", web::post().to(mark_read))
        .route("/v1/notifications", web::get().to(notifications))
        .route("/v1/notifications/read-all", web::post().to(read_all))
        .route("/v1/notifications/{id}/read", web::post().to(read_one));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<usize>,
    /// Texts older than this cursor (newest first).
    cursor: Option<String>,
}

/// Reads a cursor this API gave out: `time.direction.id`.
fn cursor(c: &str) -> Option<Before> {
    let mut parts = c.splitn(3, '.');
    Some(Before {
        at: parts.next()?.parse().ok()?,
        direction: parts.next()?.to_owned(),
        id: parts.next()?.parse().ok()?,
    })
}

/// A thread page, newest first, keyed by (time, direction, id) so pages never skip or repeat.
async fn thread(
    db: web::Data<Db>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    q: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let (contact_id, agent) = (id.into_inner().0, me.id);
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "limit is between 1 and 200."));
    }
    let before = match &q.cursor {
        None => Before { at: i64::MAX, direction: String::new(), id: 0 },
        Some(c) => cursor(c).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "The cursor is not one this API gave out.")
        })?,
    };
    let (mut items, unread) = db
        .read(move |c| {
            if crate::contacts::store::get(c, agent, contact_id)?.is_none() {
                return Err(ApiError::not_found("contact").into());
            }
            Ok((
                store::thread_page(c, agent, contact_id, &before, limit)?,
                store::unread_of_contact(c, agent, contact_id)?,
            ))
        })
        .await?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().map(|(t, d, i, _)| format!("{t}.{d}.{i}")) } else { None };
    let items: Vec<Value> = items.into_iter().map(|(_, _, _, v)| v).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next, "unread": unread})))
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    body: String,
    #[serde(default)]
    media_ids: Vec<String>,
    /// One of the contact's numbers; default: the usual choice (R-REC-1).
    #[serde(default)]
    number: Option<String>,
}

/// A one-contact text from the thread (R-IN-5), ahead of bulk traffic.
async fn reply(
    sending: web::Data<Sending>,
    req: HttpRequest,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    body: web::Json<Reply>,
) -> ApiResult<HttpResponse> {
    let contact_id = id.into_inner().0;
    let key = Key::from_json(&req, &*body)?;
    let db = sending.db.clone();
    idempotency::once(&db, me.id, key, |key| thread_reply(sending, me, contact_id, body.into_inner(), key))
        .await
}

async fn thread_reply(
    sending: web::Data<Sending>,
    me: Agent,
    contact_id: i64,
    b: Reply,
    key: Option<Key>,
) -> ApiResult<(StatusCode, Value)> {
    let agent = me.id;
    let found = sending
        .db
        .read(move |c| {
            let Some(contact) = crate::contacts::store::get(c, agent, contact_id)? else { return Ok(None) };
            Ok(Some((contact, store::last_texted_from(c, agent, contact_id)?)))
        })
        .await?;
    let Some((contact, last_from)) = found else { return Err(ApiError::not_found("contact")) };
    // By default the reply goes to the number the contact last texted from, while it is still
    // one of theirs; otherwise the usual choice (R-REC-1).
    let number = b.number.or_else(|| {
        last_from.filter(|n| contact.phones.iter().any(|p| p.valid && p.e164.as_deref() == Some(n.as_str())))
    });
    let request = QuoteRequest {
        recipients: vec![RecipientInput { contact_id, number }],
        body: Some(b.body),
        media_ids: b.media_ids,
        ..Default::default()
    };
    match sending.into_inner().queue(&me, request, None, Priority::OneToOne, key).await {
        Err(SendError::NothingToSend { lines }) => {
            let line = lines.first();
            Err(ApiError::invalid(
                "not_sendable",
                format!(
                    "This contact cannot be texted: {}.",
                    line.and_then(|l| l.reason.as_deref()).unwrap_or("no reason given")
                ),
            )
            .with("recipient_status", line.map(|l| json!(l.status)).unwrap_or_default()))
        }
        other => Ok(other?),
    }
}

async fn mark_read(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (contact_id, agent, now) = (id.into_inner().0, me.id, millis(clock.now()));
    db.write(move |tx| {
        if crate::contacts::store::get(tx, agent, contact_id)?.is_none() {
            return Err(ApiError::not_found("contact").into());
        }
        store::mark_contact_read(tx, agent, contact_id, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationQuery {
    #[serde(default)]
    unread: bool,
    limit: Option<usize>,
}

async fn notifications(
    db: web::Data<Db>,
    Authenticated(me): Authenticated,
    q: web::Query<NotificationQuery>,
) -> ApiResult<HttpResponse> {
    let (agent, unread, limit) = (me.id, q.unread, q.limit.unwrap_or(50).clamp(1, 200));
    let items = db.read(move |c| store::notifications(c, agent, unread, limit)).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn read_one(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (id, agent, now) = (id.into_inner().0, me.id, millis(clock.now()));
    let found = db.write(move |tx| store::read_notification(tx, agent, id, now)).await?;
    if found { Ok(HttpResponse::NoContent().finish()) } else { Err(ApiError::not_found("notification")) }
}

async fn read_all(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
) -> ApiResult<HttpResponse> {
    let (agent, now) = (me.id, millis(clock.now()));
    db.write(move |tx| store::read_all_notifications(tx, agent, now)).await?;
    Ok(HttpResponse::NoContent().finish())
}
