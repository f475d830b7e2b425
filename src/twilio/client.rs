//! Our own small client for Twilio's REST API (2010-04-01): Basic auth with the account SID and
//! auth token, or an API key SID and secret (preferred). The base URL comes from config, so tests
//! point it at a local stand-in.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::TwilioSettings;

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    #[error("Twilio refused the credentials")]
    Auth,
    /// 429 or 5xx: worth trying again, after `retry_after` when Twilio said.
    #[error("Twilio answered {status}; try again later")]
    Retryable { status: u16, retry_after: Option<Duration> },
    #[error("Twilio answered {status} (code {code:?}): {message}")]
    Api { status: u16, code: Option<i64>, message: String },
    #[error("Twilio could not be reached: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("Twilio's answer could not be read: {0}")]
    Decode(String),
}

/// A number of the account (IncomingPhoneNumbers resource).
#[derive(Debug, Clone)]
pub struct IncomingNumber {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub sms: bool,
    pub mms: bool,
}

pub struct TwilioClient {
    http: reqwest::Client,
    base: String,
    account_sid: String,
    username: String,
    secret: SecretString,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base", &self.base)
            .field("account_sid", &self.account_sid)
            .finish()
    }
}

/// A text to hand to Twilio.
pub struct NewMessage<'a> {
    pub to: &'a str,
    pub from: &'a str,
    pub body: &'a str,
    pub media_urls: &'a [String],
    pub status_callback: Option<&'a str>,
}

/// The Messages resource as Twilio sends it: counts as strings, `error_code` an integer, dates
/// in RFC 2822, and statuses this code may not know (kept as written).
#[derive(Debug, Clone, Deserialize)]
pub struct MessageResource {
    pub sid: String,
    pub status: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub num_segments: Option<String>,
    #[serde(default)]
    pub num_media: Option<String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_sent: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

impl MessageResource {
    /// What the sandbox answers for a text it "sent".
    pub fn sandbox(sid: String, m: &NewMessage<'_>) -> MessageResource {
        MessageResource {
            sid,
            status: "queued".into(),
            to: Some(m.to.to_owned()),
            from: Some(m.from.to_owned()),
            num_segments: None,
            num_media: Some(m.media_urls.len().to_string()),
            error_code: None,
            error_message: None,
            date_created: None,
            date_sent: None,
            body: Some(m.body.to_owned()),
        }
    }

    pub fn segments(&self) -> Option<u32> {
        self.num_segments.as_deref().and_then(|s| s.parse().ok())
    }

    /// When Twilio created the resource: set from the moment it accepts a text, unlike
    /// `date_sent`, which stays empty while the text waits in Twilio's queue.
    pub fn created_at(&self) -> Option<jiff::Timestamp> {
        jiff::fmt::rfc2822::parse(self.date_created.as_deref()?).ok().map(|z| z.timestamp())
    }
}

#[derive(Deserialize)]
struct MessagesPage {
    #[serde(default)]
    messages: Vec<MessageResource>,
    #[serde(default)]
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct NumbersPage {
    #[serde(default)]
    incoming_phone_numbers: Vec<NumberResource>,
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct NumberResource {
    sid: String,
    phone_number: String,
    #[serde(default)]
    friendly_name: Option<String>,
    #[serde(default)]
    capabilities: Capabilities,
}

#[derive(Deserialize, Default)]
struct Capabilities {
    #[serde(default, alias = "SMS")]
    sms: bool,
    #[serde(default, alias = "MMS")]
    mms: bool,
}

impl TwilioClient {
    /// `None` when no account is configured (sandbox mode).
    pub fn from_settings(s: &TwilioSettings) -> anyhow::Result<Option<TwilioClient>> {
        let Some(account_sid) = s.account_sid.clone() else { return Ok(None) };
        let (username, secret) = match (&s.api_key_sid, &s.api_key_secret, &s.auth_token) {
            (Some(k), Some(secret), _) => (k.clone(), secret.clone()),
            (_, _, Some(token)) => (account_sid.clone(), token.clone()),
            _ => anyhow::bail!("twilio.account_sid is set without twilio.auth_token or an API key"),
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("tidings/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_millis(s.request_timeout_ms.max(100)))
            .build()?;
        Ok(Some(TwilioClient {
            http,
            base: s.api_base.trim_end_matches('/').to_owned(),
            account_sid,
            username,
            secret,
        }))
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, path_and_query: &str) -> Result<T, TwilioError> {
        let url = format!("{}{}", self.base, path_and_query);
        self.answer(self.http.get(&url).basic_auth(&self.username, Some(self.secret.expose_secret()))).await
    }

    async fn answer<T: for<'de> Deserialize<'de>>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, TwilioError> {
        let res = req.send().await?;
        let status = res.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(TwilioError::Auth);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = crate::retry::retry_after(res.headers());
            return Err(TwilioError::Retryable { status: status.as_u16(), retry_after });
        }
        let bytes = res.bytes().await?;
        if !status.is_success() {
            let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
            return Err(TwilioError::Api {
                status: status.as_u16(),
                code: body.as_ref().and_then(|b| b.code),
                message: body.and_then(|b| b.message).unwrap_or_else(|| status.to_string()),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| TwilioError::Decode(e.to_string()))
    }

    /// Sends a text (Messages resource, `POST …/Messages.json`).
    pub async fn create_message(&self, m: &NewMessage<'_>) -> Result<MessageResource, TwilioError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base, self.account_sid);
        let mut form: Vec<(&str, &str)> = vec![("To", m.to), ("From", m.from), ("Body", m.body)];
        form.extend(m.media_urls.iter().map(|u| ("MediaUrl", u.as_str())));
        if let Some(cb) = m.status_callback {
            form.push(("StatusCallback", cb));
        }
        let req =
            self.http.post(&url).basic_auth(&self.username, Some(self.secret.expose_secret())).form(&form);
        self.answer(req).await
    }

    /// Messages from `from` to `to` created since `since`: how a lost answer to a POST is
    /// reconciled before any resend. ListMessage (twilio-oai, `spec/json/twilio_api_v2010.json`)
    /// filters on `To`, `From` and `DateSent`, and `date_sent` is null while a text waits in
    /// Twilio's queue, so no date filter is sent: the pages, newest first, are read until they
    /// reach texts created before `since`.
    pub async fn list_messages(
        &self,
        to: &str,
        from: &str,
        since: jiff::Timestamp,
    ) -> Result<Vec<MessageResource>, TwilioError> {
        let query = serde_urlencoded::to_string([("To", to), ("From", from), ("PageSize", "100")])
            .map_err(|e| TwilioError::Decode(e.to_string()))?;
        let mut next = Some(format!("/2010-04-01/Accounts/{}/Messages.json?{query}", self.account_sid));
        let mut out = Vec::new();
        // Five pages are 500 texts between one pair of numbers since the attempt began.
        for _ in 0..5 {
            let Some(path) = next.take() else { break };
            let page: MessagesPage = self.get(&path).await?;
            let older = page.messages.iter().any(|m| m.created_at().is_some_and(|t| t < since));
            out.extend(page.messages);
            next = page.next_page_uri.filter(|u| u.starts_with('/') && !older);
        }
        // A list cut short cannot show that Twilio does not have the text.
        if next.is_some() {
            return Err(TwilioError::Decode("the list goes on past 500 texts since the attempt".into()));
        }
        Ok(out)
    }

    /// Every number of the account, following Twilio's paging.
    pub async fn incoming_numbers(&self) -> Result<Vec<IncomingNumber>, TwilioError> {
        let mut out = Vec::new();
        let mut next = Some(format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json?PageSize=1000",
            self.account_sid
        ));
        // Twilio caps pages at 1000; 50 pages is far more numbers than one CRM account holds.
        for _ in 0..50 {
            let Some(path) = next.take() else { break };
            let page: NumbersPage = self.get(&path).await?;
            out.extend(page.incoming_phone_numbers.into_iter().map(|n| IncomingNumber {
                friendly_name: n.friendly_name.unwrap_or_else(|| n.phone_number.clone()),
                sid: n.sid,
                phone_number: n.phone_number,
                sms: n.capabilities.sms,
                mms: n.capabilities.mms,
            }));
            next = page.next_page_uri.filter(|u| u.starts_with('/'));
        }
        Ok(out)
    }
}
