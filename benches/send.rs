//! Sending benchmarks (`cargo bench --bench send`): accepting a 10,000-recipient templated send,
//! the dispatcher's rate to a loopback Twilio stand-in with pacing off (next to a bare reqwest
//! loop against the same stand-in), and pacing accuracy for three senders over 30 s.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tidings::app::{self, AppState};
use tidings::clock::SystemClock;
use tidings::config::Settings;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SID: &str = "AC0123456789abcdef0123456789abcdef";

/// A Twilio stand-in that takes every text; records (From, when).
async fn stand_in() -> (MockServer, Arc<Mutex<Vec<(String, Instant)>>>) {
    let server = MockServer::start().await;
    let log: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let (seen, n) = (log.clone(), Arc::new(AtomicUsize::new(0)));
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
        .respond_with(move |req: &Request| {
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
            let from = form.iter().find(|(k, _)| k == "From").map(|(_, v)| v.clone()).unwrap_or_default();
            seen.lock().map(|mut l| l.push((from, Instant::now()))).ok();
            let sid = format!("SM{:032}", n.fetch_add(1, Ordering::Relaxed));
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": sid, "status": "queued", "num_segments": "1"}))
        })
        .mount(&server)
        .await;
    (server, log)
}

fn settings(dir: &std::path::Path, twilio: &MockServer) -> Settings {
    common::settings(dir, twilio.uri(), SID, "token")
}

/// An agent sending from `number`, with `n` contacts numbered from `first`; its id.
async fn agent(state: &AppState, email: &str, number: &str, n: usize, first: usize) -> i64 {
    let id = common::agent(state, email).await.id;
    common::contacts(state, id, Some(number), common::contacts_csv(first..first + n)).await;
    id
}

async fn send_all(client: &reqwest::Client, base: &str, token: &str, id: i64) -> (Duration, Value) {
    let _ = id;
    let contacts: Vec<i64> = {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{base}/v1/contacts?limit=200&cursor={c}"),
                None => format!("{base}/v1/contacts?limit=200"),
            };
            let page: Value =
                client.get(url).bearer_auth(token).send().await.expect("list").json().await.expect("json");
            all.extend(page["items"].as_array().expect("items").iter().filter_map(|c| c["id"].as_i64()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        all
    };
    let body =
        json!({"contact_ids": contacts, "body": "Hi ${contact.first_name}, open house this Sunday 1-3pm!"});
    let start = Instant::now();
    let res = client
        .post(format!("{base}/v1/messages/send"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = res.status();
    let v: Value = res.json().await.expect("json");
    assert_eq!(status, 202, "{v}");
    (start.elapsed(), v)
}

fn main() {
    let rt = common::runtime();
    rt.block_on(async {
        let client = reqwest::Client::new();
        // `cargo bench --bench send -- accept|dispatch|pacing` runs one part.
        let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        let run = |part: &str| only.as_deref().is_none_or(|o| o == part);

        // 1. Send-accept: quote, render, reserve and queue 10,000 rows, paced slowly so the
        //    dispatcher stays out of the way.
        let mut accepts = Vec::new();
        for run in 0..if run("accept") { 3 } else { 0 } {
            let (twilio, _) = stand_in().await;
            let dir = tempfile::tempdir().expect("tempdir");
            let state = AppState::new(settings(dir.path(), &twilio), Arc::new(SystemClock)).await.expect("state");
            let id = agent(&state, "bench@example.com", "+13125550100", 10_000, 0).await;
            let application = app::build(state).expect("build");
            let base = format!("http://{}", application.address());
            let handle = application.server_handle();
            let running = tokio::spawn(application.run_until_stopped());
            let token = common::login(&client, &base, "bench@example.com").await;
            let (took, v) = send_all(&client, &base, &token, id).await;
            // Stop it: wiremock reuses stand-ins, and this app would go on sending to the next.
            handle.stop(false).await;
            let _ = running.await;
            assert_eq!(v["messages"].as_array().map(Vec::len), Some(10_000));
            println!("  send-accept run {run}: {:.0} ms", took.as_secs_f64() * 1000.0);
            accepts.push(took);
        }
        if !accepts.is_empty() {
        println!("send-accept for 10,000 recipients with a ${{contact.first_name}} template (HTTP, all rows queued and counters reserved): median {:.0} ms of 3", common::median(accepts).as_secs_f64() * 1000.0);
        }

        // 2. Dispatcher rate with pacing off, then a bare reqwest loop to the same stand-in.
        if run("dispatch") {
        let n = 5_000;
        let (twilio, log) = stand_in().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = settings(dir.path(), &twilio);
        s.sending.long_code = 1_000_000;
        s.sending.account_per_second = 1_000_000;
        let concurrency = s.sending.concurrency;
        let state = AppState::new(s, Arc::new(SystemClock)).await.expect("state");
        let id = agent(&state, "fast@example.com", "+13125550101", n, 0).await;
        let application = app::build(state).expect("build");
        let base = format!("http://{}", application.address());
        let handle = application.server_handle();
        let running = tokio::spawn(application.run_until_stopped());
        let token = common::login(&client, &base, "fast@example.com").await;
        let start = Instant::now();
        send_all(&client, &base, &token, id).await;
        while log.lock().map(|l| l.len()).unwrap_or(0) < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let dispatch = start.elapsed();
        let form: Vec<(&str, &str)> = vec![("To", "+13125550142"), ("From", "+13125550100"), ("Body", "Hi Ann, open house this Sunday 1-3pm!")];
        let url = format!("{}/2010-04-01/Accounts/{SID}/Messages.json", twilio.uri());
        let start = Instant::now();
        let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let permit = sem.clone().acquire_owned().await.expect("permit");
            let (client, url, form) = (client.clone(), url.clone(), form.clone());
            tasks.spawn(async move {
                let r = client.post(url).basic_auth(SID, Some("token")).form(&form).send().await;
                drop(permit);
                r.map(|r| r.status().is_success()).unwrap_or(false)
            });
        }
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            ok += r.unwrap_or(false) as usize;
        }
        let bare = start.elapsed();
        assert_eq!(ok, n);
        handle.stop(false).await;
        let _ = running.await;
        println!(
            "dispatcher, pacing off, {n} texts to a loopback stand-in (accept included): {:.0} texts/s; bare reqwest loop, same stand-in and concurrency ({concurrency}): {:.0} requests/s",
            n as f64 / dispatch.as_secs_f64(),
            n as f64 / bare.as_secs_f64()
        );

        }
        // 3. Pacing accuracy: three senders at 1, 3 and 10 segments/s for 30 s.
        if !run("pacing") {
            return;
        }
        let (twilio, log) = stand_in().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = settings(dir.path(), &twilio);
        s.sending.long_code = 1;
        s.sending.toll_free = 3;
        s.sending.ten_dlc = 10;
        s.sending.ten_dlc_numbers = vec!["+13125550102".into()];
        let state = AppState::new(s, Arc::new(SystemClock)).await.expect("state");
        let senders = [("slow@example.com", "+13125550100", 1.0), ("tollfree@example.com", "+18885550100", 3.0), ("dlc@example.com", "+13125550102", 10.0)];
        let mut ids = Vec::new();
        for (i, (email, number, _)) in senders.iter().enumerate() {
            ids.push(agent(&state, email, number, 400, i * 1000).await);
        }
        let application = app::build(state).expect("build");
        let base = format!("http://{}", application.address());
        tokio::spawn(application.run_until_stopped());
        for ((email, _, _), id) in senders.iter().zip(&ids) {
            let token = common::login(&client, &base, email).await;
            send_all(&client, &base, &token, *id).await;
        }
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(30)).await;
        let log = log.lock().map(|l| l.clone()).unwrap_or_default();
        for (_, number, rate) in senders {
            let times: Vec<Instant> = log.iter().filter(|(f, _)| f == number).map(|(_, t)| *t).filter(|t| *t <= start + Duration::from_secs(30)).collect();
            let window = times.windows(2).map(|w| w[1].duration_since(w[0])).min().unwrap_or_default();
            let busiest = times.iter().map(|t| times.iter().filter(|u| **u >= *t && **u < *t + Duration::from_secs(1)).count()).max().unwrap_or(0);
            println!(
                "pacing {number} at {rate}/s: {} segments in 30 s = {:.2}/s; busiest second {busiest}; closest gap {:.0} ms",
                times.len(),
                times.len() as f64 / 30.0,
                window.as_secs_f64() * 1000.0
            );
        }
    });
}
