//! The scheduler (R-PLAN-2): one durable worker for everything that happens later — plan steps,
//! next-day privacy texts. Each round reads what is due and acts on it in one write transaction
//! that also moves those rows on, so nothing is done twice: not by a second worker (write
//! transactions take turns), not after a crash (a round is committed whole or not at all). The
//! texts go to the outbox, whose pacing spreads any catch-up after downtime.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jiff::tz::TimeZone;
use rusqlite::Connection;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::model::Window;
use super::store::{self, Live};
use crate::compose::quote::{self, QuoteRequest, Status};
use crate::outbox::send::Sending;
use crate::outbox::store::{NewBatch, Outgoing, Priority};

/// Enrollments handled per round (one transaction).
pub const ROUND: usize = 1_000;

pub fn spawn(state: Arc<Sending>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            let busy = match run_due(&state).await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "a scheduler round failed");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.cancelled() => {}
                }
            }
        }
    })
}

/// One round: what is due now, up to [`ROUND`] enrollments and jobs. Returns how many rows it
/// moved on (0 when nothing was due).
pub async fn run_due(state: &Arc<Sending>) -> anyhow::Result<usize> {
    let worker = state.clone();
    let now = state.clock.now();
    let n = state
        .db
        .write(move |tx| {
            Ok(steps_round(&worker, tx, now)? + crate::outbox::later::jobs_round(&worker, tx, now, ROUND)?)
        })
        .await?;
    if n > 0 {
        state.outbox.wake();
    }
    Ok(n)
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

fn steps_round(state: &Sending, tx: &Connection, now: jiff::Timestamp) -> anyhow::Result<usize> {
    let due = store::due(tx, now, ROUND)?;
    let n = due.len();
    // One quote per plan step: the enrollments due for the same step go as one batch.
    let mut groups: Vec<((i64, usize), Vec<Live>)> = Vec::new();
    for e in due {
        match groups.iter_mut().find(|(k, _)| *k == (e.plan_id, e.step)) {
            Some((_, g)) => g.push(e),
            None => groups.push(((e.plan_id, e.step), vec![e])),
        }
    }
    for ((plan_id, step), group) in groups {
        run_step(state, tx, plan_id, step, group, now)?;
    }
    Ok(n)
}

/// When step `index` of the plan falls for an enrollment, or `None` past the last step.
fn next_due(plan: &store::Plan, e: &Live, index: usize, window: &Window) -> Option<jiff::Timestamp> {
    let step = plan.steps.get(index)?;
    let day = e.enrolled_on.parse().ok()?;
    Some(super::model::step_at(day, step, &zone(&e.time_zone), window))
}

fn run_step(
    state: &Sending,
    tx: &Connection,
    plan_id: i64,
    index: usize,
    group: Vec<Live>,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let window = state.settings.plans.window();
    let Some(plan) = store::get(tx, None, plan_id)? else { return Ok(()) };
    let Some(agent) = crate::accounts::store::agent_by_id(tx, plan.agent_id)? else { return Ok(()) };
    let Some(step) = plan.steps.get(index) else {
        // The plan lost steps in an edit: these enrollments are done.
        for e in &group {
            store::advance(tx, e.id, None, false, None, now)?;
        }
        return Ok(());
    };
    // Quiet hours (R-QH-1): outside the window in the recipient's zone, the step waits.
    let (open, closed): (Vec<Live>, Vec<Live>) =
        group.into_iter().partition(|e| window.contains(now, &zone(&e.time_zone)));
    for e in &closed {
        let at = window.next_open(now, &zone(&e.time_zone));
        store::wait(
            tx,
            e.id,
            at,
            "quiet_hours: waits for the sending window in the recipient's time zone",
            now,
        )?;
    }
    if open.is_empty() {
        return Ok(());
    }
    let Some(sender) = agent.sending_number.clone() else {
        for e in &open {
            let at = now + jiff::SignedDuration::from_hours(1);
            store::wait(tx, e.id, at, "no_sending_number: the agent has no sending number", now)?;
        }
        return Ok(());
    };
    let request = QuoteRequest {
        contact_ids: open.iter().map(|e| e.contact_id).collect(),
        body: step.body.clone(),
        template_script: step.template_script,
        media_ids: step.media_ids.clone(),
        ..Default::default()
    };
    let step_no = index + 1;
    let built = match quote::build(state.quote_env(), tx, &agent, &request) {
        Ok(q) => q,
        Err(e) => {
            // The step itself cannot be sent (its script or media is gone): skipped, said why.
            let why = format!("step {step_no} skipped: {e}");
            for e in &open {
                store::advance(
                    tx,
                    e.id,
                    next_due(&plan, e, index + 1, &window).map(|at| (index + 1, at)),
                    false,
                    Some(&why),
                    now,
                )?;
            }
            return Ok(());
        }
    };
    let lines: HashMap<i64, &quote::Line> = built.lines.iter().map(|l| (l.contact_id, l)).collect();
    let limits = agent.effective_limits(&state.settings.defaults);
    let periods = crate::limits::agent_periods(&agent, now);
    let mut used = crate::limits::store::usage(tx, agent.id, &periods)?;
    let mut numbers_today: HashSet<String> = HashSet::new();
    let media = crate::media::urls(&state.settings, &built.media_ids);
    let mut sending: Vec<(&Live, Outgoing)> = Vec::new();
    for e in &open {
        let next = next_due(&plan, e, index + 1, &window).map(|at| (index + 1, at));
        let Some(line) = lines.get(&e.contact_id) else {
            store::advance(
                tx,
                e.id,
                next,
                false,
                Some(&format!("step {step_no} skipped: the contact is gone")),
                now,
            )?;
            continue;
        };
        match line.status {
            Status::Ok => {}
            Status::OptedOut => {
                store::stop(tx, e.id, "opted_out", now)?;
                continue;
            }
            Status::Dnc => {
                store::stop(tx, e.id, "dnc", now)?;
                continue;
            }
            _ => {
                let why =
                    format!("step {step_no} skipped: {}", line.reason.as_deref().unwrap_or("not sendable"));
                store::advance(tx, e.id, next, false, Some(&why), now)?;
                continue;
            }
        }
        let number = line.number.clone().unwrap_or_default();
        // Limits (R-LIM-4): a step that would pass one waits for the next day, saying which.
        let new_number = !numbers_today.contains(&number)
            && crate::limits::store::new_numbers_today(tx, agent.id, &periods.day, [number.as_str()])? > 0;
        let over = if used.daily_unique_recipients + new_number as u32 > limits.daily_unique_recipients {
            Some("daily_unique_recipients")
        } else if used.daily_segments + line.segments > limits.daily_segments {
            Some("daily_segments")
        } else if used.monthly_credits + line.credits > limits.monthly_credits {
            Some("monthly_credits")
        } else {
            None
        };
        if let Some(limit) = over {
            let tz = zone(&e.time_zone);
            let why = if limit == "monthly_credits" {
                "monthly_credits limit reached: checked again each day until next month or a higher limit"
            } else if limit == "daily_segments" {
                "daily_segments limit reached: waits for the next day"
            } else {
                "daily_unique_recipients limit reached: waits for the next day"
            };
            store::wait(tx, e.id, window.next_open(periods.day_resets_at, &tz), why, now)?;
            continue;
        }
        if new_number {
            numbers_today.insert(number.clone());
            used.daily_unique_recipients += 1;
        }
        used.daily_segments += line.segments;
        used.monthly_credits += line.credits;
        sending.push((e, crate::outbox::send::text(line, &media, window.bounds(now, &zone(&e.time_zone)))));
    }
    if sending.is_empty() {
        return Ok(());
    }
    let recipients: Vec<(i64, &str)> =
        sending.iter().map(|(_, m)| (m.contact_id, m.recipient.as_str())).collect();
    crate::outbox::notices::precede(
        tx,
        &agent,
        &state.settings.plans.team_notice,
        &window,
        &recipients,
        now,
    )?;
    let messages: Vec<Outgoing> = sending.iter().map(|(_, m)| m.clone()).collect();
    crate::limits::store::reserve(
        tx,
        agent.id,
        &periods,
        messages.iter().map(|m| m.recipient.as_str()),
        messages.iter().map(|m| m.segments).sum(),
        messages.iter().map(|m| m.credits).sum(),
    )?;
    let batch_id = uuid::Uuid::new_v4().to_string();
    let batch = NewBatch {
        id: &batch_id,
        agent_id: agent.id,
        quote_id: None,
        priority: Priority::Plan,
        script: built.template_script.as_ref().map(|s| (s.id, s.version)),
        sender: &sender,
        counted: true,
    };
    crate::outbox::store::queue(tx, &batch, &messages, &periods, now)?;
    for (e, _) in &sending {
        let next = next_due(&plan, e, index + 1, &window).map(|at| (index + 1, at));
        store::advance(tx, e.id, next, true, None, now)?;
    }
    Ok(())
}
