//! Our FCM client (R-PUSH-2): the HTTP v1 API (`projects/{id}/messages:send`) with an OAuth
//! token that gcp_auth gets for the service account (from the `token_uri` in its JSON) and
//! caches. Errors: <https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode>.

use std::time::Duration;

use anyhow::Context;
use gcp_auth::{CustomServiceAccount, TokenProvider};
use serde::Deserialize;
use serde_json::json;

use super::payload::{Delivery, Outcome};
use crate::config::{FcmSettings, PushSettings};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

pub struct Fcm {
    http: reqwest::Client,
    send_url: String,
    account: CustomServiceAccount,
    /// gcp_auth caches the token but does not stop concurrent first callers from each asking
    /// for one: asking goes one at a time.
    asking: tokio::sync::Mutex<()>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorStatus,
}

#[derive(Deserialize, Default)]
struct ErrorStatus {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "errorCode", default)]
    error_code: Option<String>,
}

impl Fcm {
    /// `None` when FCM is not configured.
    pub fn new(s: &FcmSettings, p: &PushSettings) -> anyhow::Result<Option<Fcm>> {
        if s.service_account.is_none() {
            return Ok(None);
        }
        let (account, project) = s.service_account()?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tidings/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_millis(p.timeout_ms))
            .build()
            .context("building the FCM HTTP client")?;
        Ok(Some(Fcm {
            http,
            send_url: format!("{}/v1/projects/{project}/messages:send", s.base_url.trim_end_matches('/')),
            account,
            asking: tokio::sync::Mutex::new(()),
        }))
    }

    pub async fn send(&self, p: &Delivery<'_>) -> Outcome {
        let token = {
            let _one_at_a_time = self.asking.lock().await;
            match self.account.token(&[SCOPE]).await {
                Ok(t) => t,
                Err(e) => return Outcome::Retry { error: format!("no FCM access token: {e}"), after: None },
            }
        };
        let pl = &p.payload;
        let body = json!({"message": {
            "token": p.token,
            "notification": {"title": pl.title, "body": pl.body},
            "data": {"contact_id": pl.contact_id.to_string(), "message_id": pl.message_id.to_string()},
            "android": {
                "priority": "HIGH",
                "notification": {"tag": pl.thread, "notification_count": pl.badge},
            },
            // FCM also reaches iOS apps; there the badge and grouping go in the aps dictionary.
            "apns": {"payload": {"aps": {"badge": pl.badge, "thread-id": pl.thread}}},
        }});
        let sent = self.http.post(&self.send_url).bearer_auth(token.as_str()).json(&body).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Outcome::Retry { error: format!("FCM unreachable: {e}"), after: None },
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Outcome::Sent;
        }
        let after = crate::retry::retry_after(response.headers());
        let error = response.json::<ErrorBody>().await.unwrap_or_default().error;
        let code = error.details.iter().find_map(|d| d.error_code.clone()).unwrap_or(error.status);
        classify(status, &code, &error.message, after)
    }
}

/// What an FCM refusal means for the push: the `errorCode` of its details, else its status.
fn classify(status: u16, code: &str, message: &str, after: Option<Duration>) -> Outcome {
    let what = format!("FCM {status} {code}: {message}");
    match code {
        "UNREGISTERED" | "SENDER_ID_MISMATCH" => Outcome::DeadToken(what),
        "QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL" => Outcome::Retry { error: what, after },
        // The app's APNs credentials in the Firebase console are wrong: a configuration error.
        "THIRD_PARTY_AUTH_ERROR" => Outcome::Drop(what),
        _ if status == 429 || status >= 500 => Outcome::Retry { error: what, after },
        // INVALID_ARGUMENT, PERMISSION_DENIED…: trying again cannot help.
        _ => Outcome::Drop(what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_classified() {
        for code in ["UNREGISTERED", "SENDER_ID_MISMATCH"] {
            assert!(matches!(classify(404, code, "", None), Outcome::DeadToken(_)), "{code}");
        }
        for (status, code) in [(429, "QUOTA_EXCEEDED"), (503, "UNAVAILABLE"), (500, "INTERNAL"), (502, "")] {
            assert!(matches!(classify(status, code, "", None), Outcome::Retry { .. }), "{code}");
        }
        assert!(matches!(classify(400, "INVALID_ARGUMENT", "bad", None), Outcome::Drop(_)));
        assert!(matches!(classify(401, "THIRD_PARTY_AUTH_ERROR", "", None), Outcome::Drop(_)));
        // gcp_auth keeps its token until it expires: a refused one is a configuration error.
        assert!(matches!(classify(401, "UNAUTHENTICATED", "", None), Outcome::Drop(_)));
    }
}
