//! Devices (R-PUSH-1) and the sandbox's record of pushes.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::store;
use crate::accounts::Authenticated;
use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/devices", web::get().to(list))
        .route("/v1/devices", web::post().to(register))
        .route("/v1/devices/{id}", web::delete().to(remove))
        .route("/v1/sandbox/pushes", web::get().to(sandbox_pushes));
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Platform {
    Apns,
    Fcm,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Environment {
    Sandbox,
    Production,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    platform: Platform,
    token: String,
    #[serde(default)]
    environment: Option<Environment>,
}

/// An APNs token is 32+ bytes in hex; an FCM token is an opaque string without spaces.
fn check_token(platform: Platform, token: &str) -> Result<(), ApiError> {
    let ok = match platform {
        Platform::Apns => (64..=200).contains(&token.len()) && token.chars().all(|c| c.is_ascii_hexdigit()),
        Platform::Fcm => (1..=4096).contains(&token.len()) && token.chars().all(|c| c.is_ascii_graphic()),
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field("token", "The token does not look like a token of that platform."))
    }
}

async fn register(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    Authenticated(me): Authenticated,
    body: web::Json<Registration>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let token = b.token.trim().to_owned();
    check_token(b.platform, &token)?;
    let platform = if b.platform == Platform::Apns { "apns" } else { "fcm" };
    let environment = match b.environment.unwrap_or(Environment::Production) {
        Environment::Sandbox => "sandbox",
        Environment::Production => "production",
    };
    let now = clock.now();
    let device = db.write(move |tx| store::register(tx, me.id, platform, &token, environment, now)).await?;
    Ok(HttpResponse::Created().json(device))
}

async fn list(db: web::Data<Db>, Authenticated(me): Authenticated) -> ApiResult<HttpResponse> {
    let items = db.read(move |c| store::list(c, me.id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn remove(
    db: web::Data<Db>,
    Authenticated(me): Authenticated,
    id: web::Path<crate::error::PathId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().0;
    if db.write(move |tx| store::remove(tx, me.id, id)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("device"))
    }
}

async fn sandbox_pushes(db: web::Data<Db>, Authenticated(me): Authenticated) -> ApiResult<HttpResponse> {
    let items = db.read(move |c| store::sandbox_pushes(c, me.id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
