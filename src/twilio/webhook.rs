//! Reading Twilio's webhooks: the `X-Twilio-Signature` check over the raw form pairs, and the
//! fields (shared by the status callback and the inbound webhook).

use actix_web::HttpRequest;
use secrecy::ExposeSecret;

use super::signature;
use crate::config::Settings;
use crate::error::ApiError;

/// Checks `X-Twilio-Signature` for a form POST to `path` (under `server.public_url`) and returns
/// the raw pairs.
pub fn verified_form(
    settings: &Settings,
    req: &HttpRequest,
    path: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let forged = || {
        ApiError::forbidden("The request is not signed by Twilio for this URL.").with("reason", "signature")
    };
    let token = settings.twilio.auth_token.as_ref().ok_or_else(forged)?;
    let signature =
        req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).ok_or_else(forged)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::bad_request("malformed_form", format!("The body is not a form: {e}.")))?;
    let mut url = format!("{}{path}", settings.server.public_url.trim_end_matches('/'));
    if let Some(q) = req.uri().query() {
        url = format!("{url}?{q}");
    }
    if !signature::verify_form(token.expose_secret(), &url, &pairs, signature) {
        tracing::warn!(path, "refused a webhook with a bad signature");
        return Err(forged());
    }
    Ok(pairs)
}

/// The first value of a form field.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
