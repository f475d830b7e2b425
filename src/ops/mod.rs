//! Operations: liveness, readiness, Prometheus metrics and the request-metrics middleware.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};

/// The largest JSON body any endpoint accepts.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

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

async fn readyz(db: web::Data<Db>) -> ApiResult<HttpResponse> {
    let version = db.read(crate::db::stored_version).await.map_err(|e| {
        ApiError::unavailable("database_unavailable", format!("The database is not reachable: {e:#}."))
    })?;
    if db.writes_failing() {
        return Err(ApiError::storage_unavailable(
            "Writes to the database are failing (disk full or I/O errors); see the log.",
        ));
    }
    if version != crate::schema::version() {
        return Err(ApiError::unavailable(
            "schema_not_current",
            format!("The database schema is {version}; this binary needs {}.", crate::schema::version()),
        ));
    }
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "schema_version": version })))
}

async fn metrics_text() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(prometheus().render())
}

/// The longest request target answered: longer ones get `414 uri_too_long`. (Past actix's own
/// head buffer, a request is refused before any middleware sees it.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Refuses a request target over [`MAX_URI_BYTES`] with a problem document.
pub async fn limit_uri(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        let e = ApiError::new(
            actix_web::http::StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "URI too long",
            format!("The request target is {len} bytes; at most {MAX_URI_BYTES} are read."),
        );
        return Ok(req.error_response(e).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Reads a small body (a known length up to [`MAX_JSON_BYTES`]) before the handler
/// runs and hands it on: actix closes the connection after an answer given before the body was
/// read (a `401` before the JSON extractor, a `404`), and a client would pay a new connection for
/// each error.
pub async fn read_small_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let small = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > 0 && n <= MAX_JSON_BYTES);
    if small {
        use actix_web::HttpMessage as _;
        use futures_util::StreamExt as _;
        let mut payload = req.take_payload();
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            body.extend_from_slice(&chunk?);
        }
        req.set_payload(actix_web::dev::Payload::from(body.freeze()));
    }
    next.call(req).await
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
