//! The SMS provider: Twilio's REST API through our own client, or the sandbox when no account is
//! configured. Knows no product rule.

pub mod client;
pub mod signature;

use crate::config::Settings;
use crate::error::ApiError;
pub use client::{IncomingNumber, TwilioClient, TwilioError};

/// The provider in use, chosen once from the config.
pub enum SmsProvider {
    Twilio(TwilioClient),
    /// No account: numbers come from `twilio.sandbox_numbers`.
    Sandbox {
        numbers: Vec<String>,
    },
}

impl SmsProvider {
    pub fn from_settings(s: &Settings) -> anyhow::Result<SmsProvider> {
        Ok(match TwilioClient::from_settings(&s.twilio)? {
            Some(client) => SmsProvider::Twilio(client),
            None => SmsProvider::Sandbox { numbers: s.twilio.sandbox_numbers.clone() },
        })
    }

    pub fn is_sandbox(&self) -> bool {
        matches!(self, SmsProvider::Sandbox { .. })
    }

    /// The account's numbers that can send texts.
    pub async fn list_numbers(&self) -> Result<Vec<IncomingNumber>, ApiError> {
        match self {
            SmsProvider::Twilio(c) => c.incoming_numbers().await.map_err(ApiError::from),
            SmsProvider::Sandbox { numbers } => Ok(numbers
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
