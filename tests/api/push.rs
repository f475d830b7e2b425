//! APNs and FCM through our clients, against wiremock stand-ins (h2c for APNs).

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tidings::clock::Clock;
use wiremock::matchers::{body_partial_json, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::*;
use crate::replies::{agent_with_number, reply};

/// A P-256 key made for these tests only (`openssl genpkey -algorithm EC -pkeyopt
/// ec_paramgen_curve:P-256`), in the PKCS#8 form of Apple's `.p8` files, and its public half.
const APNS_KEY: &str = r#"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfbERgxO1PUZd2jLu
5kAU2nFxgM7JZePi0TZGfhwLBIehRANCAATS2LtNeej2hJ6+71TwCWtJQuo7r1x3
daFj8ZO3hhmqAq/3JTDuieyvmhyxLKiIkL8lcOfIP/KrLD57OvKOfB9j
-----END PRIVATE KEY-----"#;
const APNS_PUBLIC: &str = r#"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0ti7TXno9oSevu9U8AlrSULqO69c
d3WhY/GTt4YZqgKv9yUw7onsr5ocsSyoiJC/JXDnyD/yqyw+ezryjnwfYw==
-----END PUBLIC KEY-----"#;
/// An RSA key made for these tests only, as a service-account JSON carries it.
const FCM_KEY: &str = r#"-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDMgJKRhrZjabRS
atmM7hgShYCKnLMZbknAB5R0Uhf/+/uPq8yYOpON50Va8x/eQaYsPe0URc63Xr3R
B6QN6MopE19ZEz8QiMYTwt9xX8LgC5tN73E/moTb/WbQoLKCNokxlkK4nsIuMPbR
gjiBCFHlqdRS4i7pqqZKNRmeUvDHlfNHKrNu/iy8rvdPZbOmQvatymWtvDWf6zBO
WvoLKPLhbx0nYQfHEdBm/zxmNVGMZK9L916pYGUjA761Ss02CdOkZ8IhdEAud0c1
yfreBhXeb+NkyKprFNBBLIzvi8OY7hHihixEqjcepE9+fA5sJcjyzHvoQXpaWDMj
g61ZAf3/AgMBAAECggEAEuH0UUz3s6o4+js00ex80Ij/MM1TRDqIw3BvvBCFzXR+
P+qEaQdPmeoMNLT/m6LC2JGckyNMTmYzGgVIl/gyDSTlcvDHVpwqc1H/wRTZ25zM
FErS/CUlC2MUhphaozysjPrrjOcr1Ylei5h95dGCLmCbYvkmN8aICuYS8tQvDglC
I798/RWldNbdCT7GgA9OPA2yLO3jKzi+Xf2/QqoqFgz2LjJW/ZaIAQ7RHXSP7aiP
3QV56xrTXKhcgHt2BopOVdZwXQEy+SA29OQaE7oxL+MPwsblOU9IOJ31glk/GXt6
+ShYa44oWrdjx9ELIfAjQzmz86yddlU1oRR8OpFlMQKBgQD09p6gXf13dff4K+hb
S3LdwPN3Q93Rg7XBGjrbmeM+KTzlY+qp4/b8eDgJGs2kVpKSCIV3BsbLBweVyc1h
S3ss09ReG3+PbO5yiYSW1oypM408QkmJqp+IjEZaa4lMKRxKXDWbyogG63ywP4Jh
eMhOJztoEMQNyKn3tfmX9MrhgwKBgQDVt0deX2/j51iwySJ8QA5p86O0ZsOCYbR6
kQzNn35OXHag/zPtIkzSM5ZYXsQYoG+mLd6IJJXGWo0hos/dt0UWxnI+VtUwP6pG
tTkcD94SMD9fHFlHfoalF27y9gDE/ioXpqoSIZRUi390L2aHHe0m8ioHoMB4qARs
Lcug89d01QKBgQDcv/41AF5xMBMVRuQumXBbHA2LVdJog2vgJ7YQvb4F/32MLp2D
Ghcyb1f4BHp69TVCeoFjwOyWe7A/MMtvOWk3/XDsmZU7d+vttbWRhKjftcA6JHZG
pEb984NW6n+g7Y88B5qb2Uj6C26jGahyFDlWDI7BehJjZYid3RSe9o955wKBgQCd
voMSGFVpHZhsHHm0xj8dWzUI8hT6xo1FLo0JtOCwjDUPjm7QaFHVkTg2j/QjzT+7
o/2t9XsLhkjHe/n7x8taDS3D76m5zDQtrpOxr9CVEkGkPTN0vuI5Nvuwn31f6c49
2MmNSnXGlZSEuHvv3VnvNi1ppfCK3lEtW/wCGBl+5QKBgG5P7Y11evtvC99wzjmu
HOeAPWQ8ffkv4Srm1yRWblggihHIkQkI7KksnklCwIIKh/eq+f3L+73ptc03FsBV
fzSChhbjygd4DtSnc8e35gs8DTnflNwsLho1WuXp3Lqif7Gssze3NT9UFajY2vJJ
K6CNB8nypptAaiL/wX0iAbuM
-----END PRIVATE KEY-----"#;

const TOKEN_A: &str = "aaaa000000000000000000000000000000000000000000000000000000000001";
const TOKEN_B: &str = "bbbb000000000000000000000000000000000000000000000000000000000002";

/// Waits (up to 5 s) until the stand-in has received `n` requests matching `keep`.
async fn received(server: &MockServer, n: usize, keep: impl Fn(&Request) -> bool) -> Vec<Request> {
    let mut got = Vec::new();
    for _ in 0..250 {
        got = server.received_requests().await.unwrap_or_default().into_iter().filter(&keep).collect();
        if got.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got
}

async fn apns_app(apple: &MockServer) -> TestApp {
    let uri = apple.uri();
    spawn_app_with(|s| {
        s.apns.key = Some(APNS_KEY.into());
        s.apns.key_id = Some("KEY1234567".into());
        s.apns.team_id = Some("TEAM123456".into());
        s.apns.topic = Some("com.example.crm".into());
        s.apns.base_url = uri.clone();
        s.apns.sandbox_base_url = format!("{uri}/sandbox");
    })
    .await
}

/// An agent with a number, a contact who replies, and the agent's token.
async fn agent_and_contact(app: &TestApp) -> (String, i64) {
    let (_, t) = agent_with_number(app).await;
    let c = app
        .contact(
            &t,
            json!({"first_name": "Jane", "last_name": "Doe", "phones": [{"number": "312-555-0142"}]}),
        )
        .await;
    (t, c["id"].as_i64().unwrap())
}

fn bearer(r: &Request) -> String {
    let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
    auth.strip_prefix("bearer ").or_else(|| auth.strip_prefix("Bearer ")).unwrap().to_owned()
}

#[tokio::test]
async fn apns_gets_the_path_headers_payload_and_a_provider_token_signed_with_the_key() {
    let apple = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&apple).await;
    let app = apns_app(&apple).await;
    let (t, contact) = agent_and_contact(&app).await;
    app.post("/v1/devices", &t, &json!({"platform": "apns", "token": TOKEN_A})).await;
    app.post("/v1/devices", &t, &json!({"platform": "apns", "token": TOKEN_B, "environment": "sandbox"}))
        .await;
    // Only APNs is configured: an FCM device cannot be reached and its push is dropped.
    app.post("/v1/devices", &t, &json!({"platform": "fcm", "token": "fcm-token"})).await;
    reply(&app, "SM1", "+13125550142", "+13125550100", "Can we see it Sunday?", false).await;

    let got = received(&apple, 2, |_| true).await;
    assert_eq!(got.len(), 2);
    let paths: Vec<&str> = got.iter().map(|r| r.url.path()).collect();
    assert!(paths.contains(&format!("/3/device/{TOKEN_A}").as_str()), "{paths:?}");
    assert!(
        paths.contains(&format!("/sandbox/3/device/{TOKEN_B}").as_str()),
        "sandbox tokens go to the sandbox host"
    );
    let r = &got[0];
    let header = |name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("apns-topic").as_deref(), Some("com.example.crm"));
    assert_eq!(header("apns-push-type").as_deref(), Some("alert"));
    assert_eq!(header("apns-priority").as_deref(), Some("10"));
    let body: Value = r.body_json().unwrap();
    let message_id = body["message_id"].as_i64().unwrap();
    assert_eq!(header("apns-collapse-id"), Some(format!("message-{message_id}")));
    assert_eq!(body["aps"]["alert"], json!({"title": "Jane Doe", "body": "Can we see it Sunday?"}));
    assert_eq!(body["aps"]["badge"], 1);
    assert_eq!(body["aps"]["thread-id"], format!("contact-{contact}"));
    assert_eq!(body["contact_id"], contact);

    // The provider token: ES256, our key id, the team as issuer, issued now.
    let jwt = bearer(r);
    let head = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!((head.alg, head.kid.as_deref()), (Algorithm::ES256, Some("KEY1234567")));
    let mut v = Validation::new(Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    let claims =
        jsonwebtoken::decode::<Value>(&jwt, &DecodingKey::from_ec_pem(APNS_PUBLIC.as_bytes()).unwrap(), &v)
            .expect("the signature checks out with the public key")
            .claims;
    assert_eq!(claims, json!({"iss": "TEAM123456", "iat": app.clock.now().as_second()}));
    assert_eq!(bearer(&got[1]), jwt, "one provider token for both pushes");

    // The FCM push was dropped, and nothing went to the sandbox.
    let mut fcm = (String::new(), None::<String>);
    for _ in 0..100 {
        fcm = app
            .state
            .db
            .read(|c| {
                Ok(c.query_row(
                    "SELECT p.status, p.error FROM pushes p JOIN devices d ON d.id = p.device_id WHERE d.platform = 'fcm'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .await
            .unwrap();
        if fcm.0 == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fcm.0, "failed");
    assert!(fcm.1.as_deref().unwrap_or_default().contains("fcm is not configured"), "{fcm:?}");
    assert_eq!(app.count("sandbox_pushes").await, 0);

    // Within 50 minutes the token is reused; after, a new one is made.
    app.clock.advance(jiff::SignedDuration::from_secs(30 * 60));
    reply(&app, "SM2", "+13125550142", "+13125550100", "Or Monday", false).await;
    let got = received(&apple, 4, |_| true).await;
    assert_eq!(bearer(&got[3]), jwt);
    app.clock.advance(jiff::SignedDuration::from_secs(21 * 60));
    reply(&app, "SM3", "+13125550142", "+13125550100", "Or Tuesday", false).await;
    let got = received(&apple, 6, |_| true).await;
    let renewed = bearer(&got[5]);
    assert_ne!(renewed, jwt);
    let claims = jsonwebtoken::decode::<Value>(
        &renewed,
        &DecodingKey::from_ec_pem(APNS_PUBLIC.as_bytes()).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["iat"], app.clock.now().as_second());
}

#[tokio::test]
async fn apns_410_forgets_the_device_and_429_is_retried_once() {
    let apple = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/3/device/{TOKEN_A}")))
        .respond_with(
            ResponseTemplate::new(410).set_body_json(json!({"reason": "Unregistered", "timestamp": 1})),
        )
        .mount(&apple)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/3/device/{TOKEN_B}")))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"reason": "TooManyRequests"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&apple)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/3/device/{TOKEN_B}")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&apple)
        .await;
    let app = apns_app(&apple).await;
    let (t, _) = agent_and_contact(&app).await;
    app.post("/v1/devices", &t, &json!({"platform": "apns", "token": TOKEN_A})).await;
    app.post("/v1/devices", &t, &json!({"platform": "apns", "token": TOKEN_B})).await;
    reply(&app, "SM1", "+13125550142", "+13125550100", "hello", false).await;

    let to_b = |r: &Request| r.url.path().ends_with(TOKEN_B);
    assert_eq!(received(&apple, 1, to_b).await.len(), 1);
    let mut devices = Value::Null;
    for _ in 0..100 {
        devices = app.get("/v1/devices", &t).await.json().await.unwrap();
        if devices["items"].as_array().unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(devices["items"].as_array().unwrap().len(), 1, "the 410 token is forgotten: {devices}");
    assert_eq!(devices["items"][0]["token"], TOKEN_B);

    // The retry waits for its backoff; once due it goes, and succeeds.
    app.clock.advance(jiff::SignedDuration::from_secs(60));
    assert_eq!(received(&apple, 2, to_b).await.len(), 2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let all = apple.received_requests().await.unwrap();
    assert_eq!(all.iter().filter(|r| to_b(r)).count(), 2, "retried once");
    assert_eq!(all.iter().filter(|r| r.url.path().ends_with(TOKEN_A)).count(), 1, "410 is not retried");
    let status: String =
        app.state.db.read(|c| Ok(c.query_row("SELECT status FROM pushes", [], |r| r.get(0))?)).await.unwrap();
    assert_eq!(status, "sent");
}

#[tokio::test]
async fn held_pushes_queue_and_go_once_released() {
    let apple = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&apple).await;
    let app = apns_app(&apple).await;
    let (t, _) = agent_and_contact(&app).await;
    app.post("/v1/devices", &t, &json!({"platform": "apns", "token": TOKEN_A})).await;
    app.state.push.set_paused(true);
    reply(&app, "SM1", "+13125550142", "+13125550100", "hello", false).await;
    reply(&app, "SM2", "+13125550142", "+13125550100", "are you there?", false).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(apple.received_requests().await.unwrap().is_empty(), "nothing goes while held");
    let queued: i64 = app
        .state
        .db
        .read(|c| Ok(c.query_row("SELECT count(*) FROM pushes WHERE status = 'queued'", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(queued, 2);

    app.state.push.set_paused(false);
    assert_eq!(received(&apple, 2, |_| true).await.len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(apple.received_requests().await.unwrap().len(), 2, "each push once");
}

#[tokio::test]
async fn fcm_asks_for_a_token_once_sends_v1_messages_and_forgets_unregistered_tokens() {
    let google = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "ya29.test-token", "expires_in": 3599, "token_type": "Bearer"}),
        ))
        .mount(&google)
        .await;
    let send_path = "/v1/projects/tidings-test/messages:send";
    Mock::given(method("POST"))
        .and(path(send_path))
        .and(body_partial_json(json!({"message": {"token": "fcm-dead"}})))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]
        }})))
        .with_priority(1)
        .mount(&google)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/v1/projects/tidings-test/messages:send$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"name": "projects/tidings-test/messages/1"})),
        )
        .mount(&google)
        .await;
    let account = json!({
        "type": "service_account",
        "project_id": "tidings-test",
        "private_key_id": "k1",
        "private_key": FCM_KEY,
        "client_email": "tidings@tidings-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": format!("{}/token", google.uri()),
    })
    .to_string();
    let base = google.uri();
    let app = spawn_app_with(|s| {
        s.fcm.service_account = Some(account.into());
        s.fcm.base_url = base;
    })
    .await;
    let (t, contact) = agent_and_contact(&app).await;
    for token in ["fcm-one", "fcm-two", "fcm-dead"] {
        app.post("/v1/devices", &t, &json!({"platform": "fcm", "token": token})).await;
    }
    let (_, other) = app.agent("b@example.com", json!({})).await;
    app.post("/v1/devices", &other, &json!({"platform": "fcm", "token": "fcm-other"})).await;
    reply(&app, "SM1", "+13125550142", "+13125550100", "Can we see it Sunday?", false).await;
    let sends = |r: &Request| r.url.path() == send_path;
    assert_eq!(received(&google, 3, sends).await.len(), 3);
    reply(&app, "SM2", "+13125550142", "+13125550100", "Or Monday", false).await;
    let got = received(&google, 5, sends).await;
    assert_eq!(got.len(), 5, "the dead token is not sent to again");

    let tokens = received(&google, 1, |r| r.url.path() == "/token").await;
    assert_eq!(tokens.len(), 1, "the access token is asked for once and cached");
    let form = String::from_utf8(tokens[0].body.clone()).unwrap();
    assert!(form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"), "{form}");

    for r in &got {
        assert_eq!(r.headers.get("authorization").unwrap(), "Bearer ya29.test-token");
        let b: Value = r.body_json().unwrap();
        assert_ne!(b["message"]["token"], "fcm-other", "no push goes to another agent's device");
    }
    let first: Value = got[0].body_json().unwrap();
    let m = &first["message"];
    assert_eq!(m["notification"], json!({"title": "Jane Doe", "body": "Can we see it Sunday?"}));
    assert_eq!(m["data"]["contact_id"], contact.to_string(), "FCM data values are strings");
    assert!(m["data"]["message_id"].as_str().unwrap().parse::<i64>().is_ok());
    assert_eq!(m["android"]["notification"]["tag"], format!("contact-{contact}"));
    assert_eq!(m["android"]["notification"]["notification_count"], 1);
    assert_eq!(m["apns"]["payload"]["aps"]["thread-id"], format!("contact-{contact}"));

    let devices: Value = app.get("/v1/devices", &t).await.json().await.unwrap();
    let left: Vec<&str> =
        devices["items"].as_array().unwrap().iter().map(|d| d["token"].as_str().unwrap()).collect();
    assert_eq!(left, ["fcm-one", "fcm-two"], "UNREGISTERED forgets the token");
}

#[tokio::test]
async fn push_settings_are_checked_at_start_without_quoting_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let twilio = twilio_stand_in().await;
    let mut s = test_settings(&dir.path().join("t.db"), &twilio);
    s.apns.key = Some("-----BEGIN PRIVATE KEY-----\nnot-a-key-secret\n-----END PRIVATE KEY-----".into());
    s.apns.key_id = Some("KEY1234567".into());
    s.apns.team_id = Some("TEAM123456".into());
    s.apns.topic = Some("com.example.crm".into());
    let e = format!("{:#}", s.validate().unwrap_err());
    assert!(e.contains("apns.key") && !e.contains("not-a-key-secret"), "{e}");
    s.apns.key = Some(APNS_KEY.into());
    s.apns.team_id = None;
    let e = format!("{:#}", s.validate().unwrap_err());
    assert!(e.contains("apns.team_id"), "{e}");
    s.apns.team_id = Some("TEAM123456".into());
    assert!(s.validate().is_ok());
    s.fcm.service_account = Some(r#"{"project_id": "p", "private_key": "secret-bits"}"#.into());
    let e = format!("{:#}", s.validate().unwrap_err());
    assert!(e.contains("fcm.service_account") && !e.contains("secret-bits"), "{e}");
}
