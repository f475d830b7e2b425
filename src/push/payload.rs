//! What a reply push carries (R-PUSH-3): the contact's name as title, a preview as body (cut so
//! the payload stays under 4 KB), the unread count as badge, grouped by conversation, and the ids
//! the app opens. Pure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// APNs and FCM both refuse payloads over 4 KB.
pub const MAX_BYTES: usize = 4_096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub title: String,
    pub body: String,
    pub badge: u32,
    /// `thread-id` on APNs, the notification `tag` on FCM: one group per conversation.
    pub thread: String,
    pub contact_id: i64,
    pub message_id: i64,
}

/// One push as a provider sends it: the device's token and APNs environment, and what it carries.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub token: &'a str,
    /// `production` or `sandbox` (APNs); FCM has one.
    pub environment: &'a str,
    pub payload: &'a Payload,
}

/// What a provider said about one push.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent,
    /// 429/5xx/network: try again, not before `after` when the provider said.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// The token is dead (APNs 410/BadDeviceToken, FCM UNREGISTERED): forget the device.
    DeadToken(String),
    /// Will not succeed by trying again (configuration, a refused payload): logged and dropped.
    Drop(String),
}

/// Builds a payload, cutting the body (on a character boundary, with an ellipsis) until the
/// whole serialised payload fits.
pub fn build(title: &str, body: &str, badge: u32, contact_id: i64, message_id: i64) -> Payload {
    let title: String = title.chars().take(100).collect();
    let mut p = Payload {
        title: if title.is_empty() { "New text".into() } else { title },
        body: body.to_owned(),
        badge,
        thread: format!("contact-{contact_id}"),
        contact_id,
        message_id,
    };
    // Room for the provider's own envelope (aps, headers-as-JSON) on top of ours.
    let budget = MAX_BYTES - 512;
    while serde_json::to_vec(&p).map(|v| v.len()).unwrap_or(usize::MAX) > budget {
        let keep = p.body.chars().count().saturating_sub(64);
        p.body = p.body.chars().take(keep).collect::<String>() + "…";
        if keep == 0 {
            break;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_stays_under_4_kb() {
        let p = build("Jane Doe", &"😀 long reply ".repeat(1_000), 3, 7, 9);
        assert!(serde_json::to_vec(&p).unwrap().len() <= MAX_BYTES - 512);
        assert!(p.body.ends_with('…'));
        assert_eq!((p.thread.as_str(), p.badge, p.contact_id, p.message_id), ("contact-7", 3, 7, 9));
        let short = build("", "See you at 5", 1, 1, 2);
        assert_eq!(short.body, "See you at 5");
        assert_eq!(short.title, "New text");
    }
}
