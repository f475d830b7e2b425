//! Accounts (R-ACC): teams, agents, login, bearer tokens, roles, sending numbers.

pub mod api;
pub mod model;
pub mod password;
pub mod store;
pub mod tokens;

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::{AuthSettings, DefaultSettings};
use crate::db::Db;
use crate::error::ApiError;
use model::{Agent, Limits, TeamRef};

/// What clients see of an agent.
#[derive(Debug, Serialize)]
pub struct AgentView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: model::Role,
    pub team: Option<TeamRef>,
    pub country: String,
    pub time_zone: String,
    pub sending_number: Option<String>,
    pub limits: Limits,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

impl Agent {
    /// Limits in force: the agent's own, else the configured defaults (R-LIM-1).
    pub fn effective_limits(&self, d: &DefaultSettings) -> Limits {
        Limits {
            daily_unique_recipients: self.limits.daily_unique_recipients.unwrap_or(d.daily_unique_recipients),
            daily_segments: self.limits.daily_segments.unwrap_or(d.daily_segments),
            monthly_credits: self.limits.monthly_credits.unwrap_or(d.monthly_credits),
        }
    }

    pub fn view(&self, d: &DefaultSettings) -> AgentView {
        AgentView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
            team: self.team.clone(),
            country: self.country.to_string(),
            time_zone: self.time_zone.as_str().to_owned(),
            sending_number: self.sending_number.clone(),
            limits: self.effective_limits(d),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The agent a request's bearer token belongs to. Extracting it answers `401` for a missing,
/// unknown, revoked or expired token.
pub struct Authenticated(pub Agent);

/// As [`Authenticated`], and the agent is an admin (`403` otherwise).
pub struct Admin(pub Agent);

/// The raw bearer token of a request, if it has one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// What the extractors need: the database and the clock.
type Deps = (web::Data<Db>, web::Data<dyn Clock>);

async fn authenticate((db, clock): Deps, token: Option<String>) -> Result<Agent, ApiError> {
    let token =
        token.ok_or_else(|| ApiError::unauthorized("Log in and send `Authorization: Bearer <token>`."))?;
    if !tokens::well_formed(&token) {
        return Err(ApiError::unauthorized("The bearer token is not valid."));
    }
    let hash = tokens::digest(&token);
    let now = clock.now();
    let found = db
        .read(move |c| {
            let Some((stored, agent_id, expires)) = store::session(c, &hash)? else { return Ok(None) };
            if !tokens::matches(&hash, &stored) {
                return Ok(None);
            }
            Ok(Some((store::agent_by_id(c, agent_id)?, expires)))
        })
        .await?;
    match found {
        Some((Some(agent), expires)) if expires > now => Ok(agent),
        Some((Some(_), _)) => Err(ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "token_expired",
            "Unauthorized",
            "The session has expired; log in again.",
        )),
        _ => Err(ApiError::unauthorized("The bearer token is not valid.")),
    }
}

fn deps_of(req: &HttpRequest) -> Result<Deps, ApiError> {
    let missing = || ApiError::internal(anyhow::anyhow!("the database or the clock is not registered"));
    let db = req.app_data::<web::Data<Db>>().cloned().ok_or_else(missing)?;
    let clock = req.app_data::<web::Data<dyn Clock>>().cloned().ok_or_else(missing)?;
    Ok((db, clock))
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let deps = deps_of(req);
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move { authenticate(deps?, token).await.map(Authenticated) })
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let deps = deps_of(req);
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move {
            let agent = authenticate(deps?, token).await?;
            if agent.is_admin() { Ok(Admin(agent)) } else { Err(ApiError::forbidden("This needs an admin.")) }
        })
    }
}

/// Login attempts per client address and per email (R-ACC-2).
pub struct LoginThrottle {
    by_addr: DefaultKeyedRateLimiter<IpAddr>,
    by_email: DefaultKeyedRateLimiter<String>,
}

impl LoginThrottle {
    pub fn new(s: &AuthSettings) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            by_addr: RateLimiter::keyed(quota(s.login_attempts_per_minute_per_address)),
            by_email: RateLimiter::keyed(quota(s.login_attempts_per_minute_per_email)),
        }
    }

    /// Counts one attempt; `429` with `Retry-After` when either key is over its quota.
    pub fn check(&self, addr: IpAddr, email: &str) -> Result<(), ApiError> {
        if self.by_email.len() > 100_000 {
            self.by_email.retain_recent();
            self.by_addr.retain_recent();
        }
        let now = DefaultClock::default().now();
        let wait = |e: governor::NotUntil<_>| {
            let secs = e.wait_time_from(now).as_secs_f64().ceil().max(1.0) as u64;
            ApiError::too_many_requests("login_throttled", secs)
        };
        self.by_addr.check_key(&addr).map_err(wait)?;
        self.by_email.check_key(&email.trim().to_lowercase()).map_err(wait)?;
        Ok(())
    }
}

/// Accepts `null` as "clear" and absence as "leave alone" in PATCH bodies.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}
