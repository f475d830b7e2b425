//! `POST /v1/messages/quote` ("Calculate cost", R-COST-5).

use actix_web::{HttpResponse, web};

use super::quote::{self, QuoteRequest};
use crate::accounts::Authenticated;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::ApiResult;
use crate::scripts::Scripts;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/messages/quote", web::post().to(create_quote));
}

async fn create_quote(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    scripts: web::Data<Scripts>,
    Authenticated(me): Authenticated,
    body: web::Json<QuoteRequest>,
) -> ApiResult<HttpResponse> {
    let request = body.into_inner();
    let saved = request.clone();
    let (settings, scripts, at) = (settings.into_inner(), scripts.into_inner(), clock.clone().into_inner());
    let (q, agent_id) = db
        .read(move |c| {
            let env = quote::Env { settings: &settings, scripts: &scripts, clock: &*at };
            quote::build(env, c, &me, &request).map(|q| (q, me.id))
        })
        .await?;
    let (now, to_save) = (clock.now(), q.clone());
    db.write(move |tx| super::store::save_quote(tx, agent_id, &saved, &to_save, now)).await?;
    Ok(HttpResponse::Ok().json(q))
}
