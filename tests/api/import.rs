use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// `POST /v1/contacts/import{query}` with a CSV body.
pub async fn import(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> reqwest::Response {
    app.request(reqwest::Method::POST, &format!("/v1/contacts/import{query}"), token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_csv_file_becomes_contacts() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let csv = "first_name,last_name,email,mobile,work,tags,city,state,field:budget\n\
               Ann,Lee,ann@example.com,(312) 555-0110;312-555-0111,,buyer;investor,Chicago,IL,500000\n\
               Bo,Chan,,,\"+1 847 555 0112\",seller,Evanston,IL,\n";
    let res = import(&app, &t, "", csv.into()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"imported": 2, "updated": 0, "skipped": 0, "matches": [], "rejected": []}));
    let list: Value = app.get("/v1/contacts?tag=investor", &t).await.json().await.unwrap();
    let ann = &list["items"][0];
    assert_eq!(ann["source"], "import");
    assert_eq!(ann["phones"].as_array().unwrap().len(), 2);
    assert_eq!(ann["fields"]["budget"], "500000");
    let bo: Value = app.get("/v1/contacts?phone=8475550112", &t).await.json().await.unwrap();
    assert_eq!(bo["items"][0]["phones"][0]["label"], "work");
}

#[tokio::test]
async fn an_empty_csv_is_refused() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    problem(import(&app, &t, "", vec![]).await, StatusCode::UNPROCESSABLE_ENTITY, "csv_empty").await;
    problem(
        import(&app, &t, "", b"first_name,email\n".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "csv_empty",
    )
    .await;
    assert_eq!(app.count("contacts").await, 0);
}

#[tokio::test]
async fn a_csv_with_bad_rows_reports_every_one_and_imports_nothing_unless_asked() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let csv = "first_name,email,time_zone,mobile\n\
               Good,good@example.com,,312-555-0120\n\
               Bad,not-an-email,,\n\
               ,,,\n\
               Worse,,Mars/Base,\n\
               Short,x@example.com\n\
               Invalid Number Kept,,,555-12\n";
    let body = problem(
        import(&app, &t, "", csv.into()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "csv_rejected_rows",
    )
    .await;
    let lines: Vec<i64> =
        body["rejected"].as_array().unwrap().iter().map(|r| r["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, vec![3, 5, 6]);
    assert!(body["rejected"][0]["reason"].as_str().unwrap().contains("email"));
    assert_eq!(body["accepted"], 2);
    assert_eq!(app.count("contacts").await, 0);

    let res = import(&app, &t, "?skip_invalid=true", csv.into()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["imported"], 2);
    assert_eq!(body["rejected"].as_array().unwrap().len(), 3);
    assert_eq!(app.count("contacts").await, 2);
    let kept: Value = app.get("/v1/contacts?q=kept", &t).await.json().await.unwrap();
    assert_eq!(kept["items"][0]["phones"][0]["valid"], false);
}

#[tokio::test]
async fn a_non_utf8_csv_is_refused_with_its_line() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let body = problem(
        import(&app, &t, "", b"first_name\nAnn\nJos\xe9\n".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "csv_not_utf8",
    )
    .await;
    assert_eq!(body["line"], 3);
    assert_eq!(app.count("contacts").await, 0);
}

#[tokio::test]
async fn unknown_columns_are_named() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let body = problem(
        import(&app, &t, "", b"first_name,Budget\nAnn,1\n".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "csv_unknown_columns",
    )
    .await;
    assert_eq!(body["columns"], json!(["Budget"]));
    problem(
        import(&app, &t, "?dry=1", b"first_name\nAnn\n".to_vec()).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_eq!(app.count("contacts").await, 0);
}

#[tokio::test]
async fn a_csv_over_32_mb_is_refused_as_too_large() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let mut body = b"first_name\n".to_vec();
    body.resize(33 * 1024 * 1024, b'a');
    problem(import(&app, &t, "", body).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_eq!(app.count("contacts").await, 0);
}

/// R-CON-3: rows matching an existing contact (by a valid number, else by email) are skipped and
/// reported by default, so importing the same file twice adds nothing; `mode=update` fills the
/// contact from the row, `mode=create` adds it all the same.
#[tokio::test]
async fn importing_the_same_file_twice_adds_nothing_and_modes_update_or_create() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", serde_json::json!({})).await;
    let import = |query: &'static str, csv: &'static str| {
        app.request(reqwest::Method::POST, &format!("/v1/contacts/import{query}"), &t)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
    };
    let csv = "first_name,mobile,email,tags\nAnn,312-555-0140,,buyer\nBo,,bo@example.com,\n";
    let first: serde_json::Value = import("", csv).await.unwrap().json().await.unwrap();
    assert_eq!((first["imported"].as_u64(), first["skipped"].as_u64()), (Some(2), Some(0)), "{first}");
    let again = import("", csv).await.unwrap();
    assert_eq!(again.status(), reqwest::StatusCode::CREATED);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!((again["imported"].as_u64(), again["skipped"].as_u64()), (Some(0), Some(2)), "{again}");
    assert_eq!(again["matches"][0]["line"], 2);
    assert_eq!(app.count("contacts").await, 2, "the same file twice adds nothing");

    // The same person written otherwise: matched by number and by email (any case).
    let update =
        "first_name,last_name,mobile,email,tags\nAnn,Lee,+1 (312) 555-0140,,vip\nBob,,,BO@example.com,\n";
    let res: serde_json::Value = import("?mode=update", update).await.unwrap().json().await.unwrap();
    assert_eq!((res["imported"].as_u64(), res["updated"].as_u64()), (Some(0), Some(2)), "{res}");
    let ann: serde_json::Value = app.get("/v1/contacts?q=ann", &t).await.json().await.unwrap();
    assert_eq!(ann["items"][0]["last_name"], "Lee");
    assert_eq!(ann["items"][0]["tags"], serde_json::json!(["buyer", "vip"]));
    assert_eq!(ann["items"][0]["phones"].as_array().unwrap().len(), 1, "the same number is not added twice");

    let res: serde_json::Value = import("?mode=create", csv).await.unwrap().json().await.unwrap();
    assert_eq!(res["imported"], 2);
    assert_eq!(app.count("contacts").await, 4);
    problem(import("?mode=merge", csv).await.unwrap(), reqwest::StatusCode::BAD_REQUEST, "invalid_query")
        .await;
    // Imports index their rows for search by batch; contacts made afterwards are found by name too.
    app.contact(&t, serde_json::json!({"first_name": "Zelda"})).await;
    for (q, n) in [("ann", 2), ("bo", 2), ("zelda", 1)] {
        let found: serde_json::Value =
            app.get(&format!("/v1/contacts?q={q}"), &t).await.json().await.unwrap();
        assert_eq!(found["items"].as_array().unwrap().len(), n, "{q}: {found}");
    }
}
