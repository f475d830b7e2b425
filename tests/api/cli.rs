//! The binary's tools, run as a user would.

use std::io::Write;
use std::process::{Command, Stdio};

fn tidings(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidings"));
    c.current_dir(dir).env("TIDINGS_DATABASE__PATH", dir.join("t.db")).env("TIDINGS_LOG__FORMAT", "text");
    c
}

#[test]
fn agent_add_import_and_backup_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tidings(dir.path())
        .args(["agent", "add", "--email", "cli@example.com", "--name", "Cli Agent", "--team", "Lakeside"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "first_name,mobile,email\nAnn,312-555-0140,\nBad,,nope\n").unwrap();
    let out = tidings(dir.path()).args(["import", "--agent", "cli@example.com"]).arg(&csv).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("c.csv:3:"), "{err}");
    let out = tidings(dir.path())
        .args(["import", "--skip-invalid", "--agent", "cli@example.com"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 contact(s) imported"));

    let backup = dir.path().join("backup.db");
    let out = tidings(dir.path()).arg("backup").arg(&backup).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = rusqlite::Connection::open(&backup).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM contacts", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    let out = tidings(dir.path()).arg("backup").arg(&backup).output().unwrap();
    assert!(!out.status.success(), "a backup never overwrites");
}

#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = tidings(dir.path()).env("TIDINGS_SERVER__LISTEN", "nowhere").arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.listen") && err.contains("TIDINGS_SERVER__LISTEN"), "{err}");
    let out = tidings(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema version"));
}

#[test]
fn every_example_script_compiles_and_errors_name_file_line_and_column() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mut files = Vec::new();
    for dir in ["templates", "filters"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    assert!(files.len() >= 6);
    let dir = tempfile::tempdir().unwrap();
    let out = tidings(dir.path()).args(["script", "check"]).args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    for f in &files {
        let out = tidings(dir.path()).args(["script", "run"]).arg(f).output().unwrap();
        assert!(out.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&out.stdout));
    }
    let bad = dir.path().join("bad.rhai");
    std::fs::write(&bad, "let x = 1;\nlet y = ;\n").unwrap();
    let out = tidings(dir.path()).args(["script", "check"]).arg(&bad).arg(&files[0]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.starts_with(&format!("{}:2:9: ", bad.display())), "{printed}");
}

#[test]
fn script_run_renders_for_a_given_contact() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("t.rhai");
    std::fs::write(&script, "`Hi ${contact.first_name} in ${value_or(contact.city, \"town\")}`").unwrap();
    let contact = dir.path().join("c.json");
    std::fs::write(&contact, r#"{"first_name": "Zoë", "phones": [{"number": "312-555-0101"}]}"#).unwrap();
    let out = tidings(dir.path())
        .args(["script", "run"])
        .arg(&script)
        .arg("--contact-json")
        .arg(&contact)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hi Zoë in town\n");
}

#[test]
fn quote_prints_encoding_segments_and_credits() {
    let dir = tempfile::tempdir().unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let out = tidings(dir.path()).arg("quote").arg("--json").args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let long = "a".repeat(161);
    let q = json(&["--", &long]);
    assert_eq!(
        (q["encoding"].as_str(), q["segments"].as_u64(), q["credits"].as_u64()),
        (Some("GSM-7"), Some(2), Some(2))
    );
    let q = json(&["--international", "--", &long]);
    assert_eq!(q["credits"], 4);
    let q = json(&["--mms", "--", &long]);
    assert_eq!((q["kind"].as_str(), q["credits"].as_u64()), (Some("mms"), Some(3)));
    let q = json(&["It’s -here-"]);
    assert_eq!(q["encoding"], "UCS-2");
    assert_eq!(q["culprits"][0]["replacement"], "'");
    assert_eq!(q["with_replacements"]["encoding"], "GSM-7");
    let out = tidings(dir.path()).args(["quote", "Hi there"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("encoding: GSM-7") && text.contains("credits:  1"), "{text}");
}

#[test]
fn serve_demo_seeds_once_answers_and_stops_gracefully_on_sigterm() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    for run in 0..2 {
        let (mut child, base) = crate::helpers::serve_demo(dir.path(), &[]);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let contacts = rt.block_on(async {
            let client = reqwest::Client::new();
            let (token, login) = crate::helpers::demo_login(&client, &base).await;
            assert_eq!(login["agent"]["sending_number"], "+13125550100", "run {run}");
            let list: serde_json::Value = client
                .get(format!("{base}/v1/contacts?limit=200"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            list["items"].as_array().unwrap().len()
        });
        assert_eq!(contacts, 50, "run {run}: the demo contacts, created once");
        let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert!(status.success(), "a graceful stop exits 0: {status}");
    }
}

/// R-CON-2: `contacts reparse` reads every stored number again from its as-entered form; a dry
/// run prints what would change and changes nothing. The stored reading is what phonenumber
/// 0.3.10 made of `+44 121 234 5678` for a US agent.
#[test]
fn contacts_reparse_prints_then_applies_corrected_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tidings(dir.path())
        .args(["agent", "add", "--email", "us@example.com", "--name", "Us Agent", "--country", "US"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "first_name,mobile\nAnn,+44 121 234 5678\nBo,312-555-0140\n").unwrap();
    let out = tidings(dir.path()).args(["import", "--agent", "us@example.com"]).arg(&csv).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = dir.path().join("t.db");
    let stored = |conn: &rusqlite::Connection| -> String {
        conn.query_row("SELECT e164 FROM contact_phones WHERE number = '+44 121 234 5678'", [], |r| r.get(0))
            .unwrap()
    };
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        assert_eq!(stored(&conn), "+441212345678", "imported with every digit");
        conn.execute("UPDATE contact_phones SET e164 = '+44212345678' WHERE number = '+44 121 234 5678'", [])
            .unwrap();
    }
    let out = tidings(dir.path()).args(["contacts", "reparse", "--dry-run"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("\"+44 121 234 5678\" +44212345678 -> +441212345678"), "{text}");
    assert!(text.contains("1 number(s) would change"), "{text}");
    assert_eq!(
        stored(&rusqlite::Connection::open(&db).unwrap()),
        "+44212345678",
        "a dry run changes nothing"
    );
    let out = tidings(dir.path()).args(["contacts", "reparse"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 number(s) changed"));
    assert_eq!(stored(&rusqlite::Connection::open(&db).unwrap()), "+441212345678");
    let out = tidings(dir.path()).args(["contacts", "reparse", "--dry-run"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 number(s) would change"));
}
