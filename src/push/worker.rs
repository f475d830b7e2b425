//! The push worker (R-PUSH-2): claims due pushes, hands each to its provider, retries with
//! backoff up to a maximum of attempts, and forgets tokens the provider says are dead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::apns::Apns;
use super::fcm::Fcm;
use super::payload::Outcome;
use super::store::{self, Claimed};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;

pub struct Pusher {
    wake: Notify,
    paused: AtomicBool,
    apns: Option<Apns>,
    fcm: Option<Fcm>,
}

impl Pusher {
    pub fn new(settings: &Settings) -> anyhow::Result<Pusher> {
        Ok(Pusher {
            wake: Notify::new(),
            paused: AtomicBool::new(false),
            apns: Apns::new(&settings.apns, &settings.push)?,
            fcm: Fcm::new(&settings.fcm, &settings.push)?,
        })
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Holds delivery while the queue keeps filling, or lets it go on; nothing is lost. The
    /// replies benchmark holds it to time the webhook alone.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        self.wake();
    }

    /// Neither APNs nor FCM configured: pushes are recorded, for `GET /v1/sandbox/pushes`.
    pub fn sandbox(&self) -> bool {
        self.apns.is_none() && self.fcm.is_none()
    }
}

/// What the worker needs: plain values, no actix types.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub clock: std::sync::Arc<dyn Clock>,
    pub settings: std::sync::Arc<Settings>,
    pub pusher: std::sync::Arc<Pusher>,
}

pub fn spawn(state: Context, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = run(state, stop).await {
            tracing::error!(error = format!("{e:#}"), "the push worker stopped");
        }
    })
}

async fn run(state: Context, stop: CancellationToken) -> anyhow::Result<()> {
    let now = state.clock.now();
    state.db.write(move |tx| store::recover(tx, now)).await?;
    let (concurrency, max_attempts) = (state.settings.push.concurrency, state.settings.push.max_attempts);
    let mut results: Vec<(Claimed, Outcome)> = Vec::new();
    loop {
        // One transaction records the last round's outcomes and claims the next round.
        let now = state.clock.now();
        let done = std::mem::take(&mut results);
        let kept = done.clone();
        let stopping = stop.is_cancelled();
        let claim = !stopping && !state.pusher.paused.load(Ordering::Relaxed);
        let written = if done.is_empty() && !claim {
            Ok(Vec::new()) // held, or stopping, with nothing to record
        } else {
            state
                .db
                .write(move |tx| {
                    record_round(tx, &done, max_attempts, now)?;
                    if claim { store::claim(tx, now, concurrency) } else { Ok(Vec::new()) }
                })
                .await
        };
        let claimed = match written {
            Ok(c) => c,
            Err(e) if stopping => return Err(e),
            Err(e) => {
                // The outcomes are kept and written with the next round.
                tracing::error!(error = format!("{e:#}"), "recording pushes failed; trying again");
                results = kept;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if stopping {
            return Ok(());
        }
        if claimed.is_empty() {
            tokio::select! {
                _ = state.pusher.wake.notified() => {
                    // Replies come in bursts: a moment's wait sends a burst in one round.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stop.cancelled() => {}
            }
            continue;
        }
        // Pushes in flight finish before the next claim, and before a stop.
        let outcomes = futures_util::future::join_all(claimed.iter().map(|p| deliver(&state, p))).await;
        results = claimed.into_iter().zip(outcomes).collect();
    }
}

/// Records a round's outcomes: the sent pushes (most of them) in one statement.
fn record_round(
    tx: &rusqlite::Connection,
    done: &[(Claimed, Outcome)],
    max_attempts: u32,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let sent: Vec<i64> = done.iter().filter(|(_, o)| matches!(o, Outcome::Sent)).map(|(p, _)| p.id).collect();
    store::finish_sent(tx, &sent, now)?;
    for (p, outcome) in done {
        record_outcome(tx, p, outcome, max_attempts, now)?;
    }
    Ok(())
}

fn record_outcome(
    tx: &rusqlite::Connection,
    p: &Claimed,
    outcome: &Outcome,
    max_attempts: u32,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    match outcome {
        Outcome::Sent => Ok(()), // recorded by `record_round`, all at once
        Outcome::Retry { error, .. } if p.attempts >= max_attempts => store::finish(
            tx,
            p.id,
            "failed",
            Some(&format!("gave up after {} tries: {error}", p.attempts)),
            now,
        ),
        Outcome::Retry { error, after } => {
            let backoff = crate::retry::backoff(Duration::from_secs(2), p.attempts, *after);
            let at = jiff::Timestamp::from_millisecond(crate::db::millis(now) + backoff.as_millis() as i64)
                .unwrap_or(now);
            store::retry(tx, p.id, at, error, now)
        }
        Outcome::DeadToken(why) => {
            tracing::info!(device = p.device_id, %why, "forgetting a dead push token");
            store::forget_device(tx, p.device_id)
        }
        Outcome::Drop(why) => {
            tracing::error!(push = p.id, %why, "a push was refused; not retrying");
            store::finish(tx, p.id, "failed", Some(why), now)
        }
    }
}

/// Hands one push to its provider.
async fn deliver(state: &Context, p: &Claimed) -> Outcome {
    let pusher = &state.pusher;
    match (p.platform.as_str(), &pusher.apns, &pusher.fcm) {
        ("apns", Some(apns), _) => apns.send(&p.delivery(), state.clock.now()).await,
        ("fcm", _, Some(fcm)) => fcm.send(&p.delivery()).await,
        _ if pusher.sandbox() => record(state, p).await,
        (platform, ..) => {
            Outcome::Drop(format!("{platform} is not configured; set [{platform}] to reach this device"))
        }
    }
}

/// The sandbox provider: records the push.
async fn record(state: &Context, p: &Claimed) -> Outcome {
    let (platform, token, payload, now) =
        (p.platform.clone(), p.token.clone(), p.payload.clone(), state.clock.now());
    let recorded =
        state.db.write(move |tx| store::record_sandbox_push(tx, &platform, &token, &payload, now)).await;
    match recorded {
        Ok(()) => Outcome::Sent,
        Err(e) => Outcome::Retry { error: format!("{e:#}"), after: None },
    }
}
