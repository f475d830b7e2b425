//! Texts for later (run by the scheduler, R-PLAN-2): scheduled sends, quoted afresh when they
//! fall due, and the next-day team privacy text (R-TEAM-1). Each job moves on in the round's
//! transaction, so nothing is done twice.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use rusqlite::Connection;

use super::send::{LimitExceeded, Sending};
use super::store::scheduled as store;
use super::store::{self as outbox_store, NewBatch, Priority};
use crate::accounts::model::Agent;
use crate::compose::quote::{self, QuoteRequest, Status};

/// Handles up to `round` due jobs; returns how many.
pub fn jobs_round(
    sending: &Sending,
    tx: &Connection,
    now: jiff::Timestamp,
    round: usize,
) -> anyhow::Result<usize> {
    let jobs = store::due_jobs(tx, now, round)?;
    let n = jobs.len();
    for job in jobs {
        let Some(agent) = crate::accounts::store::agent_by_id(tx, job.agent_id)? else {
            store::finish_job(tx, job.id, "skipped", Some("the agent is gone"), None, now)?;
            continue;
        };
        let Some(sender) = agent.sending_number.clone() else {
            store::finish_job(tx, job.id, "skipped", Some("the agent has no sending number"), None, now)?;
            continue;
        };
        if job.kind == "send" {
            run_send(sending, tx, &job, &agent, &sender, now)?;
        } else {
            privacy_text(sending, tx, &job, &agent, &sender, now)?;
        }
    }
    Ok(n)
}

fn privacy_text(
    sending: &Sending,
    tx: &Connection,
    job: &store::Job,
    agent: &Agent,
    sender: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let window = sending.settings.plans.window();
    let (Some(number), Some(contact_id)) = (job.number.as_deref(), job.contact_id) else {
        return store::finish_job(tx, job.id, "skipped", Some("the contact is gone"), None, now);
    };
    // Skipped when the number opted out (or went on the DNC list) in between (R-TEAM-1).
    if let Some(block) = crate::consent::blocked(tx, sender, number)? {
        return store::finish_job(tx, job.id, "skipped", Some(block.reason()), None, now);
    }
    let tz = super::notices::contact_zone(tx, agent, contact_id, number)?;
    if !window.contains(now, &tz) {
        return store::postpone_job(tx, job.id, window.next_open(now, &tz), "quiet_hours", now);
    }
    let mut text = outbox_store::uncounted(contact_id, number, super::notices::PRIVACY_TEXT.into());
    text.quiet = window.bounds(now, &tz);
    let batch = outbox_store::queue_uncounted(tx, agent, sender, &[text], now)?;
    store::finish_job(tx, job.id, "done", None, Some(&batch), now)
}

/// A scheduled one-off send: quoted afresh, recipients outside the window split off to when it
/// opens for them (R-QH-1), limits checked now that it goes (R-LIM-4: passed, it waits a day).
fn run_send(
    sending: &Sending,
    tx: &Connection,
    job: &store::Job,
    agent: &Agent,
    sender: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let window = sending.settings.plans.window();
    let Some(mut request) = job.request.as_deref().and_then(|r| serde_json::from_str::<QuoteRequest>(r).ok())
    else {
        return store::finish_job(tx, job.id, "skipped", Some("the request is unreadable"), None, now);
    };
    // Contacts deleted since it was scheduled are left out, not the whole send.
    let listed: Vec<i64> =
        request.contact_ids.iter().chain(request.recipients.iter().map(|r| &r.contact_id)).copied().collect();
    if !listed.is_empty() {
        let known: std::collections::HashSet<i64> =
            crate::contacts::store::get_many(tx, agent.id, &listed)?.into_iter().map(|c| c.id).collect();
        request.contact_ids.retain(|id| known.contains(id));
        request.recipients.retain(|r| known.contains(&r.contact_id));
        if known.is_empty() {
            return store::finish_job(
                tx,
                job.id,
                "skipped",
                Some("none of its contacts exist any more"),
                None,
                now,
            );
        }
    }
    let q = match quote::build(sending.quote_env(), tx, agent, &request) {
        Ok(q) => q,
        Err(e) => return store::finish_job(tx, job.id, "skipped", Some(&e.to_string()), None, now),
    };
    let ok: Vec<i64> = q.lines.iter().filter(|l| l.status == Status::Ok).map(|l| l.contact_id).collect();
    let contacts: HashMap<i64, crate::contacts::model::Contact> =
        crate::contacts::store::get_many(tx, agent.id, &ok)?.into_iter().map(|c| (c.id, c)).collect();
    // Each recipient's window, worked out once: open now (its close and next opening), or the
    // time it opens, when the rest of the send is split off for them.
    let mut open_now: HashMap<i64, (jiff::Timestamp, jiff::Timestamp)> = HashMap::new();
    let mut later: Vec<(jiff::Timestamp, Vec<quote::RecipientInput>)> = Vec::new();
    for l in q.lines.iter().filter(|l| l.status == Status::Ok) {
        let tz = contacts
            .get(&l.contact_id)
            .map(|c| {
                crate::geo::recipient_zone(&c.whereabouts(l.number.as_deref()), agent.time_zone.as_str()).0
            })
            .unwrap_or(TimeZone::UTC);
        if let Some(bounds) = window.bounds(now, &tz) {
            open_now.insert(l.contact_id, bounds);
            continue;
        }
        let at = window.next_open(now, &tz);
        let r = quote::RecipientInput { contact_id: l.contact_id, number: l.number.clone() };
        match later.iter_mut().find(|(t, _)| *t == at) {
            Some((_, rs)) => rs.push(r),
            None => later.push((at, vec![r])),
        }
    }
    let mut messages = super::send::outgoing(&sending.settings, &q, |l| open_now.contains_key(&l.contact_id));
    for m in &mut messages {
        m.quiet = open_now.get(&m.contact_id).copied();
    }
    let mut batch_id = None;
    if !messages.is_empty() {
        let id = uuid::Uuid::new_v4().to_string();
        let batch = NewBatch {
            id: &id,
            agent_id: agent.id,
            quote_id: None,
            priority: Priority::Bulk,
            script: q.template_script.as_ref().map(|s| (s.id, s.version)),
            sender,
            counted: true,
        };
        // A passed limit undoes only this send's writes; the job waits a day.
        match crate::db::savepoint(tx, || {
            super::send::commit(tx, &sending.settings, agent, &batch, &messages, now)
        }) {
            Ok(_) => {}
            Err(e) if e.is::<LimitExceeded>() => {
                let p = crate::limits::agent_periods(agent, now);
                let why = format!("limit_exceeded: {e}; waits for the next day");
                return store::postpone_job(tx, job.id, p.day_resets_at, &why, now);
            }
            Err(e) => return Err(e),
        }
        batch_id = Some(id);
    }
    let later_count = later.len();
    for (at, recipients) in later {
        let rest = QuoteRequest {
            recipients,
            body: request.body.clone(),
            template_script: request.template_script,
            media_ids: request.media_ids.clone(),
            ..Default::default()
        };
        let text = serde_json::to_string(&rest)?;
        let next = store::NewJob {
            kind: "send",
            agent_id: agent.id,
            contact_id: None,
            number: None,
            request: Some(&text),
            due_at: at,
        };
        store::schedule(tx, &next, now)?;
    }
    let (state_name, reason) = match (&batch_id, later_count) {
        (Some(_), _) => ("done", None),
        (None, 0) => ("skipped", Some("none of the recipients can be texted any more")),
        (None, _) => {
            ("skipped", Some("every recipient was outside the sending window; rescheduled for them"))
        }
    };
    store::finish_job(tx, job.id, state_name, reason, batch_id.as_deref(), now)
}
