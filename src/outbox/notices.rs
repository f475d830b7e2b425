//! The team privacy notice (R-TEAM-1/2): the first text from an agent on a team to a number is
//! preceded by an opt-in/opt-out notice, and the next day at 10:00 recipient-local the privacy
//! text follows. Once per agent and number; no credits, not in the unique count, never held by a
//! limit.

use rusqlite::Connection;

use super::store::scheduled as store;
use super::store::{queue_uncounted, uncounted};
use crate::accounts::model::Agent;
use crate::geo::{Window, recipient_zone};

/// The exact text of the next day (R-TEAM-1).
pub const PRIVACY_TEXT: &str = "To better serve you, messages may be shared with other team members. Please call or text me with questions.";

/// The zone of an agent's contact texted at `number` (R-QH-1); UTC for a contact gone.
pub fn contact_zone(
    conn: &Connection,
    agent: &Agent,
    contact_id: i64,
    number: &str,
) -> anyhow::Result<jiff::tz::TimeZone> {
    Ok(crate::contacts::store::get(conn, agent.id, contact_id)?
        .map(|c| recipient_zone(&c.whereabouts(Some(number)), agent.time_zone.as_str()).0)
        .unwrap_or(jiff::tz::TimeZone::UTC))
}

/// Called in the transaction that queues an agent's texts, before it queues them: for each
/// `(contact_id, number)` the agent has never texted, queues the notice (sent ahead of the text)
/// and schedules the privacy text for 10:00 the next day in the recipient's zone.
pub fn precede(
    tx: &Connection,
    agent: &Agent,
    template: &str,
    window: &Window,
    recipients: &[(i64, &str)],
    now: jiff::Timestamp,
) -> anyhow::Result<usize> {
    let (Some(team), Some(sender)) = (&agent.team, &agent.sending_number) else {
        return Ok(0);
    };
    let body = template.replace("{agent}", &agent.name).replace("{team}", &team.name);
    let mut notices = Vec::new();
    for &(contact_id, number) in recipients {
        if !store::first_notice(tx, agent.id, number, now)? {
            continue;
        }
        notices.push(uncounted(contact_id, number, body.clone()));
        let zone = contact_zone(tx, agent, contact_id, number)?;
        let local = now.to_zoned_datetime(zone.clone()).date();
        let at = local
            .tomorrow()
            .unwrap_or(local)
            .to_datetime(jiff::civil::Time::constant(10, 0, 0, 0))
            .to_zoned_datetime(zone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(now);
        let at = window.next_open(at, &zone);
        let job = store::NewJob {
            kind: "privacy_text",
            agent_id: agent.id,
            contact_id: Some(contact_id),
            number: Some(number),
            request: None,
            due_at: at,
        };
        store::schedule(tx, &job, now)?;
    }
    if !notices.is_empty() {
        queue_uncounted(tx, agent, sender, &notices, now)?;
    }
    Ok(notices.len())
}
