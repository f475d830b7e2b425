//! Threads and notifications (R-IN-3): a contact's texts both ways in order, unread counts, and
//! one notification per reply.

use actix_web::{HttpResponse, web};
use rusqlite::params;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::accounts::Authenticated;
use crate::app::AppState;
use crate::db::{millis, timestamp};
use crate::error::{ApiError, ApiResult};

/// The number a contact last texted the agent from, if any: where a thread reply goes by default.
pub fn last_texted_from(
    conn: &rusqlite::Connection,
    agent_id: i64,
    contact_id: i64,
) -> anyhow::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(
            "SELECT sender FROM inbound_messages WHERE contact_id = ?1 AND agent_id = ?2
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row(params![contact_id, agent_id], |r| r.get(0))
        .optional()?)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/contacts/{id}/messages", web::get().to(thread))
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

/// A thread page, newest first, keyed by (time, direction, id) so pages never skip or repeat.
async fn thread(
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
    q: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let (contact_id, agent) = (id.into_inner().0, me.id);
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "limit is between 1 and 200."));
    }
    let before: (i64, String, i64) = match &q.cursor {
        None => (i64::MAX, String::new(), 0),
        Some(c) => {
            let mut parts = c.splitn(3, '.');
            match (
                parts.next().and_then(|p| p.parse().ok()),
                parts.next(),
                parts.next().and_then(|p| p.parse().ok()),
            ) {
                (Some(t), Some(d), Some(i)) => (t, d.to_owned(), i),
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_cursor",
                        "The cursor is not one this API gave out.",
                    ));
                }
            }
        }
    };
    let page = state
        .db
        .read(move |c| {
            if crate::contacts::store::get(c, agent, contact_id)?.is_none() {
                return Err(ApiError::not_found("contact").into());
            }
            let mut stmt = c.prepare_cached(
                "SELECT * FROM (
                     SELECT created_at AS at, 'outbound' AS direction, id, body, media_urls AS media, status,
                            error_code, NULL AS read_at, sender, recipient
                     FROM messages WHERE contact_id = ?1 AND agent_id = ?2
                     UNION ALL
                     SELECT created_at, 'inbound', id, body, media, 'received', NULL, read_at, sender, recipient
                     FROM inbound_messages WHERE contact_id = ?1 AND agent_id = ?2)
                 WHERE (at, direction, id) < (?3, ?4, ?5)
                 ORDER BY at DESC, direction DESC, id DESC LIMIT ?6",
            )?;
            let rows = stmt.query_map(
                params![contact_id, agent, before.0, if before.1.is_empty() { "zzzz" } else { &before.1 }, before.2, limit as i64 + 1],
                |r| {
                    let media: String = r.get(4)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        json!({
                            "direction": r.get::<_, String>(1)?, "id": r.get::<_, i64>(2)?, "body": r.get::<_, String>(3)?,
                            "media": serde_json::from_str::<Value>(&media).unwrap_or_default(),
                            "status": r.get::<_, String>(5)?, "error_code": r.get::<_, Option<i64>>(6)?,
                            "read": r.get::<_, Option<i64>>(7)?.is_some() || r.get::<_, String>(1)? == "outbound",
                            "from": r.get::<_, String>(8)?, "to": r.get::<_, String>(9)?,
                            "at": timestamp(r.get(0)?),
                        }),
                    ))
                },
            )?;
            let mut items: Vec<(i64, String, i64, Value)> = rows.collect::<Result<_, _>>()?;
            let unread: i64 = c
                .prepare_cached("SELECT count(*) FROM inbound_messages WHERE contact_id = ?1 AND agent_id = ?2 AND read_at IS NULL")?
                .query_row(params![contact_id, agent], |r| r.get(0))?;
            let more = items.len() > limit;
            items.truncate(limit);
            let next = if more { items.last().map(|(t, d, i, _)| format!("{t}.{d}.{i}")) } else { None };
            Ok((items.into_iter().map(|(_, _, _, v)| v).collect::<Vec<_>>(), next, unread))
        })
        .await?;
    let (items, next, unread) = page;
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next, "unread": unread})))
}

async fn mark_read(
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (contact_id, agent, now) = (id.into_inner().0, me.id, millis(state.clock.now()));
    state
        .db
        .write(move |tx| {
            if crate::contacts::store::get(tx, agent, contact_id)?.is_none() {
                return Err(ApiError::not_found("contact").into());
            }
            tx.prepare_cached("UPDATE inbound_messages SET read_at = ?3 WHERE contact_id = ?1 AND agent_id = ?2 AND read_at IS NULL")?
                .execute(params![contact_id, agent, now])?;
            tx.prepare_cached("UPDATE notifications SET read_at = ?3 WHERE contact_id = ?1 AND agent_id = ?2 AND read_at IS NULL")?
                .execute(params![contact_id, agent, now])?;
            Ok(())
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
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    q: web::Query<NotificationQuery>,
) -> ApiResult<HttpResponse> {
    let (agent, unread, limit) = (me.id, q.unread, q.limit.unwrap_or(50).clamp(1, 200));
    let items = state
        .db
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, contact_id, message_id, title, preview, read_at, created_at FROM notifications
                 WHERE agent_id = ?1 AND (?2 = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![agent, unread, limit as i64], |r| {
                Ok(json!({
                    "id": r.get::<_, i64>(0)?, "contact_id": r.get::<_, Option<i64>>(1)?, "message_id": r.get::<_, i64>(2)?,
                    "contact_name": r.get::<_, String>(3)?, "preview": r.get::<_, String>(4)?,
                    "read": r.get::<_, Option<i64>>(5)?.is_some(), "created_at": timestamp(r.get(6)?),
                }))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn read_one(
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let (id, agent, now) = (id.into_inner().0, me.id, millis(state.clock.now()));
    let found = state
        .db
        .write(move |tx| {
            let n = tx
                .prepare_cached("UPDATE notifications SET read_at = coalesce(read_at, ?3) WHERE id = ?1 AND agent_id = ?2")?
                .execute(params![id, agent, now])?;
            Ok(n == 1)
        })
        .await?;
    if found { Ok(HttpResponse::NoContent().finish()) } else { Err(ApiError::not_found("notification")) }
}

async fn read_all(state: web::Data<AppState>, Authenticated(me): Authenticated) -> ApiResult<HttpResponse> {
    let (agent, now) = (me.id, millis(state.clock.now()));
    state
        .db
        .write(move |tx| {
            tx.prepare_cached(
                "UPDATE notifications SET read_at = ?2 WHERE agent_id = ?1 AND read_at IS NULL",
            )?
            .execute(params![agent, now])?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
