//! `X-Twilio-Signature` (R-IN-1): HMAC-SHA1, keyed with the auth token, over the public URL
//! followed by every POST parameter sorted by name then value, base64. Checked over the raw pairs
//! before any parsing, against the URL from config (not what a proxy passes on), with and without
//! the default port. JSON bodies are signed over the URL only and carry `bodySHA256` in the query.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The signature Twilio computes for a form POST to `url`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    sign_sorted(auth_token, url, &sorted(params))
}

fn sorted(params: &[(String, String)]) -> Vec<&(String, String)> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted
}

fn sign_sorted(auth_token: &str, url: &str, sorted: &[&(String, String)]) -> String {
    let mut mac = match Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The URL as configured, without its default port and with it: Twilio may have signed either.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    if let Ok(parsed) = reqwest::Url::parse(url) {
        // The parser drops a default port, so its text is the form without one.
        let without = parsed.as_str().to_owned();
        let default_port = parsed.port_or_known_default().filter(|_| parsed.port().is_none());
        if let (Some(host), Some(port)) = (parsed.host_str(), default_port) {
            let start = without.find("://").map(|i| i + 3).unwrap_or(0);
            if let Some(at) = without[start..].find(host).map(|i| start + i + host.len()) {
                out.push(format!("{}:{port}{}", &without[..at], &without[at..]));
            }
        }
        out.push(without);
    }
    out.sort();
    out.dedup();
    out
}

/// True when `signature` is Twilio's for a form POST of `params` to `url` (any port variant;
/// the URL as configured is tried first, so a match usually costs one HMAC).
pub fn verify_form(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let sorted = sorted(params);
    let matches = |u: &str| -> bool {
        sign_sorted(auth_token, u, &sorted).as_bytes().ct_eq(signature.as_bytes()).into()
    };
    matches(url) || url_variants(url).iter().any(|u| u != url && matches(u))
}

/// True when `signature` is Twilio's for a JSON POST to `url` (which carries `bodySHA256`) and the
/// body hashes to that value.
pub fn verify_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return false };
    let Some(claimed) = parsed.query_pairs().find(|(k, _)| k == "bodySHA256").map(|(_, v)| v.into_owned())
    else {
        return false;
    };
    let actual: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    let body_ok: bool = actual.as_bytes().ct_eq(claimed.to_ascii_lowercase().as_bytes()).into();
    body_ok && verify_form(auth_token, url, &[], signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn twilios_published_example() {
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(sign("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(verify_form("12345", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!verify_form("12346", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        let mut forged = params.clone();
        forged[2].1 = "9999".into();
        assert!(!verify_form("12345", url, &forged, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    #[test]
    fn the_url_with_or_without_its_default_port_is_accepted() {
        let params = pairs(&[("Body", "hi"), ("From", "+13125550100")]);
        let signed_with_port = sign("tok", "https://texts.example.com:443/webhooks/twilio/inbound", &params);
        assert!(verify_form(
            "tok",
            "https://texts.example.com/webhooks/twilio/inbound",
            &params,
            &signed_with_port
        ));
        let signed_without = sign("tok", "https://texts.example.com/webhooks/twilio/inbound", &params);
        assert!(verify_form(
            "tok",
            "https://texts.example.com:443/webhooks/twilio/inbound",
            &params,
            &signed_without
        ));
        let other_port = sign("tok", "https://texts.example.com:8443/webhooks/twilio/inbound", &params);
        assert!(!verify_form(
            "tok",
            "https://texts.example.com/webhooks/twilio/inbound",
            &params,
            &other_port
        ));
    }

    #[test]
    fn repeated_keys_sort_by_value() {
        let a = pairs(&[("MediaUrl", "b"), ("MediaUrl", "a")]);
        let b = pairs(&[("MediaUrl", "a"), ("MediaUrl", "b")]);
        assert_eq!(sign("t", "https://x.test/", &a), sign("t", "https://x.test/", &b));
    }

    #[test]
    fn json_bodies_are_checked_by_their_hash() {
        let body = br#"{"event":"x"}"#;
        let hash: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        let url = format!("https://x.test/hook?bodySHA256={hash}");
        let sig = sign("t", &url, &[]);
        assert!(verify_json("t", &url, body, &sig));
        assert!(!verify_json("t", &url, br#"{"event":"y"}"#, &sig));
        assert!(!verify_json("t", "https://x.test/hook", body, &sign("t", "https://x.test/hook", &[])));
    }
}
