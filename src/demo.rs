//! `serve --demo`: a demo team, an admin and an agent with a sandbox number and about 50 contacts
//! from `fixtures/contacts.csv`, created when absent.

use crate::accounts::api::{AgentInput, add_agent, add_team};
use crate::accounts::model::{LimitOverrides, Role};
use crate::accounts::store;
use crate::app::AppState;
use crate::contacts::{import, write_all};

pub const TEAM: &str = crate::scripts::sample::TEAM;
pub const ADMIN_EMAIL: &str = "admin@demo.tidings.test";
pub const ADMIN_PASSWORD: &str = "demo-admin-password";
pub const AGENT_EMAIL: &str = crate::scripts::sample::AGENT_EMAIL;
pub const AGENT_PASSWORD: &str = "demo-agent-password";
const CONTACTS: &[u8] = include_bytes!("../fixtures/contacts.csv");

/// Creates what is missing of the demo data; returns true when it created anything.
pub async fn seed(state: &AppState) -> anyhow::Result<bool> {
    if state.db.read(|c| store::agent_by_email(c, AGENT_EMAIL)).await?.is_some() {
        return Ok(false);
    }
    let team = match state.db.read(|c| store::team_by_name(c, TEAM)).await? {
        Some(t) => t,
        None => add_team(state.accounts_env(), TEAM).await?,
    };
    if state.db.read(|c| store::agent_by_email(c, ADMIN_EMAIL)).await?.is_none() {
        add_agent(
            state.accounts_env(),
            AgentInput {
                email: ADMIN_EMAIL.into(),
                name: "Dana Admin".into(),
                password: ADMIN_PASSWORD.into(),
                role: Role::Admin,
                team_id: Some(team.id),
                country: None,
                time_zone: None,
                limits: LimitOverrides::default(),
            },
        )
        .await?;
    }
    let agent = add_agent(
        state.accounts_env(),
        AgentInput {
            email: AGENT_EMAIL.into(),
            name: "Alex Agent".into(),
            password: AGENT_PASSWORD.into(),
            role: Role::Agent,
            team_id: Some(team.id),
            country: Some("US".into()),
            time_zone: Some("America/Chicago".into()),
            limits: LimitOverrides::default(),
        },
    )
    .await?;
    let number = state.sms.list_numbers().await?.into_iter().next().map(|n| n.phone_number);
    let parsed =
        import::parse(CONTACTS, &agent.country).map_err(|e| anyhow::anyhow!("demo contacts: {e}"))?;
    let now = state.clock.now();
    let agent_id = agent.id;
    state
        .db
        .write(move |tx| {
            if let Some(n) = number
                && store::number_holder(tx, &n)?.is_none()
            {
                store::set_agent_column(tx, agent_id, "sending_number", &n, now)?;
            }
            write_all(tx, agent_id, &parsed.contacts, now)?;
            // A plan to enroll contacts in (POST /v1/plans/1/enrollments).
            let steps: Vec<crate::plans::model::Step> = serde_json::from_value(serde_json::json!([
                {"day_offset": 0, "time_of_day": "10:00", "body": "Hi ${contact.first_name}, it's Alex. Thanks for reaching out! When suits you for a call?"},
                {"day_offset": 2, "time_of_day": "17:30", "body": "New listings near you this week: want me to send a few?"},
                {"day_offset": 7, "time_of_day": "11:00", "body": "Still looking, ${contact.first_name}? Happy to set up showings this weekend."}
            ]))?;
            crate::plans::store::insert(tx, agent_id, "New lead follow-up", &steps, true, now)?;
            Ok(())
        })
        .await?;
    Ok(true)
}

/// How to log in, printed by `serve --demo`.
pub fn instructions(base: &str) -> String {
    format!(
        "Demo data is ready.\n  admin: {ADMIN_EMAIL} / {ADMIN_PASSWORD}\n  agent: {AGENT_EMAIL} / {AGENT_PASSWORD}\n\
         Log in:\n  curl -s {base}/v1/auth/login -H 'Content-Type: application/json' \\\n    \
         -d '{{\"email\":\"{AGENT_EMAIL}\",\"password\":\"{AGENT_PASSWORD}\"}}'\n"
    )
}
