//! Setup the benchmarks share (`mod common;` in each): the runtime, an agent with contacts and a
//! sending number, logging in, medians. Each bench uses a part of it.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::time::Duration;

use tidings::accounts::api::{AgentInput, add_agent};
use tidings::accounts::model::{Agent, Country, LimitOverrides, Role};
use tidings::app::AppState;
use tidings::config::Settings;

pub const PASSWORD: &str = "bench password 123";

/// Two worker threads, like the machine; the ring provider installed first.
pub fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// An agent (role agent, no team) with [`PASSWORD`].
pub async fn agent(state: &AppState, email: &str) -> Agent {
    let input = AgentInput {
        email: email.into(),
        name: "Bench Agent".into(),
        password: PASSWORD.into(),
        role: Role::Agent,
        team_id: None,
        country: None,
        time_zone: None,
        limits: LimitOverrides::default(),
    };
    add_agent(state.accounts_env(), input).await.unwrap_or_else(|e| panic!("agent {email}: {e}"))
}

/// A daemon's settings for a bench: the database in `dir`, Twilio (account `sid`) at
/// `twilio_uri`, listening on any port, and agent limits out of the way.
pub fn settings(dir: &std::path::Path, twilio_uri: String, sid: &str, auth_token: &str) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.database.path = dir.join("bench.db");
    s.twilio.account_sid = Some(sid.into());
    s.twilio.auth_token = Some(auth_token.into());
    s.twilio.api_base = twilio_uri;
    s.defaults.daily_unique_recipients = 1_000_000;
    s.defaults.daily_segments = 1_000_000;
    s.defaults.monthly_credits = 10_000_000;
    s
}

/// Contacts `range` as a CSV: first names in turn, Chicago mobile numbers +1 312 2xx NNNN.
pub fn contacts_csv(range: std::ops::Range<usize>) -> String {
    let mut csv = String::from("first_name,mobile\n");
    for i in range {
        let _ = writeln!(
            csv,
            "{},+1 312 {} {:04}",
            ["Ann", "Bo", "Carla", "José"][i % 4],
            200 + i / 10_000,
            i % 10_000
        );
    }
    csv
}

/// Gives the agent a sending number and imports `csv` (US numbers) as its contacts.
pub async fn contacts(state: &AppState, agent_id: i64, number: Option<&str>, csv: String) {
    let number = number.map(str::to_owned);
    state
        .db
        .write(move |tx| {
            if let Some(n) = number {
                tx.execute(
                    "UPDATE agents SET sending_number = ?1 WHERE id = ?2",
                    rusqlite::params![n, agent_id],
                )?;
            }
            let us = Country::parse("US").map_err(anyhow::Error::msg)?;
            tidings::contacts::import_csv(
                tx,
                agent_id,
                csv.as_bytes(),
                &us,
                tidings::contacts::ImportOptions {
                    matching: tidings::contacts::Matching::Create,
                    ..Default::default()
                },
                jiff::Timestamp::now(),
                |_, _| {},
            )?;
            Ok(())
        })
        .await
        .expect("contacts");
}

/// Logs in over HTTP; the token.
pub async fn login(client: &reqwest::Client, base: &str, email: &str) -> String {
    let v: serde_json::Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    v["token"].as_str().expect("token").to_owned()
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
