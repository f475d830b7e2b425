//! `Idempotency-Key` on every request that texts or schedules (R-SND-4): Send and Verify & Send,
//! scheduled sends, one-contact replies, plan enrollments and the sandbox's inbound. One
//! implementation: [`once`] wraps the handler's work, and the work stores its answer with [`keep`]
//! in the same write transaction that does it, so two requests with one key do the work once and
//! the second is answered what the first was (`Idempotent-Replayed: true`). A key binds the
//! method, path and body it came with; the same key on another request is refused. Keys are kept a
//! day (clients retry within minutes). Failed requests leave no key: nothing was done, so the same
//! key may try again.

mod store;

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use anyhow::Context;
use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::db::{Db, millis};
use crate::error::{ApiError, ApiResult};

/// The code of the error [`keep`] returns when another request took the key first; [`once`]
/// answers it with that request's stored answer.
const TAKEN: &str = "idempotency_replay";

/// How long a key is kept: clients retry within minutes.
const KEPT_MS: i64 = 24 * 3_600_000;

/// A client's key with the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Key {
    key: String,
    hash: String,
}

impl Key {
    /// The request's `Idempotency-Key`, if any: 1 to 255 visible ASCII characters.
    pub fn from_request(req: &HttpRequest, body: &[u8]) -> ApiResult<Option<Key>> {
        let Some(value) = req.headers().get("idempotency-key") else { return Ok(None) };
        let key = value
            .to_str()
            .ok()
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "An Idempotency-Key is 1 to 255 visible characters.",
                )
            })?;
        let mut h = Sha256::new();
        h.update(req.method().as_str());
        h.update(b" ");
        h.update(req.path());
        h.update(b"\n");
        h.update(body);
        let hash = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Some(Key { key: key.to_owned(), hash }))
    }

    /// The key of a request whose JSON body the handler has parsed: the body is hashed as parsed,
    /// so spacing and member order do not make another request.
    pub fn from_json(req: &HttpRequest, body: &impl serde::Serialize) -> ApiResult<Option<Key>> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::internal(e.into()))?;
        Key::from_request(req, &bytes)
    }

    /// A stable value derived from the key, for work that names what it makes (a sandbox reply's
    /// sid): the same key makes the same name.
    pub fn derived(&self, agent_id: i64) -> String {
        let mut h = Sha256::new();
        h.update(agent_id.to_le_bytes());
        h.update(self.key.as_bytes());
        h.update(self.hash.as_bytes());
        h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// Runs `work` once per key: a stored answer is replayed, a key used with another request is
/// refused (`422 idempotency_key_reused`), and without a key the work simply runs.
pub async fn once<F, Fut>(db: &Db, agent_id: i64, key: Option<Key>, work: F) -> ApiResult<HttpResponse>
where
    F: FnOnce(Option<Key>) -> Fut,
    Fut: Future<Output = ApiResult<(StatusCode, Value)>>,
{
    if let Some(k) = &key
        && let Some(answer) = stored(db, agent_id, k).await?
    {
        return Ok(answer);
    }
    match work(key.clone()).await {
        Ok((status, body)) => Ok(HttpResponse::build(status).json(body)),
        // Another request with this key may have done the work meanwhile, and this one failed
        // for that reason (the key taken, or a quote made stale or a limit used up by it): answer
        // what that one answered, never an error that would make the client send again.
        Err(e) => match &key {
            Some(k) => match stored(db, agent_id, k).await? {
                Some(answer) => Ok(answer),
                None if e.code == TAKEN => Err(reused()),
                None => Err(e),
            },
            None => Err(e),
        },
    }
}

/// Stores the answer under the key, in the write transaction that did the work. When another
/// request took the key first this fails, and the caller's transaction rolls back.
pub fn keep(
    tx: &Connection,
    agent_id: i64,
    key: Option<&Key>,
    status: StatusCode,
    body: &Value,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let Some(k) = key else { return Ok(()) };
    let day_ago = millis(now) - KEPT_MS;
    store::forget_before(tx, agent_id, day_ago).context("letting old idempotency keys go")?;
    let stored = store::Stored { hash: k.hash.clone(), status: status.as_u16(), response: body.to_string() };
    let taken =
        !store::take(tx, agent_id, &k.key, &stored, millis(now)).context("storing an idempotency key")?;
    if taken {
        return Err(ApiError::conflict(TAKEN, "").into());
    }
    Ok(())
}

/// The answer stored under the key, replayed; an error when the key came with another request.
async fn stored(db: &Db, agent_id: i64, k: &Key) -> ApiResult<Option<HttpResponse>> {
    let (key, day_ago) = (k.key.clone(), millis(jiff::Timestamp::now()) - KEPT_MS);
    let row = db
        .read(move |c| store::get(c, agent_id, &key, day_ago).context("reading an idempotency key"))
        .await?;
    let Some(store::Stored { hash, status, response }) = row else { return Ok(None) };
    if hash != k.hash {
        return Err(reused());
    }
    Ok(Some(
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
            .insert_header(("Idempotent-Replayed", "true"))
            .content_type("application/json")
            .body(response),
    ))
}

fn reused() -> ApiError {
    ApiError::invalid(
        "idempotency_key_reused",
        "This Idempotency-Key was used with a different request; use a new key for a new request.",
    )
}
