use std::sync::Arc;

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
    assert_eq!(version as usize, tidings::db::schema_version());
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
