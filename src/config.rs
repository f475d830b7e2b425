//! Settings, layered: embedded defaults → `tidings.toml` → `TIDINGS_SECTION__KEY` environment
//! variables (secrets also from `TIDINGS_SECTION__KEY_FILE`) → command-line flags. Validated once
//! at start-up; a bad value stops start-up with a message naming the key and the fix.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::SecretString;
use serde::Deserialize;

/// Every key the configuration knows, as `section.key`.
pub const KEYS: &[&str] = &[
    "server.listen",
    "server.public_url",
    "server.workers",
    "database.path",
    "database.pool_size",
    "database.busy_timeout_ms",
    "twilio.account_sid",
    "twilio.auth_token",
    "twilio.api_key_sid",
    "twilio.api_key_secret",
    "twilio.api_base",
    "twilio.sandbox_numbers",
    "twilio.request_timeout_ms",
    "twilio.advanced_opt_out",
    "defaults.country",
    "defaults.time_zone",
    "defaults.daily_unique_recipients",
    "defaults.daily_segments",
    "defaults.monthly_credits",
    "auth.token_ttl_hours",
    "auth.login_attempts_per_minute_per_address",
    "auth.login_attempts_per_minute_per_email",
    "log.format",
    "scripts.max_operations",
    "scripts.max_string_bytes",
    "scripts.max_array_size",
    "scripts.max_map_size",
    "scripts.max_call_levels",
    "scripts.max_expr_depth",
    "scripts.timeout_ms",
    "sending.long_code",
    "sending.toll_free",
    "sending.short_code",
    "sending.ten_dlc",
    "sending.ten_dlc_numbers",
    "sending.account_per_second",
    "sending.concurrency",
    "sending.max_attempts",
    "sending.sandbox_delivery_ms",
    "sending.retry_base_ms",
    "replies.help_text",
    "apns.key_id",
    "apns.team_id",
    "apns.key",
    "apns.topic",
    "apns.base_url",
    "apns.sandbox_base_url",
    "apns.ca_file",
    "fcm.service_account",
    "fcm.base_url",
    "push.concurrency",
    "push.max_attempts",
    "push.timeout_ms",
    "plans.quiet_start",
    "plans.quiet_end",
    "plans.team_notice",
];

/// Keys whose values are secrets: they may come from `*_FILE` and are never printed.
pub const SECRET_KEYS: &[&str] =
    &["twilio.auth_token", "twilio.api_key_secret", "apns.key", "fcm.service_account"];

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// What loading noticed but did not refuse (unknown variables…), logged once logging is up.
    #[serde(skip)]
    pub warnings: Vec<String>,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub twilio: TwilioSettings,
    pub defaults: DefaultSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub scripts: ScriptSettings,
    pub sending: SendingSettings,
    pub replies: ReplySettings,
    pub apns: ApnsSettings,
    pub fcm: FcmSettings,
    pub push: PushSettings,
    pub plans: PlanSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address the HTTP API binds to (port 0 picks a free port).
    pub listen: String,
    /// The URL Twilio and phones reach us at; webhook signatures are checked against it.
    pub public_url: String,
    /// HTTP worker threads.
    pub workers: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { listen: "127.0.0.1:8080".into(), public_url: "http://127.0.0.1:8080".into(), workers: 2 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub path: PathBuf,
    pub pool_size: usize,
    pub busy_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { path: PathBuf::from("./tidings.db"), pool_size: 8, busy_timeout_ms: 5_000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioSettings {
    /// No account SID → the sandbox SMS provider.
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    pub api_key_sid: Option<String>,
    pub api_key_secret: Option<SecretString>,
    pub api_base: String,
    /// Numbers offered by `GET /v1/numbers/available` in sandbox mode.
    pub sandbox_numbers: Vec<String>,
    /// How long a call to Twilio may take before it counts as lost.
    pub request_timeout_ms: u64,
    /// Twilio's Advanced Opt-Out answers STOP/START/HELP itself: we only record them.
    pub advanced_opt_out: bool,
}

impl Default for TwilioSettings {
    fn default() -> Self {
        Self {
            account_sid: None,
            auth_token: None,
            api_key_sid: None,
            api_key_secret: None,
            api_base: "https://api.twilio.com".into(),
            sandbox_numbers: vec!["+13125550100".into(), "+13125550101".into(), "+13125550102".into()],
            request_timeout_ms: 15_000,
            advanced_opt_out: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefaultSettings {
    /// ISO 3166 alpha-2: new agents' home country, the default region for their contacts' numbers.
    pub country: String,
    /// IANA time zone of new agents.
    pub time_zone: String,
    pub daily_unique_recipients: u32,
    pub daily_segments: u32,
    pub monthly_credits: u32,
}

impl Default for DefaultSettings {
    fn default() -> Self {
        Self {
            country: "US".into(),
            time_zone: "America/Chicago".into(),
            daily_unique_recipients: 200,
            daily_segments: 1_000,
            monthly_credits: 3_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub token_ttl_hours: u64,
    pub login_attempts_per_minute_per_address: u32,
    pub login_attempts_per_minute_per_email: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            token_ttl_hours: 24 * 30,
            login_attempts_per_minute_per_address: 20,
            login_attempts_per_minute_per_email: 5,
        }
    }
}

/// Inbound texts (R-IN).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplySettings {
    /// The answer to HELP/INFO; `{agent}` is replaced by the agent's name.
    pub help_text: String,
}

impl Default for ReplySettings {
    fn default() -> Self {
        Self {
            help_text:
                "{agent}: texts about your real-estate plans. Reply STOP to opt out, START to opt back in. \
                        Msg & data rates may apply."
                    .into(),
        }
    }
}

/// Apple push (R-PUSH-2): token-based auth with the `.p8` key. Unset key → no APNs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApnsSettings {
    pub key_id: Option<String>,
    pub team_id: Option<String>,
    /// The `.p8` signing key (PEM); a secret.
    pub key: Option<SecretString>,
    /// The app's bundle id.
    pub topic: Option<String>,
    /// Where tokens registered as `production` go.
    pub base_url: String,
    /// Where tokens registered as `sandbox` (development builds) go.
    pub sandbox_base_url: String,
    /// A PEM root certificate trusted for the APNs connection (besides the system's).
    pub ca_file: Option<PathBuf>,
}

impl Default for ApnsSettings {
    fn default() -> Self {
        Self {
            key_id: None,
            team_id: None,
            key: None,
            topic: None,
            base_url: "https://api.push.apple.com".into(),
            sandbox_base_url: "https://api.sandbox.push.apple.com".into(),
            ca_file: None,
        }
    }
}

impl ApnsSettings {
    /// The .p8 key as jsonwebtoken signs with it, read here so a bad key stops the start.
    pub fn signing_key(&self) -> anyhow::Result<jsonwebtoken::EncodingKey> {
        use secrecy::ExposeSecret;
        let pem = self.key.as_ref().context("no key")?;
        jsonwebtoken::EncodingKey::from_ec_pem(pem.expose_secret().trim().as_bytes())
            .map_err(|_| anyhow::anyhow!("not a PEM EC (P-256) private key as Apple's .p8 files hold"))
    }

    pub fn configured(&self) -> bool {
        self.key.is_some()
    }
}

/// Firebase Cloud Messaging, HTTP v1 (R-PUSH-2). Unset service account → no FCM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FcmSettings {
    /// The service-account JSON downloaded from the Firebase console; a secret.
    pub service_account: Option<SecretString>,
    pub base_url: String,
}

impl Default for FcmSettings {
    fn default() -> Self {
        Self { service_account: None, base_url: "https://fcm.googleapis.com".into() }
    }
}

impl FcmSettings {
    /// The service account and its project id, read here so a bad account stops the start.
    pub fn service_account(&self) -> anyhow::Result<(gcp_auth::CustomServiceAccount, String)> {
        use secrecy::ExposeSecret;
        #[derive(Deserialize)]
        struct AccountFile {
            project_id: String,
        }
        let text = self.service_account.as_ref().context("no service account")?.expose_secret();
        let file: AccountFile = serde_json::from_str(text)
            .map_err(|_| anyhow::anyhow!("not a service-account JSON with a project_id"))?;
        // gcp_auth's errors never quote the key.
        let account =
            gcp_auth::CustomServiceAccount::from_json(text).context("not a usable service-account JSON")?;
        Ok((account, file.project_id))
    }
}

/// The push worker (R-PUSH-2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushSettings {
    /// Pushes in flight at once.
    pub concurrency: usize,
    /// Tries before a push that keeps failing for a passing reason is given up.
    pub max_attempts: u32,
    /// How long one call to APNs or FCM may take.
    pub timeout_ms: u64,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self { concurrency: 32, max_attempts: 8, timeout_ms: 10_000 }
    }
}

/// Automated texts (R-PLAN, R-QH, R-TEAM).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanSettings {
    /// Automated texts go out from this time of day, recipient-local (`HH:MM`)…
    pub quiet_start: String,
    /// …until this one.
    pub quiet_end: String,
    /// The notice before a team agent's first text to a number; `{agent}` and `{team}` are replaced.
    pub team_notice: String,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            quiet_start: "08:00".into(),
            quiet_end: "21:00".into(),
            team_notice:
                "{agent} ({team}) here: you'll get texts from me at this number. Reply STOP to opt out \
                          at any time, HELP for help."
                    .into(),
        }
    }
}

impl PlanSettings {
    /// The sending window; validated at start, so the fallbacks are never used.
    pub fn window(&self) -> crate::geo::Window {
        use crate::geo::parse_time;
        crate::geo::Window {
            start: parse_time(&self.quiet_start).unwrap_or(jiff::civil::Time::constant(8, 0, 0, 0)),
            end: parse_time(&self.quiet_end).unwrap_or(jiff::civil::Time::constant(21, 0, 0, 0)),
        }
    }
}

/// Pacing and retries of the outbox (R-SND-2/3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendingSettings {
    /// Segments per second per sending number, by number type.
    pub long_code: u32,
    pub toll_free: u32,
    pub short_code: u32,
    pub ten_dlc: u32,
    /// Numbers registered for 10DLC (paced at `ten_dlc`); other local numbers are long codes.
    pub ten_dlc_numbers: Vec<String>,
    /// Segments per second for the whole account.
    pub account_per_second: u32,
    /// Texts handed to the provider at once.
    pub concurrency: usize,
    /// Tries before a text that keeps failing for a passing reason is marked failed.
    pub max_attempts: u32,
    /// How long the sandbox provider takes to "deliver".
    pub sandbox_delivery_ms: u64,
    /// The first retry's delay; each next one doubles it (at most 5 minutes), with jitter.
    pub retry_base_ms: u64,
}

impl Default for SendingSettings {
    fn default() -> Self {
        Self {
            long_code: 1,
            toll_free: 3,
            short_code: 100,
            ten_dlc: 4,
            ten_dlc_numbers: Vec::new(),
            account_per_second: 100,
            concurrency: 8,
            max_attempts: 8,
            sandbox_delivery_ms: 2_000,
            retry_base_ms: 2_000,
        }
    }
}

/// The Rhai sandbox's limits (R-SCR-4), per evaluation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptSettings {
    pub max_operations: u64,
    /// Longest string a script may build, in bytes (a 1,600-character MMS body in any script fits).
    pub max_string_bytes: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    /// Wall-clock limit of one evaluation.
    pub timeout_ms: u64,
}

impl Default for ScriptSettings {
    fn default() -> Self {
        Self {
            max_operations: 50_000,
            max_string_bytes: 8 * 1024,
            max_array_size: 1_000,
            max_map_size: 500,
            max_call_levels: 16,
            max_expr_depth: 32,
            timeout_ms: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise.
    #[default]
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// The environment variable of a key: `server.listen` → `TIDINGS_SERVER__LISTEN`.
fn env_name(key: &str) -> String {
    format!("TIDINGS_{}", key.replacen('.', "__", 1).to_ascii_uppercase())
}

/// Where settings come from, besides the defaults.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// `--config PATH`; without it `./tidings.toml` is read when present.
    pub config_file: Option<PathBuf>,
    /// Flags, as `(key, value)` with `key` one of [`KEYS`].
    pub overrides: Vec<(&'static str, String)>,
}

impl Settings {
    /// Loads the layers from the process environment and validates the result.
    pub fn load(sources: &Sources) -> anyhow::Result<Settings> {
        Self::load_from(sources, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given (tests).
    pub fn load_from(
        sources: &Sources,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Settings> {
        let mut figment = Figment::new();
        match &sources.config_file {
            Some(path) => {
                if !path.exists() {
                    bail!("the config file {} given with --config does not exist", path.display());
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new("tidings.toml").exists() => {
                figment = figment.merge(Toml::file_exact("tidings.toml"));
            }
            None => {}
        }
        let known: BTreeSet<&str> = KEYS.iter().copied().collect();
        let mut env_pairs = Vec::new();
        let mut warnings = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("TIDINGS_") else { continue };
            let lower = rest.to_ascii_lowercase();
            // A key whose own name ends in `_file` (`apns.ca_file`) is a plain value; otherwise
            // `_FILE` names the file a secret is read from.
            let plain = lower.replacen("__", ".", 1);
            let (key, from_file) = match lower.strip_suffix("_file") {
                Some(k) if !known.contains(plain.as_str()) => (k.replacen("__", ".", 1), true),
                _ => (plain, false),
            };
            if value.is_empty() {
                // `KEY=` in an env file means "not set", not "set to nothing".
                continue;
            }
            let Some(key) = known.get(key.as_str()).copied() else {
                warnings.push(format!(
                    "unknown variable {name} ignored; see the configuration reference in the README"
                ));
                continue;
            };
            if from_file {
                if !SECRET_KEYS.contains(&key) {
                    warnings.push(format!("{name} ignored: only secrets can be read from a *_FILE variable"));
                    continue;
                }
                let text = std::fs::read_to_string(&value)
                    .with_context(|| format!("{name}: cannot read the secret file {value}"))?;
                env_pairs.push((key, text.trim_end_matches(['\n', '\r']).to_owned()));
            } else {
                env_pairs.push((key, value));
            }
        }
        for (key, value) in env_pairs.into_iter().chain(sources.overrides.iter().cloned()) {
            figment = figment.merge(Serialized::global(key, env_value(key, &value)));
        }
        let mut settings: Settings = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            let from_file = e.metadata.as_ref().is_some_and(|m| m.name.contains("TOML"));
            anyhow::anyhow!(
                "configuration key `{key}` ({}): {}; fix it in {}, and see the configuration reference in the README",
                env_name(&key),
                e.kind,
                if from_file { "the config file" } else { "the environment or the flags" }
            )
        })?;
        settings.validate()?;
        settings.warnings = warnings;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        fn fail(key: &str, msg: impl std::fmt::Display) -> anyhow::Error {
            anyhow::anyhow!("configuration key `{key}` ({}): {msg}", env_name(key))
        }
        self.server
            .listen
            .parse::<SocketAddr>()
            .map_err(|_| fail("server.listen", "expected an address such as 127.0.0.1:8080"))?;
        let url = reqwest::Url::parse(&self.server.public_url).map_err(|e| {
            fail("server.public_url", format!("not a URL ({e}); e.g. https://texts.example.com"))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(fail("server.public_url", "expected an http(s) URL without a query"));
        }
        if self.server.workers == 0 {
            return Err(fail("server.workers", "must be at least 1"));
        }
        if self.database.pool_size < 2 {
            return Err(fail("database.pool_size", "must be at least 2 (the writer keeps one connection)"));
        }
        reqwest::Url::parse(&self.twilio.api_base)
            .map_err(|e| fail("twilio.api_base", format!("not a URL ({e})")))?;
        if let Some(sid) = &self.twilio.account_sid {
            if !(sid.starts_with("AC") && sid.len() == 34) {
                return Err(fail("twilio.account_sid", "expected the 34-character SID that starts with AC"));
            }
            let has_key = self.twilio.api_key_sid.is_some() && self.twilio.api_key_secret.is_some();
            if self.twilio.auth_token.is_none() && !has_key {
                return Err(fail(
                    "twilio.auth_token",
                    "an account SID needs an auth token (or twilio.api_key_sid and twilio.api_key_secret); \
                     set TIDINGS_TWILIO__AUTH_TOKEN_FILE to a file holding it",
                ));
            }
        }
        if self.twilio.api_key_sid.is_some() != self.twilio.api_key_secret.is_some() {
            return Err(fail("twilio.api_key_secret", "api_key_sid and api_key_secret go together"));
        }
        for n in &self.twilio.sandbox_numbers {
            if crate::domain::phone::parse_e164(n).is_none() {
                return Err(fail("twilio.sandbox_numbers", format!("`{n}` is not a valid E.164 number")));
            }
        }
        crate::domain::values::Country::parse(&self.defaults.country)
            .map_err(|e| fail("defaults.country", e))?;
        crate::domain::values::TimeZoneName::parse(&self.defaults.time_zone)
            .map_err(|e| fail("defaults.time_zone", e))?;
        let se = &self.sending;
        if [se.long_code, se.toll_free, se.short_code, se.ten_dlc, se.account_per_second].contains(&0)
            || se.concurrency == 0
            || se.max_attempts == 0
        {
            return Err(fail("sending.*", "rates, concurrency and max_attempts must be at least 1"));
        }
        let sc = &self.scripts;
        if sc.max_operations == 0
            || sc.max_string_bytes < 2_048
            || sc.max_call_levels == 0
            || sc.timeout_ms == 0
        {
            return Err(fail(
                "scripts.*",
                "max_operations, max_call_levels and timeout_ms must be at least 1, max_string_bytes at least 2048",
            ));
        }
        self.validate_push().map_err(|(key, why)| fail(key, why))?;
        let pl = &self.plans;
        match (crate::geo::parse_time(&pl.quiet_start), crate::geo::parse_time(&pl.quiet_end)) {
            (Some(start), Some(end)) if start < end => {}
            _ => {
                return Err(fail(
                    "plans.quiet_start",
                    "quiet_start and quiet_end are HH:MM with start before end",
                ));
            }
        }
        if self.auth.token_ttl_hours == 0 {
            return Err(fail("auth.token_ttl_hours", "must be at least 1"));
        }
        if self.auth.login_attempts_per_minute_per_address == 0
            || self.auth.login_attempts_per_minute_per_email == 0
        {
            return Err(fail("auth.login_attempts_per_minute_per_*", "must be at least 1"));
        }
        Ok(())
    }

    fn validate_push(&self) -> Result<(), (&'static str, String)> {
        let a = &self.apns;
        if a.configured() {
            let missing =
                [("apns.key_id", &a.key_id), ("apns.team_id", &a.team_id), ("apns.topic", &a.topic)]
                    .into_iter()
                    .find(|(_, v)| v.as_deref().is_none_or(str::is_empty));
            if let Some((key, _)) = missing {
                return Err((key, "APNs needs key_id, team_id and topic with its key".into()));
            }
            a.signing_key().map_err(|e| ("apns.key", e.to_string()))?;
        } else if a.key_id.is_some() || a.team_id.is_some() {
            return Err((
                "apns.key",
                "APNs needs its .p8 key; set TIDINGS_APNS__KEY_FILE to the file holding it".into(),
            ));
        }
        for (key, url) in [("apns.base_url", &a.base_url), ("apns.sandbox_base_url", &a.sandbox_base_url)] {
            reqwest::Url::parse(url).map_err(|e| (key, format!("not a URL ({e})")))?;
        }
        if self.fcm.service_account.is_some() {
            self.fcm.service_account().map_err(|e| ("fcm.service_account", format!("{e:#}")))?;
        }
        reqwest::Url::parse(&self.fcm.base_url).map_err(|e| ("fcm.base_url", format!("not a URL ({e})")))?;
        if self.push.concurrency == 0 || self.push.max_attempts == 0 || self.push.timeout_ms == 0 {
            return Err(("push.*", "concurrency, max_attempts and timeout_ms must be at least 1".into()));
        }
        Ok(())
    }

    /// True when no Twilio account is configured: the sandbox SMS provider is used.
    pub fn sandbox(&self) -> bool {
        self.twilio.account_sid.is_none()
    }
}

/// Environment and flag values are read as TOML values (`42` is a number, `[…]` a list) except
/// secrets, which stay strings; the sandbox numbers may also be comma-separated.
fn env_value(key: &str, raw: &str) -> figment::value::Value {
    use figment::value::Value;
    if SECRET_KEYS.contains(&key) {
        return Value::from(raw.to_owned());
    }
    match raw.parse::<Value>() {
        Ok(v @ Value::Array(..)) => v,
        _ if key.ends_with("_numbers") => Value::from(
            raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>(),
        ),
        Ok(v) => v,
        Err(_) => Value::from(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_from(&Sources { config_file: Some("/dev/null".into()), overrides: vec![] }, env)
    }

    #[test]
    fn defaults_are_valid_and_sandboxed() {
        let s = load(&[]).unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:8080");
        assert_eq!(s.database.path, PathBuf::from("./tidings.db"));
        assert!(s.sandbox());
    }

    #[test]
    fn environment_overrides_and_reads_secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "12345\n").unwrap();
        let s = load(&[
            ("TIDINGS_SERVER__LISTEN", "0.0.0.0:9000"),
            ("TIDINGS_DEFAULTS__DAILY_SEGMENTS", "42"),
            ("TIDINGS_TWILIO__ACCOUNT_SID", "AC00000000000000000000000000000000"),
            ("TIDINGS_TWILIO__AUTH_TOKEN_FILE", token.to_str().unwrap()),
            ("TIDINGS_TWILIO__SANDBOX_NUMBERS", "+13125550100, +13125550101"),
            ("TIDINGS_NO_SUCH__KEY", "x"),
        ])
        .unwrap();
        assert_eq!(s.server.listen, "0.0.0.0:9000");
        assert_eq!(s.defaults.daily_segments, 42);
        use secrecy::ExposeSecret;
        assert_eq!(s.twilio.auth_token.as_ref().unwrap().expose_secret(), "12345");
        assert_eq!(s.twilio.sandbox_numbers.len(), 2);
        assert!(s.warnings.iter().any(|w| w.contains("TIDINGS_NO_SUCH__KEY")), "{:?}", s.warnings);
        assert!(!format!("{s:?}").contains("12345"), "secrets never reach Debug output");
    }

    /// `apns.ca_file` ends in `_file` but is no secret: its variable is the path itself.
    #[test]
    fn a_plain_key_ending_in_file_is_read_from_the_environment() {
        let s = load(&[("TIDINGS_APNS__CA_FILE", "/etc/tidings/apns-ca.pem")]).unwrap();
        assert_eq!(s.apns.ca_file.as_deref(), Some(Path::new("/etc/tidings/apns-ca.pem")));
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = load(&[("TIDINGS_SERVER__LISTEN", "nowhere")]).unwrap_err().to_string();
        assert!(err.contains("server.listen") && err.contains("TIDINGS_SERVER__LISTEN"), "{err}");
        let err = load(&[("TIDINGS_DEFAULTS__TIME_ZONE", "Mars/Olympus")]).unwrap_err().to_string();
        assert!(err.contains("defaults.time_zone"), "{err}");
        let err = load(&[("TIDINGS_DEFAULTS__DAILY_SEGMENTS", "lots")]).unwrap_err().to_string();
        assert!(err.contains("defaults.daily_segments"), "{err}");
        let err = load(&[("TIDINGS_TWILIO__ACCOUNT_SID", "AC00000000000000000000000000000000")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("twilio.auth_token"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tidings.toml");
        std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap();
        let err = Settings::load_from(&Sources { config_file: Some(file), overrides: vec![] }, vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn the_example_file_is_valid_and_names_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tidings.example.toml");
        Settings::load_from(&Sources { config_file: Some(path.clone()), overrides: vec![] }, vec![]).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
        for key in KEYS {
            let name = key.split('.').nth(1).unwrap();
            assert!(text.contains(name), "tidings.example.toml lacks {key}");
            assert!(readme.contains(&format!("`{key}`")), "the README lacks {key}");
        }
    }

    #[test]
    fn flags_win_over_the_environment() {
        let s = Settings::load_from(
            &Sources {
                config_file: Some("/dev/null".into()),
                overrides: vec![("server.listen", "127.0.0.1:7000".into())],
            },
            vec![("TIDINGS_SERVER__LISTEN".to_string(), "127.0.0.1:9000".to_string())],
        )
        .unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:7000");
    }
}
