//! The do-not-contact list and the consent ledger.

use reqwest::StatusCode;
use serde_json::{Value, json};

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
            tidings::replies::consent::opt_out(
                tx,
                "+13125550100",
                "+13125550190",
                "keyword:STOP",
                Some(7),
                now,
            )?;
            tidings::replies::consent::opt_in(
                tx,
                "+13125550100",
                "+13125550190",
                "keyword:START",
                Some(8),
                now,
            )?;
            tidings::replies::consent::opt_out(
                tx,
                "+13125550100",
                "+13125550190",
                "phrase:wrong number",
                Some(9),
                now,
            )
        })
        .await
        .unwrap();
    let history = app.state.db.read(|c| tidings::replies::consent::history(c, "+13125550190")).await.unwrap();
    let hows: Vec<(&str, &str)> = history.iter().map(|h| (h.action.as_str(), h.how.as_str())).collect();
    assert_eq!(
        hows,
        vec![("opt_out", "keyword:STOP"), ("opt_in", "keyword:START"), ("opt_out", "phrase:wrong number")]
    );
    assert_eq!(app.count("opt_outs").await, 1);
}
