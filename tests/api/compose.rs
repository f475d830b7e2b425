use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use tidings::clock::Clock;

/// An agent holding +13125550100, and its token.
async fn sender(app: &TestApp, email: &str, extra: Value) -> (i64, String) {
    let (id, t) = app.agent(email, extra).await;
    assert_eq!(
        app.put("/v1/me/number", &t, &json!({"number": "+13125550100"})).await.status(),
        StatusCode::OK
    );
    (id, t)
}

async fn quote(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/v1/messages/quote", token, &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn contact_id(app: &TestApp, token: &str, body: Value) -> i64 {
    app.contact(token, body).await["id"].as_i64().unwrap()
}

fn line(q: &Value, id: i64) -> &Value {
    q["lines"].as_array().unwrap().iter().find(|l| l["contact_id"] == id).unwrap()
}

#[tokio::test]
async fn a_templated_bulk_quote_prices_each_recipient_by_its_own_text() {
    let app = spawn_app().await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let short =
        contact_id(&app, &t, json!({"first_name": "Al", "phones": [{"number": "312-555-0111"}]})).await;
    let long_name = "Bartholomew-Maximilian".repeat(3);
    let long =
        contact_id(&app, &t, json!({"first_name": long_name, "phones": [{"number": "312-555-0112"}]})).await;
    let emoji =
        contact_id(&app, &t, json!({"first_name": "Zoë 🌟", "phones": [{"number": "312-555-0113"}]})).await;
    let body = format!("Hi ${{contact.first_name}}! {}", "x".repeat(120));
    let q = quote(&app, &t, json!({"contact_ids": [short, long, emoji], "body": body})).await;
    let (a, b, c) = (line(&q, short), line(&q, long), line(&q, emoji));
    assert_eq!(a["body"], format!("Hi Al! {}", "x".repeat(120)));
    assert_eq!(
        (a["encoding"].as_str(), a["segments"].as_u64(), a["credits"].as_u64()),
        (Some("GSM-7"), Some(1), Some(1))
    );
    assert_eq!((b["segments"].as_u64(), b["credits"].as_u64()), (Some(2), Some(2)));
    assert_eq!((c["encoding"].as_str(), c["segments"].as_u64()), (Some("UCS-2"), Some(2)));
    assert_eq!(q["totals"]["credits"], 5);
    assert_eq!(q["totals"]["segments"], 5);
    assert_eq!(q["totals"]["sendable"], 3);
    assert_eq!(q["sendable"], true);
    assert!(q["quote_id"].as_str().unwrap().len() > 30);
    assert!(q["expires_at"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok());
    assert_eq!(app.count("quotes").await, 1);
}

#[tokio::test]
async fn recipients_that_cannot_be_texted_stay_listed_and_cost_nothing() {
    let app = spawn_app().await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let ok = contact_id(&app, &t, json!({"first_name": "Ok", "phones": [{"number": "312-555-0120", "label": "home"}, {"number": "312-555-0121", "label": "mobile"}]})).await;
    let none = contact_id(&app, &t, json!({"first_name": "None", "email": "n@example.com"})).await;
    let bad = contact_id(&app, &t, json!({"first_name": "Bad", "phones": [{"number": "555-12"}]})).await;
    let out =
        contact_id(&app, &t, json!({"first_name": "Out", "phones": [{"number": "312-555-0122"}]})).await;
    let dnc =
        contact_id(&app, &t, json!({"first_name": "Dnc", "phones": [{"number": "312-555-0123"}]})).await;
    let dup =
        contact_id(&app, &t, json!({"first_name": "Dup", "phones": [{"number": "(312) 555-0121"}]})).await;
    let gone =
        contact_id(&app, &t, json!({"first_name": "Removed", "phones": [{"number": "312-555-0124"}]})).await;
    app.state
        .db
        .write(|tx| {
            tx.execute("INSERT INTO opt_outs (sender, number, created_at) VALUES ('+13125550100', '+13125550122', 0)", [])?;
            tx.execute("INSERT INTO dnc_numbers (number, created_at) VALUES ('+13125550123', 0)", [])?;
            Ok(())
        })
        .await
        .unwrap();
    let q = quote(
        &app,
        &t,
        json!({"contact_ids": [ok, none, bad, out, dnc, dup, gone], "exclude": [gone], "body": "Hello"}),
    )
    .await;
    assert_eq!(q["lines"].as_array().unwrap().len(), 6, "a removed recipient is gone");
    let expect = [
        (ok, "ok"),
        (none, "no_number"),
        (bad, "invalid_number"),
        (out, "opted_out"),
        (dnc, "dnc"),
        (dup, "duplicate"),
    ];
    for (id, status) in expect {
        let l = line(&q, id);
        assert_eq!(l["status"], status, "{l}");
        if status != "ok" {
            assert_eq!(l["credits"], 0);
            assert!(l["reason"].is_string());
        }
    }
    assert_eq!(line(&q, ok)["number"], "+13125550121", "a valid mobile number first");
    assert_eq!(line(&q, none)["number_display"], "N/A");
    assert_eq!(line(&q, bad)["number_display"], "N/A");
    assert_eq!(
        q["totals"],
        json!({"recipients": 6, "sendable": 1, "skipped": 5, "sms": 1, "mms": 0, "international": 0, "segments": 1, "credits": 1})
    );

    // The sender picks another of the contact's numbers.
    let q = quote(
        &app,
        &t,
        json!({"recipients": [{"contact_id": ok, "number": "312.555.0120"}], "body": "Hello"}),
    )
    .await;
    assert_eq!(line(&q, ok)["number"], "+13125550120");
    assert_eq!(line(&q, ok)["other_numbers"][0]["e164"], "+13125550121");
    let q = quote(
        &app,
        &t,
        json!({"recipients": [{"contact_id": ok, "number": "312-555-0199"}], "body": "Hello"}),
    )
    .await;
    assert_eq!(line(&q, ok)["status"], "invalid_number");
}

#[tokio::test]
async fn international_and_mms_cost_and_the_mms_advice() {
    let app = spawn_app().await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let home =
        contact_id(&app, &t, json!({"first_name": "Home", "phones": [{"number": "312-555-0130"}]})).await;
    let uk = contact_id(&app, &t, json!({"first_name": "Abroad", "phones": [{"number": "+44 7400 123456"}]}))
        .await;
    let two_segments = "a".repeat(200);
    let q = quote(&app, &t, json!({"contact_ids": [home, uk], "body": two_segments})).await;
    assert_eq!(
        (line(&q, home)["international"].as_bool(), line(&q, home)["credits"].as_u64()),
        (Some(false), Some(2))
    );
    assert_eq!(
        (line(&q, uk)["international"].as_bool(), line(&q, uk)["credits"].as_u64()),
        (Some(true), Some(4))
    );
    let advice = &q["recommendations"][0];
    assert_eq!(advice["code"], "send_as_mms");
    assert_eq!(advice["recipients"], 1);
    assert_eq!(advice["credits_saved"], 1);
    assert_eq!(advice["media_id"], "clear-png");

    let q =
        quote(&app, &t, json!({"contact_ids": [home, uk], "body": two_segments, "media_ids": ["clear-png"]}))
            .await;
    for id in [home, uk] {
        assert_eq!((line(&q, id)["kind"].as_str(), line(&q, id)["credits"].as_u64()), (Some("mms"), Some(3)));
    }
    assert_eq!(q["totals"]["mms"], 2);
    assert!(q["recommendations"].as_array().unwrap().is_empty());

    let body = json!({"contact_ids": [home], "body": "ж".repeat(701), "media_ids": ["clear-png"]});
    problem(
        app.post("/v1/messages/quote", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "mms_too_long",
    )
    .await;
    let body = json!({"contact_ids": [home], "body": "a".repeat(1601)});
    problem(
        app.post("/v1/messages/quote", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "body_too_long",
    )
    .await;
    let body = json!({"contact_ids": [home], "body": "hi", "media_ids": ["cat.gif"]});
    problem(
        app.post("/v1/messages/quote", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_media",
    )
    .await;
}

#[tokio::test]
async fn a_text_made_gsm7_by_the_replacements_costs_what_the_quote_promised() {
    let app = spawn_app().await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let id = contact_id(&app, &t, json!({"first_name": "Ann", "phones": [{"number": "312-555-0140"}]})).await;
    let body = format!("It’s “open house” day – come by… {}", "x".repeat(60));
    let q = quote(&app, &t, json!({"contact_ids": [id], "body": body})).await;
    let l = line(&q, id);
    assert_eq!((l["encoding"].as_str(), l["credits"].as_u64()), (Some("UCS-2"), Some(2)));
    let culprits: Vec<(&str, u64)> = l["culprits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["character"].as_str().unwrap(), c["position"].as_u64().unwrap()))
        .collect();
    assert_eq!(culprits, vec![("’", 2), ("“", 5), ("”", 16), ("–", 22), ("…", 31)]);
    let advice =
        q["recommendations"].as_array().unwrap().iter().find(|r| r["code"] == "use_gsm_characters").unwrap();
    assert_eq!(advice["credits_saved"], 1);
    let fixed = advice["text"].as_str().unwrap();
    let again = quote(&app, &t, json!({"contact_ids": [id], "body": fixed})).await;
    let l = line(&again, id);
    assert_eq!((l["encoding"].as_str(), l["credits"].as_u64()), (Some("GSM-7"), Some(1)));
    assert_eq!(again["totals"]["credits"].as_u64().unwrap(), q["totals"]["credits"].as_u64().unwrap() - 1);
}

#[tokio::test]
async fn filters_choose_or_narrow_recipients_and_template_scripts_render() {
    let app = spawn_app().await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let buyer = contact_id(
        &app,
        &t,
        json!({"first_name": "Buyer", "tags": ["buyer"], "phones": [{"number": "312-555-0150"}]}),
    )
    .await;
    let seller = contact_id(
        &app,
        &t,
        json!({"first_name": "Seller", "tags": ["seller"], "phones": [{"number": "312-555-0151"}]}),
    )
    .await;
    let f = app
        .post(
            "/v1/scripts",
            &app.admin_token,
            &json!({"name": "Buyers", "kind": "filter", "source": "contact.tags.contains(\"buyer\")"}),
        )
        .await;
    let f: Value = f.json().await.unwrap();
    let tpl = app
        .post(
            "/v1/scripts",
            &app.admin_token,
            &json!({"name": "Hi", "kind": "template", "source": "`Hi ${contact.first_name}`"}),
        )
        .await;
    let tpl: Value = tpl.json().await.unwrap();
    let q = quote(&app, &t, json!({"filter_script": f["id"], "template_script": tpl["id"]})).await;
    assert_eq!(q["lines"].as_array().unwrap().len(), 1);
    assert_eq!(line(&q, buyer)["body"], "Hi Buyer");
    assert_eq!(q["template_script"]["version"], 1);
    let q =
        quote(&app, &t, json!({"contact_ids": [buyer, seller], "filter_script": f["id"], "body": "x"})).await;
    assert_eq!(line(&q, seller)["status"], "filtered_out");
    assert_eq!(line(&q, buyer)["status"], "ok");
    let bad = app.post("/v1/scripts", &app.admin_token, &json!({"name": "Boom", "kind": "template", "source": "if contact.first_name == \"Seller\" { throw \"nope\" } `ok`"})).await;
    let bad: Value = bad.json().await.unwrap();
    let q = quote(&app, &t, json!({"contact_ids": [buyer, seller], "template_script": bad["id"]})).await;
    assert_eq!(line(&q, seller)["status"], "script_error");
    assert_eq!(line(&q, seller)["error"]["message"], "nope");
    assert_eq!(line(&q, seller)["credits"], 0);
    let body = json!({"contact_ids": [buyer], "template_script": f["id"]});
    problem(
        app.post("/v1/messages/quote", &t, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
}

#[tokio::test]
async fn the_quote_shows_each_limit_and_what_this_send_would_make_it() {
    let app = spawn_app().await;
    let (id, t) = sender(
        &app,
        "a@example.com",
        json!({"limits": {"daily_unique_recipients": 2, "daily_segments": 10, "monthly_credits": 100}}),
    )
    .await;
    let a = contact_id(&app, &t, json!({"first_name": "A", "phones": [{"number": "312-555-0160"}]})).await;
    let b = contact_id(&app, &t, json!({"first_name": "B", "phones": [{"number": "312-555-0161"}]})).await;
    let c = contact_id(&app, &t, json!({"first_name": "C", "phones": [{"number": "312-555-0162"}]})).await;
    // Earlier today: one text to A's number, 3 segments, 3 credits.
    let agent =
        app.state.db.read(move |c| tidings::accounts::store::agent_by_id(c, id)).await.unwrap().unwrap();
    let p = tidings::limits::agent_periods(&agent, app.clock.now());
    app.state
        .db
        .write(move |tx| tidings::limits::store::reserve(tx, id, &p, ["+13125550160"], 3, 3).map(|_| ()))
        .await
        .unwrap();
    let q = quote(&app, &t, json!({"contact_ids": [a, b], "body": "hello"})).await;
    assert_eq!(q["limits"]["daily_unique_recipients"]["used"], 1);
    assert_eq!(q["limits"]["daily_unique_recipients"]["after"], 2, "A was texted today already");
    assert_eq!(q["limits"]["daily_segments"]["after"], 5);
    assert_eq!(q["limits"]["monthly_credits"]["after"], 5);
    assert_eq!(q["sendable"], true);
    let q = quote(&app, &t, json!({"contact_ids": [a, b, c], "body": "hello"})).await;
    assert_eq!(q["limits"]["daily_unique_recipients"]["exceeded"], true);
    assert_eq!(q["sendable"], false);
}

#[tokio::test]
async fn bad_quote_requests_are_refused() {
    let app = spawn_app().await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let (_, other) = app.agent("b@example.com", json!({})).await;
    let theirs =
        contact_id(&app, &other, json!({"first_name": "Theirs", "phones": [{"number": "312-555-0170"}]}))
            .await;
    let cases = [
        (json!({"contact_ids": [theirs], "body": "x"}), "unknown_contacts"),
        (json!({"body": "x"}), "no_recipients"),
        (json!({"contact_ids": [theirs]}), "body_required"),
        (json!({"contact_ids": [theirs], "body": "x", "template_script": 1}), "body_required"),
        (json!({"contact_ids": [theirs], "body": "Hi ${contact.first_name"}), "script_compile_error"),
        (json!({"contact_ids": "all", "body": "x"}), "invalid_body"),
        (json!({"contact_ids": [1], "body": "x", "priority": "high"}), "invalid_body"),
    ];
    for (body, code) in cases {
        problem(app.post("/v1/messages/quote", &t, &body).await, StatusCode::UNPROCESSABLE_ENTITY, code)
            .await;
    }
    assert_eq!(app.count("quotes").await, 0);
}

#[tokio::test]
async fn limits_follow_each_agents_day_across_midnight() {
    let app = spawn_app().await;
    let (chi, tc) = app.agent("chicago@example.com", json!({"time_zone": "America/Chicago"})).await;
    let (lon, tl) =
        app.agent("london@example.com", json!({"time_zone": "Europe/London", "country": "GB"})).await;
    // 23:30 in London, 17:30 in Chicago.
    app.clock.set("2026-11-30T23:30:00Z".parse().unwrap());
    for id in [chi, lon] {
        let agent =
            app.state.db.read(move |c| tidings::accounts::store::agent_by_id(c, id)).await.unwrap().unwrap();
        let p = tidings::limits::agent_periods(&agent, app.clock.now());
        app.state
            .db
            .write(move |tx| tidings::limits::store::reserve(tx, id, &p, ["+13125550180"], 4, 6).map(|_| ()))
            .await
            .unwrap();
    }
    let limits = |token: String| {
        let app = &app;
        async move { app.get("/v1/limits", &token).await.json::<Value>().await.unwrap() }
    };
    let l = limits(tl.clone()).await;
    assert_eq!(l["limits"]["daily_segments"]["used"], 4);
    assert_eq!(l["limits"]["daily_segments"]["period"], "2026-11-30");
    assert_eq!(l["limits"]["daily_segments"]["resets_at"], "2026-12-01T00:00:00Z");
    assert_eq!(l["limits"]["monthly_credits"]["resets_at"], "2026-12-01T00:00:00Z");
    // 00:30 in London (a new day and month), 18:30 in Chicago (the same day).
    app.clock.set("2026-12-01T00:30:00Z".parse().unwrap());
    let l = limits(tl).await;
    assert_eq!(l["limits"]["daily_segments"]["used"], 0);
    assert_eq!(l["limits"]["daily_unique_recipients"]["used"], 0);
    assert_eq!(l["limits"]["monthly_credits"]["used"], 0);
    assert_eq!(l["limits"]["daily_segments"]["period"], "2026-12-01");
    let c = limits(tc.clone()).await;
    assert_eq!(c["time_zone"], "America/Chicago");
    assert_eq!(c["limits"]["daily_segments"]["used"], 4);
    assert_eq!(c["limits"]["daily_unique_recipients"]["used"], 1);
    assert_eq!(c["limits"]["monthly_credits"]["used"], 6);
    assert_eq!(c["limits"]["daily_segments"]["remaining"], 996);
    assert_eq!(c["limits"]["daily_segments"]["resets_at"], "2026-12-01T06:00:00Z");
    // 06:30 UTC: past midnight in Chicago too.
    app.clock.set("2026-12-01T06:30:00Z".parse().unwrap());
    let c = limits(tc).await;
    assert_eq!(c["limits"]["daily_segments"]["used"], 0);
    assert_eq!(c["limits"]["monthly_credits"]["used"], 0);
    assert_eq!(c["limits"]["monthly_credits"]["period"], "2026-12");
}
