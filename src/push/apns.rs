//! Our APNs client (R-PUSH-2): Apple's HTTP/2 provider API with a token (`.p8`, ES256 JWT)
//! signed by us, cached for 50 minutes and renewed when Apple says it expired.
//! Statuses and reasons: <https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns>.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::payload::{Delivery, Outcome};
use crate::config::{ApnsSettings, PushSettings};

/// Apple accepts a provider token for an hour and refuses new ones more often than every 20
/// minutes: 50 minutes sits between.
const TOKEN_LIFETIME_SECS: i64 = 50 * 60;

pub struct Apns {
    http: reqwest::Client,
    production: String,
    sandbox: String,
    topic: String,
    key_id: String,
    team_id: String,
    key: EncodingKey,
    /// The provider token and when it was made (seconds).
    token: Mutex<Option<(String, i64)>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

#[derive(Deserialize)]
struct Refusal {
    #[serde(default)]
    reason: String,
}

impl Apns {
    /// `None` when APNs is not configured.
    pub fn new(s: &ApnsSettings, p: &PushSettings) -> anyhow::Result<Option<Apns>> {
        if !s.configured() {
            return Ok(None);
        }
        let mut http = reqwest::Client::builder()
            .user_agent(concat!("tidings/", env!("CARGO_PKG_VERSION")))
            // APNs speaks only HTTP/2 (over TLS with ALPN h2; the test stand-in speaks h2c).
            .http2_prior_knowledge()
            .http2_keep_alive_interval(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_millis(p.timeout_ms));
        if let Some(path) = &s.ca_file {
            let pem =
                std::fs::read(path).with_context(|| format!("reading apns.ca_file {}", path.display()))?;
            let cert =
                reqwest::Certificate::from_pem(&pem).context("apns.ca_file is not a PEM certificate")?;
            http = http.add_root_certificate(cert);
        }
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Ok(Some(Apns {
            http: http.build().context("building the APNs HTTP client")?,
            production: s.base_url.trim_end_matches('/').to_owned(),
            sandbox: s.sandbox_base_url.trim_end_matches('/').to_owned(),
            topic: text(&s.topic),
            key_id: text(&s.key_id),
            team_id: text(&s.team_id),
            key: s.signing_key()?,
            token: Mutex::new(None),
        }))
    }

    /// The cached provider token, made anew when it is 50 minutes old.
    fn bearer(&self, now: jiff::Timestamp) -> anyhow::Result<String> {
        let now = now.as_second();
        let mut cached = self.token.lock().map_err(|_| anyhow::anyhow!("APNs token lock poisoned"))?;
        if let Some((token, made)) = cached.as_ref()
            && now - made < TOKEN_LIFETIME_SECS
            && now >= *made
        {
            return Ok(token.clone());
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(&header, &Claims { iss: &self.team_id, iat: now }, &self.key)
            .context("signing the APNs provider token")?;
        *cached = Some((token.clone(), now));
        Ok(token)
    }

    /// Forgets the provider token Apple refused, unless another push already replaced it.
    fn expire(&self, refused: &str) {
        if let Ok(mut cached) = self.token.lock()
            && cached.as_ref().is_some_and(|(t, _)| t == refused)
        {
            *cached = None;
        }
    }

    pub async fn send(&self, p: &Delivery<'_>, now: jiff::Timestamp) -> Outcome {
        let bearer = match self.bearer(now) {
            Ok(b) => b,
            Err(e) => return Outcome::Drop(format!("{e:#}")),
        };
        let base = if p.environment == "sandbox" { &self.sandbox } else { &self.production };
        let body = json!({
            "aps": {
                "alert": {"title": p.payload.title, "body": p.payload.body},
                "badge": p.payload.badge,
                "sound": "default",
                "thread-id": p.payload.thread,
            },
            "contact_id": p.payload.contact_id,
            "message_id": p.payload.message_id,
        });
        let sent = self
            .http
            .post(format!("{base}/3/device/{}", p.token))
            .bearer_auth(&bearer)
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            // The same notification sent twice (a retry after a lost answer) shows once.
            .header("apns-collapse-id", format!("message-{}", p.payload.message_id))
            // Undeliverable for a day (phone off): Apple keeps it that long, then drops it.
            .header("apns-expiration", (now.as_second() + 86_400).to_string())
            .json(&body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                // The cause (a TLS `UnknownIssuer`, a refused connection) is deep in the chain;
                // the URL is left out: it holds the device token.
                let why = cause_chain(&e.without_url());
                tracing::warn!(host = %base, error = %why, "APNs could not be reached");
                return Outcome::Retry { error: format!("APNs unreachable ({base}): {why}"), after: None };
            }
        };
        let status = response.status().as_u16();
        if status == 200 {
            return Outcome::Sent;
        }
        let after = crate::retry::retry_after(response.headers());
        let reason = response.json::<Refusal>().await.map(|r| r.reason).unwrap_or_default();
        classify(status, &reason, after, || self.expire(&bearer))
    }
}

/// An error with each of its causes, `outer: inner: innermost`.
fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// What an APNs refusal means for the push.
fn classify(status: u16, reason: &str, after: Option<Duration>, expire_token: impl FnOnce()) -> Outcome {
    let what = format!("APNs {status} {reason}");
    match (status, reason) {
        (410, _) | (400, "BadDeviceToken") => Outcome::DeadToken(what),
        (403, "ExpiredProviderToken") => {
            expire_token();
            Outcome::Retry { error: what, after: None }
        }
        (429 | 500 | 503, _) => Outcome::Retry { error: what, after },
        // DeviceTokenNotForTopic, BadTopic, TopicDisallowed, a refused payload…: trying again
        // cannot help; the error log says what to fix.
        _ => Outcome::Drop(what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_classified() {
        let mut expired = false;
        assert!(matches!(classify(410, "Unregistered", None, || {}), Outcome::DeadToken(_)));
        assert!(matches!(classify(400, "BadDeviceToken", None, || {}), Outcome::DeadToken(_)));
        assert!(matches!(classify(400, "DeviceTokenNotForTopic", None, || {}), Outcome::Drop(_)));
        assert!(matches!(classify(400, "BadTopic", None, || {}), Outcome::Drop(_)));
        assert!(matches!(classify(400, "TopicDisallowed", None, || {}), Outcome::Drop(_)));
        assert!(matches!(classify(429, "TooManyRequests", None, || {}), Outcome::Retry { .. }));
        assert!(matches!(classify(503, "ServiceUnavailable", None, || {}), Outcome::Retry { .. }));
        assert!(matches!(classify(500, "InternalServerError", None, || {}), Outcome::Retry { .. }));
        assert!(matches!(
            classify(403, "ExpiredProviderToken", None, || expired = true),
            Outcome::Retry { .. }
        ));
        assert!(expired);
    }
}
