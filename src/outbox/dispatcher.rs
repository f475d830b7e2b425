//! The dispatcher (R-SND-1..5): claims due rows (replies first), paces each sender, hands texts to
//! the provider, and records what came of it. A row is `sending` before its POST; after a crash
//! such rows are reconciled against the provider's record before anything is sent again. A
//! graceful stop finishes the POSTs in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::pacing::{NumberType, Pacer, number_type};
use super::status::{Refusal, Status, marks_number, refusal};
use super::store::{self, Claimed};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::twilio::SmsProvider;
use crate::twilio::{NewMessage, TwilioError};

/// What the rest of the daemon needs of the dispatcher.
pub struct Outbox {
    wake: Notify,
    /// Set when Twilio refuses our credentials: nothing is sent until restart.
    paused: AtomicBool,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox { wake: Notify::new(), paused: AtomicBool::new(false) }
    }
}

impl Outbox {
    /// New rows are queued: look now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Holds sending (what a credentials refusal does) or lets it go on.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        self.wake();
    }
}

/// What the dispatcher works with (built at the edge).
pub struct Context {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub sms: Arc<SmsProvider>,
    pub outbox: Arc<Outbox>,
}

/// Runs the dispatcher until `stop` fires, then waits for the texts in flight.
pub fn spawn(state: Arc<Context>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = run(state, stop).await {
            tracing::error!(error = format!("{e:#}"), "the dispatcher stopped");
        }
    })
}

async fn run(state: Arc<Context>, stop: CancellationToken) -> anyhow::Result<()> {
    let now = state.clock.now();
    let recovered = state.db.write(move |tx| store::recover(tx, now)).await?;
    if recovered > 0 {
        tracing::warn!(recovered, "texts left sending by a stop will be reconciled before any resend");
    }
    let settings = state.settings.sending.clone();
    let pacer = Arc::new(Pacer::new(&settings));
    let (accepted, recorder) = spawn_recorder(state.clone());
    let permits = Arc::new(Semaphore::new(settings.concurrency));
    let mut in_flight: HashMap<String, usize> = HashMap::new();
    // Senders with texts due, looked up again when woken, when nothing was claimed, or each second.
    let mut senders: Vec<String> = Vec::new();
    let mut looked = std::time::Instant::now();
    let mut look = true;
    let mut turn = 0usize;
    let mut tasks: JoinSet<String> = JoinSet::new();
    let cap = |sender: &str| -> usize {
        let rate = match number_type(sender, &settings.ten_dlc_numbers) {
            NumberType::LongCode => settings.long_code,
            NumberType::TollFree => settings.toll_free,
            NumberType::ShortCode => settings.short_code,
            NumberType::TenDlc => settings.ten_dlc,
        };
        (rate as usize).clamp(1, settings.concurrency)
    };
    while !stop.is_cancelled() {
        while let Some(done) = tasks.try_join_next() {
            release(&mut in_flight, done);
        }
        if look || looked.elapsed() > Duration::from_secs(1) {
            let now = state.clock.now();
            senders = state.db.read(move |c| store::due_senders(c, now)).await?;
            (looked, look) = (std::time::Instant::now(), false);
        }
        let free = permits.available_permits();
        // Each sender gets at most the room its pace can use, taking turns: one sender's bulk
        // never takes every slot from the others.
        let mut rooms: Vec<(String, usize)> = Vec::new();
        let mut left = free;
        for k in 0..senders.len() {
            let sender = &senders[(turn + k) % senders.len()];
            let room = cap(sender).saturating_sub(in_flight.get(sender).copied().unwrap_or(0)).min(left);
            if room > 0 {
                rooms.push((sender.clone(), room));
                left -= room;
            }
        }
        let claimed = if rooms.is_empty() || state.outbox.paused.load(Ordering::Relaxed) {
            Vec::new()
        } else {
            let now = state.clock.now();
            state
                .db
                .write(move |tx| {
                    let mut all = Vec::new();
                    for (sender, room) in &rooms {
                        all.extend(store::claim_due(tx, now, sender, *room)?);
                    }
                    Ok(all)
                })
                .await?
        };
        if claimed.is_empty() {
            look = true;
            tokio::select! {
                _ = state.outbox.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                Some(done) = tasks.join_next(), if !tasks.is_empty() => release(&mut in_flight, done),
                _ = stop.cancelled() => {}
            }
            continue;
        }
        // The next claim starts with the next sender. (Turning on empty rounds too would skip
        // every other sender when rounds alternate: claim, wait, claim…)
        turn = turn.wrapping_add(1);
        for message in claimed {
            *in_flight.entry(message.sender.clone()).or_default() += 1;
            let permit = permits.clone().acquire_owned().await?;
            let (state, pacer, accepted) = (state.clone(), pacer.clone(), accepted.clone());
            tasks.spawn(async move {
                let sender = message.sender.clone();
                if let Err(e) = deliver(&state, &pacer, &accepted, message).await {
                    tracing::error!(error = format!("{e:#}"), "recording a text's outcome failed");
                }
                drop(permit);
                sender
            });
        }
    }
    let left = tasks.len();
    if left > 0 {
        tracing::info!(in_flight = left, "finishing the texts in flight");
    }
    while tasks.join_next().await.is_some() {}
    drop(accepted);
    let _ = recorder.await;
    Ok(())
}

/// A text Twilio took: (message id, sid, Twilio's status, segments, when).
type Accepted = (i64, String, String, Option<u32>, jiff::Timestamp);

/// Records accepted texts in batches, one transaction for all that arrived meanwhile: the common
/// outcome costs no write of its own. Ends when every sender of the channel is gone.
fn spawn_recorder(
    state: Arc<Context>,
) -> (tokio::sync::mpsc::UnboundedSender<Accepted>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Accepted>();
    let handle = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 512 {
                match rx.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            let sandbox = state.sms.is_sandbox();
            let sids: Vec<String> = batch.iter().map(|a| a.1.clone()).collect();
            let written = state
                .db
                .write(move |tx| {
                    for (id, sid, status, segments, now) in &batch {
                        store::mark_sent(tx, *id, sid, status, *segments, *now)?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = written {
                // The rows stay `sending` and are reconciled at the next start.
                tracing::error!(error = format!("{e:#}"), "recording accepted texts failed");
            } else if sandbox {
                // The sandbox "delivers" a moment later, as a status callback would say.
                let (state, delay) =
                    (state.clone(), Duration::from_millis(state.settings.sending.sandbox_delivery_ms));
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let now = state.clock.now();
                    let _ = state
                        .db
                        .write(move |tx| {
                            for sid in &sids {
                                store::apply_status(
                                    tx,
                                    sid,
                                    Some(Status::Delivered),
                                    "delivered",
                                    None,
                                    now,
                                )?;
                            }
                            Ok(())
                        })
                        .await;
                });
            }
        }
    });
    (tx, handle)
}

fn release(in_flight: &mut HashMap<String, usize>, done: Result<String, tokio::task::JoinError>) {
    if let Ok(sender) = done
        && let Some(n) = in_flight.get_mut(&sender)
    {
        *n = n.saturating_sub(1);
        if *n == 0 {
            in_flight.remove(&sender);
        }
    }
}

fn status_callback(state: &Context) -> Option<String> {
    let base = state.settings.server.public_url.trim_end_matches('/');
    (!state.sms.is_sandbox()).then(|| format!("{base}/webhooks/twilio/status"))
}

/// Sends one claimed text and records the outcome.
async fn deliver(
    state: &Context,
    pacer: &Pacer,
    accepted: &tokio::sync::mpsc::UnboundedSender<Accepted>,
    m: Claimed,
) -> anyhow::Result<()> {
    let (id, now) = (m.id, state.clock.now());
    let retry_base = Duration::from_millis(state.settings.sending.retry_base_ms);
    let max = state.settings.sending.max_attempts;
    // An answer was lost: did Twilio take it? (R-SND-5) Asked on every try, the last included:
    // only Twilio saying it does not have the text allows a resend or a final failure.
    if m.reconcile {
        let since =
            m.sending_since.unwrap_or(now).saturating_sub(jiff::SignedDuration::from_mins(5)).unwrap_or(now);
        match state.sms.sent_since(&m.recipient, &m.sender, since).await {
            Ok(found) => {
                // The same text may have gone to this number before (another batch): only a sid we
                // have not recorded, created no earlier than this attempt began, can be this one.
                let fitting: Vec<_> = found
                    .into_iter()
                    .filter(|r| {
                        r.body.as_deref().is_none_or(|b| b == m.body)
                            && r.created_at().is_none_or(|t| t >= since)
                    })
                    .collect();
                let sids: Vec<String> = fitting.iter().map(|r| r.sid.clone()).collect();
                let known = if sids.is_empty() {
                    Default::default()
                } else {
                    state.db.read(move |c| store::known_sids(c, &sids)).await?
                };
                if let Some(r) = fitting.into_iter().find(|r| !known.contains(&r.sid)) {
                    tracing::info!(id, sid = %r.sid, "reconciled: Twilio has the text, not sending it again");
                    let segments = r.segments();
                    return state
                        .db
                        .write(move |tx| store::mark_sent(tx, id, &r.sid, &r.status, segments, now))
                        .await;
                }
                // Twilio does not have it. This claim counted a POST it has not made yet.
                let posted = m.attempts.saturating_sub(1);
                if posted >= max {
                    let msg = format!("gave up after {posted} tries; Twilio does not have the text");
                    return state
                        .db
                        .write(move |tx| {
                            store::end_unsent(tx, id, Status::Sending, Status::Failed, None, &msg, now)
                                .map(|_| ())
                        })
                        .await;
                }
            }
            Err(e) => {
                let wait =
                    crate::retry::backoff(retry_base, m.attempts.saturating_sub(1) + m.lookups + 1, None);
                let at = now.saturating_add(jiff::SignedDuration::try_from(wait)?)?;
                let msg = format!(
                    "reconciling: Twilio's list did not answer ({e}); Twilio may have the text, so it is not sent again until it does"
                );
                return state.db.write(move |tx| store::lookup_failed(tx, id, at, &msg, now)).await;
            }
        }
    }
    // One read for the checks before sending: consent, and whether an earlier text to the same
    // number is still on its way.
    let (sender, recipient) = (m.sender.clone(), m.recipient.clone());
    let (blocked, earlier) = state
        .db
        .read(move |c| {
            Ok((
                crate::consent::blocked(c, &sender, &recipient)?,
                store::earlier_pending(c, &sender, &recipient, id)?,
            ))
        })
        .await?;
    // No text ever reaches an opted-out or DNC number, whatever the quote said (R-IN-4).
    if let Some(block) = blocked {
        let reason = block.reason();
        state
            .db
            .write(move |tx| store::end_unsent(tx, id, Status::Sending, Status::Failed, None, reason, now))
            .await?;
        return Ok(());
    }
    // Quiet hours at the moment of sending, not only of queueing (R-QH-1).
    if let Some((close, open)) = m.quiet
        && let Some(wait) = crate::geo::quiet_wait(close, open, now)
    {
        return state.db.write(move |tx| store::hold_quiet(tx, id, wait, now)).await;
    }
    // In order per number: an earlier text still on its way goes first.
    if earlier {
        let at = now.saturating_add(jiff::SignedDuration::from_secs(1))?;
        return state.db.write(move |tx| store::hold(tx, id, at, now)).await;
    }
    pacer.until_ready(&m.sender, m.segments).await;
    let callback = status_callback(state);
    let outgoing = NewMessage {
        to: &m.recipient,
        from: &m.sender,
        body: &m.body,
        media_urls: &m.media_urls,
        status_callback: callback.as_deref(),
    };
    let result = state.sms.send(&outgoing).await;
    let now = state.clock.now();
    let wait = |retry_after| -> anyhow::Result<jiff::Timestamp> {
        let d = crate::retry::backoff(retry_base, m.attempts, retry_after);
        Ok(now.saturating_add(jiff::SignedDuration::try_from(d)?)?)
    };
    match result {
        Ok(r) => {
            let segments = r.segments();
            accepted
                .send((id, r.sid, r.status, segments, now))
                .map_err(|_| anyhow::anyhow!("the recorder stopped"))
        }
        // A lost answer is never a failure (R-SND-5): a request that may have reached Twilio (a
        // timeout after it was written, a dropped connection, a 5xx, a 2xx that cannot be read)
        // is reconciled before anything else, on every try including the last.
        Err(TwilioError::Transport(e)) if !e.is_connect() => {
            let (at, msg) =
                (wait(None)?, format!("Twilio's answer was lost ({e}); reconciling before any resend"));
            state.db.write(move |tx| store::requeue(tx, id, at, true, &msg, now)).await
        }
        Err(TwilioError::Decode(e)) => {
            let (at, msg) = (
                wait(None)?,
                format!("Twilio's answer could not be read ({e}); reconciling before any resend"),
            );
            state.db.write(move |tx| store::requeue(tx, id, at, true, &msg, now)).await
        }
        Err(TwilioError::Retryable { status, retry_after }) if status >= 500 => {
            let (at, msg) =
                (wait(retry_after)?, format!("Twilio answered {status}; reconciling before any resend"));
            state.db.write(move |tx| store::requeue(tx, id, at, true, &msg, now)).await
        }
        // Refused before it was taken (429) or never left (no connection): simply tried again.
        Err(TwilioError::Retryable { status, retry_after }) if m.attempts < max => {
            let (at, msg) = (wait(retry_after)?, format!("Twilio answered {status}; trying again"));
            state.db.write(move |tx| store::requeue(tx, id, at, false, &msg, now)).await
        }
        Err(TwilioError::Transport(e)) if m.attempts < max => {
            let (at, msg) = (wait(None)?, format!("Twilio could not be reached: {e}"));
            state.db.write(move |tx| store::requeue(tx, id, at, false, &msg, now)).await
        }
        Err(TwilioError::Auth) | Err(TwilioError::Api { code: Some(20003), .. }) => {
            tracing::error!(
                "Twilio refuses our credentials (20003): all sending is stopped until an operator fixes twilio.* and restarts"
            );
            state.outbox.paused.store(true, Ordering::Relaxed);
            let at = now.saturating_add(jiff::SignedDuration::from_mins(1))?;
            state
                .db
                .write(move |tx| store::requeue(tx, id, at, false, "Twilio refused our credentials", now))
                .await
        }
        Err(TwilioError::Api { code, message, .. }) => {
            let kind = refusal(code);
            if kind == Refusal::Configuration {
                tracing::error!(id, ?code, %message, "Twilio refused a text for a configuration reason; an operator must look");
            }
            let (sender, recipient) = (m.sender.clone(), m.recipient.clone());
            state
                .db
                .write(move |tx| {
                    if kind == Refusal::Unsubscribed {
                        crate::consent::opt_out(tx, &sender, &recipient, "twilio:21610", Some(id), now)?;
                    }
                    if let Some(reason) = code.and_then(marks_number) {
                        store::flag_number(tx, &recipient, code.unwrap_or_default(), reason, now)?;
                    }
                    store::end_unsent(tx, id, Status::Sending, Status::Failed, code, &message, now)
                        .map(|_| ())
                })
                .await
        }
        Err(other) => {
            let msg = format!("gave up after {} tries: {other}", m.attempts);
            state
                .db
                .write(move |tx| {
                    store::end_unsent(tx, id, Status::Sending, Status::Failed, None, &msg, now).map(|_| ())
                })
                .await
        }
    }
}
