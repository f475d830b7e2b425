//! The command line: `serve`, `migrate`, `agent add`, `import`, `backup`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::accounts::api::{AgentInput, add_agent};
use crate::accounts::model::{LimitOverrides, Role};
use crate::app::{self, AppState};
use crate::clock::SystemClock;
use crate::config::{LogFormat, Settings, Sources};
use crate::contacts::ImportError;

#[derive(Parser)]
#[command(name = "tidings", version, about = "The texting backend of a real-estate CRM")]
pub struct Cli {
    /// Config file (default: ./tidings.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Database file (database.path).
    #[arg(long, global = true, value_name = "PATH")]
    database: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Serve {
        /// Create a demo team, admin, agent and contacts when absent.
        #[arg(long)]
        demo: bool,
        /// Address to bind (server.listen).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// URL Twilio and phones reach us at (server.public_url).
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Manage agents.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Import contacts from a CSV file for an agent.
    Import {
        /// The agent's email.
        #[arg(long)]
        agent: String,
        /// Import the good rows and report the bad ones instead of refusing the file.
        #[arg(long)]
        skip_invalid: bool,
        /// A row matching an existing contact (by number or email): skip, update or create.
        #[arg(long, default_value = "skip")]
        mode: crate::contacts::Matching,
        file: PathBuf,
    },
    /// Copy the database to PATH while the daemon runs (an online, consistent copy).
    Backup { path: PathBuf },
    /// Contacts' stored numbers.
    Contacts {
        #[command(subcommand)]
        command: ContactsCommand,
    },
    /// Segments, encoding and credits of a text (R-SEG, R-COST).
    Quote {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Price it for an international recipient (2 credits a segment).
        #[arg(long)]
        international: bool,
        /// Price it as MMS (media attached: 3 credits).
        #[arg(long)]
        mms: bool,
        /// The text (use `--` before a text that starts with `-`).
        text: String,
    },
    /// Check and try Rhai scripts.
    Script {
        #[command(subcommand)]
        command: ScriptCommand,
    },
}

#[derive(Subcommand)]
enum ContactsCommand {
    /// Read every stored number again from its as-entered form (R-CON-2), print what changes,
    /// and apply it.
    Reparse {
        /// Print what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum ScriptCommand {
    /// Compile scripts; print `file:line:column: message` for each error and exit 1 on any.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run a script for one contact and print the text (template) or true/false (filter).
    Run {
        file: PathBuf,
        /// A contact as the API takes it (`{"first_name": …, "phones": […], …}`); default: a sample.
        #[arg(long, value_name = "FILE")]
        contact_json: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Add an agent; the password is read from standard input (first line).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "agent", value_parser = ["agent", "admin"])]
        role: String,
        /// Team name; created when absent.
        #[arg(long)]
        team: Option<String>,
        /// ISO 3166 alpha-2 home country (default: defaults.country).
        #[arg(long)]
        country: Option<String>,
        /// IANA time zone (default: defaults.time_zone).
        #[arg(long)]
        time_zone: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut overrides = Vec::new();
    if let Some(db) = &cli.database {
        overrides.push(("database.path", db.display().to_string()));
    }
    if let Command::Serve { listen, public_url, .. } = &cli.command {
        if let Some(l) = listen {
            overrides.push(("server.listen", l.clone()));
        }
        if let Some(u) = public_url {
            overrides.push(("server.public_url", u.clone()));
        }
    }
    let settings = match Settings::load(&Sources { config_file: cli.config.clone(), overrides }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tidings: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings.log.format);
    for w in &settings.warnings {
        tracing::warn!("{w}");
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tidings: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fatal");
            eprintln!("tidings: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: &LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { demo, .. } => serve(settings, demo).await,
        Command::Migrate => {
            let path = settings.database.path.clone();
            let ran = tokio::task::spawn_blocking(move || {
                let mut conn = crate::db::open(&path, Duration::from_secs(5))?;
                crate::schema::migrate(&mut conn, &path)
            })
            .await??;
            println!("schema version {} ({ran} migration(s) applied)", crate::schema::version());
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent { command: AgentCommand::Add { email, name, role, team, country, time_zone } } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            // Only the database: adding an agent opens no Twilio or push clients.
            let db = crate::schema::open(
                &settings.database.path,
                1,
                Duration::from_millis(settings.database.busy_timeout_ms),
            )
            .await?;
            let env =
                crate::accounts::api::Env { db: &db, clock: &SystemClock, defaults: &settings.defaults };
            let team_id = match team {
                Some(t) => Some(
                    match db
                        .read({
                            let t = t.clone();
                            move |c| crate::accounts::store::team_by_name(c, &t)
                        })
                        .await?
                    {
                        Some(found) => found.id,
                        None => crate::accounts::api::add_team(env, &t).await.map_err(api_failure)?.id,
                    },
                ),
                None => None,
            };
            let role = Role::parse(&role).map_err(anyhow::Error::msg)?;
            let input = AgentInput {
                email,
                name,
                password,
                role,
                team_id,
                country,
                time_zone,
                limits: LimitOverrides::default(),
            };
            let agent = add_agent(env, input).await.map_err(api_failure)?;
            println!("agent {} created: {} ({})", agent.id, agent.email, agent.role.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { agent, skip_invalid, mode, file } => {
            let options = crate::contacts::ImportOptions { skip_invalid, matching: mode };
            import(settings, &agent, options, &file).await
        }
        Command::Script { command } => script(&settings, command),
        Command::Quote { json, international, mms, text } => Ok(quote(&text, json, international, mms)),
        Command::Contacts { command: ContactsCommand::Reparse { dry_run } } => {
            let path = settings.database.path.clone();
            let changes = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let mut conn = crate::db::open(&path, Duration::from_secs(30))?;
                crate::schema::migrate(&mut conn, &path)?;
                // Read without holding the write lock (the daemon may be running), then write in
                // one short transaction that leaves alone any number changed meanwhile.
                let changes = crate::contacts::reparse::changes(&conn)?;
                if !dry_run {
                    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    crate::contacts::reparse::apply(&tx, &changes)?;
                    tx.commit().context("writing the corrected numbers")?;
                }
                Ok(changes)
            })
            .await??;
            for c in &changes {
                let show = |e: &Option<String>, valid: bool| {
                    format!("{}{}", e.as_deref().unwrap_or("(none)"), if valid { "" } else { " (invalid)" })
                };
                println!(
                    "contact {} ({}): {:?} {} -> {}",
                    c.contact_id,
                    c.country,
                    c.number,
                    show(&c.e164, c.valid),
                    show(&c.new_e164, c.new_valid)
                );
            }
            let verb = if dry_run { "would change" } else { "changed" };
            println!("{} number(s) {verb}", changes.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { path } => {
            if path.exists() {
                bail!("{} exists; backups never overwrite a file", path.display());
            }
            let source = settings.database.path.clone();
            let target = path.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let conn = crate::db::open(&source, Duration::from_secs(30))?;
                let target = target.to_str().context("the backup path is not UTF-8")?;
                conn.execute("VACUUM INTO ?1", [target]).context("copying the database")?;
                Ok(())
            })
            .await??;
            println!("backup written to {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn quote(text: &str, json: bool, international: bool, mms: bool) -> ExitCode {
    use crate::compose::cost;
    use crate::domain::segments;
    let seg = segments::segment(text);
    let price = cost::price(&seg, mms, international);
    let fixed = segments::with_replacements(text);
    let fixed_seg = (fixed != text).then(|| segments::segment(&fixed));
    let fixed_price = fixed_seg.as_ref().and_then(|s| cost::price(s, mms, international).ok());
    let price = match price {
        Ok(p) => p,
        Err(cost::CostError::MmsTooLong { encoding, length, limit }) => {
            eprintln!("too long for an MMS: {length} {} units, the limit is {limit}", encoding.as_str());
            return ExitCode::FAILURE;
        }
    };
    if json {
        let doc = serde_json::json!({
            "encoding": seg.encoding,
            "segments": seg.segments,
            "units": seg.units,
            "characters": seg.characters,
            "kind": price.kind,
            "credits": price.credits,
            "parts": seg.parts,
            "culprits": seg.culprits,
            "mms_saving": cost::mms_saving(&price, &seg),
            "with_replacements": fixed_seg.as_ref().map(|s| serde_json::json!({
                "text": fixed, "encoding": s.encoding, "segments": s.segments,
                "credits": fixed_price.map(|p| p.credits),
            })),
        });
        println!("{doc:#}");
        return ExitCode::SUCCESS;
    }
    println!("encoding: {}", seg.encoding.as_str());
    println!(
        "segments: {} ({} {} in all)",
        seg.segments,
        seg.units,
        if seg.encoding == segments::Encoding::Gsm7 { "septets" } else { "UTF-16 units" }
    );
    println!(
        "credits:  {} ({})",
        price.credits,
        if mms {
            "MMS"
        } else if international {
            "SMS, international"
        } else {
            "SMS"
        }
    );
    for (i, part) in seg.parts.iter().enumerate().filter(|_| seg.parts.len() > 1) {
        println!("part {}: {part:?}", i + 1);
    }
    for c in &seg.culprits {
        match c.replacement {
            Some(r) => {
                println!("UCS-2 because of {:?} ({}) at {}: use {r:?}", c.character, c.code_point, c.position)
            }
            None => println!(
                "UCS-2 because of {:?} ({}) at {}: no GSM-7 stand-in",
                c.character, c.code_point, c.position
            ),
        }
    }
    if let (Some(s), Some(p)) = (&fixed_seg, fixed_price) {
        println!(
            "with the replacements: {}, {} segment(s), {} credit(s)",
            s.encoding.as_str(),
            s.segments,
            p.credits
        );
    }
    if let Some(saving) = cost::mms_saving(&price, &seg) {
        println!("as MMS (attach any media, or clear-png) it costs 3 credits: {saving} fewer");
    }
    ExitCode::SUCCESS
}

fn script_failure(file: &std::path::Path, e: &crate::scripts::ScriptError) -> ExitCode {
    println!("{}:{}:{}: {}", file.display(), e.line.unwrap_or(0), e.column.unwrap_or(0), e.message);
    ExitCode::FAILURE
}

fn script(settings: &Settings, command: ScriptCommand) -> anyhow::Result<ExitCode> {
    use crate::scripts::{Kind, Scripts};
    let scripts = Scripts::new(&settings.scripts);
    let read = |file: &std::path::Path| {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
    };
    match command {
        ScriptCommand::Check { files } => {
            let mut code = ExitCode::SUCCESS;
            for file in files {
                if let Err(e) = scripts.compile(Kind::Filter, &read(&file)?) {
                    code = script_failure(&file, &e);
                }
            }
            Ok(code)
        }
        ScriptCommand::Run { file, contact_json } => {
            let compiled = match scripts.compile(Kind::Template, &read(&file)?) {
                Ok(c) => c,
                Err(e) => return Ok(script_failure(&file, &e)),
            };
            let contact = match contact_json {
                Some(path) => serde_json::from_str(&read(&path)?)
                    .with_context(|| format!("{} is not a contact as the API takes it", path.display()))?,
                None => crate::scripts::sample::contact(),
            };
            let inputs = crate::scripts::sample::inputs(settings, contact)?;
            let (inputs, now) = inputs;
            match scripts.eval(&compiled, inputs, &now) {
                Ok(value) => {
                    println!("{value}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(script_failure(&file, &e)),
            }
        }
    }
}

fn api_failure(e: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{} ({})", e.detail, e.code)
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<ExitCode> {
    let public_url = settings.server.public_url.clone();
    let sandbox = settings.sandbox();
    let state = AppState::new(settings, Arc::new(SystemClock)).await?;
    if demo && crate::demo::seed(&state).await.map_err(|e| anyhow::anyhow!("{e:#}"))? {
        tracing::info!("demo data created");
    }
    let application = app::build(state)?;
    let address = application.address();
    tracing::info!(%address, %public_url, sandbox, "tidings is listening");
    if demo {
        // stdout may be a pipe nobody reads any more: a failed write must not stop the daemon.
        use std::io::Write;
        let _ = std::io::stdout()
            .lock()
            .write_all(crate::demo::instructions(&format!("http://{address}")).as_bytes());
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    application.run_until_signal().await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn import(
    settings: Settings,
    email: &str,
    options: crate::contacts::ImportOptions,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    // Read as it is imported, never whole: any size in bounded memory.
    let source = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let size = source.metadata().map(|m| m.len()).unwrap_or(0);
    let state = AppState::new(settings, Arc::new(SystemClock)).await?;
    let lookup = email.to_owned();
    let agent = state
        .db
        .read(move |c| crate::accounts::store::agent_by_email(c, &lookup))
        .await?
        .with_context(|| format!("there is no agent {email}"))?;
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let now = state.clock.now();
    let progress = bar.clone();
    let result = state
        .db
        .write(move |tx| {
            crate::contacts::import_csv(
                tx,
                agent.id,
                std::io::BufReader::new(source),
                &agent.country,
                options,
                now,
                |done, bytes| {
                    progress.set_message(format!("{done} rows"));
                    progress.set_position(bytes);
                },
            )
        })
        .await;
    bar.finish_and_clear();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => match e.downcast::<ImportError>() {
            Ok(ImportError::File(f)) => {
                eprintln!("{}: {f}", file.display());
                return Ok(ExitCode::FAILURE);
            }
            Ok(ImportError::Rejected { rejected, .. }) => {
                for r in &rejected {
                    eprintln!("{}:{}: {}", file.display(), r.line, r.reason);
                }
                eprintln!(
                    "{} row(s) rejected; nothing imported. Fix them, or pass --skip-invalid to import the rest.",
                    rejected.len()
                );
                return Ok(ExitCode::FAILURE);
            }
            Err(other) => return Err(other),
        },
    };
    for r in &outcome.rejected {
        eprintln!("{}:{}: {}", file.display(), r.line, r.reason);
    }
    for m in &outcome.matches {
        eprintln!("{}:{}: matches contact {}", file.display(), m.line, m.contact_id);
    }
    let (imported, rejected) = (outcome.imported, outcome.rejected.len());
    println!(
        "{imported} contact(s) imported, {} updated, {} matching skipped, {rejected} row(s) rejected",
        outcome.updated, outcome.skipped
    );
    Ok(ExitCode::SUCCESS)
}
