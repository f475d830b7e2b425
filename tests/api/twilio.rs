//! Our Twilio client against a stand-in speaking Twilio's REST API.

use serde_json::json;
use tidings::config::TwilioSettings;
use tidings::twilio::client::{NewMessage, TwilioClient, TwilioError};
use wiremock::matchers::{body_string_contains, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{ACCOUNT_SID, AUTH_TOKEN};

fn client(server: &MockServer, api_key: bool) -> TwilioClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (api_key_sid, api_key_secret) = if api_key {
        (Some("SK0123456789abcdef0123456789abcdef".to_owned()), Some("key-secret".into()))
    } else {
        (None, None)
    };
    let s = TwilioSettings {
        account_sid: Some(ACCOUNT_SID.into()),
        auth_token: Some(AUTH_TOKEN.into()),
        api_key_sid,
        api_key_secret,
        api_base: server.uri(),
        ..Default::default()
    };
    TwilioClient::from_settings(&s).unwrap().unwrap()
}

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

#[tokio::test]
async fn a_text_is_posted_as_twilio_expects_and_its_answer_read() {
    let server = MockServer::start().await;
    use base64::Engine;
    let auth =
        base64::engine::general_purpose::STANDARD.encode("SK0123456789abcdef0123456789abcdef:key-secret");
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", format!("Basic {auth}").as_str()))
        .and(body_string_contains("To=%2B13125550142"))
        .and(body_string_contains("From=%2B13125550100"))
        .and(body_string_contains("Body=Hi+Ann+%F0%9F%91%8B"))
        .and(body_string_contains(
            "MediaUrl=https%3A%2F%2Ft.example%2Fm%2Fa&MediaUrl=https%3A%2F%2Ft.example%2Fm%2Fb",
        ))
        .and(body_string_contains("StatusCallback=https%3A%2F%2Ft.example%2Fwebhooks%2Ftwilio%2Fstatus"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "+13125550142",
            "from": "+13125550100", "num_segments": "2", "num_media": "2", "error_code": null,
            "date_created": "Sun, 29 Nov 2026 16:00:00 +0000", "date_sent": null, "price": null,
            "some_new_field": {"twilio": "adds these"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let media = vec!["https://t.example/m/a".to_owned(), "https://t.example/m/b".to_owned()];
    let m = NewMessage {
        to: "+13125550142",
        from: "+13125550100",
        body: "Hi Ann 👋",
        media_urls: &media,
        status_callback: Some("https://t.example/webhooks/twilio/status"),
    };
    let res = client(&server, true).create_message(&m).await.unwrap();
    assert_eq!(res.sid, "SM0123456789abcdef0123456789abcdef");
    assert_eq!(res.status, "queued");
    assert_eq!(res.segments(), Some(2));
    assert_eq!(res.created_at().unwrap().to_string(), "2026-11-29T16:00:00Z");
}

#[tokio::test]
async fn twilios_errors_are_told_apart() {
    let server = MockServer::start().await;
    let cases = [
        (ResponseTemplate::new(429).insert_header("Retry-After", "7"), "retry 429 7"),
        (ResponseTemplate::new(503), "retry 503"),
        (
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})),
            "api 21211",
        ),
        (
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
            "auth",
        ),
    ];
    for (response, expected) in cases {
        server.reset().await;
        Mock::given(method("POST")).and(path(messages_path())).respond_with(response).mount(&server).await;
        let m =
            NewMessage { to: "+1", from: "+13125550100", body: "x", media_urls: &[], status_callback: None };
        let got = match client(&server, false).create_message(&m).await.unwrap_err() {
            TwilioError::Retryable { status, retry_after: Some(d) } => {
                format!("retry {status} {}", d.as_secs())
            }
            TwilioError::Retryable { status, retry_after: None } => format!("retry {status}"),
            TwilioError::Api { code: Some(c), .. } => format!("api {c}"),
            TwilioError::Auth => "auth".into(),
            other => format!("{other}"),
        };
        assert_eq!(got, expected);
    }
}

/// ListMessage as twilio-oai describes it (`spec/json/twilio_api_v2010.json`): filters `To`,
/// `From`, `DateSent` (on `date_sent`, null while a text is queued at Twilio), pages linked by
/// `next_page_uri`. Reconciliation sends no date filter and follows pages until it passes the
/// attempt's start.
#[tokio::test]
async fn sent_messages_are_listed_by_to_and_from_without_a_date_filter_for_reconciliation() {
    let server = MockServer::start().await;
    let next = format!(
        "{}?To=%2B13125550142&From=%2B13125550100&PageSize=100&Page=1&PageToken=PAx",
        messages_path()
    );
    Mock::given(method("GET"))
        .and(path(messages_path()))
        .and(query_param("To", "+13125550142"))
        .and(query_param("From", "+13125550100"))
        .and(query_param_is_missing("DateSent>"))
        .and(query_param_is_missing("DateSent"))
        .and(query_param_is_missing("Page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [{"sid": "SMaaa", "status": "delivered", "num_segments": "1", "error_code": 30003,
                          "date_created": "Sun, 29 Nov 2026 16:00:04 +0000",
                          "date_sent": "Sun, 29 Nov 2026 16:00:05 +0000"},
                         {"sid": "SMbbb", "status": "scheduled_somehow", "num_segments": "1",
                          "date_created": "Sun, 29 Nov 2026 16:00:03 +0000", "date_sent": null}],
            "next_page_uri": next
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(messages_path()))
        .and(query_param("Page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [{"sid": "SMccc", "status": "queued", "num_segments": "0",
                          "date_created": "Sun, 29 Nov 2026 15:58:00 +0000", "date_sent": null}],
            "next_page_uri": format!("{}?Page=2", messages_path())
        })))
        .expect(1)
        .mount(&server)
        .await;
    let list = client(&server, false)
        .list_messages("+13125550142", "+13125550100", "2026-11-29T15:59:00Z".parse().unwrap())
        .await
        .unwrap();
    // The second page reached texts older than the attempt: no third page is asked for.
    assert_eq!(list.iter().map(|m| m.sid.as_str()).collect::<Vec<_>>(), ["SMaaa", "SMbbb", "SMccc"]);
    assert_eq!(list[0].error_code, Some(30003));
    assert_eq!(list[1].status, "scheduled_somehow", "unknown statuses are kept");
    assert_eq!(list[1].created_at().unwrap().to_string(), "2026-11-29T16:00:03Z");
}
