//! Start-up: the shared state, the HTTP server bound to its listener, and the stop signal.
//! Tests and production share this path; tests bind port 0 and read the real address.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Compress, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

use crate::accounts::LoginThrottle;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{ApiError, extractors};
use crate::outbox::dispatcher::Outbox;
use crate::outbox::send::Sending;
use crate::replies::inbound::Inbox;
use crate::scripts::Scripts;
use crate::twilio::SmsProvider;

use crate::ops::MAX_JSON_BYTES;

/// What every handler and worker shares.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub sms: Arc<SmsProvider>,
    pub login_throttle: Arc<LoginThrottle>,
    pub scripts: Arc<Scripts>,
    pub outbox: Arc<Outbox>,
    pub push: Arc<crate::push::worker::Pusher>,
    pub inbox: Arc<Inbox>,
    /// The send service: send endpoints, thread replies, plans and the scheduler.
    pub sending: Arc<Sending>,
}

impl AppState {
    /// What creating agents and teams reads.
    pub fn accounts_env(&self) -> crate::accounts::api::Env<'_> {
        crate::accounts::api::Env { db: &self.db, clock: &*self.clock, defaults: &self.settings.defaults }
    }

    /// What a quote reads besides the database.
    pub fn quote_env(&self) -> crate::compose::quote::Env<'_> {
        self.sending.quote_env()
    }

    /// Opens the database (running migrations) and builds the providers.
    pub async fn new(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        let db = crate::schema::open(
            &settings.database.path,
            settings.database.pool_size,
            Duration::from_millis(settings.database.busy_timeout_ms),
        )
        .await?;
        let outbox: Arc<Outbox> = Default::default();
        let push = Arc::new(crate::push::worker::Pusher::new(&settings)?);
        let sms = Arc::new(SmsProvider::from_settings(&settings, db.clone())?);
        let login_throttle = Arc::new(LoginThrottle::new(&settings.auth));
        let scripts = Arc::new(Scripts::new(&settings.scripts));
        let settings = Arc::new(settings);
        let inbox = Arc::new(Inbox::new(
            crate::replies::inbound::Context {
                db: db.clone(),
                clock: clock.clone(),
                settings: settings.clone(),
                outbox: outbox.clone(),
                push: push.clone(),
            },
            tokio::runtime::Handle::current(),
        ));
        let sending = Arc::new(Sending {
            db: db.clone(),
            clock: clock.clone(),
            settings: settings.clone(),
            scripts: scripts.clone(),
            outbox: outbox.clone(),
        });
        Ok(AppState { settings, db, clock, sms, login_throttle, scripts, outbox, push, inbox, sending })
    }
}

/// A bound, not yet running, daemon.
pub struct Application {
    address: SocketAddr,
    server: Server,
    state: web::Data<AppState>,
    stop: CancellationToken,
    /// The dispatcher and the push worker: they stop with the stop token and finish what is in flight.
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds the HTTP server on `server.listen` with the given state.
pub fn build(state: AppState) -> anyhow::Result<Application> {
    let listen = state.settings.server.listen.clone();
    let listener = TcpListener::bind(&listen).with_context(|| format!("binding {listen} (server.listen)"))?;
    let address = listener.local_addr()?;
    let workers = state.settings.server.workers;
    let state = web::Data::new(state);
    crate::ops::prometheus();
    let data = state.clone();
    // Each dependency is its own web::Data, so a handler names only what it uses.
    let (db, clock, settings, scripts) = (
        web::Data::new(state.db.clone()),
        web::Data::from(state.clock.clone()),
        web::Data::from(state.settings.clone()),
        web::Data::from(state.scripts.clone()),
    );
    let (sms, throttle) = (web::Data::from(state.sms.clone()), web::Data::from(state.login_throttle.clone()));
    let (sending, inbox) = (web::Data::from(state.sending.clone()), web::Data::from(state.inbox.clone()));
    let filters: web::Data<dyn crate::contacts::Filter> =
        web::Data::from(state.scripts.clone() as Arc<dyn crate::contacts::Filter>);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(db.clone())
            .app_data(clock.clone())
            .app_data(settings.clone())
            .app_data(scripts.clone())
            .app_data(sms.clone())
            .app_data(throttle.clone())
            .app_data(sending.clone())
            .app_data(inbox.clone())
            .app_data(filters.clone())
            .app_data(web::JsonConfig::default().limit(MAX_JSON_BYTES).error_handler(extractors::json))
            .app_data(web::QueryConfig::default().error_handler(extractors::query))
            .app_data(web::PathConfig::default().error_handler(extractors::path))
            .app_data(web::PayloadConfig::new(MAX_JSON_BYTES))
            .wrap(ErrorHandlers::new().default_handler(crate::error::ensure_problem))
            .wrap(Compress::default())
            .wrap(from_fn(crate::ops::read_small_bodies))
            .wrap(from_fn(crate::ops::limit_uri))
            .wrap(from_fn(crate::ops::record))
            .wrap(TracingLogger::default())
            // The router tries routes in order: Twilio's webhooks, the busiest, first.
            .configure(crate::outbox::webhook::routes)
            .configure(crate::replies::inbound::routes)
            .configure(crate::ops::routes)
            .configure(crate::accounts::api::routes)
            .configure(crate::contacts::api::routes)
            .configure(crate::scripts::api::routes)
            .configure(crate::limits::api::routes)
            .configure(crate::compose::api::routes)
            .configure(crate::outbox::api::routes)
            .configure(crate::media::api::routes)
            .configure(crate::consent::dnc::routes)
            .configure(crate::replies::threads::routes)
            .configure(crate::push::api::routes)
            .configure(crate::plans::api::routes)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::new(
                    actix_web::http::StatusCode::NOT_FOUND,
                    "not_found",
                    "Not found",
                    "No such endpoint or method; see the README for the API.",
                ))
            }))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    let stop = CancellationToken::new();
    let dispatcher = crate::outbox::dispatcher::spawn(
        Arc::new(crate::outbox::dispatcher::Context {
            db: state.db.clone(),
            clock: state.clock.clone(),
            settings: state.settings.clone(),
            sms: state.sms.clone(),
            outbox: state.outbox.clone(),
        }),
        stop.clone(),
    );
    let pusher = crate::push::worker::spawn(
        crate::push::worker::Context {
            db: state.db.clone(),
            clock: state.clock.clone(),
            settings: state.settings.clone(),
            pusher: state.push.clone(),
        },
        stop.clone(),
    );
    let scheduler = crate::plans::scheduler::spawn(state.sending.clone(), stop.clone());
    let checkpointer = spawn_checkpointer(state.db.clone(), stop.clone());
    Ok(Application {
        address,
        server,
        state,
        stop,
        workers: vec![dispatcher, pusher, scheduler, checkpointer],
    })
}

/// Folds the WAL into the database ten times a second, beside the writes (see `Db::checkpoint`):
/// small, frequent checkpoints keep the WAL short and no write waits long for one (at 9,000
/// replies a second, half-second checkpoints put the webhook's p99 at 55-76 ms, these at 5 ms).
fn spawn_checkpointer(db: Db, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.cancelled() => break,
            }
            if let Err(e) = db.checkpoint().await {
                tracing::warn!(error = format!("{e:#}"), "a WAL checkpoint failed; trying again");
            }
        }
        // A last one on the way out.
        let _ = db.checkpoint().await;
    })
}

impl Application {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Fires when the daemon is asked to stop; background workers watch it.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until the server stops (tests stop it through its handle, or drop it).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.stop.cancel();
        futures_util::future::join_all(self.workers).await;
        result
    }

    /// Runs until SIGTERM or SIGINT, then stops gracefully: no new connections, requests in flight
    /// finish, workers drain.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stop requested; finishing the work in flight");
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
            stop.cancel();
            handle.stop(true).await;
        });
        let served = self.server.await.context("HTTP server");
        // The workers finish the POSTs in flight before the process ends.
        self.stop.cancel();
        futures_util::future::join_all(self.workers).await;
        served
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
