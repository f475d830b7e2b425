//! The SMS provider: Twilio's REST API through our own client, or the sandbox when no account is
//! configured. Knows no product rule.

pub mod client;
pub mod signature;
mod store;
pub mod webhook;

use crate::config::Settings;
use crate::db::{Db, millis};
use crate::error::ApiError;
pub use client::{IncomingNumber, MessageResource, NewMessage, TwilioClient, TwilioError};

/// The provider in use, chosen once from the config.
pub enum SmsProvider {
    Twilio(TwilioClient),
    /// No account: numbers come from `twilio.sandbox_numbers`; what it "sends" is recorded in the
    /// database (`GET /v1/sandbox/messages`).
    Sandbox {
        numbers: Vec<String>,
        db: Db,
    },
}

impl SmsProvider {
    pub fn from_settings(s: &Settings, db: Db) -> anyhow::Result<SmsProvider> {
        Ok(match TwilioClient::from_settings(&s.twilio)? {
            Some(client) => SmsProvider::Twilio(client),
            None => SmsProvider::Sandbox { numbers: s.twilio.sandbox_numbers.clone(), db },
        })
    }

    pub fn is_sandbox(&self) -> bool {
        matches!(self, SmsProvider::Sandbox { .. })
    }

    /// The account's numbers that can send texts.
    pub async fn list_numbers(&self) -> Result<Vec<IncomingNumber>, ApiError> {
        match self {
            SmsProvider::Twilio(c) => c.incoming_numbers().await.map_err(ApiError::from),
            SmsProvider::Sandbox { numbers, .. } => Ok(numbers
                .iter()
                .map(|n| IncomingNumber {
                    sid: String::new(),
                    phone_number: n.clone(),
                    friendly_name: format!("Sandbox {n}"),
                    sms: true,
                    mms: true,
                })
                .collect()),
        }
    }

    /// Hands a text over.
    pub async fn send(&self, m: &NewMessage<'_>) -> Result<MessageResource, TwilioError> {
        match self {
            SmsProvider::Twilio(c) => c.create_message(m).await,
            SmsProvider::Sandbox { db, .. } => {
                let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
                let row = (
                    sid.clone(),
                    m.from.to_owned(),
                    m.to.to_owned(),
                    m.body.to_owned(),
                    serde_json::to_string(m.media_urls).unwrap_or_default(),
                );
                let now = millis(jiff::Timestamp::now());
                db.write(move |tx| store::record(tx, &row, now))
                    .await
                    .map_err(|e| TwilioError::Decode(format!("sandbox: {e:#}")))?;
                Ok(MessageResource::sandbox(sid, m))
            }
        }
    }

    /// Texts from `from` to `to` since `since`: how a lost answer is reconciled.
    pub async fn sent_since(
        &self,
        to: &str,
        from: &str,
        since: jiff::Timestamp,
    ) -> Result<Vec<MessageResource>, TwilioError> {
        match self {
            SmsProvider::Twilio(c) => c.list_messages(to, from, since).await,
            SmsProvider::Sandbox { db, .. } => {
                let (to, from) = (to.to_owned(), from.to_owned());
                db.read(move |c| {
                    let found = store::sent_since(c, &to, &from, millis(since))?;
                    Ok(found
                        .into_iter()
                        .map(|(sid, body)| {
                            let m = NewMessage {
                                to: &to,
                                from: &from,
                                body: &body,
                                media_urls: &[],
                                status_callback: None,
                            };
                            MessageResource::sandbox(sid, &m)
                        })
                        .collect())
                })
                .await
                .map_err(|e| TwilioError::Decode(format!("sandbox: {e:#}")))
            }
        }
    }
}

impl From<TwilioError> for ApiError {
    fn from(e: TwilioError) -> Self {
        let status = actix_web::http::StatusCode::BAD_GATEWAY;
        match e {
            TwilioError::Auth => ApiError::new(
                status,
                "twilio_auth_failed",
                "Twilio refused our credentials",
                "Twilio refused the configured credentials; an operator must check twilio.account_sid and its token.",
            ),
            TwilioError::Api { status: s, code, message } => ApiError::new(
                status,
                "twilio_error",
                "Twilio error",
                format!("Twilio answered {s}: {message}"),
            )
            .with("twilio_code", code),
            other => {
                tracing::warn!(error = %other, "Twilio unreachable");
                ApiError::new(
                    status,
                    "twilio_unavailable",
                    "Twilio unavailable",
                    "Twilio could not be reached; try again shortly.",
                )
            }
        }
    }
}
