//! The do-not-contact list and the consent ledger.

use reqwest::StatusCode;
use serde_json::{Value, json};

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn admins_keep_a_dnc_list_that_quotes_honour() {
    let app = spawn_app().await;
    let (_, agent) = app.agent("a@example.com", json!({})).await;
    let res = app
        .post(
            "/v1/admin/dnc",
            &app.admin_token,
            &json!({"number": "(312) 555-0177", "reason": "asked by phone"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["number"], "+13125550177");
    let again = app.post("/v1/admin/dnc", &app.admin_token, &json!({"number": "+1 312 555 0177"})).await;
    assert_eq!(again.status(), StatusCode::OK, "adding twice is harmless");
    problem(
        app.post("/v1/admin/dnc", &app.admin_token, &json!({"number": "555-12"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_number",
    )
    .await;
    problem(
        app.post("/v1/admin/dnc", &agent, &json!({"number": "+13125550178"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let c =
        app.contact(&agent, json!({"first_name": "Listed", "phones": [{"number": "312.555.0177"}]})).await;
    let q: Value = app
        .post("/v1/messages/quote", &agent, &json!({"contact_ids": [c["id"]], "body": "hi"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["lines"][0]["status"], "dnc");
    assert_eq!(q["lines"][0]["credits"], 0);

    let list: Value = app.get("/v1/admin/dnc", &app.admin_token).await.json().await.unwrap();
    assert_eq!(list["items"][0]["reason"], "asked by phone");
    assert_eq!(
        app.delete("/v1/admin/dnc/+13125550177", &app.admin_token).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(
        app.delete("/v1/admin/dnc/+13125550177", &app.admin_token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let q: Value = app
        .post("/v1/messages/quote", &agent, &json!({"contact_ids": [c["id"]], "body": "hi"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["lines"][0]["status"], "ok");
}

#[tokio::test]
async fn a_dnc_csv_import_adds_good_lines_and_reports_bad_ones() {
    let app = spawn_app().await;
    let import = |body: &'static [u8]| {
        app.request(reqwest::Method::POST, "/v1/admin/dnc/import", &app.admin_token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let res =
        import(b"number,reason\n312-555-0180,complaint\n(312) 555-0181,\nnot a number,\n+13125550180,dup\n")
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["added"], 2);
    assert_eq!(body["already_listed"], 1);
    assert_eq!(body["rejected"][0]["line"], 4);
    assert_eq!(app.count("dnc_numbers").await, 2);
    problem(import(b"name\nx\n").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "csv_no_usable_column")
        .await;
    problem(import(b"number\n").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "csv_empty").await;
    problem(import(b"number\n\xff\n").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "csv_not_utf8").await;
    // Paging through the list.
    let page: Value = app.get("/v1/admin/dnc?limit=1", &app.admin_token).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get(&format!("/v1/admin/dnc?limit=1&cursor={}", next.replace('+', "%2B")), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["items"][0]["number"], "+13125550181");
    assert_eq!(page2["next_cursor"], Value::Null);
}

#[tokio::test]
async fn consent_changes_are_kept_in_a_ledger() {
    let app = spawn_app().await;
    let now = jiff::Timestamp::now();
    app.state
        .db
        .write(move |tx| {
            tidings::consent::opt_out(tx, "+13125550100", "+13125550190", "keyword:STOP", Some(7), now)?;
            tidings::consent::opt_in(tx, "+13125550100", "+13125550190", "keyword:START", Some(8), now)?;
            tidings::consent::opt_out(tx, "+13125550100", "+13125550190", "phrase:wrong number", Some(9), now)
        })
        .await
        .unwrap();
    let history = app.state.db.read(|c| tidings::consent::history(c, "+13125550190")).await.unwrap();
    let hows: Vec<(&str, &str)> = history.iter().map(|h| (h.action.as_str(), h.how.as_str())).collect();
    assert_eq!(
        hows,
        vec![("opt_out", "keyword:STOP"), ("opt_in", "keyword:START"), ("opt_out", "phrase:wrong number")]
    );
    assert_eq!(app.count("opt_outs").await, 1);
}

const PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Posts a reply as Twilio would, signed unless `forged`.
pub async fn reply(
    app: &TestApp,
    sid: &str,
    from: &str,
    to: &str,
    body: &str,
    forged: bool,
) -> reqwest::Response {
    let pairs: Vec<(String, String)> = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", from),
        ("To", to),
        ("Body", body),
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
    app.client
        .post(app.url("/webhooks/twilio/inbound"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", if forged { "bm9wZQ==".to_owned() } else { sig })
        .body(serde_urlencoded::to_string(&pairs).unwrap())
        .send()
        .await
        .unwrap()
}

/// What the sandbox push provider recorded for the agent, once it holds `n` pushes (or after 2 s).
async fn sandbox_pushes(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    let mut items = Vec::new();
    for _ in 0..100 {
        let pushes: Value = app.get("/v1/sandbox/pushes", token).await.json().await.unwrap();
        items = pushes["items"].as_array().unwrap().clone();
        if items.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    items
}

pub async fn agent_with_number(app: &TestApp) -> (i64, String) {
    let (id, t) = app.agent("a@example.com", json!({"name": "Alex Agent"})).await;
    assert_eq!(
        app.put("/v1/me/number", &t, &json!({"number": "+13125550100"})).await.status(),
        StatusCode::OK
    );
    (id, t)
}

#[tokio::test]
async fn a_signed_reply_lands_on_the_contact_once_with_a_notification() {
    let app = spawn_app().await;
    let (_, t) = agent_with_number(&app).await;
    let c = app
        .contact(
            &t,
            json!({"first_name": "Jane", "last_name": "Doe", "phones": [{"number": "(312) 555-0142"}]}),
        )
        .await;
    let res = reply(&app, "SM1", "+13125550142", "+13125550100", "Yes, Saturday works!", false).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/xml");
    assert!(res.text().await.unwrap().ends_with("<Response/>"));
    assert_eq!(
        reply(&app, "SM1", "+13125550142", "+13125550100", "Yes, Saturday works!", false).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.count("inbound_messages").await, 1, "the same MessageSid is stored once");

    let thread: Value =
        app.get(&format!("/v1/contacts/{}/messages", c["id"]), &t).await.json().await.unwrap();
    assert_eq!(thread["unread"], 1);
    assert_eq!(thread["items"][0]["direction"], "inbound");
    assert_eq!(thread["items"][0]["body"], "Yes, Saturday works!");
    let n: Value = app.get("/v1/notifications?unread=true", &t).await.json().await.unwrap();
    assert_eq!(n["items"][0]["contact_name"], "Jane Doe");
    assert_eq!(n["items"][0]["preview"], "Yes, Saturday works!");
    assert_eq!(n["items"][0]["contact_id"], c["id"]);
    assert_eq!(
        app.request(reqwest::Method::POST, &format!("/v1/contacts/{}/read", c["id"]), &t)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let thread: Value =
        app.get(&format!("/v1/contacts/{}/messages", c["id"]), &t).await.json().await.unwrap();
    assert_eq!(thread["unread"], 0);
    let n: Value = app.get("/v1/notifications?unread=true", &t).await.json().await.unwrap();
    assert_eq!(n["items"], json!([]));
    // Another agent sees none of it.
    let (_, other) = app.agent("b@example.com", json!({})).await;
    problem(
        app.get(&format!("/v1/contacts/{}/messages", c["id"]), &other).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn forged_and_misdirected_replies_change_nothing() {
    let app = spawn_app().await;
    agent_with_number(&app).await;
    problem(
        reply(&app, "SM2", "+13125550142", "+13125550100", "hi", true).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let unsigned = app
        .client
        .post(app.url("/webhooks/twilio/inbound"))
        .body("From=%2B1&To=%2B1")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    problem(unsigned, StatusCode::FORBIDDEN, "forbidden").await;
    let res = reply(&app, "SM3", "+13125550142", "+13125550199", "hi", false).await;
    assert_eq!(res.status(), StatusCode::OK, "an unknown To is answered and ignored");
    assert_eq!(app.count("inbound_messages").await, 0);
    assert_eq!(app.count("contacts").await, 0);
}

#[tokio::test]
async fn a_reply_from_an_unknown_number_becomes_a_new_lead() {
    let app = spawn_app().await;
    let (_, t) = agent_with_number(&app).await;
    reply(&app, "SM4", "+13125550199", "+13125550100", "Is the house on Elm still available?", false).await;
    let list: Value = app.get("/v1/contacts?tag=new-lead", &t).await.json().await.unwrap();
    let lead = &list["items"][0];
    assert_eq!(lead["first_name"], "(312) 555-0199");
    assert_eq!(lead["source"], "inbound_text");
    assert_eq!(lead["phones"][0]["e164"], "+13125550199");
    reply(&app, "SM5", "+13125550199", "+13125550100", "Hello?", false).await;
    let list: Value = app.get("/v1/contacts?tag=new-lead", &t).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "the second reply finds the lead");
}

#[tokio::test]
async fn keywords_change_consent_and_help_is_answered_outside_the_limits() {
    let app = spawn_app_with(|s| {
        s.sending.long_code = 1_000;
        s.sending.retry_base_ms = 20;
    })
    .await;
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SMhelp000000000000000000000000000", "status": "queued"})),
        )
        .mount(&app.twilio)
        .await;
    let (_, t) = agent_with_number(&app).await;
    let c = app.contact(&t, json!({"first_name": "Jane", "phones": [{"number": "312-555-0142"}]})).await;
    let status = |q: Value| q["lines"][0]["status"].as_str().unwrap().to_owned();
    let ask = json!({"contact_ids": [c["id"]], "body": "hi"});
    let quote = || app.post("/v1/messages/quote", &t, &ask);

    reply(&app, "SM6", "+13125550142", "+13125550100", "STOP", false).await;
    assert_eq!(status(quote().await.json().await.unwrap()), "opted_out");
    reply(&app, "SM7", "+13125550142", "+13125550100", "start", false).await;
    assert_eq!(status(quote().await.json().await.unwrap()), "ok");
    reply(&app, "SM8", "+13125550142", "+13125550100", "please stop texting me", false).await;
    assert_eq!(status(quote().await.json().await.unwrap()), "opted_out");
    reply(&app, "SM9", "+13125550142", "+13125550100", "I'm at the bus stop", false).await;
    assert_eq!(
        status(quote().await.json().await.unwrap()),
        "opted_out",
        "an ordinary message changes nothing"
    );
    let ledger = app.state.db.read(|c| tidings::consent::history(c, "+13125550142")).await.unwrap();
    let hows: Vec<&str> = ledger.iter().map(|e| e.how.as_str()).collect();
    assert_eq!(hows, vec!["keyword:STOP", "keyword:START", "phrase:stop texting"]);
    assert!(ledger.iter().all(|e| e.message_id.is_some()));

    // HELP from a number that did not opt out (an opted-out number is never texted, HELP or not).
    reply(&app, "SM10", "+13125550143", "+13125550100", "HELP", false).await;
    for _ in 0..200 {
        if app.twilio.received_requests().await.unwrap().iter().any(|r| r.method.as_str() == "POST") {
            break;
        }
        app.clock.advance(jiff::SignedDuration::from_millis(100));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let post = app
        .twilio
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("the help answer");
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&post.body).unwrap();
    let body = form.iter().find(|(k, _)| k == "Body").map(|(_, v)| v.as_str()).unwrap();
    assert!(body.starts_with("Alex Agent: ") && body.contains("STOP"), "{body}");
    let limits: Value = app.get("/v1/limits", &t).await.json().await.unwrap();
    assert_eq!(limits["limits"]["daily_segments"]["used"], 0, "the help answer counts toward no limit");
}

#[tokio::test]
async fn the_sandbox_feeds_a_reply_through_the_same_path() {
    let app = spawn_app_with(|s| s.twilio.account_sid = None).await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    problem(
        app.post("/v1/sandbox/inbound", &t, &json!({"from": "312-555-0142", "body": "hi"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_sending_number",
    )
    .await;
    assert_eq!(
        app.put("/v1/me/number", &t, &json!({"number": "+13125550100"})).await.status(),
        StatusCode::OK
    );
    let c = app.contact(&t, json!({"first_name": "Jane", "phones": [{"number": "+1 312 555 0142"}]})).await;
    let res = app.post("/v1/sandbox/inbound", &t, &json!({"from": "312.555.0142", "body": "STOP"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let thread: Value =
        app.get(&format!("/v1/contacts/{}/messages", c["id"]), &t).await.json().await.unwrap();
    assert_eq!(thread["items"][0]["body"], "STOP");
    let q: Value = app
        .post("/v1/messages/quote", &t, &json!({"contact_ids": [c["id"]], "body": "hi"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["lines"][0]["status"], "opted_out");
    // Not in Twilio mode.
    let live = spawn_app().await;
    let (_, lt) = live.agent("a@example.com", json!({})).await;
    problem(
        live.post("/v1/sandbox/inbound", &lt, &json!({"from": "312-555-0142", "body": "hi"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn replies_match_contacts_across_formats_and_agents_keep_their_own_threads() {
    let app = spawn_app().await;
    let (_, a) = agent_with_number(&app).await;
    let (_, b) = app.agent("b@example.com", json!({})).await;
    assert_eq!(
        app.put("/v1/me/number", &b, &json!({"number": "+13125550101"})).await.status(),
        StatusCode::OK
    );
    for (i, written) in ["(415) 555-2671", "+14155552671", "415.555.2671"].iter().enumerate() {
        let token = if i == 2 { &b } else { &a };
        app.contact(token, json!({"first_name": format!("C{i}"), "phones": [{"number": written}]})).await;
    }
    reply(&app, "SM20", "+14155552671", "+13125550100", "to A", false).await;
    reply(&app, "SM21", "+14155552671", "+13125550101", "to B", false).await;
    let a_list: Value = app.get("/v1/contacts?phone=4155552671", &a).await.json().await.unwrap();
    let b_list: Value = app.get("/v1/contacts?phone=4155552671", &b).await.json().await.unwrap();
    let a_path = format!("/v1/contacts/{}/messages", a_list["items"][0]["id"]);
    let b_path = format!("/v1/contacts/{}/messages", b_list["items"][0]["id"]);
    let a_thread: Value = app.get(&a_path, &a).await.json().await.unwrap();
    let b_thread: Value = app.get(&b_path, &b).await.json().await.unwrap();
    assert_eq!(a_thread["items"].as_array().unwrap().len(), 1);
    assert_eq!(a_thread["items"][0]["body"], "to A");
    assert_eq!(b_thread["items"][0]["body"], "to B");
    assert_eq!(b_thread["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.count("contacts").await, 3, "no lead was made: every format matched");
}

#[tokio::test]
async fn a_signature_for_another_url_is_refused() {
    let app = spawn_app().await;
    agent_with_number(&app).await;
    let pairs = vec![
        ("MessageSid".to_string(), "SM30".to_string()),
        ("From".into(), "+13125550142".into()),
        ("To".into(), "+13125550100".into()),
        ("Body".into(), "hi".into()),
    ];
    let other =
        tidings::twilio::signature::sign(AUTH_TOKEN, "http://127.0.0.1:8080/webhooks/twilio/status", &pairs);
    let post = |signature: String| {
        app.client
            .post(app.url("/webhooks/twilio/inbound"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(serde_urlencoded::to_string(&pairs).unwrap())
            .send()
    };
    problem(post(other).await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    // The same request signed for the URL with its default port is accepted.
    let with_port =
        tidings::twilio::signature::sign(AUTH_TOKEN, "http://127.0.0.1:8080/webhooks/twilio/inbound", &pairs);
    assert_eq!(post(with_port).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.count("inbound_messages").await, 1);
}

const APNS_TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

#[tokio::test]
async fn devices_belong_to_one_agent_at_a_time() {
    let app = spawn_app().await;
    let (_, a) = app.agent("a@example.com", json!({})).await;
    let (_, b) = app.agent("b@example.com", json!({})).await;
    let res = app
        .post("/v1/devices", &a, &json!({"platform": "apns", "token": APNS_TOKEN, "environment": "sandbox"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let device: Value = res.json().await.unwrap();
    assert_eq!(device["environment"], "sandbox");
    app.post("/v1/devices", &a, &json!({"platform": "fcm", "token": "fcm-token:APA91bH-x_y"})).await;
    let res = app.post("/v1/devices", &b, &json!({"platform": "apns", "token": APNS_TOKEN})).await;
    assert_eq!(res.status(), StatusCode::CREATED, "the token moves to the caller");
    let mine: Value = app.get("/v1/devices", &a).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let theirs: Value = app.get("/v1/devices", &b).await.json().await.unwrap();
    assert_eq!(theirs["items"][0]["token"], APNS_TOKEN);
    problem(
        app.delete(&format!("/v1/devices/{}", device["id"]), &a).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.post("/v1/devices", &a, &json!({"platform": "apns", "token": "not hex"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    problem(
        app.post("/v1/devices", &a, &json!({"platform": "webpush", "token": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert_eq!(
        app.delete(&format!("/v1/devices/{}", device["id"]), &b).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_reply_is_pushed_to_every_device_of_its_agent_and_no_other() {
    let app = spawn_app().await;
    let (_, a) = agent_with_number(&app).await;
    let (_, b) = app.agent("b@example.com", json!({})).await;
    app.post("/v1/devices", &a, &json!({"platform": "apns", "token": APNS_TOKEN})).await;
    app.post("/v1/devices", &a, &json!({"platform": "fcm", "token": "fcm-token-a"})).await;
    app.post("/v1/devices", &b, &json!({"platform": "fcm", "token": "fcm-token-b"})).await;
    let c = app
        .contact(
            &a,
            json!({"first_name": "Jane", "last_name": "Doe", "phones": [{"number": "312-555-0142"}]}),
        )
        .await;
    reply(&app, "SM40", "+13125550142", "+13125550100", "Can we see it Sunday?", false).await;
    let items = sandbox_pushes(&app, &a, 2).await;
    assert_eq!(items.len(), 2, "{items:?}");
    for p in items {
        assert_eq!(p["payload"]["title"], "Jane Doe");
        assert_eq!(p["payload"]["body"], "Can we see it Sunday?");
        assert_eq!(p["payload"]["badge"], 1);
        assert_eq!(p["payload"]["thread"], format!("contact-{}", c["id"]));
        assert_eq!(p["payload"]["contact_id"], c["id"]);
        assert!(p["payload"]["message_id"].is_i64());
    }
    let other: Value = app.get("/v1/sandbox/pushes", &b).await.json().await.unwrap();
    assert_eq!(other["items"], json!([]), "no push goes to another agent's device");
}

#[tokio::test]
async fn pushes_queued_before_a_restart_go_out_after_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tidings.db");
    let app = start(&db, |_| {}).await;
    let (id, t) = app.agent("a@example.com", json!({})).await;
    app.post("/v1/devices", &t, &json!({"platform": "fcm", "token": "fcm-token-a"})).await;
    app.stop().await;
    // What a crash leaves: a reply stored, its push queued, the worker gone.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO contacts (id, agent_id, first_name, source, sort_key, created_at, updated_at) VALUES (900, {id}, 'Jane', 'manual', 'jane', 0, 0);
             INSERT INTO inbound_messages (id, twilio_sid, agent_id, contact_id, sender, recipient, body, created_at) VALUES (1, 'SMx', {id}, 900, '+1', '+1', 'hi', 0);
             INSERT INTO notifications (id, agent_id, contact_id, message_id, title, preview, created_at) VALUES (1, {id}, 900, 1, 'Jane', 'hi', 0);
             INSERT INTO pushes (device_id, notification_id, payload, status, next_attempt_at, created_at, updated_at)
               SELECT id, 1, '{{\"title\":\"Jane\",\"body\":\"hi\",\"badge\":1,\"thread\":\"contact-900\",\"contact_id\":900,\"message_id\":1}}', 'sending', 0, 0, 0 FROM devices;"
        ))
        .unwrap();
    }
    let app = start(&db, |_| {}).await;
    for _ in 0..100 {
        if app.count("sandbox_pushes").await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.count("sandbox_pushes").await, 1, "sent after the restart, once");
}

#[tokio::test]
async fn the_badge_counts_unread_notifications_and_drops_when_read() {
    let app = spawn_app().await;
    let (_, a) = agent_with_number(&app).await;
    app.post("/v1/devices", &a, &json!({"platform": "fcm", "token": "fcm-token-a"})).await;
    let c = app.contact(&a, json!({"first_name": "Jane", "phones": [{"number": "312-555-0142"}]})).await;
    let badges = || async {
        let v: Value = app.get("/v1/sandbox/pushes", &a).await.json().await.unwrap();
        let mut b: Vec<i64> =
            v["items"].as_array().unwrap().iter().map(|p| p["payload"]["badge"].as_i64().unwrap()).collect();
        b.reverse();
        b
    };
    let wait_for = |n: usize| async move {
        for _ in 0..100 {
            if badges().await.len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    reply(&app, "SM61", "+13125550142", "+13125550100", "one", false).await;
    wait_for(1).await;
    reply(&app, "SM62", "+13125550142", "+13125550100", "two", false).await;
    wait_for(2).await;
    assert_eq!(
        app.post(&format!("/v1/contacts/{}/read", c["id"]), &a, &json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    reply(&app, "SM63", "+13125550142", "+13125550100", "three", false).await;
    wait_for(3).await;
    assert_eq!(badges().await, [1, 2, 1], "read notifications leave the badge");
}

#[tokio::test]
async fn a_reply_that_cannot_be_stored_fails_alone_and_leaves_nothing() {
    let app = spawn_app().await;
    let (agent, _) = agent_with_number(&app).await;
    // A storage fault for one reply (a trigger stands in for it); replies arriving together share
    // a transaction, and the others must not go down with it.
    app.state
        .db
        .write(|tx| {
            Ok(tx.execute_batch(
                "CREATE TRIGGER poison BEFORE INSERT ON inbound_messages WHEN NEW.body = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
            )?)
        })
        .await
        .unwrap();
    let statuses = futures_util::future::join_all((0..12).map(|i| {
        let (sid, from) = (format!("SM{i}"), format!("+1312555{:04}", 1000 + i));
        let app = &app;
        async move {
            let body = if i == 5 { "poison" } else { "Is it still available?" };
            reply(app, &sid, &from, "+13125550100", body, false).await.status()
        }
    }))
    .await;
    for (i, status) in statuses.iter().enumerate() {
        let want = if i == 5 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
        assert_eq!(*status, want, "reply {i}");
    }
    assert_eq!(app.count("inbound_messages").await, 11);
    assert_eq!(app.count("notifications").await, 11);
    let leads: Vec<String> = app
        .state
        .db
        .read(move |c| {
            let mut s = c.prepare("SELECT e164 FROM contact_phones WHERE agent_id = ?1 ORDER BY e164")?;
            Ok(s.query_map([agent], |r| r.get(0))?.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    assert_eq!(leads.len(), 11, "no lead is left from the reply that failed: {leads:?}");
    assert!(!leads.contains(&"+13125551005".to_owned()));

    // Twilio retries it; once the fault is gone it is stored.
    app.state.db.write(|tx| Ok(tx.execute_batch("DROP TRIGGER poison")?)).await.unwrap();
    let retried = reply(&app, "SM5", "+13125551005", "+13125550100", "poison", false).await;
    assert_eq!(retried.status(), StatusCode::OK);
    assert_eq!(app.count("inbound_messages").await, 12);
}

#[tokio::test]
async fn replies_arriving_together_each_get_their_own_badge_and_name() {
    let app = spawn_app().await;
    let (_, a) = agent_with_number(&app).await;
    app.post("/v1/devices", &a, &json!({"platform": "fcm", "token": "fcm-token-a"})).await;
    app.contact(
        &a,
        json!({"first_name": "Jane", "last_name": "Doe", "phones": [{"number": "312-555-0142"}]}),
    )
    .await;
    let statuses = futures_util::future::join_all((0..8).map(|i| {
        let (sid, from) = (format!("SM7{i}"), format!("+1312555{:04}", 142 + i));
        let app = &app;
        async move { reply(app, &sid, &from, "+13125550100", "Still available?", false).await.status() }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    let items = sandbox_pushes(&app, &a, 8).await;
    let mut badges: Vec<i64> = items.iter().map(|p| p["payload"]["badge"].as_i64().unwrap()).collect();
    badges.sort();
    assert_eq!(badges, (1..=8).collect::<Vec<_>>(), "one more unread notification each");
    let mut titles: Vec<&str> = items.iter().map(|p| p["payload"]["title"].as_str().unwrap()).collect();
    titles.sort();
    assert_eq!(titles[..2], ["(312) 555-0143", "(312) 555-0144"], "new leads by their number");
    assert!(titles.contains(&"Jane Doe"), "{titles:?}");
}
