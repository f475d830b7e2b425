use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn jane() -> Value {
    json!({
        "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com",
        "phones": [{"number": "(312) 555-0142", "label": "mobile"}, {"number": "312.555.0143 ext. 7", "label": "work"}],
        "tags": ["buyer", "pre-approved"], "fields": {"budget": "450000"},
        "address": {"street": "1 Main St", "city": "Evanston", "state": "IL", "zip": "60201", "country": "US"},
        "time_zone": "America/Chicago"
    })
}

#[tokio::test]
async fn contacts_are_created_read_updated_and_deleted() {
    let app = spawn_app().await;
    let (_, token) = app.agent("a@example.com", json!({})).await;
    let created = app.contact(&token, jane()).await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["source"], "manual");
    assert_eq!(created["phones"][0]["e164"], "+13125550142");
    assert_eq!(created["phones"][0]["number"], "(312) 555-0142");
    assert_eq!(created["phones"][0]["valid"], true);
    assert_eq!(created["phones"][1]["extension"], "7");
    assert_eq!(created["fields"]["budget"], "450000");
    assert_eq!(created["address"]["city"], "Evanston");

    let read: Value = app.get(&format!("/v1/contacts/{id}"), &token).await.json().await.unwrap();
    assert_eq!(read, created);

    let res = app
        .patch(
            &format!("/v1/contacts/{id}"),
            &token,
            &json!({"last_name": "Smith", "email": null, "tags": ["seller"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["last_name"], "Smith");
    assert_eq!(updated["first_name"], "Jane");
    assert_eq!(updated["email"], Value::Null);
    assert_eq!(updated["tags"], json!(["seller"]));
    assert_eq!(updated["phones"].as_array().unwrap().len(), 2, "numbers kept when not sent");

    assert_eq!(app.delete(&format!("/v1/contacts/{id}"), &token).await.status(), StatusCode::NO_CONTENT);
    problem(app.get(&format!("/v1/contacts/{id}"), &token).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.count("contact_phones").await, 0);
    assert_eq!(app.count("contact_tags").await, 0);
}

#[tokio::test]
async fn agent_b_gets_404_for_agent_a_contacts_and_never_sees_them() {
    let app = spawn_app().await;
    let (_, a) = app.agent("a@example.com", json!({})).await;
    let (_, b) = app.agent("b@example.com", json!({})).await;
    let id = app.contact(&a, jane()).await["id"].as_i64().unwrap();
    let path = format!("/v1/contacts/{id}");
    problem(app.get(&path, &b).await, StatusCode::NOT_FOUND, "not_found").await;
    problem(
        app.patch(&path, &b, &json!({"first_name": "Mallory"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(app.delete(&path, &b).await, StatusCode::NOT_FOUND, "not_found").await;
    for q in [
        "",
        "?q=jane",
        "?q=312-555-0142",
        "?phone=3125550142",
        "?tag=buyer",
        "?email=jane.doe@example.com",
        "?q=555",
    ] {
        let list: Value = app.get(&format!("/v1/contacts{q}"), &b).await.json().await.unwrap();
        assert_eq!(list["items"], json!([]), "{q}");
        let list: Value = app.get(&format!("/v1/contacts{q}"), &a).await.json().await.unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{q}");
    }
    let still: Value = app.get(&path, &a).await.json().await.unwrap();
    assert_eq!(still["first_name"], "Jane");
}

async fn names(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let res = app.get(&format!("/v1/contacts{query}"), token).await;
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    let list: Value = res.json().await.unwrap();
    list["items"].as_array().unwrap().iter().map(|c| c["first_name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn search_finds_names_emails_tags_and_numbers_in_any_format() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    app.contact(&t, jane()).await;
    app.contact(&t, json!({"first_name": "José", "last_name": "Hernández", "tags": ["seller"], "phones": [{"number": "+1 773 555 0105"}]})).await;
    app.contact(&t, json!({"first_name": "Janet", "last_name": "Stone", "email": "janet@example.net"})).await;
    assert_eq!(names(&app, &t, "?q=jan").await, vec!["Jane", "Janet"]);
    assert_eq!(names(&app, &t, "?q=jane%20doe").await, vec!["Jane"]);
    assert_eq!(names(&app, &t, "?q=jose").await, vec!["José"], "accents folded");
    assert_eq!(names(&app, &t, "?q=example.net").await, vec!["Janet"]);
    // One dotted or @ word is looked for in the whole email; "J. Doe" is two name words.
    assert_eq!(names(&app, &t, "?q=jane.doe@").await, vec!["Jane"]);
    assert_eq!(names(&app, &t, "?q=J.%20Doe").await, vec!["Jane"]);
    assert_eq!(names(&app, &t, "?q=Hern%C3%A1n").await, vec!["José"], "an accented leading word");
    assert_eq!(names(&app, &t, "?tag=SELLER").await, vec!["José"]);
    assert_eq!(names(&app, &t, "?email=JANE.DOE@example.com").await, vec!["Jane"]);
    for number in ["(773)%20555-0105", "773.555.0105", "%2B17735550105", "7735550105", "1-773-555-0105"] {
        assert_eq!(names(&app, &t, &format!("?q={number}")).await, vec!["José"], "{number}");
        assert_eq!(names(&app, &t, &format!("?phone={number}")).await, vec!["José"], "{number}");
    }
    assert_eq!(names(&app, &t, "?q=555-01").await, vec!["Jane", "José"], "partial numbers match digits");
    assert_eq!(names(&app, &t, "?q=nobody").await, Vec::<String>::new());
    assert_eq!(names(&app, &t, "?q=%22%2A%28").await, Vec::<String>::new(), "FTS syntax is escaped");
}

#[tokio::test]
async fn the_cursor_walks_every_contact_once_in_name_order() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    for i in 0..23 {
        app.contact(
            &t,
            json!({"first_name": format!("P{i:02}"), "last_name": if i % 2 == 0 { "Alpha" } else { "Beta" }}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=5&cursor={c}"),
            None => "?limit=5".into(),
        };
        let page: Value = app.get(&format!("/v1/contacts{q}"), &t).await.json().await.unwrap();
        for c in page["items"].as_array().unwrap() {
            seen.push(format!("{} {}", c["last_name"].as_str().unwrap(), c["first_name"].as_str().unwrap()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen.len(), 23);
    assert_eq!(seen, sorted);
    problem(app.get("/v1/contacts?cursor=bogus", &t).await, StatusCode::BAD_REQUEST, "invalid_cursor").await;
    problem(app.get("/v1/contacts?limit=0", &t).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
        .await;
    problem(app.get("/v1/contacts?limit=many", &t).await, StatusCode::BAD_REQUEST, "invalid_query").await;
    problem(app.get("/v1/contacts?sort=name", &t).await, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn numbers_use_the_agents_country_and_invalid_ones_are_kept_and_marked() {
    let app = spawn_app().await;
    let (_, gb) = app.agent("gb@example.com", json!({"country": "GB", "time_zone": "Europe/London"})).await;
    let (_, us) = app.agent("us@example.com", json!({})).await;
    let body = json!({"first_name": "Oliver", "phones": [{"number": "07400 123456"}, {"number": "555-12", "label": "home"}]});
    let c = app.contact(&gb, body.clone()).await;
    assert_eq!(c["phones"][0]["e164"], "+447400123456");
    assert_eq!(c["phones"][0]["valid"], true);
    assert_eq!(c["phones"][1]["number"], "555-12");
    assert_eq!(c["phones"][1]["valid"], false);
    let c = app.contact(&us, body).await;
    assert_eq!(c["phones"][0]["valid"], false, "07400 123456 is not a US number");
    let c = app.contact(&us, json!({"first_name": "Intl", "phones": [{"number": "+44 7400 123456"}]})).await;
    assert_eq!(c["phones"][0]["e164"], "+447400123456");
    assert_eq!(c["phones"][0]["valid"], true);
}

#[tokio::test]
async fn bad_contact_input_gets_a_problem_document_and_writes_nothing() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    let send = |body: &'static str| {
        app.request(reqwest::Method::POST, "/v1/contacts", &t)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    problem(send("{\"first_name\": ").await.unwrap(), StatusCode::BAD_REQUEST, "malformed_json").await;
    problem(send("[1,2]").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    problem(send("{\"first_name\": 42}").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        .await;
    problem(
        send("{\"first_name\": \"A\", \"nickname\": \"B\"}").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    problem(
        send("{\"first_name\": \"A\", \"phones\": [{\"number\": \"1\", \"label\": \"pager\"}]}")
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    problem(send("{}").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let res = app
        .request(reqwest::Method::POST, "/v1/contacts", &t)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let body = app.post("/v1/contacts", &t, &json!({"first_name": "A", "email": "nope"})).await;
    let doc = problem(body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(doc["field"], "email");
    let huge = format!("{{\"first_name\": \"{}\"}}", "x".repeat(10 * 1024 * 1024));
    let res = app
        .request(reqwest::Method::POST, "/v1/contacts", &t)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await;
    if let Ok(res) = res {
        // The server may also close the connection before reading it all; either way nothing lands.
        problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    assert_eq!(app.count("contacts").await, 0);
    // A bad update changes nothing either.
    let id = app.contact(&t, json!({"first_name": "Keep"})).await["id"].as_i64().unwrap();
    let res = app
        .patch(&format!("/v1/contacts/{id}"), &t, &json!({"first_name": "New", "time_zone": "Nowhere/Zone"}))
        .await;
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let c: Value = app.get(&format!("/v1/contacts/{id}"), &t).await.json().await.unwrap();
    assert_eq!(c["first_name"], "Keep");
    problem(app.get("/v1/contacts/not-a-number", &t).await, StatusCode::NOT_FOUND, "not_found").await;
}

/// Every page of `/v1/contacts{query}` (7 at a time): (first, last, email) in the order given.
async fn all_pages(app: &TestApp, token: &str, query: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if query.is_empty() { "?" } else { "&" };
        let mut q = format!("/v1/contacts{query}{sep}limit=7");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app.get(&q, token).await.json().await.unwrap();
        for c in page["items"].as_array().unwrap() {
            let text = |k: &str| c[k].as_str().unwrap_or("").to_owned();
            out.push((text("first_name"), text("last_name"), text("email")));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// Name search against an oracle: the whole list filtered in the test by the documented rule (each
/// query word starts a word of the first name, the last name or the email's local part, digits
/// and letters being separate words), paged 7 at a time. The 2,600 contacts make words that lead
/// (last names: read as a range of the list), words matched only later in the key (first names,
/// email words), and a later word broad enough (> 2,000 matches) that a walk finds it.
#[tokio::test]
async fn name_search_pages_agree_with_the_rule_over_the_whole_list() {
    let app = spawn_app().await;
    let (_, t) = app.agent("a@example.com", json!({})).await;
    // "Lee", a later word of 2,080 first names, is the broad one.
    let firsts = ["Ann Lee", "Bob Lee", "Zed", "Ola Lee", "Sam Lee"];
    let lasts = ["Abbot", "Smith", "Smithers", "Zimmer", "Olsen", "Van Dyke"];
    let mut csv = String::from("first_name,last_name,email\n");
    for i in 0..2_600 {
        let (f, l) = (firsts[i % 5], lasts[(i / 5) % 6]);
        // "Zed" is a first name only, in 20 % of rows: most rows that match "ze" match later.
        let email = match i % 4 {
            0 => format!(
                "{}.{}{i}@example.com",
                f.replace(' ', "").to_lowercase(),
                l.replace(' ', "").to_lowercase()
            ),
            1 => format!("q{i}@example.net"),
            2 => format!("zz{}@mail.example", i % 7),
            _ => String::new(),
        };
        csv.push_str(&format!("{f},{l},{email}\n"));
    }
    assert_eq!(
        crate::import::import(&app, &t, "?mode=create", csv.into_bytes()).await.status(),
        StatusCode::CREATED
    );
    let everyone = all_pages(&app, &t, "").await;
    assert_eq!(everyone.len(), 2_600);
    let words = |s: &str| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut cur = String::new();
        for c in s.to_lowercase().chars() {
            let same = cur.chars().last().is_none_or(|p| p.is_ascii_digit() == c.is_ascii_digit());
            if !c.is_ascii_alphanumeric() || !same {
                out.extend((!cur.is_empty()).then(|| std::mem::take(&mut cur)));
            }
            if c.is_ascii_alphanumeric() {
                cur.push(c);
            }
        }
        out.extend((!cur.is_empty()).then_some(cur));
        out
    };
    for q in [
        "smi",
        "smithers",
        "ze",
        "zz",
        "zz3",
        "van",
        "dyke",
        "ann smi",
        "sm ann",
        "o",
        "ola olsen",
        "q12",
        "lee",
        "le",
        "lee sam",
        "nobody",
    ] {
        let expect: Vec<_> = everyone
            .iter()
            .filter(|(f, l, e)| {
                let local = e.split('@').next().unwrap_or("");
                let have: Vec<String> = [f.as_str(), l, local].iter().flat_map(|s| words(s)).collect();
                words(q).iter().all(|w| have.iter().any(|h| h.starts_with(w.as_str())))
            })
            .cloned()
            .collect();
        let got = all_pages(&app, &t, &format!("?q={}", q.replace(' ', "%20"))).await;
        assert_eq!(got.len(), expect.len(), "{q}");
        assert!(got == expect, "{q}: pages differ from the whole list filtered");
    }
    // The list order is by last name, then first name.
    assert_eq!(everyone[0].1, "Abbot");
    assert_eq!(everyone.last().map(|c| c.1.as_str()), Some("Zimmer"));
    // A dotted word is looked for in the whole address.
    assert_eq!(all_pages(&app, &t, "?q=example.net").await.len(), 650);
}
