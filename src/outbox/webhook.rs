//! `POST /webhooks/twilio/status` (R-SND-1): Twilio's status callbacks. The signature is checked
//! over the raw form pairs first; callbacks come late, repeated and out of order, so a row only
//! moves forward and a repeat changes nothing.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;

use super::status::{Status, marks_number};
use super::store;
use crate::app::AppState;
use crate::error::ApiError;
use crate::twilio::signature;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/twilio/status", web::post().to(status_callback));
}

/// Checks `X-Twilio-Signature` for a form POST to `path` and returns the raw pairs (shared with
/// the inbound webhook).
pub fn verified_form(
    state: &AppState,
    req: &HttpRequest,
    path: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let forged = || {
        ApiError::forbidden("The request is not signed by Twilio for this URL.").with("reason", "signature")
    };
    let token = state.settings.twilio.auth_token.as_ref().ok_or_else(forged)?;
    let signature =
        req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).ok_or_else(forged)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::bad_request("malformed_form", format!("The body is not a form: {e}.")))?;
    let mut url = format!("{}{path}", state.settings.server.public_url.trim_end_matches('/'));
    if let Some(q) = req.uri().query() {
        url = format!("{url}?{q}");
    }
    if !signature::verify_form(token.expose_secret(), &url, &pairs, signature) {
        tracing::warn!(path, "refused a webhook with a bad signature");
        return Err(forged());
    }
    Ok(pairs)
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn status_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let pairs = verified_form(&state, &req, "/webhooks/twilio/status", &body)?;
    let (Some(sid), Some(raw_status)) = (field(&pairs, "MessageSid"), field(&pairs, "MessageStatus")) else {
        return Err(ApiError::bad_request("missing_fields", "MessageSid and MessageStatus are required."));
    };
    let error_code = field(&pairs, "ErrorCode").and_then(|c| c.trim().parse::<i64>().ok());
    let to = field(&pairs, "To").map(str::to_owned);
    let from = field(&pairs, "From").map(str::to_owned);
    let (sid, raw_status, now) = (sid.to_owned(), raw_status.to_owned(), state.clock.now());
    let next = Status::from_twilio(&raw_status);
    if next.is_none() {
        tracing::info!(%raw_status, "a Twilio status this version does not know; kept as written");
    }
    state
        .db
        .write(move |tx| {
            // Only a callback that moves the text records what it says of the number.
            let moved = store::apply_status(tx, &sid, next, &raw_status, error_code, now)?;
            if moved && let (Some(code), Some(to)) = (error_code, &to) {
                if let Some(reason) = marks_number(code) {
                    store::flag_number(tx, to, code, reason, now)?;
                }
                if code == 21610
                    && let Some(from) = &from
                {
                    crate::consent::opt_out(tx, from, to, "twilio:21610", None, now)?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
