//! Replies and push benchmarks (`cargo bench --bench replies -- inbound|push`):
//! - signed inbound webhooks per second (verify, match the contact, store, queue the push) from a
//!   load generator on loopback (16 clients, then 64), next to a bare actix handler that only
//!   parses the form (goal ≥ 25 % of the bare handler). Push delivery is held while the goal's figure is taken (the
//!   APNs stand-in runs in this process; Apple's servers would not), then released and checked;
//!   a second figure has delivery running alongside;
//! - p50/p99 latency of both at half the webhook's measured rate (goal p99 ≤ 25 ms), and of the
//!   webhook with delivery running at half the rate measured so;
//! - pushes per second from the push outbox to a loopback APNs stand-in (h2c) (goal ≥ 1,000/s).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use tidings::app::{self, AppState};
use tidings::clock::SystemClock;
use tidings::config::Settings;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "bench-auth-token";
const PUBLIC_URL: &str = "https://texts.example.com";
const NUMBER: &str = "+13125550100";
const CONTACTS: usize = 10_000;
/// A P-256 key made for this benchmark only.
const APNS_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfbERgxO1PUZd2jLu
5kAU2nFxgM7JZePi0TZGfhwLBIehRANCAATS2LtNeej2hJ6+71TwCWtJQuo7r1x3
daFj8ZO3hhmqAq/3JTDuieyvmhyxLKiIkL8lcOfIP/KrLD57OvKOfB9j
-----END PRIVATE KEY-----";

fn settings(dir: &std::path::Path, twilio: &MockServer) -> Settings {
    let mut s = common::settings(dir, twilio.uri(), SID, AUTH_TOKEN);
    s.server.public_url = PUBLIC_URL.into();
    s
}

/// An agent holding `NUMBER` with `CONTACTS` contacts and one device.
async fn agent(state: &AppState) -> i64 {
    let id = common::agent(state, "bench@example.com").await.id;
    common::contacts(state, id, Some(NUMBER), common::contacts_csv(0..CONTACTS)).await;
    state
        .db
        .write(move |tx| {
            tx.execute(
                "INSERT INTO devices (agent_id, platform, token, environment, created_at, updated_at)
                 VALUES (?1, 'apns', ?2, 'production', 0, 0)",
                rusqlite::params![id, "ab".repeat(32)],
            )?;
            Ok(())
        })
        .await
        .expect("device");
    id
}

/// The body and signature of the `i`-th reply, from one of the agent's contacts.
fn signed_reply(i: usize) -> (String, String) {
    let sid = format!("SM{i:032}");
    let from = format!("+1312{}{:04}", 200 + (i % CONTACTS) / 10_000, i % CONTACTS);
    let pairs: Vec<(String, String)> = [
        ("MessageSid", sid.as_str()),
        ("SmsSid", sid.as_str()),
        ("AccountSid", SID),
        ("From", from.as_str()),
        ("To", NUMBER),
        ("Body", "Yes, Sunday at 2 works. Is there parking nearby?"),
        ("NumMedia", "0"),
        ("FromCity", "CHICAGO"),
        ("FromState", "IL"),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sig = tidings::twilio::signature::sign(
        AUTH_TOKEN,
        &format!("{PUBLIC_URL}/webhooks/twilio/inbound"),
        &pairs,
    );
    (serde_urlencoded::to_string(&pairs).unwrap_or_default(), sig)
}

/// Posts one reply; a failure says why (the status and body, or the connection error).
async fn post(client: &reqwest::Client, url: &str, (body, sig): (String, String)) -> bool {
    let sent = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => {
            eprintln!("answered {}: {}", r.status(), r.text().await.unwrap_or_default());
            false
        }
        Err(e) => {
            eprintln!("not answered: {e:?}");
            false
        }
    }
}

/// The load generator's own runtime, as if it were another process: the daemon's background
/// tasks (the reply batches among them) do not queue behind its requests.
fn generator() -> tokio::runtime::Handle {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("load-generator")
                .enable_all()
                .build()
                .expect("generator runtime")
        })
        .handle()
        .clone()
}

/// Closed loop: `n` requests from `clients` concurrent clients; requests per second.
async fn throughput(url: &str, first: usize, n: usize, clients: usize) -> f64 {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(first));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, url, next) = (client.clone(), url.to_owned(), next.clone());
        tasks.spawn_on(
            async move {
                let mut ok = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= first + n {
                        return ok;
                    }
                    ok += post(&client, &url, signed_reply(i)).await as usize;
                }
            },
            &generator(),
        );
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        ok += r.unwrap_or(0);
    }
    assert_eq!(ok, n, "every request answered 2xx");
    n as f64 / start.elapsed().as_secs_f64()
}

/// Open loop at `rate` requests/s for `n` requests: (p50, p99) from each request's scheduled start.
async fn latency(url: &str, first: usize, n: usize, rate: f64) -> (Duration, Duration) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..n {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, req) = (client.clone(), url.to_owned(), signed_reply(first + k));
        tasks.spawn_on(
            async move {
                assert!(post(&client, &url, req).await);
                due.elapsed()
            },
            &generator(),
        );
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        all.extend(r.ok());
    }
    all.sort();
    (all[all.len() / 2], all[all.len() * 99 / 100])
}

/// The same route with nothing behind it but parsing the form and answering the TwiML.
fn bare_handler() -> (String, actix_web::dev::ServerHandle) {
    async fn inbound(form: web::Form<Vec<(String, String)>>) -> HttpResponse {
        let _ = form.into_inner();
        HttpResponse::Ok().content_type("text/xml").body("<Response/>")
    }
    let server = HttpServer::new(|| App::new().route("/webhooks/twilio/inbound", web::post().to(inbound)))
        .workers(2)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("bind");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}/webhooks/twilio/inbound"), handle)
}

/// Waits until the APNs stand-in has taken `n` pushes in all.
async fn pushed(seen: &AtomicUsize, n: usize) {
    let start = Instant::now();
    while seen.load(Ordering::Relaxed) < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "pushes delivered: {} of {n}",
            seen.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An APNs stand-in (h2c) that takes every push and counts them. Like Apple's servers it answers
/// without Nagle's delay (accepted sockets inherit TCP_NODELAY from the listener on Linux);
/// wiremock's own listener would add ~40 ms per answer waiting for delayed ACKs.
async fn apple() -> (MockServer, Arc<AtomicUsize>) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_nodelay(true).expect("nodelay");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    let listener = socket.listen(1024).expect("listen").into_std().expect("std listener");
    let apple = MockServer::builder().listener(listener).disable_request_recording().start().await;
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    Mock::given(method("POST"))
        .respond_with(move |_: &wiremock::Request| {
            count.fetch_add(1, Ordering::Relaxed);
            ResponseTemplate::new(200)
        })
        .mount(&apple)
        .await;
    (apple, seen)
}

fn with_apns(s: &mut Settings, apple: &MockServer) {
    s.apns.key = Some(APNS_KEY.into());
    s.apns.key_id = Some("KEY1234567".into());
    s.apns.team_id = Some("TEAM123456".into());
    s.apns.topic = Some("com.example.crm".into());
    s.apns.base_url = apple.uri();
}

async fn inbound() {
    let twilio = MockServer::start().await;
    let (apple, seen) = apple().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(dir.path(), &twilio);
    with_apns(&mut s, &apple);
    let state = AppState::new(s, Arc::new(SystemClock)).await.expect("state");
    agent(&state).await;
    let application = app::build(state).expect("build");
    let url = format!("http://{}/webhooks/twilio/inbound", application.address());
    let (state, handle) = (application.state(), application.server_handle());
    let running = tokio::spawn(application.run_until_stopped());
    let (bare_url, bare) = bare_handler();

    // The goal times the webhook's own work (verify, match, store, queue the push): delivery is
    // held meanwhile, then released and checked. It is timed again with delivery running beside.
    // 16 clients as before; 64 show how group commit gains with more requests in flight.
    let n = 5_000;
    let (mut sid, mut delivered) = (0, 500);
    state.push.set_paused(true);
    throughput(&url, 1_000_000, 500, 16).await; // warm-up
    let mut rates = Vec::new();
    for clients in [16, 64] {
        state.push.set_paused(true);
        let held = throughput(&url, sid, n, clients).await;
        state.push.set_paused(false);
        (sid, delivered) = (sid + n, delivered + n);
        pushed(&seen, delivered).await;
        let alongside = throughput(&url, sid, n, clients).await;
        (sid, delivered) = (sid + n, delivered + n);
        pushed(&seen, delivered).await;
        throughput(&bare_url, 0, 2_000, clients).await;
        let bare_rate = throughput(&bare_url, 0, 20_000, clients).await;
        println!(
            "inbound webhooks, {clients} clients: {held:.0}/s signed (verify, match among {CONTACTS} contacts, store, notification, push queued; delivery held) vs {bare_rate:.0}/s bare actix handler = {:.1} %",
            held / bare_rate * 100.0
        );
        println!(
            "  with each push delivered to the in-process APNs stand-in alongside: {alongside:.0}/s = {:.1} %",
            alongside / bare_rate * 100.0
        );
        rates.push((held, alongside));
    }
    let stored: i64 = state
        .db
        .read(|c| Ok(c.query_row("SELECT count(*) FROM inbound_messages", [], |r| r.get(0))?))
        .await
        .unwrap_or(0);
    assert_eq!(stored as usize, sid + 500, "each reply stored once");

    // Latency at half the 16-client rate: delivery held, as that rate was measured; then at half
    // the rate measured with delivery running, with it running.
    let (ours, alongside) = rates[0];
    state.push.set_paused(true);
    let rate = ours / 2.0;
    let count = (rate * 10.0) as usize;
    let (p50, p99) = latency(&url, 2_000_000, count, rate).await;
    state.push.set_paused(false);
    pushed(&seen, delivered + count).await;
    let (b50, b99) = latency(&bare_url, 0, count, rate).await;
    println!(
        "at half the 16-client load ({rate:.0}/s for 10 s): signed p50 {:.2} ms, p99 {:.2} ms; bare p50 {:.2} ms, p99 {:.2} ms",
        ms(p50),
        ms(p99),
        ms(b50),
        ms(b99)
    );
    let rate = alongside / 2.0;
    let (p50, p99) = latency(&url, 4_000_000, (rate * 10.0) as usize, rate).await;
    println!(
        "  with delivery running, at half its rate ({rate:.0}/s for 10 s): signed p50 {:.2} ms, p99 {:.2} ms",
        ms(p50),
        ms(p99)
    );
    bare.stop(false).await;
    handle.stop(false).await;
    let _ = running.await;
}

async fn push() {
    let n: usize = 5_000;
    let (apple, seen) = apple().await;
    let twilio = MockServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(dir.path(), &twilio);
    with_apns(&mut s, &apple);
    let concurrency = s.push.concurrency;
    let state = AppState::new(s, Arc::new(SystemClock)).await.expect("state");
    let id = agent(&state).await;
    // `n` replies' pushes queued at once (what a burst of replies leaves), before the worker starts.
    state
        .db
        .write(move |tx| {
            tx.execute_batch(&format!(
                "INSERT INTO inbound_messages (id, twilio_sid, agent_id, contact_id, sender, recipient, body, created_at)
                   WITH RECURSIVE k(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM k WHERE value < {n})
                   SELECT value, 'SM' || value, {id}, (SELECT min(id) FROM contacts), '+1', '+1', 'hi', 0 FROM k;
                 INSERT INTO notifications (id, agent_id, contact_id, message_id, title, preview, created_at)
                   SELECT id, agent_id, contact_id, id, 'Ann', 'hi', 0 FROM inbound_messages;
                 INSERT INTO pushes (device_id, notification_id, payload, status, next_attempt_at, created_at, updated_at)
                   SELECT (SELECT id FROM devices), id,
                          json_object('title', 'Ann', 'body', 'Yes, Sunday at 2 works.', 'badge', 1, 'thread', 'contact-1', 'contact_id', 1, 'message_id', id),
                          'queued', 0, 0, 0 FROM notifications;"
            ))?;
            Ok(())
        })
        .await
        .expect("queue");
    let application = app::build(state).expect("build");
    let start = Instant::now();
    let (state, handle) = (application.state(), application.server_handle());
    let running = tokio::spawn(application.run_until_stopped());
    loop {
        let sent: i64 = state
            .db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM pushes WHERE status = 'sent'", [], |r| r.get(0))?))
            .await
            .unwrap_or(0);
        if sent as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = start.elapsed();
    assert_eq!(seen.load(Ordering::Relaxed), n, "each push sent once");

    // A bare HTTP/2 loop to the same stand-in at the same concurrency.
    let client = reqwest::Client::builder().http2_prior_knowledge().build().expect("client");
    let url = format!("{}/3/device/{}", apple.uri(), "ab".repeat(32));
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("permit");
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let r = client
                .post(url)
                .json(&json!({"aps": {"alert": {"title": "Ann", "body": "hi"}}}))
                .send()
                .await;
            drop(permit);
            r.is_ok()
        });
    }
    while tasks.join_next().await.is_some() {}
    let bare = start.elapsed();
    println!(
        "pushes to a loopback APNs stand-in (h2c), {n} queued at once, concurrency {concurrency}: {:.0} pushes/s (claimed, signed, sent, recorded); bare reqwest HTTP/2 loop: {:.0} requests/s",
        n as f64 / took.as_secs_f64(),
        n as f64 / bare.as_secs_f64()
    );
    handle.stop(false).await;
    let _ = running.await;
}

fn main() {
    let rt = common::runtime();
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    rt.block_on(async {
        if run("inbound") {
            inbound().await;
        }
        if run("push") {
            push().await;
        }
    });
}
