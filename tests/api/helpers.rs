use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tidings::accounts::api::{AgentInput, add_agent};
use tidings::accounts::model::{LimitOverrides, Role};
use tidings::app::{self, AppState};
use tidings::clock::ManualClock;
use tidings::config::Settings;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "test-auth-token-do-not-log";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery";
/// The numbers the Twilio stand-in says the account has.
pub const ACCOUNT_NUMBERS: [&str; 3] = ["+13125550100", "+13125550101", "+13125550102"];

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub twilio: MockServer,
    pub clock: Arc<ManualClock>,
    pub state: actix_web::web::Data<AppState>,
    pub admin_token: String,
    handle: actix_web::dev::ServerHandle,
    _dir: Option<tempfile::TempDir>,
}

/// The settings every test app starts from.
pub fn test_settings(db: &Path, twilio: &MockServer) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.server.workers = 1;
    s.database.path = db.to_path_buf();
    s.database.pool_size = 4;
    s.twilio.account_sid = Some(ACCOUNT_SID.into());
    s.twilio.auth_token = Some(AUTH_TOKEN.into());
    s.twilio.api_base = twilio.uri();
    s.auth.login_attempts_per_minute_per_address = 1_000;
    s.auth.login_attempts_per_minute_per_email = 1_000;
    s
}

pub async fn twilio_stand_in() -> MockServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockServer::start().await;
    let numbers: Vec<Value> = ACCOUNT_NUMBERS
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({
                "sid": format!("PN{i:032}"),
                "account_sid": ACCOUNT_SID,
                "phone_number": n,
                "friendly_name": format!("(312) 555-010{i}"),
                "capabilities": {"voice": true, "sms": true, "mms": true, "fax": false},
                "date_created": "Thu, 30 Jul 2015 20:12:31 +0000"
            })
        })
        .collect();
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "incoming_phone_numbers": numbers,
            "next_page_uri": null,
            "page": 0,
            "page_size": 1000
        })))
        .mount(&server)
        .await;
    server
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tidings.db");
    let mut app = start(&db, configure).await;
    app._dir = Some(dir);
    app
}

/// Starts the app on an existing database file (restarts).
pub async fn start(db: &Path, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let twilio = twilio_stand_in().await;
    let mut settings = test_settings(db, &twilio);
    configure(&mut settings);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let state = AppState::new(settings, clock.clone()).await.expect("state");
    let application = app::build(state).expect("build");
    let address = format!("http://{}", application.address());
    let state = application.state();
    let handle = application.server_handle();
    tokio::spawn(application.run_until_stopped());
    let exists = state
        .db
        .read(|c| tidings::accounts::store::agent_by_email(c, ADMIN_EMAIL))
        .await
        .expect("read")
        .is_some();
    if !exists {
        add_agent(state.accounts_env(), agent_input(ADMIN_EMAIL, Role::Admin)).await.expect("admin");
    }
    let mut app = TestApp {
        address,
        client: reqwest::Client::new(),
        twilio,
        clock,
        state,
        admin_token: String::new(),
        handle,
        _dir: None,
    };
    app.admin_token = app.login(ADMIN_EMAIL, PASSWORD).await;
    app
}

pub fn agent_input(email: &str, role: Role) -> AgentInput {
    AgentInput {
        email: email.into(),
        name: "Test Person".into(),
        password: PASSWORD.into(),
        role,
        team_id: None,
        country: None,
        time_zone: None,
        limits: LimitOverrides::default(),
    }
}

impl TestApp {
    pub fn url(&self, p: &str) -> String {
        format!("{}{}", self.address, p)
    }

    pub fn request(&self, m: Method, p: &str, token: &str) -> RequestBuilder {
        let r = self.client.request(m, self.url(p));
        if token.is_empty() { r } else { r.bearer_auth(token) }
    }

    pub async fn get(&self, p: &str, token: &str) -> Response {
        self.request(Method::GET, p, token).send().await.expect("request")
    }

    pub async fn post(&self, p: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, p, token).json(body).send().await.expect("request")
    }

    pub async fn patch(&self, p: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, p, token).json(body).send().await.expect("request")
    }

    pub async fn put(&self, p: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PUT, p, token).json(body).send().await.expect("request")
    }

    pub async fn delete(&self, p: &str, token: &str) -> Response {
        self.request(Method::DELETE, p, token).send().await.expect("request")
    }

    pub async fn login_response(&self, email: &str, password: &str) -> Response {
        self.post("/v1/auth/login", "", &json!({"email": email, "password": password})).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let res = self.login_response(email, password).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {email}");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Creates an agent through the admin API and logs it in: (id, token).
    pub async fn agent(&self, email: &str, extra: Value) -> (i64, String) {
        let mut body = json!({"email": email, "name": "Agent Person", "password": PASSWORD});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let res = self.post("/v1/admin/agents", &self.admin_token, &body).await;
        assert_eq!(res.status(), StatusCode::CREATED, "creating {email}");
        let created: Value = res.json().await.expect("json");
        (created["id"].as_i64().expect("id"), self.login(email, PASSWORD).await)
    }

    pub async fn contact(&self, token: &str, body: Value) -> Value {
        let res = self.post("/v1/contacts", token, &body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.expect("json")
    }

    /// `n` contacts, P0… with the numbers +1 312-555-1000…; their ids.
    pub async fn contacts(&self, token: &str, n: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        for i in 0..n {
            let body = json!({"first_name": format!("P{i}"), "phones": [{"number": format!("312-555-{:04}", 1000 + i)}]});
            ids.push(self.contact(token, body).await["id"].as_i64().expect("id"));
        }
        ids
    }

    /// Rows in a table, straight from the database.
    pub async fn count(&self, table: &'static str) -> i64 {
        self.state
            .db
            .read(move |c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))
            .await
            .expect("count")
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Asserts a problem document: status, content type and code; returns the body.
pub async fn problem(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status);
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned());
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let body: Value = res.json().await.expect("problem json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

/// Starts the real binary as `tidings serve --demo` on port 0, its database in `dir`, with `env`
/// added; returns it and the address it printed.
pub fn serve_demo(dir: &Path, env: &[(&str, String)]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env("TIDINGS_DATABASE__PATH", dir.join("t.db"))
        .env("TIDINGS_LOG__FORMAT", "json")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tidings serve");
    let base = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(|u| u.trim_end_matches("/v1/auth/login").to_owned())
        })
        .expect("the demo prints where to log in");
    (child, base)
}

/// Logs the demo agent in over HTTP: its token and the whole answer.
pub async fn demo_login(client: &reqwest::Client, base: &str) -> (String, Value) {
    let res: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": "agent@demo.tidings.test", "password": "demo-agent-password"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    (res["token"].as_str().expect("token").to_owned(), res)
}
