use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tidings::app::AppState;
use tidings::clock::SystemClock;

use crate::helpers::*;

#[tokio::test]
async fn a_restart_keeps_all_data_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tidings.db");
    let app = start(&db, |_| {}).await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    app.contact(&t, json!({"first_name": "Persisted", "phones": [{"number": "312-555-0130"}]})).await;
    app.stop().await;

    let app = start(&db, |_| {}).await;
    let t = app.login("a@example.com", PASSWORD).await;
    let list: Value = app.get("/v1/contacts?q=persisted", &t).await.json().await.unwrap();
    assert_eq!(list["items"][0]["phones"][0]["e164"], "+13125550130");
    let version: i64 =
        app.state.db.read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?)).await.unwrap();
    assert_eq!(version as usize, tidings::schema::version());
    let journal: String =
        app.state.db.read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?)).await.unwrap();
    assert_eq!(journal, "wal");
    let fk: i64 =
        app.state.db.read(|c| Ok(c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?)).await.unwrap();
    assert_eq!(fk, 1);
}

#[tokio::test]
async fn a_database_from_a_newer_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tidings.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let twilio = twilio_stand_in().await;
    let err = AppState::new(test_settings(&db, &twilio), Arc::new(SystemClock)).await.err().expect("refused");
    let msg = format!("{err:#}");
    assert!(msg.contains("newer tidings") && msg.contains("999"), "{msg}");
}

/// A full disk (SQLite's `SQLITE_FULL`, made here by capping the writer's pages) answers
/// `503 storage_unavailable` with `Retry-After` and leaves nothing half-written; `/readyz` says
/// 503 while writes fail and 200 once one works again.
#[tokio::test]
async fn a_full_disk_answers_503_and_readyz_says_so_until_writes_work_again() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", serde_json::json!({})).await;
    let cap = |pages: Option<i64>| {
        app.state.db.write(move |tx| {
            let now: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            tx.pragma_update(None, "max_page_count", pages.unwrap_or(now))?;
            Ok(())
        })
    };
    cap(None).await.unwrap();
    let csv: String = std::iter::once("first_name,mobile\n".to_owned())
        .chain((0..3000).map(|i| format!("Person{i},312-555-{:04}\n", i % 10_000)))
        .collect();
    let res = crate::import::import(&app, &t, "", csv.clone().into_bytes()).await;
    assert_eq!(
        res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()).as_deref(),
        Some("5")
    );
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable").await;
    assert_eq!(app.count("contacts").await, 0, "nothing half-written");
    problem(app.get("/readyz", "").await, StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable").await;
    cap(Some(1_073_741_823)).await.unwrap();
    let res = crate::import::import(&app, &t, "", csv.into_bytes()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.get("/readyz", "").await.status(), StatusCode::OK, "ready once a write works again");
}

/// One resource, one URL: ids in paths are canonical decimal; an over-long request target gets a
/// problem document.
#[tokio::test]
async fn path_ids_are_canonical_and_an_overlong_uri_gets_414() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", serde_json::json!({})).await;
    let c = app.contact(&t, serde_json::json!({"first_name": "Ann"})).await;
    let id = c["id"].as_i64().unwrap();
    assert_eq!(app.get(&format!("/v1/contacts/{id}"), &t).await.status(), StatusCode::OK);
    for path in [format!("/v1/contacts/+{id}"), format!("/v1/contacts/0{id}"), format!("/v1/contacts/{id}.0")]
    {
        problem(app.get(&path, &t).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let long = format!("/v1/contacts?q={}", "a".repeat(9_000));
    problem(app.get(&long, &t).await, StatusCode::URI_TOO_LONG, "uri_too_long").await;
}
