use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", "").await.status(), StatusCode::OK);
    let ready: Value = app.get("/readyz", "").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["schema_version"], tidings::schema::version());
    app.get("/v1/me", &app.admin_token).await;
    let res = app.get("/metrics", "").await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.contains("http_requests_total{"), "{text}");
    assert!(text.contains("route=\"/v1/me\""), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
}

#[tokio::test]
async fn unknown_endpoints_get_a_problem_document() {
    let app = spawn_app().await;
    problem(app.get("/v1/nothing-here", "").await, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.request(reqwest::Method::PUT, "/healthz", "").send().await.unwrap();
    problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

/// An error answered before the handler read the body (a `401` for a JSON POST without a token)
/// keeps the connection open: the next request on the same connection is answered.
#[tokio::test]
async fn an_error_answer_keeps_the_connection_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = r#"{"body": "hello"}"#;
    let request = format!(
        "POST /v1/contacts/1/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut answers = Vec::new();
    for _ in 0..2 {
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        answers.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 401"), "{a}");
        assert!(!a.to_ascii_lowercase().contains("connection: close"), "{a}");
    }
}
