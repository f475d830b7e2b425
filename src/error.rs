//! The API error type: every failure a client sees is an `application/problem+json` document
//! (RFC 9457) with a stable machine `code` (R-ERR-1). Causes of server-side failures go to the log,
//! never to the body.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable; documented in the README.
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extra members of the problem document: the figures that matter.
    pub extra: Map<String, Value>,
    /// Seconds, for `429` answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self { status, code, title, detail: detail.into(), extra: Map::new(), retry_after: None }
    }

    /// Adds a member to the problem document.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, "Invalid input", detail)
    }

    pub fn invalid_field(field: &str, detail: impl Into<String>) -> Self {
        Self::invalid("invalid_field", detail).with("field", field)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", format!("No such {what}."))
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn too_many_requests(code: &'static str, retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            "Too many requests",
            format!("Too many attempts; try again in {retry_after_secs} seconds."),
        )
        .with("retry_after", retry_after_secs);
        e.retry_after = Some(retry_after_secs);
        e
    }

    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, "Service unavailable", detail)
    }

    /// `503 storage_unavailable` with `Retry-After: 5`: the database cannot be used just now.
    pub fn storage_unavailable(detail: impl Into<String>) -> Self {
        let mut e = Self::unavailable("storage_unavailable", detail);
        e.retry_after = Some(5);
        e
    }

    /// A server-side failure: the cause is logged with context, the client gets a generic answer.
    pub fn internal(cause: anyhow::Error) -> Self {
        tracing::error!(error = format!("{cause:#}"), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
            "Something went wrong on our side; it has been logged.",
        )
    }

    pub fn body(&self) -> Value {
        let mut doc = json!({
            "type": format!("urn:tidings:problem:{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Value::Object(map) = &mut doc {
            for (k, v) in &self.extra {
                map.insert(k.clone(), v.clone());
            }
        }
        doc
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

/// A numeric id in a path: canonical decimal only, so one resource has one URL (`+1`, `01` and
/// ` 1` name nothing: 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathId(pub i64);

impl<'de> serde::Deserialize<'de> for PathId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let canonical = s == "0"
            || (s.starts_with(|c: char| ('1'..='9').contains(&c)) && s.bytes().all(|b| b.is_ascii_digit()));
        s.parse::<i64>()
            .ok()
            .filter(|_| canonical)
            .map(PathId)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an id")))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<ApiError>() {
            Ok(api) => api,
            Err(e) if crate::db::is_storage_failure(&e) => {
                tracing::error!(error = format!("{e:#}"), "storage unavailable");
                ApiError::storage_unavailable(
                    "The database cannot be written or read just now; nothing was changed. Try again shortly.",
                )
            }
            Err(e) => ApiError::internal(e),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.body(self.body().to_string())
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// Maps actix extractor failures (JSON, query, path, payload) to problem documents (R-ERR-2).
pub mod extractors {
    use super::ApiError;
    use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
    use actix_web::{HttpRequest, http::StatusCode};

    pub fn json(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
        let e = match &err {
            JsonPayloadError::OverflowKnownLength { length, limit } => {
                too_large(*limit).with("length", *length)
            }
            JsonPayloadError::Overflow { limit } => too_large(*limit),
            JsonPayloadError::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the body as JSON with `Content-Type: application/json`.",
            ),
            JsonPayloadError::Deserialize(de) if de.is_data() => {
                ApiError::invalid("invalid_body", format!("The JSON body does not fit: {de}."))
            }
            JsonPayloadError::Deserialize(de) => {
                ApiError::bad_request("malformed_json", format!("The body is not valid JSON: {de}."))
            }
            JsonPayloadError::Payload(p) => payload_problem(p),
            other => ApiError::bad_request("bad_body", format!("The body could not be read: {other}.")),
        };
        e.into()
    }

    pub fn query(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
        ApiError::bad_request("invalid_query", format!("The query string does not fit: {err}.")).into()
    }

    pub fn path(err: PathError, _req: &HttpRequest) -> actix_web::Error {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found", format!("No such resource ({err})."))
            .into()
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            format!("The body is larger than the {limit} bytes this endpoint accepts."),
        )
        .with("limit", limit)
    }

    pub fn payload_problem(p: &PayloadError) -> ApiError {
        match p {
            PayloadError::Overflow => too_large(0),
            other => ApiError::bad_request("bad_body", format!("The body could not be read: {other}.")),
        }
    }
}

/// Turns any error answer that is not yet a problem document (actix's own: payload limits,
/// timeouts, …) into one, so clients see one error format (R-ERR-1).
pub fn ensure_problem<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::middleware::ErrorHandlerResponse;
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, title, detail) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("payload_too_large", "Payload too large", "The body is larger than this endpoint accepts.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "Unsupported media type", "This content type is not accepted here.")
        }
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed", "Use another method."),
        StatusCode::NOT_FOUND => ("not_found", "Not found", "No such resource."),
        StatusCode::REQUEST_TIMEOUT => {
            ("request_timeout", "Request timeout", "The request took too long to arrive.")
        }
        s if s.is_server_error() => {
            ("internal", "Internal server error", "Something went wrong on our side.")
        }
        _ => ("bad_request", "Bad request", "The request could not be read."),
    };
    let problem = ApiError::new(status, code, title, detail);
    let (req, _) = res.into_parts();
    let res = actix_web::dev::ServiceResponse::new(req, problem.error_response()).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}
