//! Foundation load tool (`cargo bench --bench foundation`): CSV import rate, contact search
//! latency over HTTP, and the daemon's resident memory after start. Prints medians and p99s;
//! figures, not assertions, since the machine is shared.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tidings::app::{self, AppState};
use tidings::clock::SystemClock;
use tidings::config::Settings;

const ROWS: usize = 100_000;
const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "José",
    "Zoë",
    "Wei",
    "Aisha",
    "Liam",
    "Olivia",
    "Noah",
    "Emma",
    "Mateo",
    "Sofia",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernández",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Kowalski",
    "Nguyen",
];
const AREAS: &[u32] = &[312, 773, 872, 847, 224, 630, 331, 708];

/// A small deterministic generator, so every run imports the same file.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.next() as usize % xs.len()]
    }
}

fn number(i: usize) -> (u32, u32, u32) {
    let area = AREAS[i % AREAS.len()];
    let exchange = 200 + (i / AREAS.len() / 10_000) as u32 % 700;
    let line = (i / AREAS.len()) as u32 % 10_000;
    (area, exchange, line)
}

fn csv(rows: usize) -> Vec<u8> {
    let mut out = Vec::new();
    write_csv(rows, &mut out).expect("in memory");
    out
}

/// The file [`csv`] makes, written as it is made (the million-row file is not held in memory).
fn write_csv(rows: usize, to: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut rng = Lcg(42);
    let mut out = String::from("first_name,last_name,email,mobile,work,tags,city,state,zip,field:budget\n");
    for i in 0..rows {
        if out.len() > 1 << 20 {
            to.write_all(out.as_bytes())?;
            out.clear();
        }
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let (a, e, l) = number(i);
        let mobile = match i % 3 {
            0 => format!("({a}) {e}-{l:04}"),
            1 => format!("{a}-{e}-{l:04}"),
            _ => format!("+1 {a} {e} {l:04}"),
        };
        let work = if i % 4 == 0 { format!("{a}.{e}.{:04}", (l + 5000) % 10_000) } else { String::new() };
        let tag = ["buyer", "seller", "sphere", "investor;buyer", "past-client"][i % 5];
        let _ = writeln!(
            out,
            "{first},{last},{}.{}{i}@example.com,{mobile},{work},{tag},Chicago,IL,606{:02},{}",
            first.to_lowercase(),
            last.to_lowercase(),
            i % 100,
            200_000 + (rng.next() % 800) * 1000
        );
    }
    to.write_all(out.as_bytes())
}

fn settings(db: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.database.path = db.to_path_buf();
    s
}

/// Imports one file as `POST /v1/contacts/import` and `tidings import` do.
async fn import(state: &AppState, agent_id: i64, bytes: Arc<Vec<u8>>) -> Duration {
    let start = Instant::now();
    let country = tidings::accounts::model::Country::parse("US").expect("US");
    let now = jiff::Timestamp::now();
    let done = state
        .db
        .write(move |tx| {
            tidings::contacts::import_csv(
                tx,
                agent_id,
                &bytes[..],
                &country,
                tidings::contacts::ImportOptions {
                    matching: tidings::contacts::Matching::Create,
                    ..Default::default()
                },
                now,
                |_, _| {},
            )
        })
        .await
        .expect("import");
    assert!(done.rejected.is_empty());
    start.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn latencies(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    queries: &[String],
) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(queries.len());
    for q in queries {
        let start = Instant::now();
        let res =
            client.get(format!("{base}/v1/contacts?{q}")).bearer_auth(token).send().await.expect("search");
        assert!(res.status().is_success(), "{q}: {}", res.status());
        let body = res.bytes().await.expect("body");
        times.push(start.elapsed());
        assert!(body.len() > 20, "{q}");
    }
    if std::env::var_os("TIDINGS_BENCH_SLOWEST").is_some() {
        let mut by: Vec<_> = times.iter().zip(queries).collect();
        by.sort();
        for (t, q) in by.iter().rev().take(8) {
            println!("  {} {q}", ms(**t));
        }
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The largest RSS a process reached (`VmHWM`), in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `cargo bench --bench foundation -- million`: `tidings import` of one 1,000,000-row file
/// (rows/s, peak RSS), then name and phone search over those contacts through `tidings serve`.
fn million() {
    const N: usize = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    // TIDINGS_BENCH_KEEP=DIR keeps the database and the file there, to study them afterwards;
    // with TIDINGS_BENCH_REUSE=1 as well, a database kept there is searched without importing.
    let keep = std::env::var_os("TIDINGS_BENCH_KEEP").map(std::path::PathBuf::from);
    let at = keep.as_deref().unwrap_or(dir.path());
    let (db, file) = (at.join("million.db"), at.join("contacts.csv"));
    let reuse = keep.is_some() && std::env::var_os("TIDINGS_BENCH_REUSE").is_some() && db.exists();
    if !reuse {
        let _ = std::fs::remove_file(&db);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("csv file"));
        write_csv(N, &mut out).expect("writing the csv");
        drop(out);
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let tidings = || {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"));
            c.env("TIDINGS_DATABASE__PATH", &db).env("TIDINGS_LOG__FORMAT", "json");
            c
        };
        let mut add = tidings()
            .args(["agent", "add", "--email", "bench@example.com", "--name", "Bench Agent"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("agent add");
        use std::io::Write as _;
        let _ = writeln!(add.stdin.take().expect("stdin"), "{}", common::PASSWORD);
        assert!(add.wait().expect("agent add").success());
        let start = Instant::now();
        let mut import = tidings()
            .args(["import", "--mode", "create", "--agent", "bench@example.com"])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("import");
        let mut peak = 0;
        while import.try_wait().expect("wait").is_none() {
            peak = peak.max(peak_kib(import.id()).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = start.elapsed();
        println!(
            "`tidings import` of {N} contacts ({:.0} MB of CSV): {:.1} s = {:.0} rows/s, peak RSS {:.1} MB",
            size as f64 / 1e6,
            took.as_secs_f64(),
            N as f64 / took.as_secs_f64(),
            peak as f64 / 1024.0
        );
    }
    let rt = common::runtime();
    rt.block_on(async {
        let state = AppState::new(settings(&db), Arc::new(SystemClock)).await.expect("state");
        let application = app::build(state).expect("build");
        let base = format!("http://{}", application.address());
        tokio::spawn(application.run_until_stopped());
        let client = reqwest::Client::new();
        let token = common::login(&client, &base, "bench@example.com").await;
        let mut rng = Lcg(11);
        let by_name: Vec<String> = (0..500)
            .map(|i| {
                let (f, l) = (rng.pick(FIRST), rng.pick(LAST));
                let cut = |w: &str, n: usize| w.chars().take(n).collect::<String>().to_lowercase();
                match i % 4 {
                    0 => format!("q={}", cut(l, 3)),
                    1 => format!("q={}", cut(f, 2)),
                    2 => format!("q={}%20{}", cut(f, 3), cut(l, 2)),
                    _ => format!("q={f}%20{l}"),
                }
            })
            .collect();
        let by_phone: Vec<String> = (0..500)
            .map(|_| {
                let (a, e, l) = number(rng.next() as usize % N);
                format!("q=%28{a}%29%20{e}-{l:04}")
            })
            .collect();
        latencies(&client, &base, &token, &by_name[..20]).await; // warm-up
        let (p50, p99) = latencies(&client, &base, &token, &by_name).await;
        println!(
            "search by name over {N} contacts (HTTP, 500 one- and two-word prefixes): median {}, p99 {}",
            ms(p50),
            ms(p99)
        );
        let (p50, p99) = latencies(&client, &base, &token, &by_phone).await;
        println!(
            "search by phone over {N} contacts (HTTP, 500 queries): median {}, p99 {}",
            ms(p50),
            ms(p99)
        );
    });
}

fn main() {
    if std::env::args().any(|a| a == "million") {
        return million();
    }
    let rt = common::runtime();
    rt.block_on(async {
        let bytes = Arc::new(csv(ROWS));
        println!(
            "import of {ROWS} contacts from CSV ({:.1} MB), 3 runs on fresh databases:",
            bytes.len() as f64 / 1e6
        );
        let mut runs = Vec::new();
        let mut kept = None;
        for run in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            let state = AppState::new(settings(&dir.path().join("bench.db")), Arc::new(SystemClock))
                .await
                .expect("state");
            let id = common::agent(&state, "bench@example.com").await.id;
            let took = import(&state, id, bytes.clone()).await;
            println!(
                "  run {run}: {:.2} s = {:.0} rows/s",
                took.as_secs_f64(),
                ROWS as f64 / took.as_secs_f64()
            );
            runs.push(took);
            kept = Some((dir, state));
        }
        runs.sort();
        println!("  median: {:.0} rows/s", ROWS as f64 / runs[1].as_secs_f64());

        if std::env::args().any(|a| a == "import") {
            return;
        }
        let (dir, state) = kept.expect("a run");
        // A second agent's contacts share the tables, as in production.
        let other = common::agent(&state, "other@example.com").await.id;
        import(&state, other, Arc::new(csv(10_000))).await;
        let application = app::build(state).expect("build");
        let base = format!("http://{}", application.address());
        tokio::spawn(application.run_until_stopped());
        let client = reqwest::Client::new();
        let token = common::login(&client, &base, "bench@example.com").await;
        let mut rng = Lcg(7);
        let by_phone: Vec<String> = (0..1000)
            .map(|_| {
                let (a, e, l) = number(rng.next() as usize % ROWS);
                match rng.next() % 3 {
                    0 => format!("phone=%28{a}%29%20{e}-{l:04}"),
                    1 => format!("q=%2B1{a}{e}{l:04}"),
                    _ => format!("q={a}.{e}.{l:04}"),
                }
            })
            .collect();
        let by_name: Vec<String> = (0..1000)
            .map(|i| {
                let (f, l) = (rng.pick(FIRST), rng.pick(LAST));
                match i % 3 {
                    0 => format!("q={}", &l.to_lowercase()[..3.min(l.len())]),
                    1 => format!("q={f}%20{l}"),
                    _ => format!("q={}", f.to_lowercase()),
                }
            })
            .collect();
        latencies(&client, &base, &token, &by_phone[..50]).await; // warm-up
        let (p50, p99) = latencies(&client, &base, &token, &by_phone).await;
        println!(
            "search by phone over {ROWS} contacts (HTTP, 1000 queries): median {}, p99 {}",
            ms(p50),
            ms(p99)
        );
        let (p50, p99) = latencies(&client, &base, &token, &by_name).await;
        println!(
            "search by name over {ROWS} contacts (HTTP, 1000 queries, 50 per page): median {}, p99 {}",
            ms(p50),
            ms(p99)
        );
        drop(dir);

        // RSS of the real binary after start, on a fresh database with the demo data.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .env("TIDINGS_DATABASE__PATH", dir.path().join("rss.db"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve");
        tokio::time::sleep(Duration::from_secs(3)).await;
        match rss_kib(child.id()) {
            Some(kib) => println!("RSS of `tidings serve --demo` after start: {:.1} MB", kib as f64 / 1024.0),
            None => println!("RSS unavailable"),
        }
        let _ = child.kill();
        let _ = child.wait();
    });
}
