//! Plans benchmark (`cargo bench --bench plans`): 100,000 enrollments (four agents, 25,000 each)
//! whose first step falls due at once — the time to enroll them, the time for the scheduler to
//! queue all their steps (quote, render, limits, queue, move on), and then 20 s of dispatch to a
//! loopback Twilio stand-in showing each sender stays within its pace (10DLC, 10 segments/s).

mod common;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tidings::accounts::model::Country;
use tidings::app::{self, AppState};
use tidings::clock::{Clock, ManualClock};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const AGENTS: usize = 4;
const PER_AGENT: usize = 25_000;

fn main() {
    let rt = common::runtime();
    rt.block_on(run());
}

async fn run() {
    let twilio = MockServer::start().await;
    let log: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let seen = log.clone();
    Mock::given(method("POST"))
        .respond_with(move |req: &Request| {
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
            let from = form.iter().find(|(k, _)| k == "From").map(|(_, v)| v.clone()).unwrap_or_default();
            let n = seen.lock().map(|mut l| {
                l.push((from, Instant::now()));
                l.len()
            });
            ResponseTemplate::new(201).set_body_json(
                json!({"sid": format!("SM{:032}", n.unwrap_or(0)), "status": "queued", "num_segments": "1"}),
            )
        })
        .mount(&twilio)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = common::settings(dir.path(), twilio.uri(), SID, "token");
    s.sending.ten_dlc = 10;
    let numbers: Vec<String> = (0..AGENTS).map(|i| format!("+1312555010{i}")).collect();
    s.sending.ten_dlc_numbers = numbers.clone();
    // 16:00Z: inside the sending window for every US zone the contacts fall in.
    let clock = Arc::new(ManualClock::new("2027-03-01T16:00:00Z".parse().expect("time")));
    let state = AppState::new(s, clock.clone()).await.expect("state");

    let mut agents = Vec::new();
    for (i, number) in numbers.iter().enumerate() {
        let agent = common::agent(&state, &format!("a{i}@example.com")).await;
        let mut csv = String::from("first_name,mobile\n");
        for k in 0..PER_AGENT {
            // Area codes across zones: Chicago, New York, Denver, Los Angeles.
            let npa = [312, 212, 303, 213][k % 4];
            let _ = writeln!(
                csv,
                "{},+1 {npa} {} {:04}",
                ["Ann", "Bo", "Carla", "José"][k % 4],
                200 + k / 10_000,
                k % 10_000
            );
        }
        let (id, number) = (agent.id, number.clone());
        state
            .db
            .write(move |tx| {
                tx.execute("UPDATE agents SET sending_number = ?1 WHERE id = ?2", rusqlite::params![number, id])?;
                let us = Country::parse("US").map_err(anyhow::Error::msg)?;
                tidings::contacts::import_csv(tx, id, csv.as_bytes(), &us, tidings::contacts::ImportOptions { matching: tidings::contacts::Matching::Create, ..Default::default() }, jiff::Timestamp::now(), |_, _| {})?;
                let steps: Vec<tidings::plans::model::Step> = serde_json::from_value(json!([
                    {"day_offset": 0, "time_of_day": "08:00", "body": "Hi ${contact.first_name}, welcome to the neighbourhood!"},
                    {"day_offset": 7, "time_of_day": "10:00", "body": "A week on: any questions?"}
                ]))?;
                let plan = tidings::plans::store::insert(tx, id, "Welcome", &steps, true, jiff::Timestamp::now())?;
                // Paused while enrolling, so that queueing is timed on its own.
                tidings::plans::store::set_paused(tx, plan, true, jiff::Timestamp::now())?;
                Ok(plan)
            })
            .await
            .expect("contacts and plan");
        agents.push(agent);
    }
    let plans: Vec<i64> = (1..=AGENTS as i64).collect();
    let application = app::build(state).expect("build");
    let state = application.state();
    let handle = application.server_handle();
    tokio::spawn(application.run_until_stopped());

    // Enroll everyone (by ids, 10,000 at a time, as the API takes them).
    let start = Instant::now();
    for (agent, plan) in agents.iter().zip(&plans) {
        let (a, p) = (agent.id, *plan);
        let ids: Vec<i64> =
            state.db.read(move |c| tidings::contacts::store::all_ids(c, a)).await.expect("ids");
        for chunk in ids.chunks(10_000) {
            let (worker, me, now) = (state.clone(), agent.clone(), clock.now());
            let req = tidings::plans::api::EnrollRequest { contact_ids: chunk.to_vec(), filter_script: None };
            state
                .db
                .write(move |tx| tidings::plans::api::enroll_in(&worker.sending, tx, &me, p, &req, now))
                .await
                .expect("enroll");
        }
    }
    let enrolled = start.elapsed();

    // Resume: every first step is due; the scheduler's worker queues them while the dispatcher
    // starts sending.
    let start = Instant::now();
    state
        .db
        .write(|tx| {
            tx.execute("UPDATE plans SET paused = 0", [])?;
            Ok(())
        })
        .await
        .expect("resume");
    let t0 = Instant::now();
    loop {
        let left: i64 = state
            .db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM enrollments WHERE step = 0", [], |r| r.get(0))?))
            .await
            .expect("count");
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let queued_in = start.elapsed();
    let queued: i64 = state
        .db
        .read(|c| Ok(c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?))
        .await
        .expect("count");
    assert_eq!(queued as usize, AGENTS * PER_AGENT, "every first step queued once");
    println!(
        "{} enrollments: enrolled in {:.2} s ({:.0}/s); all first steps queued by the scheduler in {:.2} s ({:.0}/s)",
        AGENTS * PER_AGENT,
        enrolled.as_secs_f64(),
        (AGENTS * PER_AGENT) as f64 / enrolled.as_secs_f64(),
        queued_in.as_secs_f64(),
        queued as f64 / queued_in.as_secs_f64()
    );

    // Dispatch, from the resume on for 20 s: each sender at most its pace.
    tokio::time::sleep((t0 + Duration::from_secs(20)).saturating_duration_since(Instant::now())).await;
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    for number in &numbers {
        let times: Vec<Instant> = log
            .iter()
            .filter(|(f, _)| f == number)
            .map(|(_, t)| *t)
            .filter(|t| *t <= t0 + Duration::from_secs(20))
            .collect();
        let busiest = times
            .iter()
            .map(|t| times.iter().filter(|u| **u >= *t && **u < *t + Duration::from_secs(1)).count())
            .max()
            .unwrap_or(0);
        // Arrival times at the stand-in carry the HTTP path's jitter on top of the pacer's spacing.
        let mut sorted = times.clone();
        sorted.sort();
        let closest = sorted.windows(2).map(|w| w[1] - w[0]).min().unwrap_or_default();
        println!(
            "dispatch from {number} (10DLC, 10/s): {} texts in 20 s = {:.2}/s; busiest second {busiest}; closest two arrivals {:.1} ms apart",
            times.len(),
            times.len() as f64 / 20.0,
            closest.as_secs_f64() * 1000.0
        );
    }
    handle.stop(false).await;
}
