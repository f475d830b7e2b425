//! The chaos benchmark (`cargo bench --bench chaos [-- crash|faults]`): does the real daemon send
//! every text exactly once when it is killed mid-bulk, and when Twilio misbehaves?
//!
//! A Twilio stand-in (wiremock on 127.0.0.1, in this process) records every text it accepts and
//! answers ListMessage as Twilio does: newest first, filtered by `To` and `From`, every text still
//! `queued` with a null `date_sent` (and left out when a `DateSent` filter is asked for). It can
//! inject faults: `429` with `Retry-After: 1`, a `503` that took nothing, a `500` after taking the
//! text, an answer that comes only after the client's timeout (the text taken: a lost answer), a
//! `201` whose body is not JSON, and a list API that answers `503` or too slowly.
//!
//! Two runs, each with the real `tidings serve --demo` binary on its own temporary database:
//!
//! - crash: 10,000 recipients in one bulk (each preceded by the team notice); the daemon is
//!   SIGKILLed at seven points (during the notices, then at 500 … 8,500 bulk texts, once just after
//!   a restart) and restarted on the same database, until every message is final;
//! - faults: 2,000 texts (the agent taken off its team, so no notices) with 20 % of the POSTs and
//!   20 % of the list calls faulted, at most two tries per text, so lost answers land on last tries.
//!
//! For each it prints, per recipient at the stand-in: lost (the stand-in never got a text tidings
//! calls sent, or got one tidings calls failed; in the crash run any failure is a loss),
//! duplicated (the stand-in got it more than once) and not final (still queued or sending at the
//! deadline). The goal is 0 / 0 / 0; the bench exits non-zero otherwise and keeps the run's
//! directory (database and the daemon's log, `serve.log`) for a look.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// The number the demo agent holds (the stand-in says the account has it).
const SANDBOX_NUMBER: &str = "+13125550100";
const CRASH_BODY: &str = "Chaos bulk";
const FAULT_BODY: &str = "Chaos under faults";
const CRASH_RECIPIENTS: usize = 10_000;
const FAULT_TEXTS: usize = 2_000;
/// Tries per text in the fault run: with two, one faulted try in five lands on a last try.
const FAULT_MAX_ATTEMPTS: u32 = 2;
/// The fault run's client timeout, and how long a "lost" answer takes (past it).
const FAULT_TIMEOUT: Duration = Duration::from_millis(500);
const SLOW: Duration = Duration::from_millis(1_500);

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

// ---------------------------------------------------------------------------------------------
// The Twilio stand-in
// ---------------------------------------------------------------------------------------------

/// A text the stand-in accepted.
#[derive(Debug, Clone)]
struct Text {
    to: String,
    from: String,
    body: String,
    sid: String,
    /// RFC 2822, as Twilio writes `date_created`.
    created: String,
}

#[derive(Default)]
struct Record {
    texts: Vec<Text>,
    /// POSTs seen per (To, Body), faulted ones included: the try number of the next one.
    posts: HashMap<(String, String), u32>,
}

/// What the stand-in injected, by kind.
#[derive(Default)]
struct Injected {
    too_many: AtomicUsize,
    refused_5xx: AtomicUsize,
    taken_5xx: AtomicUsize,
    lost: AtomicUsize,
    unreadable: AtomicUsize,
    /// Lost answers (a taken 5xx, a timeout, an unreadable 2xx) on a text's last try.
    lost_on_last_try: AtomicUsize,
    list_503: AtomicUsize,
    list_slow: AtomicUsize,
    posts: AtomicUsize,
    lists: AtomicUsize,
}

#[derive(Clone, Copy)]
struct Faults {
    /// Share of POSTs faulted, and of list calls.
    post: f64,
    list: f64,
    /// The try that is a text's last (for counting lost answers on it).
    max_attempts: u32,
}

struct StandIn {
    server: MockServer,
    record: Arc<Mutex<Record>>,
    injected: Arc<Injected>,
}

impl StandIn {
    fn texts(&self) -> Vec<Text> {
        self.record.lock().map(|r| r.texts.clone()).unwrap_or_default()
    }

    /// Texts taken so far: (with `body`, with another body).
    fn counts(&self, body: &str) -> (usize, usize) {
        let r = self.record.lock().expect("record");
        let with = r.texts.iter().filter(|t| t.body == body).count();
        (with, r.texts.len() - with)
    }
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("")
}

fn rfc2822_now() -> String {
    jiff::fmt::rfc2822::to_string(&jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC))
        .unwrap_or_default()
}

/// A Message resource as Twilio writes it, still queued.
fn resource(t: &Text) -> Value {
    json!({
        "sid": t.sid, "account_sid": ACCOUNT_SID, "status": "queued", "to": t.to, "from": t.from,
        "body": t.body, "num_segments": "1", "num_media": "0", "direction": "outbound-api",
        "date_created": t.created, "date_updated": t.created, "date_sent": null,
        "error_code": null, "error_message": null,
    })
}

async fn stand_in(faults: Faults, seed: u64) -> StandIn {
    // Sids stay unique across stand-ins, as Twilio's do.
    static SIDS: AtomicUsize = AtomicUsize::new(0);
    let server = MockServer::builder().disable_request_recording().start().await;
    let record: Arc<Mutex<Record>> = Arc::default();
    let injected: Arc<Injected> = Arc::default();
    let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));

    // The account's numbers: the demo gives its agent the first.
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "incoming_phone_numbers": [{
                "sid": format!("PN{:032}", 0), "account_sid": ACCOUNT_SID, "phone_number": SANDBOX_NUMBER,
                "friendly_name": "(312) 555-0100",
                "capabilities": {"voice": true, "sms": true, "mms": true, "fax": false},
                "date_created": "Thu, 30 Jul 2015 20:12:31 +0000"
            }],
            "next_page_uri": null, "page": 0, "page_size": 1000
        })))
        .mount(&server)
        .await;

    // Sending. The text is recorded before any answer is written, so an answer that is dropped or
    // comes too late hides a text Twilio has.
    let (rec, inj, dice) = (record.clone(), injected.clone(), rng.clone());
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(move |req: &Request| {
            inj.posts.fetch_add(1, Ordering::Relaxed);
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
            let (to, from, body) = (get(&form, "To"), get(&form, "From"), get(&form, "Body"));
            // 0: 429, 1: 503 (nothing taken), 2: 500 after taking it, 3: answer past the timeout,
            // 4: a 201 that is not JSON.
            let fault = {
                let mut r = dice.lock().expect("rng");
                (r.random::<f64>() < faults.post).then(|| r.random_range(0..5u8))
            };
            let mut rec = rec.lock().expect("record");
            let attempt = {
                let n = rec.posts.entry((to.to_owned(), body.to_owned())).or_default();
                *n += 1;
                *n
            };
            match fault {
                Some(0) => {
                    inj.too_many.fetch_add(1, Ordering::Relaxed);
                    return ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_json(
                        json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
                    );
                }
                Some(1) => {
                    inj.refused_5xx.fetch_add(1, Ordering::Relaxed);
                    return ResponseTemplate::new(503).set_body_json(
                        json!({"code": 20503, "message": "Service unavailable", "status": 503}),
                    );
                }
                _ => {}
            }
            let text = Text {
                to: to.to_owned(),
                from: from.to_owned(),
                body: body.to_owned(),
                sid: format!("SM{:032x}", SIDS.fetch_add(1, Ordering::Relaxed)),
                created: rfc2822_now(),
            };
            let answer = resource(&text);
            rec.texts.push(text);
            drop(rec);
            if fault.is_some() && attempt >= faults.max_attempts {
                inj.lost_on_last_try.fetch_add(1, Ordering::Relaxed);
            }
            match fault {
                Some(2) => {
                    inj.taken_5xx.fetch_add(1, Ordering::Relaxed);
                    ResponseTemplate::new(500).set_body_json(
                        json!({"code": 20500, "message": "Internal Server Error", "status": 500}),
                    )
                }
                Some(3) => {
                    inj.lost.fetch_add(1, Ordering::Relaxed);
                    ResponseTemplate::new(201).set_body_json(answer).set_delay(SLOW)
                }
                Some(4) => {
                    inj.unreadable.fetch_add(1, Ordering::Relaxed);
                    ResponseTemplate::new(201).set_body_raw("<html>upstream hiccup</html>", "text/html")
                }
                _ => ResponseTemplate::new(201).set_body_json(answer),
            }
        })
        .mount(&server)
        .await;

    // ListMessage: filtered by To and From, newest first, paged by PageSize (Page counts from 0).
    let (rec, inj, dice) = (record.clone(), injected.clone(), rng);
    Mock::given(method("GET"))
        .and(path(messages_path()))
        .respond_with(move |req: &Request| {
            inj.lists.fetch_add(1, Ordering::Relaxed);
            let q: Vec<(String, String)> =
                req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            let fault = {
                let mut r = dice.lock().expect("rng");
                (r.random::<f64>() < faults.list).then(|| r.random_bool(0.5))
            };
            if fault == Some(true) {
                inj.list_503.fetch_add(1, Ordering::Relaxed);
                return ResponseTemplate::new(503)
                    .set_body_json(json!({"code": 20503, "message": "Service unavailable", "status": 503}));
            }
            let size: usize = get(&q, "PageSize").parse().unwrap_or(50).clamp(1, 1000);
            let page: usize = get(&q, "Page").parse().unwrap_or(0);
            // Every text is still queued (no date_sent): a DateSent filter leaves them all out.
            let date_filter = q.iter().any(|(k, _)| k.starts_with("DateSent"));
            let (to, from) = (get(&q, "To"), get(&q, "From"));
            let rec = rec.lock().expect("record");
            let matching: Vec<&Text> = rec
                .texts
                .iter()
                .rev()
                .filter(|t| {
                    !date_filter && (to.is_empty() || t.to == to) && (from.is_empty() || t.from == from)
                })
                .collect();
            let messages: Vec<Value> =
                matching.iter().skip(page * size).take(size).map(|t| resource(t)).collect();
            let next = ((page + 1) * size < matching.len()).then(|| {
                let query = serde_urlencoded::to_string([
                    ("To", to),
                    ("From", from),
                    ("PageSize", &size.to_string()),
                    ("Page", &(page + 1).to_string()),
                ])
                .unwrap_or_default();
                format!("{}?{query}", messages_path())
            });
            let answer = ResponseTemplate::new(200).set_body_json(json!({
                "messages": messages, "next_page_uri": next, "page": page, "page_size": size,
            }));
            if fault == Some(false) {
                inj.list_slow.fetch_add(1, Ordering::Relaxed);
                answer.set_delay(SLOW)
            } else {
                answer
            }
        })
        .mount(&server)
        .await;
    StandIn { server, record, injected }
}

// ---------------------------------------------------------------------------------------------
// The daemon
// ---------------------------------------------------------------------------------------------

/// A running `tidings serve --demo`; SIGKILLed when dropped (so a panic leaves nothing behind).
struct Daemon {
    child: Child,
    base: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // `Child::kill` is SIGKILL on Unix: no graceful stop, no texts finished.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on the database in `dir`, its log appended to `dir/serve.log`, and waits
/// (at most a minute) for the address it prints.
fn start_daemon(dir: &Path, env: &[(String, String)]) -> Daemon {
    let log =
        std::fs::File::options().create(true).append(true).open(dir.join("serve.log")).expect("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env("TIDINGS_DATABASE__PATH", dir.join("chaos.db"))
        .env("TIDINGS_LOG__FORMAT", "json")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("tidings serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the login instructions, then drains stdout so the daemon never blocks on it.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://"))
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.trim_end_matches("/v1/auth/login").to_owned());
            }
        }
    });
    // Killed on drop, should it not start.
    let mut daemon = Daemon { child, base: String::new() };
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(base) => daemon.base = base,
        Err(_) => panic!("tidings serve printed no address within a minute; see {}/serve.log", dir.display()),
    }
    daemon
}

async fn start(dir: &Path, env: &[(String, String)]) -> Daemon {
    let (dir, env) = (dir.to_path_buf(), env.to_vec());
    tokio::task::spawn_blocking(move || start_daemon(&dir, &env)).await.expect("start")
}

/// The environment both runs share; `extra` on top.
fn daemon_env(twilio: &StandIn, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("TIDINGS_TWILIO__ACCOUNT_SID", ACCOUNT_SID),
        ("TIDINGS_TWILIO__AUTH_TOKEN", "chaos-auth-token"),
        ("TIDINGS_SENDING__LONG_CODE", "1000"),
        ("TIDINGS_SENDING__ACCOUNT_PER_SECOND", "10000"),
        ("TIDINGS_SENDING__CONCURRENCY", "16"),
        ("TIDINGS_SENDING__RETRY_BASE_MS", "50"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.push(("TIDINGS_TWILIO__API_BASE".into(), twilio.server.uri()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

// ---------------------------------------------------------------------------------------------
// The API, as a client
// ---------------------------------------------------------------------------------------------

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, m: Method, p: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = self.http.request(m, format!("{}{p}", self.base));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                (status, res.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({"error": e.to_string()})),
        }
    }

    /// Logs in: (token, agent id).
    async fn login(&self, email: &str, password: &str) -> (String, i64) {
        let (status, res) = self
            .call(Method::POST, "/v1/auth/login", "", Some(&json!({"email": email, "password": password})))
            .await;
        assert_eq!(status, 200, "login of {email}: {res}");
        (res["token"].as_str().expect("token").to_owned(), res["agent"]["id"].as_i64().expect("agent id"))
    }
}

/// The demo agent ready to text `n` new contacts tagged `chaos` (+1 312 200 0000 onwards), its
/// limits out of the way, on its team or not: (agent token, contact ids).
async fn prepare(api: &Api, n: usize, on_team: bool) -> (String, Vec<i64>) {
    let (token, agent_id) = api.login("agent@demo.tidings.test", "demo-agent-password").await;
    let (admin, _) = api.login("admin@demo.tidings.test", "demo-admin-password").await;
    let mut patch = json!({"limits": {"daily_unique_recipients": 1_000_000, "daily_segments": 1_000_000,
                                      "monthly_credits": 1_000_000}});
    if !on_team {
        // Off the team, no team notice precedes the texts (R-TEAM-1): one text per recipient.
        patch["team_id"] = Value::Null;
    }
    let (status, res) =
        api.call(Method::PATCH, &format!("/v1/admin/agents/{agent_id}"), &admin, Some(&patch)).await;
    assert_eq!(status, 200, "raising the agent's limits: {res}");

    let mut csv = String::from("first_name,mobile,tags\n");
    for i in 0..n {
        csv.push_str(&format!("Chaos{i},+1 312 {} {:04},chaos\n", 200 + i / 10_000, i % 10_000));
    }
    let res = api
        .http
        .post(format!("{}/v1/contacts/import?mode=create", api.base))
        .bearer_auth(&token)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import");
    assert_eq!(res.status().as_u16(), 201, "import");
    let imported: Value = res.json().await.expect("import json");
    assert_eq!(imported["imported"].as_u64(), Some(n as u64), "imported: {imported}");

    let mut ids = Vec::with_capacity(n);
    let mut cursor: Option<String> = None;
    loop {
        let p = match &cursor {
            Some(c) => format!("/v1/contacts?tag=chaos&limit=200&cursor={c}"),
            None => "/v1/contacts?tag=chaos&limit=200".to_owned(),
        };
        let (status, page) = api.call(Method::GET, &p, &token, None).await;
        assert_eq!(status, 200, "listing contacts: {page}");
        ids.extend(page["items"].as_array().expect("items").iter().filter_map(|c| c["id"].as_i64()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), n, "contacts tagged chaos");
    (token, ids)
}

/// Sends `body` to every id; the batch id.
async fn send(api: &Api, token: &str, ids: &[i64], body: &str) -> String {
    let (status, res) = api
        .call(Method::POST, "/v1/messages/send", token, Some(&json!({"contact_ids": ids, "body": body})))
        .await;
    assert_eq!(status, 202, "send: {}", res.to_string().chars().take(2_000).collect::<String>());
    let queued = res["messages"].as_array().map_or(0, Vec::len);
    assert_eq!(queued, ids.len(), "every recipient queued; skipped: {}", res["skipped"]);
    res["batch_id"].as_str().expect("batch id").to_owned()
}

/// Polls the batch until no message is queued or sending, or `deadline`; the last answer.
async fn wait_final(api: &Api, token: &str, batch: &str, deadline: Instant) -> Value {
    let mut last = Value::Null;
    loop {
        let (status, res) =
            api.call(Method::GET, &format!("/v1/messages/batches/{batch}"), token, None).await;
        if status == 200 {
            let pending = |s: &str| res["by_status"][s].as_i64().unwrap_or(0);
            let done = pending("queued") + pending("sending") == 0;
            last = res;
            if done {
                return last;
            }
        }
        if Instant::now() > deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Outcome {
    messages: usize,
    lost: usize,
    duplicated: usize,
    not_final: usize,
    /// Failed, and the stand-in never had the text (legitimate under faults).
    failed_unsent: usize,
    /// Sent per tidings with a sid the stand-in gave to no text of that recipient.
    wrong_sid: usize,
    /// Team notices: recipients without one, with more than one.
    notices_missing: usize,
    notices_duplicated: usize,
    by_status: HashMap<String, usize>,
}

impl Outcome {
    fn clean(&self) -> bool {
        self.lost
            + self.duplicated
            + self.not_final
            + self.wrong_sid
            + self.notices_missing
            + self.notices_duplicated
            == 0
    }
}

/// Compares tidings' verdict on each message of `batch` with what the stand-in took.
fn evaluate(batch: &Value, texts: &[Text], body: &str, failures_allowed: bool, notices: bool) -> Outcome {
    let mut taken: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut noticed: HashMap<&str, usize> = HashMap::new();
    for t in texts {
        if t.body == body {
            taken.entry(&t.to).or_default().push(&t.sid);
        } else {
            *noticed.entry(&t.to).or_default() += 1;
        }
    }
    let mut o = Outcome::default();
    for m in batch["messages"].as_array().map(Vec::as_slice).unwrap_or_default() {
        o.messages += 1;
        let to = m["to"].as_str().unwrap_or_default();
        let status = m["status"].as_str().unwrap_or_default();
        *o.by_status.entry(status.to_owned()).or_default() += 1;
        let sids = taken.get(to).map(Vec::as_slice).unwrap_or_default();
        match status {
            "queued" | "sending" => o.not_final += 1,
            "sent" | "delivered" | "undelivered" => {
                if sids.is_empty() {
                    o.lost += 1;
                } else if !m["twilio_sid"].as_str().is_some_and(|s| sids.contains(&s)) {
                    o.wrong_sid += 1;
                }
            }
            // Failed or canceled: a loss when Twilio had it, or when nothing could fail.
            _ => {
                if !sids.is_empty() || !failures_allowed {
                    o.lost += 1;
                } else {
                    o.failed_unsent += 1;
                }
            }
        }
        if sids.len() > 1 {
            o.duplicated += 1;
        }
        if notices {
            match noticed.get(to).copied().unwrap_or(0) {
                0 => o.notices_missing += 1,
                1 => {}
                _ => o.notices_duplicated += 1,
            }
        }
    }
    o
}

/// How many times the daemon's log says a lost answer was found at Twilio (adopted, not resent).
fn reconciled(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("serve.log"))
        .map(|log| log.lines().filter(|l| l.contains("reconciled: Twilio has the text")).count())
        .unwrap_or(0)
}

/// Texts the kills left `sending`, as the restarted daemons' logs count them (`recovered`).
fn recovered(dir: &Path) -> u64 {
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("texts left sending by a stop"))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["fields"]["recovered"].as_u64().or(v["recovered"].as_u64()))
        .sum()
}

fn statuses(o: &Outcome) -> String {
    let mut s: Vec<_> = o.by_status.iter().map(|(k, v)| format!("{k} {v}")).collect();
    s.sort();
    s.join(", ")
}

/// Keeps the run's directory when it went wrong, and says where.
fn keep_on_failure(dir: tempfile::TempDir, ok: bool) {
    if !ok {
        let kept: PathBuf = dir.keep();
        println!("  kept for a look: {} (chaos.db, serve.log)", kept.display());
    }
}

// ---------------------------------------------------------------------------------------------
// The runs
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Phase {
    /// Counted in team notices the stand-in took.
    Notices,
    /// Counted in bulk texts the stand-in took.
    Bulk,
}

async fn crash_run(http: &reqwest::Client) -> bool {
    let started = Instant::now();
    let twilio = stand_in(Faults { post: 0.0, list: 0.0, max_attempts: 8 }, 1).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let env = daemon_env(&twilio, &[("TIDINGS_TWILIO__REQUEST_TIMEOUT_MS", "5000")]);
    let mut daemon = start(dir.path(), &env).await;
    let mut api = Api { http: http.clone(), base: daemon.base.clone() };
    let (token, ids) = prepare(&api, CRASH_RECIPIENTS, true).await;
    let batch = send(&api, &token, &ids, CRASH_BODY).await;

    // Notices go first (they are one-to-one traffic), then the bulk. The 2,520 point comes right
    // after the restart that follows the 2,500 one.
    let points = [
        (Phase::Notices, 3_000),
        (Phase::Bulk, 500),
        (Phase::Bulk, 2_500),
        (Phase::Bulk, 2_520),
        (Phase::Bulk, 4_500),
        (Phase::Bulk, 6_500),
        (Phase::Bulk, 8_500),
    ];
    let mut kills: Vec<String> = Vec::new();
    for (phase, at) in points {
        let deadline = Instant::now() + Duration::from_secs(120);
        let reached = loop {
            let (bulk, other) = twilio.counts(CRASH_BODY);
            let n = match phase {
                Phase::Notices => other,
                Phase::Bulk => bulk,
            };
            if n >= at {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if !reached {
            println!("  the stand-in never reached {at} texts within 2 minutes; no more kills");
            break;
        }
        drop(daemon); // SIGKILL, and reaped
        let (bulk, other) = twilio.counts(CRASH_BODY);
        kills.push(match phase {
            Phase::Notices => format!("{other} notices"),
            Phase::Bulk => format!("{bulk}"),
        });
        daemon = start(dir.path(), &env).await;
        api.base = daemon.base.clone();
    }
    let last = wait_final(&api, &token, &batch, Instant::now() + Duration::from_secs(240)).await;
    drop(daemon);
    let texts = twilio.texts();
    let o = evaluate(&last, &texts, CRASH_BODY, false, true);
    println!(
        "crash run: {} recipients, {} kills (at {} bulk texts): lost {}, duplicated {}, not final {} ({:.1}s)",
        o.messages,
        kills.len(),
        kills.join(", "),
        o.lost,
        o.duplicated,
        o.not_final,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  stand-in took {} texts ({} POSTs); team notices missing {}, duplicated {}; wrong sid {}; \
         left sending by the kills {}, of which found at Twilio {}; statuses: {}",
        texts.len(),
        twilio.injected.posts.load(Ordering::Relaxed),
        o.notices_missing,
        o.notices_duplicated,
        o.wrong_sid,
        recovered(dir.path()),
        reconciled(dir.path()),
        statuses(&o)
    );
    let ok = o.clean() && kills.len() >= 5 && o.messages == CRASH_RECIPIENTS;
    keep_on_failure(dir, ok);
    ok
}

async fn fault_run(http: &reqwest::Client) -> bool {
    let started = Instant::now();
    let faults = Faults { post: 0.2, list: 0.2, max_attempts: FAULT_MAX_ATTEMPTS };
    let twilio = stand_in(faults, 2).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (timeout, attempts) = (FAULT_TIMEOUT.as_millis().to_string(), FAULT_MAX_ATTEMPTS.to_string());
    let env = daemon_env(
        &twilio,
        &[("TIDINGS_TWILIO__REQUEST_TIMEOUT_MS", &timeout), ("TIDINGS_SENDING__MAX_ATTEMPTS", &attempts)],
    );
    let daemon = start(dir.path(), &env).await;
    let api = Api { http: http.clone(), base: daemon.base.clone() };
    let (token, ids) = prepare(&api, FAULT_TEXTS, false).await;
    let batch = send(&api, &token, &ids, FAULT_BODY).await;
    let last = wait_final(&api, &token, &batch, Instant::now() + Duration::from_secs(240)).await;
    drop(daemon);
    let texts = twilio.texts();
    let o = evaluate(&last, &texts, FAULT_BODY, true, false);
    let i = &twilio.injected;
    let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    println!(
        "fault run: {} texts, 20% faults (429 {}, 5xx {} ({} taken), lost-after-timeout {}, unreadable-2xx {}, \
         list-fail {} (503 {}, slow {})): lost {}, duplicated {}, not final {}, failed (never at Twilio) {} ({:.1}s)",
        o.messages,
        n(&i.too_many),
        n(&i.refused_5xx) + n(&i.taken_5xx),
        n(&i.taken_5xx),
        n(&i.lost),
        n(&i.unreadable),
        n(&i.list_503) + n(&i.list_slow),
        n(&i.list_503),
        n(&i.list_slow),
        o.lost,
        o.duplicated,
        o.not_final,
        o.failed_unsent,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  {} POSTs, {} list calls; lost answers on a last try {}; reconciled {}; wrong sid {}; statuses: {}",
        n(&i.posts),
        n(&i.lists),
        n(&i.lost_on_last_try),
        reconciled(dir.path()),
        o.wrong_sid,
        statuses(&o)
    );
    let ok = o.clean() && o.messages == FAULT_TEXTS;
    keep_on_failure(dir, ok);
    ok
}

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `cargo bench` passes `--bench`; a word picks one run.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |run: &str| args.is_empty() || args.iter().any(|a| a == run);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let ok = runtime.block_on(async {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
        let mut ok = true;
        if wants("crash") {
            ok &= crash_run(&http).await;
        }
        if wants("faults") {
            ok &= fault_run(&http).await;
        }
        ok
    });
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
