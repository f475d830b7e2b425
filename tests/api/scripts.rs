use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn create(app: &TestApp, name: &str, kind: &str, source: &str) -> Value {
    let res = app
        .post("/v1/scripts", &app.admin_token, &json!({"name": name, "kind": kind, "source": source}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn some_contacts(app: &TestApp, token: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for body in [
        json!({"first_name": "Ann", "last_name": "Lee", "tags": ["buyer"], "address": {"city": "Chicago"}, "fields": {"budget": "500000"}}),
        json!({"first_name": "Bo", "tags": ["seller"], "address": {"city": "Evanston"}}),
        json!({"email": "nameless@example.com", "tags": ["buyer"], "address": {"city": "chicago"}}),
    ] {
        ids.push(app.contact(token, body).await["id"].as_i64().unwrap());
    }
    ids
}

#[tokio::test]
async fn admins_write_scripts_and_agents_list_and_read_them() {
    let app = spawn_app().await;
    let (_, agent) = app.agent("a@example.com", json!({})).await;
    let t = create(&app, "Greeting", "template", "`Hi ${contact.first_name}`").await;
    assert_eq!(t["version"], 1);
    assert_eq!(t["kind"], "template");
    let list: Value = app.get("/v1/scripts", &agent).await.json().await.unwrap();
    assert_eq!(list["items"][0]["name"], "Greeting");
    let one: Value = app.get(&format!("/v1/scripts/{}", t["id"]), &agent).await.json().await.unwrap();
    assert_eq!(one["source"], "`Hi ${contact.first_name}`");

    let body = json!({"name": "Mine", "kind": "filter", "source": "true"});
    problem(app.post("/v1/scripts", &agent, &body).await, StatusCode::FORBIDDEN, "forbidden").await;
    let path = format!("/v1/scripts/{}", t["id"]);
    problem(app.patch(&path, &agent, &json!({"source": "`x`"})).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    problem(app.delete(&path, &agent).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.count("scripts").await, 1);
    assert_eq!(app.count("script_versions").await, 1);
}

#[tokio::test]
async fn a_source_that_does_not_compile_is_refused_with_line_and_column() {
    let app = spawn_app().await;
    let body = json!({"name": "Broken", "kind": "filter", "source": "let x = 1;\nx +* 2"});
    let doc = problem(
        app.post("/v1/scripts", &app.admin_token, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "script_compile_error",
    )
    .await;
    assert_eq!(doc["line"], 2);
    assert_eq!(doc["column"], 4);
    assert!(doc["message"].as_str().unwrap().len() > 3);
    for source in ["eval(\"1\")", "import \"x\" as y; true", "print(1); true", "nope == 1"] {
        let body = json!({"name": "Bad", "kind": "filter", "source": source});
        problem(
            app.post("/v1/scripts", &app.admin_token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "script_compile_error",
        )
        .await;
    }
    let body = json!({"name": "Kind", "kind": "macro", "source": "true"});
    problem(
        app.post("/v1/scripts", &app.admin_token, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert_eq!(app.count("scripts").await, 0);
}

#[tokio::test]
async fn every_save_is_a_new_version_and_deleting_keeps_them() {
    let app = spawn_app().await;
    let s = create(&app, "Buyers", "filter", "contact.tags.contains(\"buyer\")").await;
    let path = format!("/v1/scripts/{}", s["id"]);
    let res = app
        .patch(
            &path,
            &app.admin_token,
            &json!({"source": "contact.tags.contains(\"seller\")", "description": "sellers now"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v2: Value = res.json().await.unwrap();
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["description"], "sellers now");
    let res = app.patch(&path, &app.admin_token, &json!({"source": "contact.tags.contains("})).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "script_compile_error").await;
    create(&app, "Other", "filter", "true").await;
    problem(
        app.patch(&path, &app.admin_token, &json!({"name": "other"})).await,
        StatusCode::CONFLICT,
        "script_name_taken",
    )
    .await;

    let versions: Value = app.get(&format!("{path}/versions"), &app.admin_token).await.json().await.unwrap();
    let items = versions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["version"], 2);
    assert_eq!(items[1]["source"], "contact.tags.contains(\"buyer\")");

    assert_eq!(app.delete(&path, &app.admin_token).await.status(), StatusCode::NO_CONTENT);
    problem(app.get(&path, &app.admin_token).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.count("script_versions").await, 3, "versions outlive the script");
    // The name is free again.
    create(&app, "Buyers", "filter", "true").await;
}

#[tokio::test]
async fn a_template_preview_renders_each_contact_and_a_runtime_error_is_that_contacts_result() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({"name": "Alex Agent"})).await;
    let ids = some_contacts(&app, &t).await;
    let source = "if contact.first_name == \"Bo\" { throw \"no Bo\"; }\n`Hi ${value_or(contact.first_name, \"there\")} from ${agent.first_name}${contact.fields.budget}`";
    let s = create(&app, "Hello", "template", source).await;
    let res = app.post(&format!("/v1/scripts/{}/preview", s["id"]), &t, &json!({"contact_ids": ids})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["script"]["version"], 1);
    let r = body["results"].as_array().unwrap();
    assert_eq!(r[0]["text"], "Hi Ann from Alex500000");
    assert_eq!(
        (r[0]["encoding"].as_str(), r[0]["segments"].as_u64(), r[0]["credits"].as_u64()),
        (Some("GSM-7"), Some(1), Some(1))
    );
    assert_eq!(r[1]["status"], "script_error");
    assert_eq!(r[1]["error"]["message"], "no Bo");
    assert_eq!(r[1]["error"]["line"], 1);
    assert_eq!(r[2]["text"], "Hi there from Alex", "missing values are empty");

    // Another agent's contacts are not there to preview.
    let (_, other) = app.agent("b@example.com", json!({})).await;
    let res = app
        .post(&format!("/v1/scripts/{}/preview", s["id"]), &other, &json!({"contact_ids": [ids[0]]}))
        .await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "unknown_contacts").await;
    // Without ids: the first contacts in list order.
    let res = app.post(&format!("/v1/scripts/{}/preview", s["id"]), &t, &json!({"limit": 2})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn inline_bodies_render_and_verbatim_bodies_come_back_byte_for_byte() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let ids = some_contacts(&app, &t).await;
    let verbatim = "Open house Sat: $5 off `today` \"only\" {yes} 50% ×💡\r\nReply STOP to opt out";
    let cases = [
        (verbatim, verbatim.to_owned()),
        ("Hi ${contact.first_name}, it's $${name}: `x` $5", "Hi Ann, it's ${name}: `x` $5".to_owned()),
    ];
    for (source, expected) in cases {
        let body = json!({"kind": "template", "inline": true, "source": source, "contact_ids": [ids[0]]});
        let res: Value = app.post("/v1/scripts/preview", &t, &body).await.json().await.unwrap();
        assert_eq!(res["results"][0]["text"], expected);
    }
}

#[tokio::test]
async fn runaway_scripts_end_as_script_errors_while_the_daemon_answers_others() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let ids = some_contacts(&app, &t).await;
    for source in [
        "loop { }",
        "fn f(x) { f(x + 1) } f(0)",
        "let s = \"ab\"; loop { s += s; }",
        "let a = []; loop { a += [1, 2, 3, 4]; }",
        "let a = []; a.pad(100000, 1); true",
    ] {
        let body = json!({"kind": "filter", "source": source, "contact_ids": ids});
        let started = std::time::Instant::now();
        let (preview, health) = tokio::join!(app.post("/v1/scripts/preview", &t, &body), async {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            app.get("/healthz", "").await
        });
        assert_eq!(health.status(), StatusCode::OK);
        assert_eq!(preview.status(), StatusCode::OK, "{source}");
        let res: Value = preview.json().await.unwrap();
        for r in res["results"].as_array().unwrap() {
            assert_eq!(r["status"], "script_error", "{source}: {r}");
        }
        // Three contacts, each stopped by a limit well under the configured deadline.
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{source}");
    }
}

#[tokio::test]
async fn contacts_can_be_listed_by_filter_script() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    some_contacts(&app, &t).await;
    let f = create(
        &app,
        "Chicago buyers",
        "filter",
        "contact.tags.contains(\"buyer\") && contact.city.to_lower() == \"chicago\"",
    )
    .await;
    let list: Value =
        app.get(&format!("/v1/contacts?filter_script={}", f["id"]), &t).await.json().await.unwrap();
    let emails: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|c| c["first_name"].as_str().unwrap()).collect();
    assert_eq!(emails, vec!["Ann", ""], "list order: last name, first name, email");
    let page: Value =
        app.get(&format!("/v1/contacts?filter_script={}&limit=1", f["id"]), &t).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = app
        .get(&format!("/v1/contacts?filter_script={}&limit=1&cursor={cursor}", f["id"]), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"][0]["email"], "nameless@example.com");
    assert_eq!(next["next_cursor"], Value::Null);

    let tpl = create(&app, "T", "template", "`x`").await;
    problem(
        app.get(&format!("/v1/contacts?filter_script={}", tpl["id"]), &t).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    problem(app.get("/v1/contacts?filter_script=999", &t).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_deadline_stops_a_script_and_other_requests_are_answered_meanwhile() {
    // Operations unbounded, so only the wall-clock deadline can stop the loop.
    let app = spawn_app_with(|s| {
        s.scripts.max_operations = 0;
        s.scripts.timeout_ms = 300;
    })
    .await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let ids = some_contacts(&app, &t).await;
    let body = json!({"kind": "filter", "source": "loop { }", "contact_ids": ids});
    let preview = async {
        let res = app.post("/v1/scripts/preview", &t, &body).await;
        (std::time::Instant::now(), res)
    };
    let health = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let res = app.get("/v1/contacts", &t).await;
        (std::time::Instant::now(), res)
    };
    let ((preview_done, preview), (health_done, health)) = tokio::join!(preview, health);
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health_done < preview_done, "the daemon answered while the script ran");
    let res: Value = preview.json().await.unwrap();
    for r in res["results"].as_array().unwrap() {
        assert_eq!(r["status"], "script_error");
        assert!(r["error"]["message"].as_str().unwrap().contains("time limit"), "{r}");
    }
}
