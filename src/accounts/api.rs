//! Account endpoints: login/logout, `me`, sending numbers, and the admin's agents and teams.

use actix_web::{HttpRequest, HttpResponse, web};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::json;

use super::LoginThrottle;
use super::model::{self, Country, Email, LimitOverrides, Role, TimeZoneName};
use super::{Admin, Authenticated, double_option, password, store, tokens};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::twilio::SmsProvider;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/auth/login", web::post().to(login))
        .route("/v1/auth/logout", web::post().to(logout))
        .route("/v1/me", web::get().to(me))
        .route("/v1/me/number", web::put().to(set_number))
        .route("/v1/me/number", web::delete().to(release_number))
        .route("/v1/numbers/available", web::get().to(available_numbers))
        .route("/v1/admin/agents", web::get().to(list_agents))
        .route("/v1/admin/agents", web::post().to(create_agent))
        .route("/v1/admin/agents/{id}", web::get().to(get_agent))
        .route("/v1/admin/agents/{id}", web::patch().to(update_agent))
        .route("/v1/admin/teams", web::get().to(list_teams))
        .route("/v1/admin/teams", web::post().to(create_team))
        .route("/v1/admin/teams/{id}", web::patch().to(update_team));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
}

#[tracing::instrument(skip_all)]
async fn login(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    login_throttle: web::Data<LoginThrottle>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest { email, password: given } = body.into_inner();
    let addr = req.peer_addr().map(|a| a.ip()).unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    login_throttle.check(addr, &email)?;
    let lookup = email.trim().to_owned();
    let creds = db.read(move |c| store::credentials(c, &lookup)).await?;
    // Verify against a dummy hash for an unknown email, so both take the same time.
    let verified = web::block(move || match creds {
        Some((id, hash)) => password::verify(&given, &hash).then_some(id),
        None => {
            password::verify(&given, password::dummy_hash());
            None
        }
    })
    .await
    .map_err(|e| ApiError::internal(e.into()))?;
    let Some(agent_id) = verified else {
        tracing::info!("failed login");
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Unauthorized",
            "The email or the password is wrong.",
        ));
    };
    let (token, hash) = tokens::generate();
    let now = clock.now();
    let ttl = SignedDuration::from_hours(settings.auth.token_ttl_hours.min(24 * 366) as i64);
    let expires = now.saturating_add(ttl).map_err(|e| ApiError::internal(e.into()))?;
    let agent = db
        .write(move |tx| {
            store::insert_session(tx, &hash, agent_id, now, expires)?;
            store::agent_by_id(tx, agent_id)
        })
        .await?
        .ok_or_else(|| ApiError::unauthorized("The agent no longer exists."))?;
    tracing::info!(agent_id, "login");
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "token_type": "Bearer",
        "expires_at": expires,
        "agent": agent.view(&settings.defaults),
    })))
}

async fn logout(db: web::Data<Db>, req: HttpRequest, _me: Authenticated) -> ApiResult<HttpResponse> {
    let hash = tokens::digest(super::bearer(&req).unwrap_or_default());
    db.write(move |tx| store::delete_session(tx, &hash)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn me(settings: web::Data<Settings>, Authenticated(me): Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(me.view(&settings.defaults))
}

/// The Twilio account's numbers (or the sandbox's) that no other agent holds (R-ACC-4).
async fn available_numbers(
    db: web::Data<Db>,
    sms: web::Data<SmsProvider>,
    Authenticated(me): Authenticated,
) -> ApiResult<HttpResponse> {
    let numbers = sms.list_numbers().await?;
    let held = db.read(store::held_numbers).await?;
    let items: Vec<_> = numbers
        .into_iter()
        .filter_map(|n| {
            let holder = held.iter().find(|(num, _)| *num == n.phone_number).map(|(_, id)| *id);
            match holder {
                Some(id) if id != me.id => None,
                _ => Some(json!({
                    "number": n.phone_number,
                    "friendly_name": n.friendly_name,
                    "sms": n.sms,
                    "mms": n.mms,
                    "yours": holder == Some(me.id),
                })),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "sandbox": sms.is_sandbox(), "numbers": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberRequest {
    number: String,
}

async fn set_number(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    sms: web::Data<SmsProvider>,
    Authenticated(me): Authenticated,
    body: web::Json<NumberRequest>,
) -> ApiResult<HttpResponse> {
    let number = crate::domain::phone::parse_e164(&body.number).ok_or_else(|| {
        ApiError::invalid(
            "invalid_number",
            format!("`{}` is not a valid phone number in E.164 form.", body.number),
        )
    })?;
    let offered = sms.list_numbers().await?;
    if !offered.iter().any(|n| n.phone_number == number.as_str()) {
        return Err(ApiError::invalid(
            "number_not_in_account",
            format!(
                "{number} is not a number of the Twilio account; pick one from GET /v1/numbers/available."
            ),
        )
        .with("number", number.as_str()));
    }
    let now = clock.now();
    let id = me.id;
    let num = number.as_str().to_owned();
    let updated = db
        .write(move |tx| {
            match store::number_holder(tx, &num)? {
                Some(holder) if holder != id => return Ok(None),
                _ => {}
            }
            store::set_agent_column(tx, id, "sending_number", &num, now)?;
            store::agent_by_id(tx, id)
        })
        .await?;
    match updated {
        Some(agent) => Ok(HttpResponse::Ok().json(agent.view(&settings.defaults))),
        None => {
            Err(ApiError::conflict("number_taken", format!("{number} already belongs to another agent."))
                .with("number", number.as_str()))
        }
    }
}

async fn release_number(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
) -> ApiResult<HttpResponse> {
    let now = clock.now();
    db.write(move |tx| store::set_agent_column(tx, me.id, "sending_number", &rusqlite::types::Null, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsInput {
    #[serde(default, deserialize_with = "double_option")]
    daily_unique_recipients: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    daily_segments: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    monthly_credits: Option<Option<u32>>,
}

impl LimitsInput {
    fn check(&self) -> ApiResult<()> {
        let all = [
            ("daily_unique_recipients", self.daily_unique_recipients),
            ("daily_segments", self.daily_segments),
            ("monthly_credits", self.monthly_credits),
        ];
        for (name, v) in all {
            if let Some(Some(n)) = v
                && n > 10_000_000
            {
                return Err(ApiError::invalid_field(
                    &format!("limits.{name}"),
                    format!("{name} is at most 10000000 (or null for the default)."),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAgent {
    email: String,
    name: String,
    password: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    team_id: Option<i64>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    limits: Option<LimitsInput>,
}

fn field<T>(name: &str, r: Result<T, String>) -> ApiResult<T> {
    r.map_err(|msg| ApiError::invalid_field(name, format!("{msg}.")))
}

/// A new agent as the admin API, the CLI and the demo give it.
pub struct AgentInput {
    pub email: String,
    pub name: String,
    pub password: String,
    pub role: Role,
    pub team_id: Option<i64>,
    pub country: Option<String>,
    pub time_zone: Option<String>,
    pub limits: LimitOverrides,
}

/// What creating agents and teams reads: the database, the clock and the defaults. The CLI's
/// `agent add` builds just this, not the whole daemon (no Twilio or push clients).
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub db: &'a crate::db::Db,
    pub clock: &'a dyn crate::clock::Clock,
    pub defaults: &'a crate::config::DefaultSettings,
}

/// Creates an agent. `Err` when a value is invalid, the email is taken or the team does not exist.
pub async fn add_agent(state: Env<'_>, input: AgentInput) -> ApiResult<model::Agent> {
    let AgentInput { email, name, password: pass, role, team_id, country, time_zone, limits } = input;
    let (email, name, country, time_zone) =
        (email.as_str(), name.as_str(), country.as_deref(), time_zone.as_deref());
    let email = field("email", Email::parse(email))?;
    let name = field("name", model::parse_name(name))?;
    field("password", model::check_password(&pass))?;
    let country = field("country", Country::parse(country.unwrap_or(&state.defaults.country)))?;
    let time_zone = field("time_zone", TimeZoneName::parse(time_zone.unwrap_or(&state.defaults.time_zone)))?;
    let password_hash =
        web::block(move || password::hash(&pass)).await.map_err(|e| ApiError::internal(e.into()))??;
    let new = store::NewAgent {
        email: email.as_str().to_owned(),
        name,
        password_hash,
        role,
        team_id,
        country,
        time_zone,
        limits,
    };
    let now = state.clock.now();
    state
        .db
        .write(move |tx| {
            if let Some(team) = new.team_id
                && store::team_by_id(tx, team)?.is_none()
            {
                return Err(ApiError::invalid_field("team_id", format!("There is no team {team}.")).into());
            }
            let Some(id) = store::insert_agent(tx, &new, now)? else {
                return Err(ApiError::conflict(
                    "email_taken",
                    format!("An agent with {} exists.", new.email),
                )
                .with("email", new.email.clone())
                .into());
            };
            store::agent_by_id(tx, id)?.ok_or_else(|| anyhow::anyhow!("agent {id} vanished"))
        })
        .await
        .map_err(ApiError::from)
}

async fn create_agent(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    _admin: Admin,
    body: web::Json<CreateAgent>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let limits = match &b.limits {
        Some(l) => {
            l.check()?;
            LimitOverrides {
                daily_unique_recipients: l.daily_unique_recipients.flatten(),
                daily_segments: l.daily_segments.flatten(),
                monthly_credits: l.monthly_credits.flatten(),
            }
        }
        None => LimitOverrides::default(),
    };
    let input = AgentInput {
        email: b.email,
        name: b.name,
        password: b.password,
        role: b.role.unwrap_or(Role::Agent),
        team_id: b.team_id,
        country: b.country,
        time_zone: b.time_zone,
        limits,
    };
    let agent = add_agent(Env { db: &db, clock: &**clock, defaults: &settings.defaults }, input).await?;
    Ok(HttpResponse::Created().json(agent.view(&settings.defaults)))
}

async fn list_agents(
    db: web::Data<Db>,
    settings: web::Data<Settings>,
    _admin: Admin,
) -> ApiResult<HttpResponse> {
    let agents = db.read(store::list_agents).await?;
    let items: Vec<_> = agents.iter().map(|a| a.view(&settings.defaults)).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn get_agent(
    db: web::Data<Db>,
    settings: web::Data<Settings>,
    _admin: Admin,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    let agent =
        db.read(move |c| store::agent_by_id(c, id)).await?.ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(HttpResponse::Ok().json(agent.view(&settings.defaults)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateAgent {
    email: Option<String>,
    name: Option<String>,
    password: Option<String>,
    role: Option<Role>,
    #[serde(default, deserialize_with = "double_option")]
    team_id: Option<Option<i64>>,
    country: Option<String>,
    time_zone: Option<String>,
    limits: Option<LimitsInput>,
}

async fn update_agent(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    Admin(admin): Admin,
    id: web::Path<crate::error::PathId>,
    body: web::Json<UpdateAgent>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    let b = body.into_inner();
    // Validate everything before writing anything.
    let email = b.email.as_deref().map(|e| field("email", Email::parse(e))).transpose()?;
    let name = b.name.as_deref().map(|n| field("name", model::parse_name(n))).transpose()?;
    let country = b.country.as_deref().map(|c| field("country", Country::parse(c))).transpose()?;
    let time_zone = b.time_zone.as_deref().map(|t| field("time_zone", TimeZoneName::parse(t))).transpose()?;
    if let Some(l) = &b.limits {
        l.check()?;
    }
    if id == admin.id && b.role == Some(Role::Agent) {
        return Err(ApiError::conflict("last_admin", "Admins cannot demote themselves; ask another admin."));
    }
    let password_hash = match b.password {
        Some(p) => {
            field("password", model::check_password(&p))?;
            Some(web::block(move || password::hash(&p)).await.map_err(|e| ApiError::internal(e.into()))??)
        }
        None => None,
    };
    let now = clock.now();
    let agent = db
        .write(move |tx| {
            if store::agent_by_id(tx, id)?.is_none() {
                return Err(ApiError::not_found("agent").into());
            }
            if let Some(e) = &email {
                if store::email_taken(tx, e.as_str(), id)? {
                    return Err(ApiError::conflict(
                        "email_taken",
                        format!("An agent with {} exists.", e.as_str()),
                    )
                    .into());
                }
                store::set_agent_column(tx, id, "email", &e.as_str(), now)?;
            }
            if let Some(n) = &name {
                store::set_agent_column(tx, id, "name", n, now)?;
            }
            if let Some(r) = b.role {
                store::set_agent_column(tx, id, "role", &r.as_str(), now)?;
            }
            if let Some(team) = b.team_id {
                if let Some(t) = team
                    && store::team_by_id(tx, t)?.is_none()
                {
                    return Err(ApiError::invalid_field("team_id", format!("There is no team {t}.")).into());
                }
                store::set_agent_column(tx, id, "team_id", &team, now)?;
            }
            if let Some(c) = &country {
                store::set_agent_column(tx, id, "country", &c.as_str(), now)?;
            }
            if let Some(t) = &time_zone {
                store::set_agent_column(tx, id, "time_zone", &t.as_str(), now)?;
            }
            if let Some(l) = &b.limits {
                let cols = [
                    ("daily_unique_recipients", l.daily_unique_recipients),
                    ("daily_segments", l.daily_segments),
                    ("monthly_credits", l.monthly_credits),
                ];
                for (col, v) in cols {
                    if let Some(v) = v {
                        store::set_agent_column(tx, id, col, &v, now)?;
                    }
                }
            }
            if let Some(h) = &password_hash {
                store::set_agent_column(tx, id, "password_hash", h, now)?;
                // A new password ends every session of the agent.
                store::delete_sessions_of(tx, id)?;
            }
            store::agent_by_id(tx, id)?.ok_or_else(|| anyhow::anyhow!("agent {id} vanished"))
        })
        .await?;
    Ok(HttpResponse::Ok().json(agent.view(&settings.defaults)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamInput {
    name: String,
}

async fn list_teams(db: web::Data<Db>, _admin: Admin) -> ApiResult<HttpResponse> {
    let teams = db.read(store::list_teams).await?;
    let items: Vec<_> = teams
        .into_iter()
        .map(|(t, members)| json!({"id": t.id, "name": t.name, "members": members}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

/// Creates a team (admin API and demo share it).
pub async fn add_team(state: Env<'_>, name: &str) -> ApiResult<model::TeamRef> {
    let name = field("name", model::parse_name(name))?;
    let now = state.clock.now();
    state
        .db
        .write(move |tx| match store::insert_team(tx, &name, now)? {
            Some(id) => Ok(model::TeamRef { id, name }),
            None => Err(ApiError::conflict("team_name_taken", format!("A team named {name} exists.")).into()),
        })
        .await
        .map_err(ApiError::from)
}

async fn create_team(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    _admin: Admin,
    body: web::Json<TeamInput>,
) -> ApiResult<HttpResponse> {
    let team = add_team(Env { db: &db, clock: &**clock, defaults: &settings.defaults }, &body.name).await?;
    Ok(HttpResponse::Created().json(team))
}

async fn update_team(
    db: web::Data<Db>,
    _admin: Admin,
    id: web::Path<crate::error::PathId>,
    body: web::Json<TeamInput>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    let name = field("name", model::parse_name(&body.name))?;
    let team = db
        .write(move |tx| {
            if store::team_by_id(tx, id)?.is_none() {
                return Err(ApiError::not_found("team").into());
            }
            if !store::rename_team(tx, id, &name)? {
                return Err(
                    ApiError::conflict("team_name_taken", format!("A team named {name} exists.")).into()
                );
            }
            Ok(model::TeamRef { id, name })
        })
        .await?;
    Ok(HttpResponse::Ok().json(team))
}
