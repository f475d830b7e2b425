//! Operations: liveness, readiness, Prometheus metrics and the request-metrics middleware.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics_text));
}

/// The process-wide Prometheus recorder, installed once (tests start many apps in one process).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed (embedding); render an empty text rather than fail.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let version = state.db.read(crate::db::stored_version).await.map_err(|e| {
        ApiError::unavailable("database_unavailable", format!("The database is not reachable: {e:#}."))
    })?;
    if version != crate::db::schema_version() {
        return Err(ApiError::unavailable(
            "schema_not_current",
            format!("The database schema is {version}; this binary needs {}.", crate::db::schema_version()),
        ));
    }
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "schema_version": version })))
}

async fn metrics_text() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(prometheus().render())
}

/// Counts requests by route pattern, method and status, and times them.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
    Ok(res)
}
