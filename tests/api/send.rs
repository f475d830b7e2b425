//! Sending: the outbox, the dispatcher against the Twilio stand-in, limits, idempotency, status
//! callbacks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::helpers::*;

const PUBLIC_URL: &str = "http://127.0.0.1:8080";

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

/// What the stand-in was sent: (To, From, Body, sid, date_created), shared with its list endpoint.
pub type Sent = Arc<Mutex<Vec<(String, String, String, String, String)>>>;

fn form(req: &Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&req.body).unwrap_or_default()
}

fn get<'a>(pairs: &'a [(String, String)], k: &str) -> &'a str {
    pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// Twilio accepting every text with a fresh sid (after `delay`), and listing what it took.
pub async fn twilio_accepts(app: &TestApp, delay: Duration) -> Sent {
    accepting(&app.twilio, delay).await
}

async fn accepting(server: &wiremock::MockServer, delay: Duration) -> Sent {
    twilio_takes(server, delay, true).await
}

/// Twilio accepting every text, and its ListMessage as twilio-oai describes it: texts newest
/// first with `date_created` (RFC 2822); `date_sent` null while `queued` at Twilio, and then
/// left out by any `DateSent` filter, since that filters on `date_sent`.
pub async fn twilio_takes(server: &wiremock::MockServer, delay: Duration, queued: bool) -> Sent {
    // Sids stay unique across stand-ins, as Twilio's do.
    static SIDS: AtomicUsize = AtomicUsize::new(0);
    let sent: Sent = Arc::default();
    let log = sent.clone();
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(move |req: &Request| {
            let f = form(req);
            let sid = format!("SM{:032}", SIDS.fetch_add(1, Ordering::SeqCst));
            let created = jiff::fmt::rfc2822::to_string(
                &jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC),
            )
            .unwrap_or_default();
            log.lock().unwrap().push((
                get(&f, "To").into(),
                get(&f, "From").into(),
                get(&f, "Body").into(),
                sid.clone(),
                created,
            ));
            ResponseTemplate::new(201).set_delay(delay).set_body_json(
                json!({"sid": sid, "status": "queued", "num_segments": "1", "body": get(&f, "Body")}),
            )
        })
        .mount(server)
        .await;
    let log = sent.clone();
    Mock::given(method("GET"))
        .and(path(messages_path()))
        .respond_with(move |req: &Request| {
            let q: Vec<(String, String)> = req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            let date_filter = q.iter().any(|(k, _)| k.starts_with("DateSent"));
            let messages: Vec<Value> = log
                .lock()
                .unwrap()
                .iter()
                .rev()
                .filter(|(to, from, ..)| to == get(&q, "To") && from == get(&q, "From"))
                .filter(|_| !(queued && date_filter))
                .map(|(to, from, body, sid, created)| {
                    let (status, sent) = if queued { ("queued", Value::Null) } else { ("sent", json!(created)) };
                    json!({"sid": sid, "status": status, "to": to, "from": from, "body": body, "num_segments": "1",
                           "date_created": created, "date_sent": sent})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"messages": messages, "next_page_uri": null}))
        })
        .mount(server)
        .await;
    sent
}

/// The stand-in answers the first `times` calls of `verb` to the Messages resource with
/// `answer`, before any other mock.
async fn answers_first(app: &TestApp, verb: &str, answer: ResponseTemplate, times: u64) {
    Mock::given(method(verb))
        .and(path(messages_path()))
        .respond_with(answer)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&app.twilio)
        .await;
}

/// How often the stand-in's ListMessage was called (reconciliation lookups).
async fn list_calls(app: &TestApp) -> usize {
    let calls = app.twilio.received_requests().await.unwrap_or_default();
    calls.iter().filter(|r| r.method.as_str() == "GET" && r.url.path() == messages_path()).count()
}

pub async fn sender(app: &TestApp, email: &str, extra: Value) -> (i64, String) {
    let (id, t) = app.agent(email, extra).await;
    assert_eq!(
        app.put("/v1/me/number", &t, &json!({"number": "+13125550100"})).await.status(),
        StatusCode::OK
    );
    (id, t)
}

/// Waits until no message of the batch is queued or sending, moving the app's clock on so that
/// retries come due; returns the batch.
async fn settled(app: &TestApp, token: &str, batch: &str) -> Value {
    for _ in 0..400 {
        app.clock.advance(jiff::SignedDuration::from_millis(100));
        let b: Value = app.get(&format!("/v1/messages/batches/{batch}"), token).await.json().await.unwrap();
        if b["by_status"]["queued"] == 0 && b["by_status"]["sending"] == 0 {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let b: Value = app.get(&format!("/v1/messages/batches/{batch}"), token).await.json().await.unwrap();
    panic!("batch {batch} did not settle: {b}");
}

async fn usage(app: &TestApp, token: &str) -> (u64, u64, u64) {
    let l: Value = app.get("/v1/limits", token).await.json().await.unwrap();
    let used = |k: &str| l["limits"][k]["used"].as_u64().unwrap();
    (used("daily_unique_recipients"), used("daily_segments"), used("monthly_credits"))
}

fn fast(s: &mut tidings::config::Settings) {
    s.sending.long_code = 1_000;
    s.sending.account_per_second = 10_000;
    s.sending.retry_base_ms = 20;
}

#[tokio::test]
async fn a_quoted_send_reaches_twilio_exactly_as_twilio_expects() {
    let app = spawn_app_with(fast).await;
    let sent = twilio_accepts(&app, Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 2).await;
    let q: Value = app
        .post(
            "/v1/messages/quote",
            &t,
            &json!({"contact_ids": ids, "body": "Hi ${contact.first_name} 👋", "media_ids": ["clear-png"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = app.post("/v1/messages/send", &t, &json!({"quote_id": q["quote_id"]})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["messages"].as_array().unwrap().len(), 2);
    let batch = settled(&app, &t, body["batch_id"].as_str().unwrap()).await;
    assert_eq!(batch["by_status"]["sent"], 2);
    assert_eq!(batch["credits"], 6);

    let requests: Vec<Request> = app
        .twilio
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(requests.len(), 2);
    use base64::Engine;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    for r in &requests {
        assert_eq!(r.headers.get("authorization").unwrap().to_str().unwrap(), auth);
        assert_eq!(
            r.headers.get("content-type").unwrap().to_str().unwrap(),
            "application/x-www-form-urlencoded"
        );
        let f = form(r);
        assert_eq!(get(&f, "From"), "+13125550100");
        assert_eq!(get(&f, "StatusCallback"), format!("{PUBLIC_URL}/webhooks/twilio/status"));
        assert_eq!(get(&f, "MediaUrl"), format!("{PUBLIC_URL}/media/clear-png.png"));
        assert!(get(&f, "Body").starts_with("Hi P") && get(&f, "Body").ends_with(" 👋"));
    }
    let tos: Vec<String> = sent.lock().unwrap().iter().map(|s| s.0.clone()).collect();
    assert!(tos.contains(&"+13125551000".to_owned()) && tos.contains(&"+13125551001".to_owned()));
    let m: Value =
        app.get(&format!("/v1/messages/{}", body["messages"][0]["id"]), &t).await.json().await.unwrap();
    assert_eq!(m["status"], "sent");
    assert!(m["twilio_sid"].as_str().unwrap().starts_with("SM"));
    // The clear image is served for Twilio to fetch.
    let png = app.get("/media/clear-png.png", "").await;
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG"));
}

#[tokio::test]
async fn a_stale_quote_is_refused_with_fresh_figures() {
    let app = spawn_app_with(fast).await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    let q: Value = app
        .post("/v1/messages/quote", &t, &json!({"contact_ids": ids, "body": "Hi ${contact.first_name}"}))
        .await
        .json()
        .await
        .unwrap();
    app.patch(&format!("/v1/contacts/{}", ids[0]), &t, &json!({"first_name": "Renamed"})).await;
    let doc = problem(
        app.post("/v1/messages/send", &t, &json!({"quote_id": q["quote_id"]})).await,
        StatusCode::CONFLICT,
        "quote_stale",
    )
    .await;
    assert_eq!(doc["quote"]["lines"][0]["body"], "Hi Renamed");
    assert_eq!(app.count("messages").await, 0);
    problem(
        app.post("/v1/messages/send", &t, &json!({"quote_id": "nope"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.post("/v1/messages/send", &t, &json!({"quote_id": q["quote_id"], "body": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
}

#[tokio::test]
async fn exactly_at_the_limit_passes_and_one_over_is_refused_whole() {
    let app = spawn_app_with(fast).await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({"limits": {"daily_segments": 3}})).await;
    let ids = app.contacts(&t, 4).await;
    let res = app.post("/v1/messages/send", &t, &json!({"contact_ids": &ids[..3], "body": "hello"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(usage(&app, &t).await, (3, 3, 3));
    let doc = problem(
        app.post("/v1/messages/send", &t, &json!({"contact_ids": [ids[3]], "body": "hello"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit_exceeded",
    )
    .await;
    assert_eq!(doc["limit"], "daily_segments");
    assert_eq!(
        (doc["used"].as_u64(), doc["requested"].as_u64(), doc["limit_value"].as_u64()),
        (Some(3), Some(1), Some(3))
    );
    assert_eq!(app.count("messages").await, 3, "nothing queued");
    assert_eq!(usage(&app, &t).await, (3, 3, 3));
}

#[tokio::test]
async fn concurrent_sends_cannot_overshoot_a_limit_together() {
    let app = spawn_app_with(fast).await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({"limits": {"daily_unique_recipients": 3}})).await;
    let ids = app.contacts(&t, 6).await;
    let bodies: Vec<Value> = ids.iter().map(|id| json!({"contact_ids": [id], "body": "hello"})).collect();
    let sends = bodies.iter().map(|b| app.post("/v1/messages/send", &t, b));
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(sends).await.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::ACCEPTED).count(), 3, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(app.count("messages").await, 3);
    assert_eq!(usage(&app, &t).await.0, 3);
}

#[tokio::test]
async fn the_same_idempotency_key_sends_once() {
    let app = spawn_app_with(fast).await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    let send = |body: Value| {
        app.request(reqwest::Method::POST, "/v1/messages/send", &t)
            .header("Idempotency-Key", "key-1")
            .json(&body)
            .send()
    };
    let first = send(json!({"contact_ids": ids, "body": "once"})).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again = send(json!({"contact_ids": ids, "body": "once"})).await.unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["batch_id"], first["batch_id"]);
    problem(
        send(json!({"contact_ids": ids, "body": "twice"})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    settled(&app, &t, first["batch_id"].as_str().unwrap()).await;
    assert_eq!(app.count("messages").await, 1);
    let posts =
        app.twilio.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 1);
}

async fn send_one(app: &TestApp, t: &str, id: i64) -> (String, i64) {
    let res = app.post("/v1/messages/send", t, &json!({"contact_ids": [id], "body": "hello"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let b: Value = res.json().await.unwrap();
    (b["batch_id"].as_str().unwrap().to_owned(), b["messages"][0]["id"].as_i64().unwrap())
}

#[tokio::test]
async fn passing_failures_are_retried_until_twilio_takes_the_text() {
    let app = spawn_app_with(fast).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 2).await;
    // 429 with Retry-After, then accepted.
    answers_first(&app, "POST", ResponseTemplate::new(429).insert_header("Retry-After", "1"), 1).await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (batch, id) = send_one(&app, &t, ids[0]).await;
    settled(&app, &t, &batch).await;
    let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
    assert_eq!((m["status"].as_str(), m["attempts"].as_u64()), (Some("sent"), Some(2)));
    // 500 three times, then accepted.
    app.twilio.reset().await;
    answers_first(&app, "POST", ResponseTemplate::new(500), 3).await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (batch, id) = send_one(&app, &t, ids[1]).await;
    settled(&app, &t, &batch).await;
    let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
    assert_eq!((m["status"].as_str(), m["attempts"].as_u64()), (Some("sent"), Some(4)));
    let posts =
        app.twilio.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 4);
}

#[tokio::test]
async fn refusals_fail_the_text_and_give_its_credits_back() {
    let app = spawn_app_with(fast).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 2).await;
    for (id, code) in [(ids[0], 21610), (ids[1], 21211)] {
        app.twilio.reset().await;
        Mock::given(method("POST"))
            .and(path(messages_path()))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_json(json!({"code": code, "message": "refused", "status": 400})),
            )
            .mount(&app.twilio)
            .await;
        let (batch, mid) = send_one(&app, &t, id).await;
        let b = settled(&app, &t, &batch).await;
        assert_eq!(b["by_status"]["failed"], 1);
        let m: Value = app.get(&format!("/v1/messages/{mid}"), &t).await.json().await.unwrap();
        assert_eq!(m["error_code"], code);
        assert_eq!(m["attempts"], 1, "a refusal is not retried");
        let (_, segments, credits) = usage(&app, &t).await;
        assert_eq!((segments, credits), (0, 0), "refunded");
    }
    // 21610 recorded the opt-out: the next quote says so.
    let q: Value = app
        .post("/v1/messages/quote", &t, &json!({"contact_ids": [ids[0], ids[1]], "body": "again"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["lines"][0]["status"], "opted_out");
    assert_eq!(q["lines"][1]["status"], "ok");
    let ledger = app.state.db.read(|c| tidings::consent::history(c, "+13125551000")).await.unwrap();
    assert_eq!((ledger[0].action.as_str(), ledger[0].how.as_str()), ("opt_out", "twilio:21610"));
}

#[tokio::test]
async fn a_lost_answer_is_reconciled_and_never_posted_twice() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.twilio.request_timeout_ms = 300;
    })
    .await;
    // Twilio takes the text but answers too late: the POST times out.
    let sent = twilio_accepts(&app, Duration::from_millis(800)).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    let (batch, id) = send_one(&app, &t, ids[0]).await;
    settled(&app, &t, &batch).await;
    let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
    assert_eq!(m["status"], "sent");
    assert_eq!(sent.lock().unwrap().len(), 1, "one POST: the retry found the text at Twilio");
    assert_eq!(m["twilio_sid"], sent.lock().unwrap()[0].3);
}

/// R-SND-5 on the last try: with one try allowed and its answer lost, the text is reconciled, not
/// failed; Twilio got one POST and nothing is refunded. Both while the text waits in Twilio's
/// queue (no `date_sent`, so a `DateSent` filter would miss it) and once it has gone.
#[tokio::test]
async fn a_lost_answer_on_the_last_try_is_sent_after_reconciliation_and_not_refunded() {
    for queued in [true, false] {
        let app = spawn_app_with(|s| {
            fast(s);
            s.sending.max_attempts = 1;
            s.twilio.request_timeout_ms = 300;
        })
        .await;
        let sent = twilio_takes(&app.twilio, Duration::from_millis(800), queued).await;
        let (_, t) = sender(&app, "a@example.com", json!({})).await;
        let ids = app.contacts(&t, 1).await;
        let (batch, id) = send_one(&app, &t, ids[0]).await;
        settled(&app, &t, &batch).await;
        let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
        assert_eq!(m["status"], "sent", "queued at Twilio: {queued}: {m}");
        assert_eq!(sent.lock().unwrap().len(), 1, "one POST (queued at Twilio: {queued})");
        assert_eq!(m["twilio_sid"], sent.lock().unwrap()[0].3);
        assert_eq!(usage(&app, &t).await, (1, 1, 1), "nothing refunded");
    }
}

/// A reconciliation lookup that fails backs off without using tries, and the text says why; once
/// Twilio's list answers, the text Twilio took is recorded, never posted again.
#[tokio::test]
async fn a_failing_reconciliation_lookup_waits_without_using_tries() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.sending.max_attempts = 1;
        s.twilio.request_timeout_ms = 300;
    })
    .await;
    answers_first(&app, "GET", ResponseTemplate::new(503), 3).await;
    let sent = twilio_takes(&app.twilio, Duration::from_millis(800), true).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    let (batch, id) = send_one(&app, &t, ids[0]).await;
    let mut saw_reason = false;
    for _ in 0..400 {
        app.clock.advance(jiff::SignedDuration::from_millis(100));
        let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
        if m["status"] == "queued"
            && m["error_message"].as_str().is_some_and(|e| e.contains("not sent again"))
        {
            assert_eq!(m["attempts"], 1, "a failed lookup uses no try: {m}");
            saw_reason = true;
        }
        if m["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(saw_reason, "the text said why it waited");
    let b = settled(&app, &t, &batch).await;
    assert_eq!(b["by_status"]["sent"], 1, "{b}");
    assert_eq!(sent.lock().unwrap().len(), 1, "one POST");
    let gets = list_calls(&app).await;
    assert!(gets >= 4, "three failed lookups, then one that answered: {gets}");
}

/// Only Twilio saying it does not have the text ends it `failed` after the last try, refunded
/// (R-LIM-3) down to the day's distinct number, which comes back only when no other text of the
/// day went to that number.
#[tokio::test]
async fn a_text_twilio_does_not_have_fails_after_the_last_try_and_gives_everything_back() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.sending.max_attempts = 1;
    })
    .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(ResponseTemplate::new(500))
        .mount(&app.twilio)
        .await;
    twilio_takes(&app.twilio, Duration::ZERO, true).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 2).await;
    let (batch, id) = send_one(&app, &t, ids[0]).await;
    settled(&app, &t, &batch).await;
    let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
    assert_eq!(m["status"], "failed");
    assert!(m["error_message"].as_str().unwrap().contains("Twilio does not have the text"), "{m}");
    assert_eq!(usage(&app, &t).await, (0, 0, 0), "segments, credits and the distinct number come back");
    let lists = list_calls(&app).await;
    assert_eq!(lists, 1, "a 5xx may have sent it: Twilio was asked before the text was failed");

    // A number texted once today stays counted when a second text to it fails.
    app.twilio.reset().await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (batch, _) = send_one(&app, &t, ids[1]).await;
    settled(&app, &t, &batch).await;
    app.twilio.reset().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": 21211, "message": "invalid To", "status": 400})),
        )
        .mount(&app.twilio)
        .await;
    let (batch, _) = send_one(&app, &t, ids[1]).await;
    settled(&app, &t, &batch).await;
    assert_eq!(usage(&app, &t).await, (1, 1, 1), "the first text's number, segment and credit stay");
}

#[tokio::test]
async fn a_queued_text_can_be_canceled_and_is_refunded() {
    let app = spawn_app_with(fast).await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "60"))
        .mount(&app.twilio)
        .await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    let (_, id) = send_one(&app, &t, ids[0]).await;
    for _ in 0..200 {
        let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
        if m["attempts"] == 1 && m["status"] == "queued" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = app.post(&format!("/v1/messages/{id}/cancel"), &t, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let m: Value = res.json().await.unwrap();
    assert_eq!(m["status"], "canceled");
    assert_eq!(usage(&app, &t).await.1, 0);
    problem(
        app.post(&format!("/v1/messages/{id}/cancel"), &t, &json!({})).await,
        StatusCode::CONFLICT,
        "not_cancelable",
    )
    .await;
    let (_, other) = app.agent("b@example.com", json!({})).await;
    problem(app.get(&format!("/v1/messages/{id}"), &other).await, StatusCode::NOT_FOUND, "not_found").await;
}

fn signed(params: &[(&str, &str)]) -> (String, String) {
    let pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let sig =
        tidings::twilio::signature::sign(AUTH_TOKEN, &format!("{PUBLIC_URL}/webhooks/twilio/status"), &pairs);
    (serde_urlencoded::to_string(&pairs).unwrap(), sig)
}

#[tokio::test]
async fn status_callbacks_are_signed_move_forward_only_and_repeat_harmlessly() {
    let app = spawn_app_with(fast).await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    let (batch, id) = send_one(&app, &t, ids[0]).await;
    settled(&app, &t, &batch).await;
    let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
    let sid = m["twilio_sid"].as_str().unwrap().to_owned();
    let post = |body: String, sig: String| {
        app.client
            .post(app.url("/webhooks/twilio/status"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body)
            .send()
    };
    let status = |s: &'static str| {
        signed(&[
            ("MessageSid", &sid),
            ("MessageStatus", s),
            ("To", "+13125551000"),
            ("From", "+13125550100"),
            ("AccountSid", ACCOUNT_SID),
            ("SmsStatus", s),
        ])
    };
    let (body, _) = status("delivered");
    problem(post(body.clone(), "forged".into()).await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
    assert_eq!(m["status"], "sent", "a forged callback changes nothing");
    let (body, sig) = status("delivered");
    assert_eq!(post(body.clone(), sig.clone()).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(post(body, sig).await.unwrap().status(), StatusCode::NO_CONTENT, "a repeat is harmless");
    let (body, sig) = status("sent");
    assert_eq!(post(body, sig).await.unwrap().status(), StatusCode::NO_CONTENT);
    let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
    assert_eq!(
        (m["status"].as_str(), m["twilio_status"].as_str()),
        (Some("delivered"), Some("delivered")),
        "a late `sent` stays delivered"
    );
    // A late callback that does not move the text writes nothing: no error code, no number flag.
    let (body, sig) = signed(&[
        ("MessageSid", &sid),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30006"),
        ("To", "+13125551000"),
        ("From", "+13125550100"),
        ("AccountSid", ACCOUNT_SID),
    ]);
    assert_eq!(post(body, sig).await.unwrap().status(), StatusCode::NO_CONTENT);
    let m: Value = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
    assert_eq!((m["status"].as_str(), m["error_code"].as_i64()), (Some("delivered"), None), "{m}");
    assert_eq!(app.count("number_flags").await, 0);
}

#[tokio::test]
async fn a_reply_from_the_thread_goes_first_and_an_opted_out_contact_is_refused() {
    let app = spawn_app_with(fast).await;
    twilio_accepts(&app, Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 2).await;
    let res =
        app.post(&format!("/v1/contacts/{}/messages", ids[0]), &t, &json!({"body": "On my way!"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let b: Value = res.json().await.unwrap();
    let batch = settled(&app, &t, b["batch_id"].as_str().unwrap()).await;
    assert_eq!(batch["kind"], "one_to_one");
    app.state
        .db
        .write(|tx| Ok(tx.execute("INSERT INTO opt_outs (sender, number, created_at) VALUES ('+13125550100', '+13125551001', 0)", []).map(|_| ())?))
        .await
        .unwrap();
    let doc = problem(
        app.post(&format!("/v1/contacts/{}/messages", ids[1]), &t, &json!({"body": "hi"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_sendable",
    )
    .await;
    assert_eq!(doc["recipient_status"], "opted_out");
    problem(
        app.post("/v1/contacts/999999/messages", &t, &json!({"body": "hi"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

/// The real binary, killed with SIGKILL in the middle of a bulk send and started again on the
/// same database: every recipient gets the text exactly once (R-SND-5).
#[tokio::test]
async fn a_crash_mid_bulk_loses_nothing_and_sends_nothing_twice() {
    let twilio = twilio_stand_in().await;
    let sent = accepting(&twilio, Duration::from_millis(150)).await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TIDINGS_TWILIO__ACCOUNT_SID", ACCOUNT_SID.to_owned()),
        ("TIDINGS_TWILIO__AUTH_TOKEN", AUTH_TOKEN.to_owned()),
        ("TIDINGS_TWILIO__API_BASE", twilio.uri()),
        ("TIDINGS_SENDING__LONG_CODE", "1000".to_owned()),
        ("TIDINGS_SENDING__CONCURRENCY", "4".to_owned()),
    ];
    let client = reqwest::Client::new();
    let (mut first, base) = serve_demo(dir.path(), &env);
    let (token, _) = demo_login(&client, &base).await;
    let list: Value = client
        .get(format!("{base}/v1/contacts?limit=200"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = list["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    let res = client
        .post(format!("{base}/v1/messages/send"))
        .bearer_auth(&token)
        .json(&json!({"contact_ids": ids, "body": "Open house Sunday"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let batch: Value = res.json().await.unwrap();
    let expected = batch["messages"].as_array().unwrap().len();
    assert!(expected > 30, "{expected}");
    while sent.lock().unwrap().len() < 12 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let before = sent.lock().unwrap().len();
    assert!(before < expected, "killed mid-bulk");

    let (mut second, base) = serve_demo(dir.path(), &env);
    let (token, _) = demo_login(&client, &base).await;
    let batch_id = batch["batch_id"].as_str().unwrap();
    let mut done = Value::Null;
    for _ in 0..600 {
        done = client
            .get(format!("{base}/v1/messages/batches/{batch_id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done["by_status"]["sent"] == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(done["by_status"]["sent"], expected, "{done}");
    let log = sent.lock().unwrap().clone();
    // The demo agent is on a team: each first text is preceded by the team notice (R-TEAM-1).
    let (texts, notices): (Vec<_>, Vec<_>) = log.iter().partition(|s| s.2 == "Open house Sunday");
    let mut recipients: Vec<&str> = texts.iter().map(|s| s.0.as_str()).collect();
    recipients.sort();
    let total = recipients.len();
    recipients.dedup();
    assert_eq!((total, recipients.len()), (expected, expected), "each recipient exactly once");
    let mut noticed: Vec<&str> = notices.iter().map(|s| s.0.as_str()).collect();
    noticed.sort();
    noticed.dedup();
    assert_eq!((notices.len(), noticed.len()), (expected, expected), "one notice each");
    let _ = second.kill();
}

#[tokio::test]
async fn uploaded_media_is_checked_by_content_and_sent_as_mms() {
    let app = spawn_app_with(fast).await;
    let sent = twilio_accepts(&app, Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    let upload = |name: &'static str, bytes: Vec<u8>, field: &'static str| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        let form = reqwest::multipart::Form::new().part(field, part);
        app.request(reqwest::Method::POST, "/v1/media", &t).multipart(form).send()
    };
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    // The name says PNG; the bytes say GIF: the bytes win.
    let res = upload("photo.png", gif.clone(), "file").await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let media: Value = res.json().await.unwrap();
    assert_eq!(media["content_type"], "image/gif");
    let id = media["id"].as_str().unwrap().to_owned();
    assert!(id.len() >= 22, "unguessable");
    let url = media["url"].as_str().unwrap();
    assert_eq!(url, format!("{PUBLIC_URL}/media/{id}"));
    let served = app.get(&format!("/media/{id}"), "").await;
    assert_eq!(served.headers()["content-type"], "image/gif");
    assert_eq!(served.bytes().await.unwrap().to_vec(), gif);

    problem(
        upload("notes.gif", b"%PDF-1.7 not an image".to_vec(), "file").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media",
    )
    .await;
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(5 * 1024 * 1024 + 1, 0);
    problem(
        upload("big.png", big, "file").await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    problem(
        upload("x.gif", gif.clone(), "image").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_media",
    )
    .await;
    assert_eq!(app.count("media").await, 1);

    let res = app
        .post(
            "/v1/messages/send",
            &t,
            &json!({"contact_ids": ids, "body": "See the photo", "media_ids": [id]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["messages"][0]["credits"], 3);
    settled(&app, &t, b["batch_id"].as_str().unwrap()).await;
    let post = app
        .twilio
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    assert_eq!(get(&form(&post), "MediaUrl"), url);
    assert_eq!(sent.lock().unwrap().len(), 1);
    // Another agent cannot attach it.
    let (_, other) = app.agent("b@example.com", json!({})).await;
    let theirs =
        app.contact(&other, json!({"first_name": "X", "phones": [{"number": "312-555-0199"}]})).await["id"]
            .as_i64()
            .unwrap();
    let body = json!({"contact_ids": [theirs], "body": "x", "media_ids": [media["id"]]});
    problem(
        app.post("/v1/messages/quote", &other, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_media",
    )
    .await;
}

#[tokio::test]
async fn the_sandbox_records_what_it_sends_and_delivers_it() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.twilio.account_sid = None;
        s.sending.sandbox_delivery_ms = 50;
    })
    .await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 2).await;
    let (batch, id) = send_one(&app, &t, ids[0]).await;
    settled(&app, &t, &batch).await;
    let mut m = Value::Null;
    for _ in 0..100 {
        m = app.get(&format!("/v1/messages/{id}"), &t).await.json().await.unwrap();
        if m["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(m["status"], "delivered");
    let list: Value = app.get("/v1/sandbox/messages", &t).await.json().await.unwrap();
    assert_eq!(list["sandbox"], true);
    assert_eq!(list["items"][0]["to"], "+13125551000");
    assert_eq!(list["items"][0]["sid"], m["twilio_sid"]);
    assert!(app.twilio.received_requests().await.unwrap().iter().all(|r| r.method.as_str() != "POST"));
}

#[tokio::test]
async fn reconciling_never_adopts_a_text_already_recorded() {
    let app = spawn_app_with(|s| {
        fast(s);
        s.twilio.request_timeout_ms = 300;
    })
    .await;
    // Every answer is lost; the same body goes to the same number twice.
    let sent = twilio_accepts(&app, Duration::from_millis(800)).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    let (first, m1) = send_one(&app, &t, ids[0]).await;
    settled(&app, &t, &first).await;
    let (second, m2) = send_one(&app, &t, ids[0]).await;
    settled(&app, &t, &second).await;
    let a: Value = app.get(&format!("/v1/messages/{m1}"), &t).await.json().await.unwrap();
    let b: Value = app.get(&format!("/v1/messages/{m2}"), &t).await.json().await.unwrap();
    assert_eq!((a["status"].as_str(), b["status"].as_str()), (Some("sent"), Some("sent")));
    assert_ne!(a["twilio_sid"], b["twilio_sid"], "each text keeps its own sid");
    assert_eq!(sent.lock().unwrap().len(), 2, "one POST each");
}
