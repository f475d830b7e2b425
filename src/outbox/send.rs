//! The send use-case (R-SND-1..4): a quote checked afresh, its limits reserved and its texts
//! queued in one transaction with the idempotency answer (R-SND-4, R-LIM-2), the team notice
//! first (R-TEAM-1); or, with `send_at`, kept for later. Shared by the send endpoints, thread
//! replies and the scheduler.

use std::sync::Arc;

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use super::dispatcher::Outbox;
use super::store::{self, NewBatch, Outgoing, Priority};
use crate::accounts::model::Agent;
use crate::clock::Clock;
use crate::compose::quote::{self, Quote, QuoteRequest};
use crate::compose::store::StoredQuote;
use crate::config::Settings;
use crate::db::Db;
use crate::error::ApiError;
use crate::idempotency::{self, Key};
use crate::scripts::Scripts;

/// What sending reads and wakes; one per daemon, shared by handlers (as `web::Data`) and the
/// scheduler.
pub struct Sending {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub scripts: Arc<Scripts>,
    pub outbox: Arc<Outbox>,
}

/// A send would pass a limit (R-LIM-2); nothing was queued.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "This send would take {limit} to {} of {limit_value}; nothing was sent. Remove recipients, or wait until {resets_at}.",
    used + requested
)]
pub struct LimitExceeded {
    pub limit: &'static str,
    pub used: u32,
    pub requested: u32,
    pub limit_value: u32,
    pub resets_at: jiff::Timestamp,
}

impl LimitExceeded {
    pub fn new(limit: &'static str, c: &crate::limits::Counter) -> Self {
        let after = c.after.unwrap_or(c.used);
        LimitExceeded {
            limit,
            used: c.used,
            requested: after.saturating_sub(c.used),
            limit_value: c.limit,
            resets_at: c.resets_at,
        }
    }
}

/// Why a send was refused. Each is a 4xx; `Other` carries a quote's own refusal or storage.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the quote has expired")]
    QuoteExpired { fresh: Box<Quote> },
    #[error("the quote is stale")]
    QuoteStale { fresh: Box<Quote> },
    #[error("the agent has no sending number")]
    NoSendingNumber,
    #[error("none of the recipients can be texted")]
    NothingToSend { lines: Vec<quote::Line> },
    #[error(transparent)]
    LimitExceeded(#[from] LimitExceeded),
    #[error("a send can be scheduled at most a year ahead")]
    TooFarAhead,
    #[error(transparent)]
    Other(anyhow::Error),
}

impl From<anyhow::Error> for SendError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<LimitExceeded>() {
            Ok(l) => SendError::LimitExceeded(l),
            Err(e) => SendError::Other(e),
        }
    }
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::QuoteExpired { fresh } => ApiError::conflict(
                "quote_expired",
                "The quote has expired; nothing was sent. Check the fresh figures and send again.",
            )
            .with("quote", value(&*fresh)),
            SendError::QuoteStale { fresh } => ApiError::conflict(
                "quote_stale",
                "Recipients, texts, opt-outs or limits changed since the quote; nothing was sent. Check the fresh figures and send again.",
            )
            .with("quote", value(&*fresh)),
            SendError::NoSendingNumber => ApiError::invalid(
                "no_sending_number",
                "You have no sending number; pick one (GET /v1/numbers/available, PUT /v1/me/number) first.",
            ),
            SendError::NothingToSend { lines } => ApiError::invalid(
                "nothing_to_send",
                "None of the recipients can be texted; see each line's reason.",
            )
            .with("lines", value(&lines)),
            SendError::LimitExceeded(l) => ApiError::invalid("limit_exceeded", l.to_string())
                .with("limit", l.limit.to_owned())
                .with("used", l.used)
                .with("requested", l.requested)
                .with("limit_value", l.limit_value)
                .with("resets_at", l.resets_at.to_string()),
            SendError::TooFarAhead => {
                ApiError::invalid_field("send_at", "A send can be scheduled at most a year ahead.")
            }
            SendError::Other(e) => e.into(),
        }
    }
}

/// A value as JSON, for a problem's extra member.
fn value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// `summary`'s members added to `body`.
fn merged(mut body: Value, summary: &Value) -> Value {
    if let (Some(b), Some(s)) = (body.as_object_mut(), summary.as_object()) {
        b.extend(s.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    body
}

/// Farthest ahead a send can be scheduled.
const MAX_SCHEDULE_DAYS: i64 = 366;

impl Sending {
    /// What a quote reads besides the database.
    pub fn quote_env(&self) -> quote::Env<'_> {
        quote::Env { settings: &self.settings, scripts: &self.scripts, clock: &*self.clock }
    }

    /// Quotes and queues in one go (or keeps the send for `send_at`); the answer is
    /// `(status, body)` so idempotency can store it.
    pub async fn queue(
        self: &Arc<Self>,
        me: &Agent,
        request: QuoteRequest,
        from_quote: Option<StoredQuote>,
        priority: Priority,
        idempotency: Option<Key>,
    ) -> Result<(StatusCode, Value), SendError> {
        let (worker, agent, req) = (self.clone(), me.clone(), request.clone());
        let fresh: Quote = self.db.read(move |c| quote::build(worker.quote_env(), c, &agent, &req)).await?;
        if let Some(StoredQuote { fingerprint, expires_at, .. }) = &from_quote {
            if crate::db::timestamp(*expires_at) < self.clock.now() {
                return Err(SendError::QuoteExpired { fresh: Box::new(fresh) });
            }
            if *fingerprint != fresh.fingerprint {
                return Err(SendError::QuoteStale { fresh: Box::new(fresh) });
            }
        }
        let Some(sender) = fresh.sender.clone() else { return Err(SendError::NoSendingNumber) };
        let outgoing = outgoing(&self.settings, &fresh, |_| true);
        if outgoing.is_empty() {
            return Err(SendError::NothingToSend { lines: fresh.lines });
        }
        if let Some(at) = request.send_at.filter(|at| *at > self.clock.now()) {
            return self.schedule(me, request, at, &fresh, idempotency).await;
        }
        if let Some((name, counter)) = fresh.limits.exceeded() {
            return Err(LimitExceeded::new(name, counter).into());
        }
        let batch_id = uuid::Uuid::new_v4().to_string();
        let now = self.clock.now();
        let script = fresh.template_script.as_ref().map(|s| (s.id, s.version));
        let (agent, settings) = (me.clone(), self.settings.clone());
        let summary = json!({"skipped": skipped(&fresh), "totals": fresh.totals, "limits": fresh.limits,
                             "warnings": fresh.warnings});
        let body = self
            .db
            .write(move |tx| {
                let batch = NewBatch {
                    id: &batch_id,
                    agent_id: agent.id,
                    quote_id: from_quote.as_ref().map(|q| q.id.as_str()),
                    priority,
                    script,
                    sender: &sender,
                    counted: true,
                };
                let ids = commit(tx, &settings, &agent, &batch, &outgoing, now)?;
                let messages: Vec<Value> = ids
                    .iter()
                    .zip(&outgoing)
                    .map(|(id, m)| {
                        json!({"id": id, "contact_id": m.contact_id, "to": m.recipient, "status": "queued",
                               "credits": m.credits})
                    })
                    .collect();
                let body = merged(json!({"batch_id": batch_id, "messages": messages}), &summary);
                // Kept in the transaction that queues: two requests with one key queue once (R-SND-4).
                idempotency::keep(tx, agent.id, idempotency.as_ref(), StatusCode::ACCEPTED, &body, now)?;
                Ok(body)
            })
            .await?;
        self.outbox.wake();
        Ok((StatusCode::ACCEPTED, body))
    }

    /// A send for later: checked now like any send, stored, and queued by the scheduler at
    /// `send_at` under the rules of automated texts.
    async fn schedule(
        &self,
        me: &Agent,
        mut request: QuoteRequest,
        at: jiff::Timestamp,
        fresh: &Quote,
        idempotency: Option<Key>,
    ) -> Result<(StatusCode, Value), SendError> {
        let now = self.clock.now();
        if at > now + jiff::SignedDuration::from_hours(24 * MAX_SCHEDULE_DAYS) {
            return Err(SendError::TooFarAhead);
        }
        request.send_at = None;
        let text = serde_json::to_string(&request).map_err(anyhow::Error::from)?;
        let summary = json!({"skipped": skipped(fresh), "totals": fresh.totals, "warnings": fresh.warnings});
        let agent = me.id;
        let body = self
            .db
            .write(move |tx| {
                let job = store::scheduled::NewJob {
                    kind: "send",
                    agent_id: agent,
                    contact_id: None,
                    number: None,
                    request: Some(&text),
                    due_at: at,
                };
                let id = store::scheduled::schedule(tx, &job, now)?;
                let body =
                    merged(json!({"scheduled_id": id, "status": "scheduled", "send_at": at}), &summary);
                idempotency::keep(tx, agent, idempotency.as_ref(), StatusCode::ACCEPTED, &body, now)?;
                Ok(body)
            })
            .await?;
        Ok((StatusCode::ACCEPTED, body))
    }
}

/// The texts of a quote's sendable lines that `keep` keeps.
pub fn outgoing(settings: &Settings, q: &Quote, keep: impl Fn(&quote::Line) -> bool) -> Vec<Outgoing> {
    let media = crate::media::urls(settings, &q.media_ids);
    q.lines
        .iter()
        .filter(|l| l.status == quote::Status::Ok && keep(l))
        .map(|l| text(l, &media, None))
        .collect()
}

/// The text of one sendable quote line.
pub fn text(
    l: &quote::Line,
    media: &[String],
    quiet: Option<(jiff::Timestamp, jiff::Timestamp)>,
) -> Outgoing {
    Outgoing {
        contact_id: l.contact_id,
        recipient: l.number.clone().unwrap_or_default(),
        body: l.body.clone().unwrap_or_default(),
        media_urls: media.to_vec(),
        kind: if l.kind == Some(crate::compose::cost::Kind::Mms) { "mms" } else { "sms" },
        segments: l.segments,
        credits: l.credits,
        quiet,
    }
}

fn skipped(q: &Quote) -> Vec<Value> {
    q.lines
        .iter()
        .filter(|l| l.status != quote::Status::Ok)
        .map(|l| json!({"contact_id": l.contact_id, "status": l.status, "reason": l.reason}))
        .collect()
}

/// Reserves the limits and queues the texts in the caller's transaction, after any team notice
/// (R-TEAM-1). A passed limit is a [`LimitExceeded`] and the caller rolls back: checked and
/// reserved where the texts are queued, concurrent sends cannot overshoot together (R-LIM-2).
pub fn commit(
    tx: &rusqlite::Connection,
    settings: &Settings,
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
        return Err(LimitExceeded::new(name, c).into());
    }
    let recipients: Vec<(i64, &str)> = msgs.iter().map(|m| (m.contact_id, m.recipient.as_str())).collect();
    super::notices::precede(
        tx,
        agent,
        &settings.plans.team_notice,
        &settings.plans.window(),
        &recipients,
        now,
    )?;
    store::queue(tx, batch, msgs, &p, now)
}
