//! `POST /webhooks/twilio/status` (R-SND-1): Twilio's status callbacks. The signature is checked
//! over the raw form pairs first; callbacks come late, repeated and out of order, so a row only
//! moves forward and a repeat changes nothing.

use actix_web::{HttpRequest, HttpResponse, web};

use super::status::{Status, marks_number};
use super::store;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::ApiError;
use crate::twilio::webhook::{field, verified_form};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/twilio/status", web::post().to(status_callback));
}

async fn status_callback(
    db: web::Data<Db>,
    clock: web::Data<dyn Clock>,
    settings: web::Data<Settings>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let pairs = verified_form(&settings, &req, "/webhooks/twilio/status", &body)?;
    let (Some(sid), Some(raw_status)) = (field(&pairs, "MessageSid"), field(&pairs, "MessageStatus")) else {
        return Err(ApiError::bad_request("missing_fields", "MessageSid and MessageStatus are required."));
    };
    let error_code = field(&pairs, "ErrorCode").and_then(|c| c.trim().parse::<i64>().ok());
    let to = field(&pairs, "To").map(str::to_owned);
    let from = field(&pairs, "From").map(str::to_owned);
    let (sid, raw_status, now) = (sid.to_owned(), raw_status.to_owned(), clock.now());
    let next = Status::from_twilio(&raw_status);
    if next.is_none() {
        tracing::info!(%raw_status, "a Twilio status this version does not know; kept as written");
    }
    db.write(move |tx| {
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
