//! Sending endpoints: Send (a quote id), Verify & Send (a quote's body), one-contact replies,
//! batches and messages, cancel, the sandbox's record and the built-in media.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::status::Status;
use super::store::{self, NewBatch, Outgoing, Priority};
use crate::accounts::Authenticated;
use crate::accounts::model::Agent;
use crate::app::AppState;
use crate::compose::quote::{self, CLEAR_PNG, Quote, QuoteRequest, RecipientInput};
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{self, Key};

/// A 1×1 transparent PNG: turns an SMS into an MMS recipients do not see (R-COST-3).
const CLEAR_PNG_BYTES: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00,
    0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00,
    0x01, 0xE9, 0xFA, 0xDC, 0xD8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/messages/send", web::post().to(send))
        .route("/v1/messages/scheduled", web::get().to(scheduled))
        .route("/v1/messages/scheduled/{id}", web::delete().to(unschedule))
        .route("/v1/messages/batches/{id}", web::get().to(batch))
        .route("/v1/messages/{id}", web::get().to(message))
        .route("/v1/messages/{id}/cancel", web::post().to(cancel))
        .route("/v1/contacts/{id}/messages", web::post().to(reply))
        .route("/v1/sandbox/messages", web::get().to(sandbox_messages))
        .route("/media/clear-png.png", web::get().to(clear_png));
}

async fn clear_png() -> HttpResponse {
    HttpResponse::Ok().content_type("image/png").body(CLEAR_PNG_BYTES)
}

pub fn media_urls(state: &AppState, ids: &[String]) -> Vec<String> {
    ids.iter()
        .map(|id| {
            if id == CLEAR_PNG {
                super::media::url(state, "clear-png.png")
            } else {
                super::media::url(state, id)
            }
        })
        .collect()
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

pub fn limit_error(name: &str, c: &crate::limits::Counter) -> ApiError {
    let requested = c.after.unwrap_or(c.used).saturating_sub(c.used);
    ApiError::invalid(
        "limit_exceeded",
        format!(
            "This send would take {name} to {} of {}; nothing was sent. Remove recipients, or wait until {}.",
            c.after.unwrap_or(c.used),
            c.limit,
            c.resets_at
        ),
    )
    .with("limit", name.to_owned())
    .with("used", c.used)
    .with("requested", requested)
    .with("limit_value", c.limit)
    .with("resets_at", c.resets_at.to_string())
}

/// A quote as remembered: what was asked, and what it came to.
struct StoredQuote {
    id: String,
    request: String,
    fingerprint: String,
    expires_at: i64,
}

fn stored_quote(c: &rusqlite::Connection, agent_id: i64, id: String) -> anyhow::Result<Option<StoredQuote>> {
    use rusqlite::OptionalExtension;
    Ok(c.prepare_cached(
        "SELECT request, fingerprint, expires_at FROM quotes WHERE id = ?1 AND agent_id = ?2",
    )?
    .query_row(rusqlite::params![id, agent_id], |r| {
        Ok(StoredQuote { id: id.clone(), request: r.get(0)?, fingerprint: r.get(1)?, expires_at: r.get(2)? })
    })
    .optional()?)
}

/// Quotes and queues in one go; the answer is `(status, body)` so idempotency can store it.
async fn queue(
    state: &web::Data<AppState>,
    me: &Agent,
    request: QuoteRequest,
    from_quote: Option<StoredQuote>,
    priority: Priority,
    idempotency: Option<Key>,
) -> ApiResult<(StatusCode, Value)> {
    let (worker, agent, req) = (state.clone(), me.clone(), request.clone());
    let fresh: Quote = state.db.read(move |c| quote::build(worker.quote_env(), c, &agent, &req)).await?;
    if let Some(StoredQuote { fingerprint, expires_at, .. }) = &from_quote {
        let (fingerprint, expires) = (fingerprint.clone(), *expires_at);
        let expired = crate::db::timestamp(expires) < state.clock.now();
        if expired || fingerprint != fresh.fingerprint {
            let (code, why) = if expired {
                ("quote_expired", "The quote has expired")
            } else {
                ("quote_stale", "Recipients, texts, opt-outs or limits changed since the quote")
            };
            return Err(ApiError::conflict(
                code,
                format!("{why}; nothing was sent. Check the fresh figures and send again."),
            )
            .with("quote", serde_json::to_value(&fresh).unwrap_or_default()));
        }
    }
    let Some(sender) = fresh.sender.clone() else {
        return Err(ApiError::invalid(
            "no_sending_number",
            "You have no sending number; pick one (GET /v1/numbers/available, PUT /v1/me/number) first.",
        ));
    };
    let outgoing = outgoing(state, &fresh, |_| true);
    if outgoing.is_empty() {
        return Err(ApiError::invalid(
            "nothing_to_send",
            "None of the recipients can be texted; see each line's reason.",
        )
        .with("lines", serde_json::to_value(&fresh.lines).unwrap_or_default()));
    }
    if let Some(at) = request.send_at.filter(|at| *at > state.clock.now()) {
        return schedule(state, me, request, at, &fresh, idempotency).await;
    }
    if let Some((name, counter)) = fresh.limits.exceeded() {
        return Err(limit_error(name, counter));
    }
    let batch_id = uuid::Uuid::new_v4().to_string();
    let now = state.clock.now();
    let script = fresh.template_script.as_ref().map(|s| (s.id, s.version));
    let (bid, msgs) = (batch_id.clone(), outgoing);
    let (agent, settings) = (me.clone(), state.settings.clone());
    let skipped = skipped(&fresh);
    let totals = serde_json::to_value(&fresh.totals).unwrap_or_default();
    let counters = serde_json::to_value(&fresh.limits).unwrap_or_default();
    let warnings = serde_json::to_value(&fresh.warnings).unwrap_or_default();
    let body = state
        .db
        .write(move |tx| {
            let quote_id = from_quote.as_ref().map(|q| q.id.as_str());
            let batch = NewBatch {
                id: &bid,
                agent_id: agent.id,
                quote_id,
                priority,
                script,
                sender: &sender,
                counted: true,
            };
            let ids = commit(tx, &settings, &agent, &batch, &msgs, now)?;
            #[derive(serde::Serialize)]
            struct Queued<'a> {
                id: i64,
                contact_id: i64,
                to: &'a str,
                status: &'static str,
                credits: u32,
            }
            let messages: Vec<Queued> = ids
                .iter()
                .zip(&msgs)
                .map(|(id, m)| Queued {
                    id: *id,
                    contact_id: m.contact_id,
                    to: &m.recipient,
                    status: "queued",
                    credits: m.credits,
                })
                .collect();
            let body = json!({"batch_id": bid, "messages": messages, "skipped": skipped, "totals": totals,
                              "limits": counters, "warnings": warnings});
            // Kept in the transaction that queues: two requests with one key queue once (R-SND-4).
            idempotency::keep(tx, agent.id, idempotency.as_ref(), StatusCode::ACCEPTED, &body, now)?;
            Ok(body)
        })
        .await?;
    state.outbox.wake();
    Ok((StatusCode::ACCEPTED, body))
}

/// The texts of a quote's sendable lines that `keep` keeps.
pub fn outgoing(state: &AppState, q: &Quote, keep: impl Fn(&quote::Line) -> bool) -> Vec<Outgoing> {
    let media = media_urls(state, &q.media_ids);
    q.lines
        .iter()
        .filter(|l| l.status == quote::Status::Ok && keep(l))
        .map(|l| Outgoing {
            contact_id: l.contact_id,
            recipient: l.number.clone().unwrap_or_default(),
            body: l.body.clone().unwrap_or_default(),
            media_urls: media.clone(),
            kind: if l.kind == Some(crate::compose::cost::Kind::Mms) { "mms" } else { "sms" },
            segments: l.segments,
            credits: l.credits,
            quiet: None,
        })
        .collect()
}

fn skipped(q: &Quote) -> Vec<Value> {
    q.lines
        .iter()
        .filter(|l| l.status != quote::Status::Ok)
        .map(|l| json!({"contact_id": l.contact_id, "status": l.status, "reason": l.reason}))
        .collect()
}

/// Reserves the limits and queues the texts in the caller's transaction, after any team notice
/// (R-TEAM-1). A passed limit is an error (`limit_exceeded`) and the caller rolls back: checked
/// and reserved where the texts are queued, concurrent sends cannot overshoot together (R-LIM-2).
pub fn commit(
    tx: &rusqlite::Connection,
    settings: &crate::config::Settings,
    agent: &Agent,
    batch: &NewBatch<'_>,
    msgs: &[Outgoing],
    now: jiff::Timestamp,
) -> anyhow::Result<Vec<i64>> {
    let p = crate::limits::agent_periods(agent, now);
    let segments = msgs.iter().map(|m| m.segments).sum();
    let credits = msgs.iter().map(|m| m.credits).sum();
    let before = crate::limits::store::usage(tx, agent.id, &p)?;
    let after = crate::limits::store::reserve(
        tx,
        agent.id,
        &p,
        msgs.iter().map(|m| m.recipient.as_str()),
        segments,
        credits,
    )?;
    let request = crate::limits::Request {
        new_recipients: after.daily_unique_recipients - before.daily_unique_recipients,
        segments,
        credits,
    };
    let limits = agent.effective_limits(&settings.defaults);
    if let Some((name, c)) = crate::limits::Counters::new(before, limits, &p, Some(request)).exceeded() {
        return Err(limit_error(name, c).into());
    }
    let recipients: Vec<(i64, &str)> = msgs.iter().map(|m| (m.contact_id, m.recipient.as_str())).collect();
    crate::plans::notices::precede(
        tx,
        agent,
        &settings.plans.team_notice,
        &settings.plans.window(),
        &recipients,
        now,
    )?;
    store::queue(tx, batch, msgs, &p, now)
}

/// Farthest ahead a send can be scheduled.
const MAX_SCHEDULE_DAYS: i64 = 366;

/// A send for later: checked now like any send, stored, and queued by the scheduler at
/// `send_at` under the rules of automated texts.
async fn schedule(
    state: &web::Data<AppState>,
    me: &Agent,
    mut request: QuoteRequest,
    at: jiff::Timestamp,
    fresh: &Quote,
    idempotency: Option<Key>,
) -> ApiResult<(StatusCode, Value)> {
    let now = state.clock.now();
    if at > now + jiff::SignedDuration::from_hours(24 * MAX_SCHEDULE_DAYS) {
        return Err(ApiError::invalid_field("send_at", "A send can be scheduled at most a year ahead."));
    }
    request.send_at = None;
    let text = serde_json::to_string(&request).map_err(|e| ApiError::internal(e.into()))?;
    let totals = serde_json::to_value(&fresh.totals).unwrap_or_default();
    let (skipped, warnings) = (skipped(fresh), serde_json::to_value(&fresh.warnings).unwrap_or_default());
    let agent = me.id;
    let body = state
        .db
        .write(move |tx| {
            let job = crate::plans::store::NewJob {
                kind: "send",
                agent_id: agent,
                contact_id: None,
                number: None,
                request: Some(&text),
                due_at: at,
            };
            let id = crate::plans::store::schedule(tx, &job, now)?;
            let body = json!({"scheduled_id": id, "status": "scheduled", "send_at": at, "skipped": skipped,
                              "totals": totals, "warnings": warnings});
            idempotency::keep(tx, agent, idempotency.as_ref(), StatusCode::ACCEPTED, &body, now)?;
            Ok(body)
        })
        .await?;
    Ok((StatusCode::ACCEPTED, body))
}

async fn scheduled(state: web::Data<AppState>, Authenticated(me): Authenticated) -> ApiResult<HttpResponse> {
    let items = state.db.read(move |c| crate::plans::store::scheduled_sends(c, me.id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn unschedule(
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (id, now) = (id.into_inner().0, state.clock.now());
    state
        .db
        .write(move |tx| match crate::plans::store::cancel_send(tx, me.id, id, now)? {
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
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(me): Authenticated,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let source = parse_send(&body)?;
    let key = Key::from_request(&req, &body)?;
    let db = state.db.clone();
    idempotency::once(&db, me.id, key, |key| async move {
        let (request, quote_id) = match source {
            Source::Verify(r) => (r, None),
            Source::Quote(id) => {
                let agent = me.id;
                let stored = state.db.read(move |c| stored_quote(c, agent, id)).await?;
                let stored = stored.ok_or_else(|| ApiError::not_found("quote"))?;
                let request: QuoteRequest =
                    serde_json::from_str(&stored.request).map_err(|e| ApiError::internal(e.into()))?;
                (request, Some(stored))
            }
        };
        queue(&state, &me, request, quote_id, Priority::Bulk, key).await
    })
    .await
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
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    body: web::Json<Reply>,
) -> ApiResult<HttpResponse> {
    let contact_id = id.into_inner().0;
    let key = Key::from_json(&req, &*body)?;
    let db = state.db.clone();
    idempotency::once(&db, me.id, key, |key| thread_reply(state, me, contact_id, body.into_inner(), key))
        .await
}

async fn thread_reply(
    state: web::Data<AppState>,
    me: Agent,
    contact_id: i64,
    b: Reply,
    key: Option<Key>,
) -> ApiResult<(StatusCode, Value)> {
    let agent = me.id;
    let found = state
        .db
        .read(move |c| {
            let Some(contact) = crate::contacts::store::get(c, agent, contact_id)? else { return Ok(None) };
            Ok(Some((contact, crate::replies::threads::last_texted_from(c, agent, contact_id)?)))
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
    match queue(&state, &me, request, None, Priority::OneToOne, key).await {
        Err(e) if e.code == "nothing_to_send" => {
            let line = e.extra.get("lines").and_then(|l| l.get(0)).cloned().unwrap_or_default();
            Err(ApiError::invalid(
                "not_sendable",
                format!(
                    "This contact cannot be texted: {}.",
                    line["reason"].as_str().unwrap_or("no reason given")
                ),
            )
            .with("recipient_status", line["status"].clone()))
        }
        other => other,
    }
}

async fn batch(
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let agent = me.id;
    let found = state
        .db
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
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (id, agent) = (id.into_inner().0, me.id);
    let m = state
        .db
        .read(move |c| store::get(c, agent, id))
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    Ok(HttpResponse::Ok().json(m))
}

async fn cancel(
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (id, agent, now) = (id.into_inner().0, me.id, state.clock.now());
    let m = state
        .db
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
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
) -> ApiResult<HttpResponse> {
    let items = state
        .db
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.sid, s.sender, s.recipient, s.body, s.media_urls, s.created_at
                 FROM sandbox_messages s JOIN messages m ON m.twilio_sid = s.sid
                 WHERE m.agent_id = ?1
                 ORDER BY s.created_at DESC, s.sid LIMIT 500",
            )?;
            let rows = stmt.query_map([me.id], |r| {
                let media: String = r.get(4)?;
                Ok(json!({
                    "sid": r.get::<_, String>(0)?, "from": r.get::<_, String>(1)?, "to": r.get::<_, String>(2)?,
                    "body": r.get::<_, String>(3)?, "media_urls": serde_json::from_str::<Value>(&media).unwrap_or_default(),
                    "created_at": crate::db::timestamp(r.get(5)?),
                }))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "sandbox": state.sms.is_sandbox(), "items": items })))
}
