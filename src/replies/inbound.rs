//! `POST /webhooks/twilio/inbound` (R-IN-1..4): a reply, signed by Twilio, lands on the contact
//! of the agent who holds the `To` number (a new lead when the number is unknown), carries its
//! consent meaning, and makes a notification. Answered at once with empty TwiML; a repeat of the
//! same MessageSid changes nothing.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context as _;
use rusqlite::Connection;
use serde_json::json;

use super::keywords::{self, Intent};
use super::store;
use crate::accounts::model::Agent;
use crate::clock::Clock;
use crate::config::Settings;
use crate::contacts::model::{ContactInput, PhoneInput, Source};
use crate::db::Db;
use crate::db::millis;
use crate::error::ApiError;
use crate::idempotency::{self, Key};
use crate::outbox::dispatcher::Outbox;
use crate::push::worker::Pusher;
use crate::twilio::SmsProvider;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/twilio/inbound", web::post().to(inbound))
        .route("/v1/sandbox/inbound", web::post().to(sandbox_inbound));
}

fn twiml() -> HttpResponse {
    HttpResponse::Ok().content_type("text/xml").body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>")
}

/// A reply as Twilio posts it.
struct Reply {
    sid: String,
    from: String,
    to: String,
    body: String,
    media: Vec<serde_json::Value>,
    geo: serde_json::Value,
}

fn read(pairs: &[(String, String)]) -> Result<Reply, ApiError> {
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let (Some(sid), Some(from), Some(to)) =
        (get("MessageSid").or_else(|| get("SmsSid")), get("From"), get("To"))
    else {
        return Err(ApiError::bad_request("missing_fields", "MessageSid, From and To are required."));
    };
    let count = get("NumMedia").and_then(|n| n.parse::<usize>().ok()).unwrap_or(0).min(10);
    let media = (0..count)
        .filter_map(|i| {
            get(&format!("MediaUrl{i}"))
                .map(|url| json!({"url": url, "content_type": get(&format!("MediaContentType{i}"))}))
        })
        .collect();
    let geo = json!({
        "city": get("FromCity"), "state": get("FromState"), "zip": get("FromZip"), "country": get("FromCountry"),
    });
    Ok(Reply { sid, from, to, body: get("Body").unwrap_or_default(), media, geo })
}

async fn inbound(
    inbox: web::Data<Inbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let pairs = crate::twilio::webhook::verified_form(
        &inbox.context.settings,
        &req,
        "/webhooks/twilio/inbound",
        &body,
    )?;
    receive(&inbox, read(&pairs)?).await?;
    Ok(twiml())
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct SandboxReply {
    from: String,
    body: String,
    #[serde(default)]
    media: Vec<String>,
}

/// Sandbox mode only: a reply to the caller's number, through the same path as a signed webhook,
/// so the demo shows the whole loop (text → reply → thread → notification).
async fn sandbox_inbound(
    inbox: web::Data<Inbox>,
    sms: web::Data<SmsProvider>,
    req: HttpRequest,
    crate::accounts::Authenticated(me): crate::accounts::Authenticated,
    body: web::Json<SandboxReply>,
) -> Result<HttpResponse, ApiError> {
    if !sms.is_sandbox() {
        return Err(ApiError::not_found("endpoint (sandbox mode only)"));
    }
    let key = Key::from_json(&req, &*body)?;
    let db = inbox.context.db.clone();
    let agent = me.id;
    idempotency::once(&db, agent, key, |key| sandbox_reply(inbox, me, body.into_inner(), key)).await
}

/// The sandbox's reply. With a key its sid comes from the key, so a retry is the same reply
/// (stored once by the inbox) even when the answer was lost before the key was kept.
async fn sandbox_reply(
    inbox: web::Data<Inbox>,
    me: crate::accounts::model::Agent,
    b: SandboxReply,
    key: Option<Key>,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let to = me.sending_number.clone().ok_or_else(|| {
        ApiError::invalid("no_sending_number", "Pick a sending number first (PUT /v1/me/number).")
    })?;
    let from = crate::domain::phone::parse(&b.from, Default::default(), me.country.id());
    let from = match (from.valid, from.e164) {
        (true, Some(e)) => e,
        _ => {
            return Err(ApiError::invalid(
                "invalid_number",
                format!("`{}` is not a valid phone number.", b.from),
            ));
        }
    };
    let reply = Reply {
        sid: match &key {
            Some(k) => format!("SM{}", k.derived(me.id)),
            None => format!("SM{}", uuid::Uuid::new_v4().simple()),
        },
        from,
        to,
        body: b.body,
        media: b.media.into_iter().map(|url| json!({"url": url, "content_type": null})).collect(),
        geo: json!({}),
    };
    let sid = reply.sid.clone();
    receive(&inbox, reply).await?;
    let body = json!({"sid": sid});
    let (answer, now) = (body.clone(), inbox.context.clock.now());
    inbox
        .context
        .db
        .write(move |tx| idempotency::keep(tx, me.id, key.as_ref(), StatusCode::CREATED, &answer, now))
        .await?;
    Ok((StatusCode::CREATED, body))
}

/// Stores a reply for the agent holding its `To` number (nothing for an unknown one).
async fn receive(inbox: &web::Data<Inbox>, reply: Reply) -> Result<(), ApiError> {
    match inbox.clone().into_inner().submit(reply).await? {
        Stored::New { answered } => {
            // The outbox has work only when HELP was answered.
            if answered {
                inbox.context.outbox.wake();
            }
            inbox.context.push.wake();
        }
        Stored::Repeat => {}
        Stored::UnknownTo(to) => {
            tracing::warn!(%to, "a reply to a number no agent holds");
            metrics::counter!("inbound_unknown_to_total").increment(1);
        }
    }
    Ok(())
}

/// What became of a reply.
enum Stored {
    /// Stored; `answered` when a HELP answer was queued.
    New {
        answered: bool,
    },
    /// The same MessageSid again: nothing changed.
    Repeat,
    UnknownTo(String),
}

type Job = (Reply, tokio::sync::oneshot::Sender<anyhow::Result<Stored>>);

/// Group commit for replies: while one transaction stores replies, the ones arriving queue and
/// go together in the next. A burst of replies costs a few transactions instead of one each.
///
/// One task drains the queue, batch after batch, while there is work; it runs on the daemon's
/// runtime rather than on an HTTP worker, so neither a busy worker nor a request that goes away
/// (a client timeout) holds up anyone else's answer.
pub struct Inbox {
    queue: std::sync::Mutex<Queue>,
    runtime: tokio::runtime::Handle,
    context: Context,
}

/// What storing replies uses and wakes (built at the edge).
pub struct Context {
    pub db: Db,
    pub clock: std::sync::Arc<dyn Clock>,
    pub settings: std::sync::Arc<Settings>,
    pub outbox: std::sync::Arc<Outbox>,
    pub push: std::sync::Arc<Pusher>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    draining: bool,
}

impl Inbox {
    /// An inbox whose drain task runs on `runtime`.
    pub fn new(context: Context, runtime: tokio::runtime::Handle) -> Inbox {
        Inbox { queue: Default::default(), runtime, context }
    }

    async fn submit(self: std::sync::Arc<Self>, reply: Reply) -> anyhow::Result<Stored> {
        let (done, result) = tokio::sync::oneshot::channel();
        let start = {
            let mut q = self.queue.lock().map_err(|_| anyhow::anyhow!("inbox lock poisoned"))?;
            q.jobs.push((reply, done));
            !std::mem::replace(&mut q.draining, true)
        };
        if start {
            self.runtime.spawn(drain(self.clone()));
        }
        result.await.unwrap_or_else(|_| Err(anyhow::anyhow!("storing the reply failed")))
    }

    /// The next batch; `None` (and the drain task ends) once the queue is empty.
    fn next(&self) -> Option<Vec<Job>> {
        let mut q = self.queue.lock().ok()?;
        if q.jobs.is_empty() {
            q.draining = false;
            return None;
        }
        Some(std::mem::take(&mut q.jobs))
    }
}

async fn drain(inbox: std::sync::Arc<Inbox>) {
    /// Should the task die (a panic), another takes over the replies still queued.
    struct Restart(std::sync::Arc<Inbox>);
    impl Drop for Restart {
        fn drop(&mut self) {
            if std::thread::panicking()
                && let Ok(mut q) = self.0.queue.lock()
            {
                q.draining = !q.jobs.is_empty();
                if q.draining {
                    self.0.runtime.spawn(drain(self.0.clone()));
                }
            }
        }
    }
    let _restart = Restart(inbox.clone());
    while let Some(jobs) = inbox.next() {
        store_batch(&inbox.context, jobs).await;
    }
}

/// Stores a batch of replies in one transaction and answers each once it is committed. When the
/// transaction fails for one reply's sake, each is tried again in a transaction of its own and
/// answered as it goes, so one bad reply fails alone (the common case pays for no savepoints);
/// when the database itself fails (busy, full, I/O), all are answered with that at once.
async fn store_batch(state: &Context, jobs: Vec<Job>) {
    let (replies, waiting): (Vec<Reply>, Vec<_>) = jobs.into_iter().unzip();
    let replies = std::sync::Arc::new(replies);
    // A reply that failed is answered 500 and shows in Twilio's error log.
    let answer = |w: tokio::sync::oneshot::Sender<_>, r: anyhow::Result<Stored>| {
        let _ = w.send(r.context("storing the reply"));
    };
    match write(state, &replies, 0..replies.len()).await {
        Ok(stored) => waiting.into_iter().zip(stored).for_each(|(w, s)| answer(w, Ok(s))),
        Err(e) if replies.len() == 1 || crate::db::is_storage_failure(&e) => {
            let why = format!("{e:#}");
            waiting.into_iter().for_each(|w| answer(w, Err(anyhow::anyhow!("{why}"))));
        }
        Err(_) => {
            for (i, w) in waiting.into_iter().enumerate() {
                let stored = write(state, &replies, i..i + 1).await;
                answer(w, stored.and_then(|s| s.into_iter().next().context("no result")));
            }
        }
    }
}

/// Stores `replies[range]` in one transaction: all of them, or none.
async fn write(
    state: &Context,
    replies: &std::sync::Arc<Vec<Reply>>,
    range: std::ops::Range<usize>,
) -> anyhow::Result<Vec<Stored>> {
    let (replies, settings, now) = (replies.clone(), state.settings.clone(), state.clock.now());
    state
        .db
        .write(move |tx| {
            let mut seen = Seen::default();
            replies
                .get(range)
                .unwrap_or_default()
                .iter()
                .map(|r| store(tx, &settings, &mut seen, r, now))
                .collect()
        })
        .await
}

/// What one transaction has read so far: a burst of replies mostly goes to a few numbers.
#[derive(Default)]
struct Seen {
    /// The agent holding each `To` number.
    agents: HashMap<String, Option<Agent>>,
    /// Each agent's unread notifications, as the triggers on `notifications` keep them: read once,
    /// then one more for each notification this transaction adds.
    unread: HashMap<i64, u32>,
}

/// Stores one reply: finds its agent, reads its meaning, and writes everything it implies.
fn store(
    tx: &Connection,
    settings: &crate::config::Settings,
    seen: &mut Seen,
    reply: &Reply,
    now: jiff::Timestamp,
) -> anyhow::Result<Stored> {
    let agent = match seen.agents.get(&reply.to) {
        Some(a) => a.clone(),
        None => {
            let a = agent_for(tx, &reply.to)?;
            seen.agents.insert(reply.to.clone(), a.clone());
            a
        }
    };
    let Some(agent) = agent else {
        return Ok(Stored::UnknownTo(reply.to.clone()));
    };
    let intent = keywords::classify(&reply.body);
    let answer_help = matches!(intent, Intent::Help) && !settings.twilio.advanced_opt_out;
    let help = answer_help.then(|| settings.replies.help_text.replace("{agent}", &agent.name));
    let answered = help.is_some() && agent.sending_number.is_some();
    Ok(if store_reply(tx, seen, &agent, reply, &intent, help, now)? {
        Stored::New { answered }
    } else {
        Stored::Repeat
    })
}

fn agent_for(conn: &Connection, number: &str) -> anyhow::Result<Option<Agent>> {
    match store::agent_holding(conn, number)? {
        Some(id) => crate::accounts::store::agent_by_id(conn, id),
        None => Ok(None),
    }
}

/// Stores a reply and everything it implies, in one transaction; `Ok(false)` for a repeat.
fn store_reply(
    tx: &Connection,
    seen: &mut Seen,
    agent: &Agent,
    r: &Reply,
    intent: &Intent,
    help: Option<String>,
    now: jiff::Timestamp,
) -> anyhow::Result<bool> {
    if store::is_stored(tx, &r.sid)? {
        return Ok(false);
    }
    // The contact of this agent with this number, in any format it was entered (R-IN-2), and
    // the name its notification shows.
    let existing = store::contact_with_number(tx, agent.id, &r.from)?;
    let (contact_id, name) = match existing {
        Some(found) => found,
        None => {
            let lead = ContactInput {
                first_name: Some(crate::domain::phone::readable(&r.from, agent.country.id())),
                phones: vec![PhoneInput { number: r.from.clone(), label: Default::default() }],
                tags: vec!["new-lead".into()],
                ..Default::default()
            }
            .validate(&agent.country, Source::InboundText)
            .map_err(|e| anyhow::anyhow!("new lead: {}: {}", e.field, e.reason))?;
            (crate::contacts::store::insert(tx, agent.id, &lead, now)?, lead.first_name.clone())
        }
    };
    let intent_name = match intent {
        Intent::OptOut { .. } => Some("opt_out"),
        Intent::OptIn { .. } => Some("opt_in"),
        Intent::Help => Some("help"),
        Intent::Nothing => None,
    };
    let row = store::Inbound {
        sid: &r.sid,
        agent_id: agent.id,
        contact_id,
        from: &r.from,
        to: &r.to,
        body: &r.body,
        media: serde_json::to_string(&r.media)?,
        geo: r.geo.to_string(),
        intent: intent_name,
    };
    let id = store::insert_inbound(tx, &row, millis(now))?;
    match intent {
        Intent::OptOut { phrase } => {
            let how = if phrase.chars().all(|c| c.is_ascii_uppercase()) {
                format!("keyword:{phrase}")
            } else {
                format!("phrase:{phrase}")
            };
            crate::consent::opt_out(tx, &r.to, &r.from, &how, Some(id), now)?;
            crate::plans::store::stop_contact(tx, contact_id, "opted_out", now)?;
        }
        Intent::OptIn { keyword } => {
            crate::consent::opt_in(tx, &r.to, &r.from, &format!("keyword:{keyword}"), Some(id), now)?
        }
        Intent::Help | Intent::Nothing => {}
    }
    // A reply ends this contact's enrollments in plans that stop on reply (R-PLAN-3).
    crate::plans::store::stop_on_reply(tx, contact_id, now)?;

    // One notification per reply (R-IN-3); the push to the agent's devices hangs off it.
    let preview: String = if r.body.is_empty() && !r.media.is_empty() {
        "📷 Media".into()
    } else {
        r.body.chars().take(140).collect()
    };
    let notification = store::notify(tx, agent.id, contact_id, id, &name, &preview, millis(now))?;
    // One push per device of the agent (R-PUSH-2), badge = the agent's unread notifications
    // (a counter the notifications' triggers keep).
    let unread = match seen.unread.get_mut(&agent.id) {
        Some(unread) => {
            *unread += 1;
            *unread
        }
        None => {
            let unread = store::unread_notifications(tx, agent.id)?;
            seen.unread.insert(agent.id, unread);
            unread
        }
    };
    let payload = crate::push::payload::build(&name, &preview, unread, contact_id, id);
    crate::push::store::queue(tx, agent.id, notification, &payload, now)?;
    // HELP is answered (carriers require it), ahead of other traffic and outside the limits.
    if let (Some(text), Some(sender)) = (help, &agent.sending_number) {
        let answer = crate::outbox::store::uncounted(contact_id, &r.from, text);
        crate::outbox::store::queue_uncounted(tx, agent, sender, &[answer], now)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    fn sqlite(code: i32) -> anyhow::Error {
        anyhow::Error::new(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None))
            .context("committing")
    }

    #[test]
    fn a_busy_or_full_database_fails_the_batch_and_a_constraint_fails_one_reply() {
        assert!(crate::db::is_storage_failure(&sqlite(rusqlite::ffi::SQLITE_BUSY)));
        assert!(crate::db::is_storage_failure(&sqlite(rusqlite::ffi::SQLITE_FULL)));
        assert!(crate::db::is_storage_failure(&sqlite(rusqlite::ffi::SQLITE_IOERR)));
        assert!(!crate::db::is_storage_failure(&sqlite(rusqlite::ffi::SQLITE_CONSTRAINT)));
        assert!(!crate::db::is_storage_failure(&anyhow::anyhow!("new lead: first_name: too long")));
    }
}
