//! Exactly once, to the right person (issue 12): numbers read as libphonenumber reads them for
//! agents of any country, one `Idempotency-Key` behaviour on every request that texts or
//! schedules, and each agent seeing only their own texts.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{sender, twilio_accepts};

/// R-CON-2: the same international number, written with `+` or the agent's country's
/// international prefix, and a NANP number, for agents in the US, GB and DE.
#[tokio::test]
async fn agents_of_any_country_store_international_numbers_with_every_digit() {
    let app = spawn_app().await;
    let cases = [
        ("us@example.com", "US", ["+44 121 234 5678", "011 44 121 234 5678", "+1 312 555 0199"]),
        ("gb@example.com", "GB", ["+44 121 234 5678", "00 44 121 234 5678", "+1 312 555 0199"]),
        ("de@example.com", "DE", ["+44 121 234 5678", "00 44 121 234 5678", "+1 312 555 0199"]),
    ];
    for (email, country, numbers) in cases {
        let (_, t) = app.agent(email, json!({"country": country})).await;
        let phones: Vec<Value> = numbers.iter().map(|n| json!({"number": n})).collect();
        let c = app.contact(&t, json!({"first_name": "Pat", "phones": phones})).await;
        let got: Vec<(&str, bool)> = c["phones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["e164"].as_str().unwrap_or("none"), p["valid"].as_bool().unwrap_or(false)))
            .collect();
        assert_eq!(
            got,
            [("+441212345678", true), ("+441212345678", true), ("+13125550199", true)],
            "a {country} agent"
        );
        // Found again by the number in another way of writing it.
        let found: Value = app.get("/v1/contacts?q=%2B44%20121%20234%205678", &t).await.json().await.unwrap();
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "a {country} agent");
    }
}

/// A partial number that is not a complete valid one matches its digits anywhere in a number.
#[tokio::test]
async fn a_partial_number_finds_the_contacts_whose_numbers_hold_its_digits() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    app.contact(&t, json!({"first_name": "Ann", "phones": [{"number": "(312) 555-0101"}]})).await;
    app.contact(&t, json!({"first_name": "Bo", "phones": [{"number": "(312) 555-0202"}]})).await;
    for q in ["555-0101", "5550101", "312-555-0101"] {
        let found: Value = app.get(&format!("/v1/contacts?q={q}"), &t).await.json().await.unwrap();
        let names: Vec<&str> =
            found["items"].as_array().unwrap().iter().map(|c| c["first_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ann"], "{q}");
    }
}

/// Sends `body` to `path` twice with one key, then with the same key and another body: the first
/// answer, replayed; then `422 idempotency_key_reused`. Returns the first answer.
async fn twice(app: &TestApp, t: &str, path: &str, body: Value, other: Value) -> Value {
    let post = |b: &Value| {
        app.request(Method::POST, path, t).header("Idempotency-Key", format!("k-{path}")).json(b).send()
    };
    let first = post(&body).await.unwrap();
    let status = first.status();
    assert!(status.is_success(), "{path}: {status}");
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = post(&body).await.unwrap();
    assert_eq!(again.status(), status, "{path}");
    assert_eq!(again.headers()["idempotent-replayed"], "true", "{path}");
    assert_eq!(again.json::<Value>().await.unwrap(), first, "{path}: the first answer, replayed");
    problem(post(&other).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    first
}

/// R-SND-4: a retried thread reply, scheduled send or enrollment does it once.
#[tokio::test]
async fn the_same_key_on_each_texting_endpoint_does_it_once() {
    let app = spawn_app().await;
    twilio_accepts(&app, std::time::Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 2).await;

    let path = format!("/v1/contacts/{}/messages", ids[0]);
    twice(&app, &t, &path, json!({"body": "see you at 3"}), json!({"body": "see you at 4"})).await;
    let thread: Value = app.get(&format!("/v1/contacts/{}/messages", ids[0]), &t).await.json().await.unwrap();
    let outgoing =
        thread["items"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").count();
    assert_eq!(outgoing, 1, "a retried thread reply texts once: {thread}");

    let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(30)).to_string();
    let first = twice(
        &app,
        &t,
        "/v1/messages/send",
        json!({"contact_ids": [ids[1]], "body": "later", "send_at": at}),
        json!({"contact_ids": [ids[1]], "body": "other", "send_at": at}),
    )
    .await;
    let scheduled: Value = app.get("/v1/messages/scheduled", &t).await.json().await.unwrap();
    assert_eq!(scheduled["items"].as_array().unwrap().len(), 1);
    assert_eq!(scheduled["items"][0]["id"], first["scheduled_id"]);

    let plan: Value = app
        .post(
            "/v1/plans",
            &t,
            &json!({"name": "p", "steps": [{"day_offset": 0, "time_of_day": "10:00", "body": "hi"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/plans/{}/enrollments", plan["id"]);
    let first = twice(&app, &t, &path, json!({"contact_ids": ids}), json!({"contact_ids": [ids[0]]})).await;
    assert_eq!(first, json!({"enrolled": 2, "already_enrolled": 0}), "replayed as first answered");
}

/// The sandbox's inbound under one key is one reply; the sandbox's list shows only the caller's
/// own texts.
#[tokio::test]
async fn the_sandbox_replies_once_per_key_and_lists_only_the_callers_texts() {
    let app = spawn_app_with(|s| s.twilio.account_sid = None).await;
    let (_, a) = sender(&app, "a@example.com", json!({})).await;
    let (_, b) = app.agent("b@example.com", json!({})).await;
    assert_eq!(
        app.put("/v1/me/number", &b, &json!({"number": "+13125550101"})).await.status(),
        StatusCode::OK
    );
    let c = app.contact(&a, json!({"first_name": "Jane", "phones": [{"number": "+1 312 555 0142"}]})).await;
    twice(
        &app,
        &a,
        "/v1/sandbox/inbound",
        json!({"from": "312.555.0142", "body": "hello"}),
        json!({"from": "312.555.0142", "body": "hello again"}),
    )
    .await;
    let thread: Value =
        app.get(&format!("/v1/contacts/{}/messages", c["id"]), &a).await.json().await.unwrap();
    assert_eq!(thread["items"].as_array().unwrap().len(), 1, "one reply: {thread}");

    for (t, body) in [(&a, "from a"), (&b, "from b")] {
        let ids = app.contacts(t, 1).await;
        let res = app.post("/v1/messages/send", t, &json!({"contact_ids": ids, "body": body})).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    for (t, mine) in [(&a, "from a"), (&b, "from b")] {
        let mut bodies = Vec::new();
        for _ in 0..200 {
            let list: Value = app.get("/v1/sandbox/messages", t).await.json().await.unwrap();
            bodies = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["body"].as_str().unwrap().to_owned())
                .collect();
            if !bodies.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(bodies, [mine], "each agent sees only their own texts");
    }
}

/// A thread reply goes by default to the number the contact last texted from; without a reply
/// from them, to the usual choice (R-REC-1: the mobile).
#[tokio::test]
async fn a_thread_reply_goes_to_the_number_the_contact_last_texted_from() {
    let app = spawn_app_with(|s| s.twilio.account_sid = None).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let phones = json!([{"number": "+1 312 555 0142", "label": "mobile"}, {"number": "+1 312 555 0143", "label": "home"}]);
    let c = app.contact(&t, json!({"first_name": "Jane", "phones": phones})).await;
    let path = format!("/v1/contacts/{}/messages", c["id"]);
    let to_of = |res: Value| res["messages"][0]["to"].as_str().unwrap().to_owned();
    let res = app.post(&path, &t, &json!({"body": "hello"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(to_of(res.json().await.unwrap()), "+13125550142", "the mobile, with no reply yet");
    let res = app
        .post("/v1/sandbox/inbound", &t, &json!({"from": "+1 312 555 0143", "body": "use this one"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.post(&path, &t, &json!({"body": "got it"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(to_of(res.json().await.unwrap()), "+13125550143", "where they last texted from");
    let res = app.post(&path, &t, &json!({"body": "and here", "number": "(312) 555-0142"})).await;
    assert_eq!(to_of(res.json().await.unwrap()), "+13125550142", "a number picked wins");
}

/// R-COST-3: the quote advises MMS only when the text fits an MMS body (700 UCS-2 units), so
/// following the advice is never refused with `mms_too_long`.
#[tokio::test]
async fn the_mms_advice_is_given_only_when_the_mms_body_fits() {
    let app = spawn_app().await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ids = app.contacts(&t, 1).await;
    for (units, advised) in [(700, true), (701, false)] {
        let body = "ж".repeat(units);
        let q: Value = app
            .post("/v1/messages/quote", &t, &json!({"contact_ids": ids, "body": body}))
            .await
            .json()
            .await
            .unwrap();
        let codes: Vec<&str> =
            q["recommendations"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
        assert_eq!(codes.contains(&"send_as_mms"), advised, "{units} units: {codes:?}");
        if advised {
            let res = app
                .post(
                    "/v1/messages/quote",
                    &t,
                    &json!({"contact_ids": ids, "body": body, "media_ids": ["clear-png"]}),
                )
                .await;
            assert_eq!(res.status(), StatusCode::OK, "the advice can be followed");
        }
    }
}

/// A filter that gives no true/false, or runs away, on a sample contact is refused when saved
/// (it would fail every contact); a working one saves.
#[tokio::test]
async fn a_filter_that_fails_on_a_sample_contact_is_refused_when_saved() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone();
    for (source, why) in [("contact.first_name", "true or false"), ("let n = 0; loop { n += 1; }", "")] {
        let res = app
            .post("/v1/scripts", &admin, &json!({"name": "bad", "kind": "filter", "source": source}))
            .await;
        let doc = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "script_rejected").await;
        assert!(doc["detail"].as_str().unwrap().contains(why), "{doc}");
    }
    let res = app
        .post(
            "/v1/scripts",
            &admin,
            &json!({"name": "ok", "kind": "filter", "source": "contact.tags.contains(\"buyer\")"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let res = app.patch(&format!("/v1/scripts/{id}"), &admin, &json!({"source": "42"})).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "script_rejected").await;
    assert_eq!(app.count("scripts").await, 1, "nothing saved for the refused ones");
}

/// Two requests with one key at once (a client retrying a slow send): one send, and both are
/// answered with it, never with an error (`quote_stale`, `limit_exceeded`) that would make the
/// client send again under a new key.
#[tokio::test]
async fn concurrent_requests_with_one_key_send_once_and_both_get_the_answer() {
    let app = spawn_app().await;
    twilio_accepts(&app, std::time::Duration::ZERO).await;
    let (_, t) = sender(
        &app,
        "a@example.com",
        json!({"limits": {"daily_unique_recipients": 3000, "daily_segments": 3000, "monthly_credits": 3000}}),
    )
    .await;
    // Enough recipients that quoting takes a while and the two requests overlap.
    let csv: String = std::iter::once("first_name,mobile\n".to_owned())
        .chain((0..3000).map(|i| format!("P{i},+1 312 {} {:04}\n", 200 + i / 1000, i % 1000)))
        .collect();
    assert_eq!(crate::import::import(&app, &t, "", csv.into_bytes()).await.status(), StatusCode::CREATED);
    let body = json!({"contact_ids": all_ids(&app, &t).await, "body": "open house"});
    let send = || {
        app.request(Method::POST, "/v1/messages/send", &t)
            .header("Idempotency-Key", "slow")
            .json(&body)
            .send()
    };
    for _ in 0..3 {
        let (a, b) = tokio::join!(send(), send());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.status(), b.status()), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
        let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
        assert_eq!(a["batch_id"], b["batch_id"]);
    }
    assert_eq!(app.count("batches").await, 1, "one send");
    assert_eq!(app.count("messages").await, 3000);
}

async fn all_ids(app: &TestApp, t: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/contacts?limit=200&cursor={c}"),
            None => "/v1/contacts?limit=200".to_owned(),
        };
        let page: Value = app.get(&path, t).await.json().await.unwrap();
        ids.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}
