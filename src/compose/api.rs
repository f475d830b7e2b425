//! `POST /v1/messages/quote` ("Calculate cost", R-COST-5).

use actix_web::{HttpResponse, web};

use super::quote::{self, QuoteRequest};
use crate::accounts::Authenticated;
use crate::app::AppState;
use crate::db::millis;
use crate::error::ApiResult;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/messages/quote", web::post().to(create_quote));
}

async fn create_quote(
    state: web::Data<AppState>,
    Authenticated(me): Authenticated,
    body: web::Json<QuoteRequest>,
) -> ApiResult<HttpResponse> {
    let request = body.into_inner();
    let worker = state.clone();
    let saved = request.clone();
    let q = state.db.read(move |c| quote::build(&worker, c, &me, &request).map(|q| (q, me.id))).await?;
    let (q, agent_id) = q;
    let row = (
        q.quote_id.clone(),
        serde_json::to_string(&saved).unwrap_or_default(),
        q.fingerprint.clone(),
        serde_json::to_string(&q.totals).unwrap_or_default(),
        millis(state.clock.now()),
        millis(q.expires_at),
    );
    state
        .db
        .write(move |tx| {
            tx.prepare_cached("DELETE FROM quotes WHERE expires_at < ?1")?.execute([row.4])?;
            tx.prepare_cached(
                "INSERT INTO quotes (id, agent_id, request, fingerprint, totals, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(rusqlite::params![row.0, agent_id, row.1, row.2, row.3, row.4, row.5])?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(q))
}
