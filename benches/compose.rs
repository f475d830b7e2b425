//! Compose benchmarks (`cargo bench --bench compose`): segment counting on a mixed corpus, and a
//! quote for 10,000 recipients with a `${contact.first_name}` template, in-process and over HTTP.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use tidings::app::{self, AppState};
use tidings::clock::SystemClock;
use tidings::compose::quote::{self, QuoteRequest};
use tidings::config::Settings;
use tidings::domain::segments;

fn corpus() -> Vec<String> {
    let gsm = "Hi Jane, the open house at 1420 W Belmont is Sunday 1-3pm. Price just dropped to $489,000! Reply STOP to opt out.";
    let ucs2 = "It’s “move-in ready” – 3 bed / 2 bath… Café & parks nearby. Want a tour?";
    let emoji = "🏡✨ Just listed! 🇺🇸 4 bd 👨‍👩‍👧‍👦 family-sized, 🌳 big yard 👍🏽 Call me 📞";
    let mut out = Vec::new();
    for i in 0..3_000 {
        let (a, b) = match i % 3 {
            0 => (gsm, gsm),
            1 => (ucs2, gsm),
            _ => (emoji, ucs2),
        };
        out.push(format!("{a} {}", b.chars().take(i % 60).collect::<String>()));
        out.push(a.repeat(1 + i % 4));
    }
    out
}

fn main() {
    let texts = corpus();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut segs = 0;
        for t in &texts {
            segs += segments::segment(t).segments;
        }
        std::hint::black_box(segs);
        runs.push(start.elapsed());
    }
    let m = common::median(runs);
    println!(
        "segment counting, mixed corpus ({} texts, {:.1} MB; GSM-7, UCS-2, emoji-heavy): {:.0} texts/s, {:.1} MB/s (median of 5)",
        texts.len(),
        bytes as f64 / 1e6,
        texts.len() as f64 / m.as_secs_f64(),
        bytes as f64 / 1e6 / m.as_secs_f64()
    );

    let rt = common::runtime();
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::default();
        settings.server.listen = "127.0.0.1:0".into();
        settings.database.path = dir.path().join("bench.db");
        settings.defaults.daily_unique_recipients = 100_000;
        settings.defaults.daily_segments = 100_000;
        settings.defaults.monthly_credits = 1_000_000;
        let state = AppState::new(settings, Arc::new(SystemClock)).await.expect("state");
        let id = common::agent(&state, "bench@example.com").await.id;
        let mut csv = String::from("first_name,last_name,mobile\n");
        for i in 0..10_000 {
            let _ = writeln!(csv, "{},Lee,+1 312 {} {:04}", ["Ann", "Bo", "Carla", "José", "Zoë"][i % 5], 200 + i / 10_000, i % 10_000);
        }
        common::contacts(&state, id, Some("+13125550100"), csv).await;
        let ids = state.db.read(move |c| tidings::contacts::store::all_ids(c, id)).await.expect("ids");
        let agent = state.db.read(move |c| tidings::accounts::store::agent_by_id(c, id)).await.expect("agent").expect("agent");
        let request = QuoteRequest {
            contact_ids: ids.clone(),
            body: Some("Hi ${contact.first_name}, are you free for a showing this weekend?".into()),
            ..Default::default()
        };
        let application = app::build(state).expect("build");
        let base = format!("http://{}", application.address());
        let state = application.state();
        tokio::spawn(application.run_until_stopped());
        let mut runs = Vec::new();
        for _ in 0..5 {
            let (s, a, r) = (state.clone(), agent.clone(), request.clone());
            let start = Instant::now();
            let q = state.db.read(move |c| quote::build(s.quote_env(), c, &a, &r)).await.expect("quote");
            runs.push(start.elapsed());
            assert_eq!(q.totals.sendable, 10_000);
        }
        println!("quote for 10,000 recipients with a ${{contact.first_name}} template, in-process: median {:.0} ms (of 5)", common::median(runs).as_secs_f64() * 1000.0);

        let client = reqwest::Client::new();
        let token = common::login(&client, &base, "bench@example.com").await;
        let mut runs = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let res = client.post(format!("{base}/v1/messages/quote")).bearer_auth(&token).json(&request).send().await.expect("quote");
            assert!(res.status().is_success(), "{}", res.status());
            let body = res.bytes().await.expect("body");
            runs.push(start.elapsed());
            assert!(body.len() > 1_000_000);
        }
        println!("the same quote over HTTP (POST /v1/messages/quote, JSON answer included): median {:.0} ms (of 5)", common::median(runs).as_secs_f64() * 1000.0);
    });
}
