use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn login_returns_a_token_that_opens_me() {
    let app = spawn_app().await;
    let res = app.login_response(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("tdg_") && token.len() > 40);
    assert!(body["expires_at"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok());
    let me: Value = app.get("/v1/me", token).await.json().await.unwrap();
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["limits"]["daily_segments"], 1000);
    // Only the hash is stored.
    let stored: Vec<u8> = app
        .state
        .db
        .read(|c| Ok(c.query_row("SELECT token_hash FROM sessions LIMIT 1", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&token[4..]));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401() {
    let app = spawn_app().await;
    let a = problem(
        app.login_response(ADMIN_EMAIL, "wrong password!").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let b = problem(
        app.login_response("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(a["detail"], b["detail"]);
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let app = spawn_app().await;
    problem(app.get("/v1/me", "").await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    problem(app.get("/v1/me", "tdg_nonsense").await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let forged = format!("tdg_{}", "A".repeat(43));
    problem(app.get("/v1/me", &forged).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn login_is_throttled_per_email_with_retry_after() {
    let app = spawn_app_with(|s| s.auth.login_attempts_per_minute_per_email = 3).await;
    // spawn_app logged the admin in once already.
    for _ in 0..2 {
        assert_eq!(
            app.login_response(ADMIN_EMAIL, "wrong password!").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = app.login_response(ADMIN_EMAIL, PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let body = problem(res, StatusCode::TOO_MANY_REQUESTS, "login_throttled").await;
    assert_eq!(body["retry_after"], retry);
    // Another email from the same address is not held back.
    let res = app.login_response("other@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_is_throttled_per_client_address() {
    let app = spawn_app_with(|s| s.auth.login_attempts_per_minute_per_address = 4).await;
    for i in 0..3 {
        let res = app.login_response(&format!("user{i}@example.com"), PASSWORD).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app.login_response("user9@example.com", PASSWORD).await;
    assert!(res.headers().contains_key("retry-after"));
    problem(res, StatusCode::TOO_MANY_REQUESTS, "login_throttled").await;
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let app = spawn_app().await;
    let other = app.login(ADMIN_EMAIL, PASSWORD).await;
    let res = app.request(reqwest::Method::POST, "/v1/auth/logout", &app.admin_token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(app.get("/v1/me", &app.admin_token).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Other sessions stay.
    assert_eq!(app.get("/v1/me", &other).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_token_gets_401() {
    let app = spawn_app_with(|s| s.auth.token_ttl_hours = 2).await;
    assert_eq!(app.get("/v1/me", &app.admin_token).await.status(), StatusCode::OK);
    app.clock.advance(jiff::SignedDuration::from_mins(119));
    assert_eq!(app.get("/v1/me", &app.admin_token).await.status(), StatusCode::OK);
    app.clock.advance(jiff::SignedDuration::from_mins(2));
    problem(app.get("/v1/me", &app.admin_token).await, StatusCode::UNAUTHORIZED, "token_expired").await;
}

#[tokio::test]
async fn only_admins_manage_agents_and_teams() {
    let app = spawn_app().await;
    let (_, agent) = app.agent("agent@example.com", json!({})).await;
    problem(app.get("/v1/admin/agents", &agent).await, StatusCode::FORBIDDEN, "forbidden").await;
    let body = json!({"email": "x@example.com", "name": "X", "password": PASSWORD});
    problem(app.post("/v1/admin/agents", &agent, &body).await, StatusCode::FORBIDDEN, "forbidden").await;
    problem(
        app.post("/v1/admin/teams", &agent, &json!({"name": "T"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(app.count("agents").await, 2);
    assert_eq!(app.count("teams").await, 0);
}

#[tokio::test]
async fn admins_create_and_update_agents_with_country_time_zone_and_limits() {
    let app = spawn_app().await;
    let res = app.post("/v1/admin/teams", &app.admin_token, &json!({"name": "North Shore"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let team: Value = res.json().await.unwrap();
    let body = json!({
        "email": "gb@example.com", "name": "Gemma Agent", "password": PASSWORD, "team_id": team["id"],
        "country": "gb", "time_zone": "Europe/London", "limits": {"daily_segments": 50}
    });
    let res = app.post("/v1/admin/agents", &app.admin_token, &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let agent: Value = res.json().await.unwrap();
    assert_eq!(agent["country"], "GB");
    assert_eq!(agent["time_zone"], "Europe/London");
    assert_eq!(agent["team"]["name"], "North Shore");
    assert_eq!(agent["role"], "agent");
    assert_eq!(
        agent["limits"],
        json!({"daily_unique_recipients": 200, "daily_segments": 50, "monthly_credits": 3000})
    );

    let id = agent["id"].as_i64().unwrap();
    let patch = json!({"time_zone": "America/New_York", "team_id": null, "limits": {"daily_segments": null, "monthly_credits": 10}, "role": "admin"});
    let res = app.patch(&format!("/v1/admin/agents/{id}"), &app.admin_token, &patch).await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["time_zone"], "America/New_York");
    assert_eq!(updated["team"], Value::Null);
    assert_eq!(updated["role"], "admin");
    assert_eq!(updated["limits"]["daily_segments"], 1000, "null goes back to the default");
    assert_eq!(updated["limits"]["monthly_credits"], 10);

    let list: Value = app.get("/v1/admin/agents", &app.admin_token).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let one: Value = app.get(&format!("/v1/admin/agents/{id}"), &app.admin_token).await.json().await.unwrap();
    assert_eq!(one, updated);
    problem(app.get("/v1/admin/agents/999", &app.admin_token).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    let teams: Value = app.get("/v1/admin/teams", &app.admin_token).await.json().await.unwrap();
    assert_eq!(teams["items"][0]["members"], 0);
    let res = app
        .patch(&format!("/v1/admin/teams/{}", team["id"]), &app.admin_token, &json!({"name": "South"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_new_password_ends_the_agents_sessions() {
    let app = spawn_app().await;
    let (id, token) = app.agent("a@example.com", json!({})).await;
    let res = app
        .patch(
            &format!("/v1/admin/agents/{id}"),
            &app.admin_token,
            &json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    problem(app.get("/v1/me", &token).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    app.login("a@example.com", "a brand new password").await;
}

#[tokio::test]
async fn bad_agent_input_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    app.agent("taken@example.com", json!({})).await;
    let base = json!({"email": "new@example.com", "name": "N", "password": PASSWORD});
    let cases = [
        (json!({"email": "TAKEN@example.com"}), StatusCode::CONFLICT, "email_taken"),
        (json!({"email": "not-an-email"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (json!({"password": "short"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (json!({"country": "XX"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (json!({"time_zone": "Mars/Base"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (json!({"team_id": 99}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (json!({"role": "root"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!({"nickname": "x"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!({"limits": {"daily_segments": -1}}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
    ];
    for (extra, status, code) in cases {
        let mut body = base.clone();
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        problem(app.post("/v1/admin/agents", &app.admin_token, &body).await, status, code).await;
    }
    assert_eq!(app.count("agents").await, 2);
    let res = app.patch("/v1/admin/agents/999", &app.admin_token, &json!({"name": "Z"})).await;
    problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn available_numbers_come_from_the_twilio_account_and_hide_numbers_held_by_others() {
    let app = spawn_app().await;
    let (_, a) = app.agent("a@example.com", json!({})).await;
    let (_, b) = app.agent("b@example.com", json!({})).await;
    let res = app.put("/v1/me/number", &a, &json!({"number": "+13125550101"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["sending_number"], "+13125550101");

    let list: Value = app.get("/v1/numbers/available", &b).await.json().await.unwrap();
    let numbers: Vec<&str> =
        list["numbers"].as_array().unwrap().iter().map(|n| n["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, vec!["+13125550100", "+13125550102"]);
    assert_eq!(list["sandbox"], false);
    let mine: Value = app.get("/v1/numbers/available", &a).await.json().await.unwrap();
    assert!(
        mine["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["number"] == "+13125550101" && n["yours"] == true)
    );

    // The client spoke Twilio's API with Basic auth of the account SID and token.
    let requests = app.twilio.received_requests().await.unwrap();
    let auth = requests[0].headers.get("authorization").unwrap().to_str().unwrap();
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    assert_eq!(auth, format!("Basic {expected}"));
}

#[tokio::test]
async fn a_number_belongs_to_one_agent() {
    let app = spawn_app().await;
    let (_, a) = app.agent("a@example.com", json!({})).await;
    let (_, b) = app.agent("b@example.com", json!({})).await;
    assert_eq!(
        app.put("/v1/me/number", &a, &json!({"number": "+1 312 555 0100"})).await.status(),
        StatusCode::OK
    );
    let res = app.put("/v1/me/number", &b, &json!({"number": "+13125550100"})).await;
    problem(res, StatusCode::CONFLICT, "number_taken").await;
    // Taking it again is harmless; releasing frees it.
    assert_eq!(
        app.put("/v1/me/number", &a, &json!({"number": "+13125550100"})).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.delete("/v1/me/number", &a).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.put("/v1/me/number", &b, &json!({"number": "+13125550100"})).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_number_outside_the_account_or_not_a_number_is_refused() {
    let app = spawn_app().await;
    let (_, a) = app.agent("a@example.com", json!({})).await;
    problem(
        app.put("/v1/me/number", &a, &json!({"number": "+13125550199"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "number_not_in_account",
    )
    .await;
    problem(
        app.put("/v1/me/number", &a, &json!({"number": "call me"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_number",
    )
    .await;
    let me: Value = app.get("/v1/me", &a).await.json().await.unwrap();
    assert_eq!(me["sending_number"], Value::Null);
}

#[tokio::test]
async fn twilio_refusing_our_credentials_is_a_502_that_names_no_secret() {
    let app = spawn_app().await;
    app.twilio.reset().await;
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json")))
        .and(header("authorization", "Basic x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&app.twilio)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
        )
        .mount(&app.twilio)
        .await;
    let body = problem(
        app.get("/v1/numbers/available", &app.admin_token).await,
        StatusCode::BAD_GATEWAY,
        "twilio_auth_failed",
    )
    .await;
    assert!(!body.to_string().contains(AUTH_TOKEN));
}

#[tokio::test]
async fn the_sandbox_offers_the_configured_numbers() {
    let app = spawn_app_with(|s| {
        s.twilio.account_sid = None;
        s.twilio.sandbox_numbers = vec!["+13125550150".into()];
    })
    .await;
    let list: Value = app.get("/v1/numbers/available", &app.admin_token).await.json().await.unwrap();
    assert_eq!(list["sandbox"], true);
    assert_eq!(list["numbers"][0]["number"], "+13125550150");
    assert!(app.twilio.received_requests().await.unwrap().is_empty());
}
