use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", "").await.status(), StatusCode::OK);
    let ready: Value = app.get("/readyz", "").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["schema_version"], tidings::db::schema_version());
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
