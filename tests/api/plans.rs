//! Plans, the scheduler, quiet hours and the team notice, with a clock the tests move.

use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tidings::plans::scheduler::run_due;

use crate::helpers::*;
use crate::send::{sender, twilio_accepts};

/// Tokens that outlive the years the clock moves through.
fn long_tokens(s: &mut tidings::config::Settings) {
    s.auth.token_ttl_hours = 24 * 365 * 5;
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Texts queued for a number (what the outbox hands Twilio), oldest first.
async fn texts_to(app: &TestApp, number: &str) -> Vec<String> {
    let number = number.to_owned();
    app.state
        .db
        .read(move |c| {
            let mut stmt = c.prepare("SELECT body FROM messages WHERE recipient = ?1 ORDER BY id")?;
            let rows = stmt.query_map([number], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
        .unwrap()
}

/// Moves the clock to `when` and runs scheduler rounds until nothing more is due.
async fn tick(app: &TestApp, when: &str) {
    app.clock.set(at(when));
    while run_due(&app.state.sending).await.unwrap() > 0 {}
}

async fn plan(app: &TestApp, token: &str, body: Value) -> i64 {
    let res = app.post("/v1/plans", token, &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn enroll(app: &TestApp, token: &str, plan: i64, ids: &[i64]) -> Value {
    let res = app.post(&format!("/v1/plans/{plan}/enrollments"), token, &json!({"contact_ids": ids})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn enrollments(app: &TestApp, token: &str, plan: i64) -> Vec<Value> {
    let v: Value = app.get(&format!("/v1/plans/{plan}/enrollments"), token).await.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

fn three_steps() -> Value {
    json!({"name": "New buyer", "steps": [
        {"day_offset": 0, "time_of_day": "10:00", "body": "Hi ${contact.first_name}, step one"},
        {"day_offset": 1, "time_of_day": "09:00", "body": "step two"},
        {"day_offset": 3, "time_of_day": "18:30", "body": "step three"}
    ]})
}

#[tokio::test]
async fn a_three_step_plan_fires_each_step_once_at_local_times_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tidings.db");
    let app = start(&db, long_tokens).await;
    app.clock.set(at("2027-03-01T15:00:00Z"));
    let (_, t) = sender(&app, "a@example.com", json!({"time_zone": "America/Chicago"})).await;
    // Ann says she is in Los Angeles; Bo's area code (212) puts him in New York.
    let ann = app
        .contact(&t, json!({"first_name": "Ann", "time_zone": "America/Los_Angeles", "phones": [{"number": "+13105550101"}]}))
        .await;
    let bo = app.contact(&t, json!({"first_name": "Bo", "phones": [{"number": "+12125550102"}]})).await;
    let p = plan(&app, &t, three_steps()).await;
    let e = enroll(&app, &t, p, &[ann["id"].as_i64().unwrap(), bo["id"].as_i64().unwrap()]).await;
    assert_eq!(e, json!({"enrolled": 2, "already_enrolled": 0}));
    let again = enroll(&app, &t, p, &[bo["id"].as_i64().unwrap()]).await;
    assert_eq!(again, json!({"enrolled": 0, "already_enrolled": 1}), "enrolled once");
    let (ann_n, bo_n) = ("+13105550101", "+12125550102");

    // 15:00Z is 10:00 in New York: Bo's first step goes now; 07:00 in Los Angeles: Ann's waits.
    tick(&app, "2027-03-01T15:00:00Z").await;
    assert_eq!(texts_to(&app, bo_n).await, ["step one".replace("step one", "Hi Bo, step one")]);
    assert!(texts_to(&app, ann_n).await.is_empty());
    let list = enrollments(&app, &t, p).await;
    let ann_e = list.iter().find(|e| e["contact_id"] == ann["id"]).unwrap();
    assert_eq!(
        (ann_e["next_step"].clone(), ann_e["next_at"].clone()),
        (json!(1), json!("2027-03-01T18:00:00Z"))
    );
    assert_eq!(
        (ann_e["time_zone"].clone(), ann_e["zone_source"].clone()),
        (json!("America/Los_Angeles"), json!("contact"))
    );
    let bo_e = list.iter().find(|e| e["contact_id"] == bo["id"]).unwrap();
    assert_eq!(
        (bo_e["next_step"].clone(), bo_e["next_at"].clone()),
        (json!(2), json!("2027-03-02T14:00:00Z"))
    );
    assert_eq!(bo_e["zone_source"], "area_code");

    tick(&app, "2027-03-01T17:59:00Z").await;
    assert!(texts_to(&app, ann_n).await.is_empty(), "not before 10:00 in Los Angeles");
    tick(&app, "2027-03-01T18:00:00Z").await;
    assert_eq!(texts_to(&app, ann_n).await, ["Hi Ann, step one"]);

    // A restart in between: nothing is lost or repeated.
    app.stop().await;
    let app = start(&db, long_tokens).await;
    tick(&app, "2027-03-02T14:00:00Z").await;
    assert_eq!(texts_to(&app, bo_n).await.len(), 2);
    assert_eq!(texts_to(&app, ann_n).await.len(), 1);
    tick(&app, "2027-03-02T17:00:00Z").await;
    assert_eq!(texts_to(&app, ann_n).await, ["Hi Ann, step one", "step two"]);
    tick(&app, "2027-03-04T23:30:00Z").await;
    assert_eq!(texts_to(&app, bo_n).await, ["Hi Bo, step one", "step two", "step three"]);
    tick(&app, "2027-03-05T02:30:00Z").await;
    assert_eq!(texts_to(&app, ann_n).await, ["Hi Ann, step one", "step two", "step three"]);
    tick(&app, "2027-03-09T02:30:00Z").await;
    assert_eq!(texts_to(&app, ann_n).await.len(), 3, "each step once");
    let t = app.login("a@example.com", PASSWORD).await;
    for e in enrollments(&app, &t, p).await {
        assert_eq!(
            (e["state"].clone(), e["steps_sent"].clone(), e["next_at"].clone()),
            (json!("completed"), json!(3), Value::Null)
        );
    }
}

#[tokio::test]
async fn a_step_that_would_pass_the_daily_segment_limit_waits_for_the_next_day() {
    let app = spawn_app_with(long_tokens).await;
    app.clock.set(at("2027-03-01T16:00:00Z"));
    let (_, t) = sender(
        &app,
        "a@example.com",
        json!({"time_zone": "America/Chicago", "limits": {"daily_segments": 1}}),
    )
    .await;
    let a = app.contact(&t, json!({"first_name": "A", "phones": [{"number": "+13125550101"}]})).await;
    let b = app.contact(&t, json!({"first_name": "B", "phones": [{"number": "+13125550102"}]})).await;
    let p = plan(
        &app,
        &t,
        json!({"name": "One", "steps": [{"day_offset": 0, "time_of_day": "09:00", "body": "hello"}]}),
    )
    .await;
    enroll(&app, &t, p, &[a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap()]).await;
    tick(&app, "2027-03-01T16:00:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await.len(), 1);
    assert!(texts_to(&app, "+13125550102").await.is_empty(), "not over the limit (R-LIM-4)");
    let waiting = enrollments(&app, &t, p).await.into_iter().find(|e| e["contact_id"] == b["id"]).unwrap();
    assert_eq!(waiting["state"], "active");
    assert!(waiting["waiting"].as_str().unwrap().starts_with("daily_segments limit reached"), "{waiting}");
    // Tomorrow, at the window's opening in Chicago (08:00 CST = 14:00Z).
    assert_eq!(waiting["next_at"], "2027-03-02T14:00:00Z");
    tick(&app, "2027-03-02T13:59:00Z").await;
    assert!(texts_to(&app, "+13125550102").await.is_empty());
    tick(&app, "2027-03-02T14:00:00Z").await;
    assert_eq!(texts_to(&app, "+13125550102").await, ["hello"]);
    let limits: Value = app.get("/v1/limits", &t).await.json().await.unwrap();
    assert_eq!(limits["limits"]["daily_segments"]["used"], 1, "{limits}");
}

#[tokio::test]
async fn a_reply_stops_an_opt_out_skips_and_removal_ends() {
    let app = spawn_app_with(long_tokens).await;
    app.clock.set(at("2027-03-01T16:00:00Z"));
    let (_, t) = sender(&app, "a@example.com", json!({"time_zone": "America/Chicago"})).await;
    let mut ids = Vec::new();
    for (i, name) in ["Replier", "Stopper", "Removed", "Kept"].iter().enumerate() {
        let c = app
            .contact(&t, json!({"first_name": name, "phones": [{"number": format!("+1312555020{i}")}]}))
            .await;
        ids.push(c["id"].as_i64().unwrap());
    }
    let steps = json!([
        {"day_offset": 0, "time_of_day": "09:00", "body": "one"},
        {"day_offset": 1, "time_of_day": "09:00", "body": "two"}
    ]);
    let stops = plan(&app, &t, json!({"name": "Stops on reply", "steps": steps})).await;
    let keeps = plan(&app, &t, json!({"name": "Goes on", "steps": steps, "stop_on_reply": false})).await;
    enroll(&app, &t, stops, &[ids[0], ids[2], ids[3]]).await;
    enroll(&app, &t, keeps, &[ids[1]]).await;
    tick(&app, "2027-03-01T16:00:00Z").await;
    for i in 0..4 {
        assert_eq!(texts_to(&app, &format!("+1312555020{i}")).await, ["one"]);
    }
    crate::replies::reply(&app, "SM1", "+13125550200", "+13125550100", "Thanks, call me", false).await;
    crate::replies::reply(&app, "SM2", "+13125550201", "+13125550100", "STOP", false).await;
    let removed = enrollments(&app, &t, stops).await.into_iter().find(|e| e["contact_id"] == ids[2]).unwrap();
    let res = app.delete(&format!("/v1/plans/{stops}/enrollments/{}", removed["id"]), &t).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    tick(&app, "2027-03-02T15:00:00Z").await;
    assert_eq!(texts_to(&app, "+13125550200").await, ["one"], "a reply stops the plan");
    assert_eq!(texts_to(&app, "+13125550201").await, ["one"], "an opted-out number gets nothing");
    assert_eq!(texts_to(&app, "+13125550202").await, ["one"], "removed");
    assert_eq!(texts_to(&app, "+13125550203").await, ["one", "two"]);
    let reason = |list: &[Value], id: i64| {
        let e = list.iter().find(|e| e["contact_id"] == id).unwrap();
        (e["state"].as_str().unwrap().to_owned(), e["reason"].as_str().unwrap_or_default().to_owned())
    };
    let list = enrollments(&app, &t, stops).await;
    assert_eq!(reason(&list, ids[0]), ("stopped".into(), "replied".into()));
    assert_eq!(reason(&list, ids[2]), ("stopped".into(), "removed".into()));
    assert_eq!(reason(&list, ids[3]).0, "completed");
    assert_eq!(reason(&enrollments(&app, &t, keeps).await, ids[1]), ("stopped".into(), "opted_out".into()));
}

#[tokio::test]
async fn a_step_due_at_22_local_goes_at_8_the_next_morning() {
    let app = spawn_app_with(long_tokens).await;
    app.clock.set(at("2027-03-01T16:00:00Z"));
    let (_, t) = sender(&app, "a@example.com", json!({"time_zone": "America/New_York"})).await;
    // No zone, no address: Denver from the ZIP wins over the 312 area code and the agent's zone.
    let c = app
        .contact(
            &t,
            json!({"first_name": "Di", "address": {"zip": "80202"}, "phones": [{"number": "+13125550101"}]}),
        )
        .await;
    let p = plan(
        &app,
        &t,
        json!({"name": "Late", "steps": [{"day_offset": 0, "time_of_day": "22:00", "body": "late"}]}),
    )
    .await;
    enroll(&app, &t, p, &[c["id"].as_i64().unwrap()]).await;
    let e = &enrollments(&app, &t, p).await[0];
    assert_eq!((e["zone_source"].clone(), e["time_zone"].clone()), (json!("zip"), json!("America/Denver")));
    // 08:00 MST on 2 March = 15:00Z.
    assert_eq!(e["next_at"], "2027-03-02T15:00:00Z");
    tick(&app, "2027-03-02T05:00:00Z").await; // 22:00 in Denver
    assert!(texts_to(&app, "+13125550101").await.is_empty());
    tick(&app, "2027-03-02T15:00:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await, ["late"]);
}

#[tokio::test]
async fn two_schedulers_on_one_database_send_each_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tidings.db");
    let one = start(&db, long_tokens).await;
    let two = start(&db, long_tokens).await;
    for app in [&one, &two] {
        app.clock.set(at("2027-03-01T16:00:00Z"));
    }
    let (_, t) = sender(&one, "a@example.com", json!({"time_zone": "America/Chicago"})).await;
    let ids = one.contacts(&t, 40).await;
    let p = plan(
        &one,
        &t,
        json!({"name": "Both", "steps": [{"day_offset": 0, "time_of_day": "09:00", "body": "once"}]}),
    )
    .await;
    enroll(&one, &t, p, &ids).await;
    // Both apps' background schedulers run too; and two rounds at once from each.
    let (a, b, c, d) = tokio::join!(
        run_due(&one.state.sending),
        run_due(&two.state.sending),
        run_due(&one.state.sending),
        run_due(&two.state.sending)
    );
    for r in [a, b, c, d] {
        r.unwrap();
    }
    tick(&one, "2027-03-01T16:00:01Z").await;
    tick(&two, "2027-03-01T16:00:01Z").await;
    assert_eq!(one.count("messages").await, 40, "one text per enrollment");
}

#[tokio::test]
async fn plans_are_validated_and_private_to_their_agent() {
    let app = spawn_app_with(long_tokens).await;
    let (_, t) = sender(&app, "a@example.com", json!({})).await;
    let (_, other) = app.agent("b@example.com", json!({})).await;
    let res = app
        .post(
            "/v1/plans",
            &t,
            &json!({"name": "x", "steps": [{"day_offset": 0, "time_of_day": "9am", "body": "x"}]}),
        )
        .await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(p["field"], "steps[0].time_of_day");
    let res = app.post("/v1/plans", &t, &json!({"name": "x", "steps": [{"day_offset": 0, "time_of_day": "09:00", "template_script": 999}]})).await;
    assert_eq!(
        problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await["field"],
        "steps[0].template_script"
    );
    let res = app.post("/v1/plans", &t, &json!({"name": "x", "steps": [], "colour": "red"})).await;
    assert!(res.status().is_client_error());
    assert_eq!(app.count("plans").await, 0, "nothing half-written");
    let p = plan(&app, &t, three_steps()).await;
    assert_eq!(app.get(&format!("/v1/plans/{p}"), &other).await.status(), StatusCode::NOT_FOUND);
    let res = app.post(&format!("/v1/plans/{p}/enrollments"), &other, &json!({"contact_ids": [1]})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.post(&format!("/v1/plans/{p}/enrollments"), &t, &json!({"contact_ids": [424242]})).await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "unknown_contacts").await;
}

#[tokio::test]
async fn a_team_agents_first_text_brings_the_notice_and_next_day_the_privacy_text_once() {
    let app = spawn_app_with(long_tokens).await;
    app.clock.set(at("2027-03-01T16:00:00Z"));
    let res = app.post("/v1/admin/teams", &app.admin_token, &json!({"name": "North Shore"})).await;
    let team: Value = res.json().await.unwrap();
    let (_, t) = sender(
        &app,
        "a@example.com",
        json!({"name": "Alex Agent", "team_id": team["id"], "time_zone": "America/Chicago"}),
    )
    .await;
    let c = app.contact(&t, json!({"first_name": "Cy", "phones": [{"number": "+13125550101"}]})).await;
    let d = app.contact(&t, json!({"first_name": "Di", "phones": [{"number": "+13125550102"}]})).await;
    let send = |ids: Vec<Value>, body: &'static str| {
        let (app, t) = (&app, t.clone());
        async move {
            let res = app.post("/v1/messages/send", &t, &json!({"contact_ids": ids, "body": body})).await;
            assert_eq!(res.status(), StatusCode::ACCEPTED);
        }
    };
    send(vec![c["id"].clone(), d["id"].clone()], "Open house Sunday").await;
    let texts = texts_to(&app, "+13125550101").await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("Alex Agent") && texts[0].contains("STOP"), "the notice first: {}", texts[0]);
    assert_eq!(texts[1], "Open house Sunday");
    send(vec![c["id"].clone()], "See you there").await;
    assert_eq!(texts_to(&app, "+13125550101").await.len(), 3, "a second text brings nothing extra");
    // Counters and credits count the two real texts to Cy and the one to Di only (R-TEAM-2).
    let limits: Value = app.get("/v1/limits", &t).await.json().await.unwrap();
    let used = |k: &str| limits["limits"][k]["used"].clone();
    assert_eq!(
        (used("daily_unique_recipients"), used("daily_segments"), used("monthly_credits")),
        (json!(2), json!(3), json!(3))
    );

    // Di opts out before the next day: her privacy text is skipped.
    crate::replies::reply(&app, "SM9", "+13125550102", "+13125550100", "STOP", false).await;
    tick(&app, "2027-03-02T15:59:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await.len(), 3, "not before 10:00 in Chicago");
    tick(&app, "2027-03-02T16:00:00Z").await;
    let texts = texts_to(&app, "+13125550101").await;
    assert_eq!(texts.last().map(String::as_str), Some(tidings::outbox::notices::PRIVACY_TEXT));
    assert_eq!(
        tidings::outbox::notices::PRIVACY_TEXT,
        "To better serve you, messages may be shared with other team members. Please call or text me with questions."
    );
    tick(&app, "2027-03-05T16:00:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await.len(), 4, "once");
    assert_eq!(
        texts_to(&app, "+13125550102").await.len(),
        2,
        "the notice and the text; no privacy text after STOP"
    );
    let limits: Value = app.get("/v1/limits", &t).await.json().await.unwrap();
    assert_eq!(limits["limits"]["monthly_credits"]["used"], 3, "notices cost nothing");

    // An agent without a team sends no notice.
    let (_, solo) = app.agent("solo@example.com", json!({})).await;
    assert_eq!(
        app.put("/v1/me/number", &solo, &json!({"number": "+13125550101"})).await.status(),
        StatusCode::OK
    );
    let e = app.contact(&solo, json!({"first_name": "Ed", "phones": [{"number": "+13125550109"}]})).await;
    let res = app.post("/v1/messages/send", &solo, &json!({"contact_ids": [e["id"]], "body": "Hi"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(texts_to(&app, "+13125550109").await, ["Hi"]);
}

#[tokio::test]
async fn a_one_off_send_outside_the_window_carries_a_warning_in_its_quote() {
    let app = spawn_app_with(long_tokens).await;
    let (_, t) = sender(&app, "a@example.com", json!({"time_zone": "America/Chicago"})).await;
    let c = app.contact(&t, json!({"first_name": "Cy", "phones": [{"number": "+13125550101"}]})).await;
    let quote = |app: &TestApp| {
        let (t, id) = (t.clone(), c["id"].clone());
        let client = app.client.clone();
        let url = app.url("/v1/messages/quote");
        async move {
            let res = client
                .post(url)
                .bearer_auth(t)
                .json(&json!({"contact_ids": [id], "body": "Hi"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let q: Value = res.json().await.unwrap();
            q["warnings"].as_array().unwrap().iter().find(|w| w["code"] == "quiet_hours").cloned()
        }
    };
    app.clock.set(at("2027-03-02T04:00:00Z")); // 22:00 in Chicago
    let w = quote(&app).await.expect("a quiet-hours warning at 22:00");
    assert_eq!(w["recipients"], 1);
    app.clock.set(at("2027-03-02T16:00:00Z")); // 10:00
    assert!(quote(&app).await.is_none());
    // Allowed with the warning: a one-off send at night still goes.
    app.clock.set(at("2027-03-02T04:00:00Z"));
    let res = app.post("/v1/messages/send", &t, &json!({"contact_ids": [c["id"]], "body": "Hi"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_scheduled_send_goes_at_its_time_per_recipient_window_with_limits_checked_then() {
    let app = spawn_app_with(long_tokens).await;
    app.clock.set(at("2027-03-01T14:00:00Z"));
    // Twilio takes the texts: a refusal would give their segments back (R-LIM-3).
    twilio_accepts(&app, std::time::Duration::ZERO).await;
    let (_, t) = sender(
        &app,
        "a@example.com",
        json!({"time_zone": "America/Chicago", "limits": {"daily_segments": 2}}),
    )
    .await;
    let chi = app.contact(&t, json!({"first_name": "Cy", "phones": [{"number": "+13125550101"}]})).await;
    let la = app.contact(&t, json!({"first_name": "Lu", "time_zone": "America/Los_Angeles", "phones": [{"number": "+13125550102"}]})).await;
    // 15:30Z is 09:30 in Chicago and 07:30 in Los Angeles.
    let body = json!({"contact_ids": [chi["id"], la["id"]], "body": "Open house at noon", "send_at": "2027-03-01T15:30:00Z"});
    let res = app.post("/v1/messages/send", &t, &body).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["status"].clone(), v["send_at"].clone()),
        (json!("scheduled"), json!("2027-03-01T15:30:00Z"))
    );
    assert!(v["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "scheduled"), "{v}");
    assert!(
        v["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "quiet_hours" && w["recipients"] == 1),
        "{v}"
    );
    assert_eq!(app.count("messages").await, 0, "nothing queued or reserved yet");
    let listed: Value = app.get("/v1/messages/scheduled", &t).await.json().await.unwrap();
    assert_eq!(listed["items"][0]["state"], "pending");

    tick(&app, "2027-03-01T15:29:00Z").await;
    assert_eq!(app.count("messages").await, 0);
    tick(&app, "2027-03-01T15:30:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await, ["Open house at noon"]);
    assert!(texts_to(&app, "+13125550102").await.is_empty(), "07:30 in Los Angeles: waits");
    tick(&app, "2027-03-01T16:00:00Z").await; // 08:00 there
    assert_eq!(texts_to(&app, "+13125550102").await, ["Open house at noon"]);

    // The day's 2 segments are used: a send scheduled for later today waits for tomorrow.
    let limits: Value = app.get("/v1/limits", &t).await.json().await.unwrap();
    assert_eq!(limits["limits"]["daily_segments"]["used"], 2, "{limits}");
    let body = json!({"contact_ids": [chi["id"]], "body": "Reminder", "send_at": "2027-03-01T20:00:00Z"});
    let res = app.post("/v1/messages/send", &t, &body).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "limits are checked when it goes out");
    let id = res.json::<Value>().await.unwrap()["scheduled_id"].clone();
    tick(&app, "2027-03-01T20:00:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await.len(), 1);
    let listed: Value = app.get("/v1/messages/scheduled", &t).await.json().await.unwrap();
    let job = listed["items"].as_array().unwrap().iter().find(|j| j["id"] == id).unwrap().clone();
    assert_eq!(job["state"], "pending");
    assert!(job["reason"].as_str().unwrap().starts_with("limit_exceeded"), "{job}");
    tick(&app, "2027-03-02T06:00:00Z").await; // midnight in Chicago: a new day, but quiet hours
    assert_eq!(texts_to(&app, "+13125550101").await.len(), 1);
    tick(&app, "2027-03-02T14:00:00Z").await; // 08:00 there
    assert_eq!(texts_to(&app, "+13125550101").await, ["Open house at noon", "Reminder"]);

    // Canceled before it goes: nothing is sent; canceling twice is a conflict.
    let body = json!({"contact_ids": [chi["id"]], "body": "Never", "send_at": "2027-03-03T16:00:00Z"});
    let id =
        app.post("/v1/messages/send", &t, &body).await.json::<Value>().await.unwrap()["scheduled_id"].clone();
    assert_eq!(
        app.delete(&format!("/v1/messages/scheduled/{id}"), &t).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(
        app.delete(&format!("/v1/messages/scheduled/{id}"), &t).await,
        StatusCode::CONFLICT,
        "not_pending",
    )
    .await;
    problem(app.delete("/v1/messages/scheduled/999999", &t).await, StatusCode::NOT_FOUND, "not_found").await;
    tick(&app, "2027-03-03T17:00:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await.len(), 2);
    let res = app
        .post(
            "/v1/messages/send",
            &t,
            &json!({"contact_ids": [chi["id"]], "body": "x", "send_at": "2029-03-03T16:00:00Z"}),
        )
        .await;
    assert_eq!(problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await["field"], "send_at");
}

#[tokio::test]
async fn a_round_that_dies_midway_leaves_nothing_and_the_next_sends_each_step_once() {
    let app = spawn_app_with(long_tokens).await;
    app.clock.set(at("2027-03-01T16:00:00Z"));
    let (_, t) = sender(&app, "a@example.com", json!({"time_zone": "America/Chicago"})).await;
    let ids = app.contacts(&t, 10).await;
    let p = plan(
        &app,
        &t,
        json!({"name": "Crash", "steps": [{"day_offset": 0, "time_of_day": "09:00", "body": "once"}]}),
    )
    .await;
    // The round dies when it reaches the 7th text (as a crash would, before its commit).
    app.state
        .db
        .write(|tx| {
            tx.execute_batch(
                "CREATE TEMP TRIGGER die BEFORE INSERT ON messages WHEN NEW.recipient = '+13125551006'
                 BEGIN SELECT RAISE(ABORT, 'simulated crash'); END;",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    enroll(&app, &t, p, &ids).await;
    let died = run_due(&app.state.sending).await;
    assert!(died.is_err(), "the round failed");
    assert_eq!(app.count("messages").await, 0, "nothing of the round is left");
    assert!(enrollments(&app, &t, p).await.iter().all(|e| e["steps_sent"] == 0 && e["state"] == "active"));
    app.state
        .db
        .write(|tx| {
            tx.execute_batch("DROP TRIGGER temp.die")?;
            Ok(())
        })
        .await
        .unwrap();
    tick(&app, "2027-03-01T16:00:01Z").await;
    tick(&app, "2027-03-01T16:00:02Z").await;
    for i in 0..10 {
        assert_eq!(texts_to(&app, &format!("+1312555{:04}", 1000 + i)).await, ["once"], "each step once");
    }
}

#[tokio::test]
async fn enrolling_by_filter_and_editing_a_plan_with_live_enrollments() {
    let app = spawn_app_with(long_tokens).await;
    app.clock.set(at("2027-03-01T16:00:00Z"));
    let (_, t) = sender(&app, "a@example.com", json!({"time_zone": "America/Chicago"})).await;
    let buyer = app
        .contact(&t, json!({"first_name": "Bu", "tags": ["buyer"], "phones": [{"number": "+13125550101"}]}))
        .await;
    app.contact(&t, json!({"first_name": "Se", "tags": ["seller"], "phones": [{"number": "+13125550102"}]}))
        .await;
    let res = app
        .post(
            "/v1/scripts",
            &app.admin_token,
            &json!({"name": "Buyers", "kind": "filter", "source": "contact.tags.contains(\"buyer\")"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let filter = res.json::<Value>().await.unwrap()["id"].clone();
    let p = plan(&app, &t, three_steps()).await;
    let res = app.post(&format!("/v1/plans/{p}/enrollments"), &t, &json!({"filter_script": filter})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["enrolled"], 1);
    let list = enrollments(&app, &t, p).await;
    assert_eq!((list.len(), list[0]["contact_id"].clone()), (1, buyer["id"].clone()));
    tick(&app, "2027-03-01T16:00:00Z").await; // 10:00 in Chicago: step 1
    assert_eq!(enrollments(&app, &t, p).await[0]["next_at"], "2027-03-02T15:00:00Z");

    // The next step moves to 11:15; the plan keeps its place (step 2 of now two).
    let mut edited = three_steps();
    edited["steps"][1]["time_of_day"] = json!("11:15");
    edited["steps"].as_array_mut().unwrap().pop();
    assert_eq!(app.put(&format!("/v1/plans/{p}"), &t, &edited).await.status(), StatusCode::OK);
    let e = &enrollments(&app, &t, p).await[0];
    assert_eq!((e["next_step"].clone(), e["next_at"].clone()), (json!(2), json!("2027-03-02T17:15:00Z")));
    tick(&app, "2027-03-02T17:15:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await, ["Hi Bu, step one", "step two"]);
    // Cut to one step: the enrollment, past the last step, is complete.
    edited["steps"].as_array_mut().unwrap().pop();
    let p2 = plan(&app, &t, three_steps()).await;
    enroll(&app, &t, p2, &[buyer["id"].as_i64().unwrap()]).await;
    assert_eq!(
        app.put(
            &format!("/v1/plans/{p2}"),
            &t,
            &json!({"name": "Short", "steps": [{"day_offset": 0, "time_of_day": "10:00", "body": "x"}]})
        )
        .await
        .status(),
        StatusCode::OK
    );
    tick(&app, "2027-03-02T17:16:00Z").await;
    let e = &enrollments(&app, &t, p2).await[0];
    assert_eq!((e["state"].clone(), e["steps_sent"].clone()), (json!("completed"), json!(1)));
    // Paused, nothing goes; resumed, what fell due goes.
    let p3 = plan(
        &app,
        &t,
        json!({"name": "P", "steps": [{"day_offset": 1, "time_of_day": "09:00", "body": "later"}]}),
    )
    .await;
    enroll(&app, &t, p3, &[buyer["id"].as_i64().unwrap()]).await;
    assert_eq!(app.post(&format!("/v1/plans/{p3}/pause"), &t, &json!({})).await.status(), StatusCode::OK);
    tick(&app, "2027-03-03T16:00:00Z").await;
    assert!(!texts_to(&app, "+13125550101").await.contains(&"later".to_owned()));
    assert_eq!(app.post(&format!("/v1/plans/{p3}/resume"), &t, &json!({})).await.status(), StatusCode::OK);
    tick(&app, "2027-03-03T16:01:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await.last().map(String::as_str), Some("later"));
}

#[tokio::test]
async fn the_notice_reaches_twilio_before_the_text_even_at_a_fast_pace() {
    // A 10DLC number sends 10 a second: notice and text are claimed in one round.
    let app = spawn_app_with(|s| {
        long_tokens(s);
        s.sending.ten_dlc_numbers = vec!["+13125550100".into()];
    })
    .await;
    let sent = twilio_accepts(&app, std::time::Duration::from_millis(50)).await;
    let res = app.post("/v1/admin/teams", &app.admin_token, &json!({"name": "North Shore"})).await;
    let team: Value = res.json().await.unwrap();
    let (_, t) = sender(&app, "a@example.com", json!({"name": "Alex Agent", "team_id": team["id"]})).await;
    let c = app.contact(&t, json!({"first_name": "Cy", "phones": [{"number": "+13125550101"}]})).await;
    let res = app.post("/v1/messages/send", &t, &json!({"contact_ids": [c["id"]], "body": "The text"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    for _ in 0..200 {
        if sent.lock().unwrap().len() >= 2 {
            break;
        }
        app.clock.advance(jiff::SignedDuration::from_millis(200));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let bodies: Vec<String> = sent.lock().unwrap().iter().map(|s| s.2.clone()).collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies[0].contains("Alex Agent"), "the notice first: {bodies:?}");
    assert_eq!(bodies[1], "The text");
}

#[tokio::test]
async fn a_scheduled_send_leaves_out_a_contact_deleted_meanwhile_and_stop_ends_enrollments_at_once() {
    let app = spawn_app_with(long_tokens).await;
    app.clock.set(at("2027-03-01T16:00:00Z"));
    let (_, t) = sender(&app, "a@example.com", json!({"time_zone": "America/Chicago"})).await;
    let a = app.contact(&t, json!({"first_name": "A", "phones": [{"number": "+13125550101"}]})).await;
    let b = app.contact(&t, json!({"first_name": "B", "phones": [{"number": "+13125550102"}]})).await;
    let body = json!({"contact_ids": [a["id"], b["id"]], "body": "Later", "send_at": "2027-03-01T18:00:00Z"});
    assert_eq!(app.post("/v1/messages/send", &t, &body).await.status(), StatusCode::ACCEPTED);
    assert_eq!(app.delete(&format!("/v1/contacts/{}", b["id"]), &t).await.status(), StatusCode::NO_CONTENT);
    tick(&app, "2027-03-01T18:00:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await, ["Later"], "the others still get it");

    // STOP ends the contact's enrollments there and then, even in a plan that goes on after replies.
    let p = plan(&app, &t, json!({"name": "On", "stop_on_reply": false, "steps": [{"day_offset": 1, "time_of_day": "09:00", "body": "x"}]})).await;
    enroll(&app, &t, p, &[a["id"].as_i64().unwrap()]).await;
    crate::replies::reply(&app, "SM7", "+13125550101", "+13125550100", "Stop texting me", false).await;
    let e = &enrollments(&app, &t, p).await[0];
    assert_eq!(
        (e["state"].clone(), e["reason"].clone(), e["next_at"].clone()),
        (json!("stopped"), json!("opted_out"), Value::Null)
    );

    // A template that cannot compile is refused when the plan is saved.
    let res = app.post("/v1/plans", &t, &json!({"name": "Bad", "steps": [{"day_offset": 0, "time_of_day": "09:00", "body": "Hi ${contact.first_name"}]})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["field"], "steps[0].body", "{p}");
}

#[tokio::test]
async fn an_automated_text_still_queued_when_the_window_closes_waits_for_morning() {
    let app = spawn_app_with(long_tokens).await;
    let sent = twilio_accepts(&app, std::time::Duration::ZERO).await;
    let (_, t) = sender(&app, "a@example.com", json!({"time_zone": "America/Chicago"})).await;
    let c = app.contact(&t, json!({"first_name": "Cy", "phones": [{"number": "+13125550101"}]})).await;
    let p = plan(
        &app,
        &t,
        json!({"name": "Late", "steps": [{"day_offset": 0, "time_of_day": "20:59", "body": "evening"}]}),
    )
    .await;
    // Queued at 20:59 in Chicago, but the outbox is held up (a backlog, a pause) past 21:00.
    app.state.outbox.set_paused(true);
    app.clock.set(at("2027-03-02T02:59:00Z"));
    enroll(&app, &t, p, &[c["id"].as_i64().unwrap()]).await;
    tick(&app, "2027-03-02T02:59:00Z").await;
    assert_eq!(texts_to(&app, "+13125550101").await, ["evening"]);
    app.clock.set(at("2027-03-02T03:30:00Z"));
    app.state.outbox.set_paused(false);
    let row = || async {
        app.state
            .db
            .read(|c| {
                Ok(c.query_row("SELECT status, next_attempt_at, attempts FROM messages", [], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })?)
            })
            .await
            .unwrap()
    };
    let mut held = row().await;
    for _ in 0..100 {
        held = row().await;
        if held.1 > at("2027-03-02T03:30:00Z").as_millisecond() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        held,
        ("queued".into(), at("2027-03-02T14:00:00Z").as_millisecond(), 0),
        "held for 08:00, no try counted"
    );
    assert!(sent.lock().unwrap().is_empty(), "nothing reached Twilio after 21:00");
    app.clock.set(at("2027-03-02T14:00:00Z"));
    app.state.outbox.wake();
    for _ in 0..100 {
        if !sent.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sent.lock().unwrap().len(), 1, "sent in the morning");
}
