//! `GET /v1/limits` (R-LIM-5): each counter, its limit and when it resets.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Counters, agent_periods, store};
use crate::accounts::Authenticated;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::ApiResult;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/limits", web::get().to(limits));
}

async fn limits(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    Authenticated(me): Authenticated,
) -> ApiResult<HttpResponse> {
    let p = agent_periods(&me, clock.now());
    let (id, periods) = (me.id, p.clone());
    let usage = db.read(move |c| store::usage(c, id, &periods)).await?;
    let counters = Counters::new(usage, me.effective_limits(&settings.defaults), &p, None);
    Ok(HttpResponse::Ok().json(json!({ "time_zone": me.time_zone.as_str(), "limits": counters })))
}
