//! Message states (R-SND-1): `queued → sending → sent → delivered | undelivered | failed`, or
//! `canceled` before sending. A state only moves forward. Pure.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Canceled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Queued,
        Status::Sending,
        Status::Sent,
        Status::Delivered,
        Status::Undelivered,
        Status::Failed,
        Status::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Undelivered => "undelivered",
            Status::Failed => "failed",
            Status::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Higher is later; a row never moves to a lower or equal rank (final states share a rank).
    pub fn rank(self) -> u8 {
        match self {
            Status::Queued => 0,
            Status::Sending => 1,
            Status::Sent => 2,
            Status::Delivered | Status::Undelivered | Status::Failed | Status::Canceled => 3,
        }
    }

    /// Our state for a status Twilio reports; `None` for one we do not know (kept as written).
    pub fn from_twilio(s: &str) -> Option<Status> {
        Some(match s {
            "accepted" | "scheduled" | "queued" | "sending" | "sent" => Status::Sent,
            "delivered" | "read" => Status::Delivered,
            "undelivered" => Status::Undelivered,
            "failed" => Status::Failed,
            "canceled" => Status::Canceled,
            _ => return None,
        })
    }
}

/// What Twilio's error code means for a text that was refused (R-SND-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 21211, 21614: not a number that can take texts.
    InvalidNumber,
    /// 21610: the recipient replied STOP to this sender: record the opt-out.
    Unsubscribed,
    /// 21408, 21606, 21612: our account or number cannot send there; an operator must look.
    Configuration,
    /// 20003: our credentials are refused; stop all sending until an operator fixes them.
    Credentials,
    /// Any other refusal: will not change by trying again.
    Other,
}

pub fn refusal(code: Option<i64>) -> Refusal {
    match code {
        Some(21211) | Some(21614) => Refusal::InvalidNumber,
        Some(21610) => Refusal::Unsubscribed,
        Some(21408) | Some(21606) | Some(21612) => Refusal::Configuration,
        Some(20003) => Refusal::Credentials,
        _ => Refusal::Other,
    }
}

/// Delivery errors that say something lasting about the number (marked on it).
pub fn marks_number(code: i64) -> Option<&'static str> {
    Some(match code {
        21610 => "unsubscribed from this sender",
        30003 => "unreachable handset",
        30004 => "message blocked",
        30005 => "unknown or inactive number",
        30006 => "landline or unreachable carrier",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_only_move_forward() {
        assert!(Status::Delivered.rank() > Status::Sent.rank());
        assert_eq!(Status::from_twilio("sent"), Some(Status::Sent));
        assert_eq!(Status::from_twilio("read"), Some(Status::Delivered));
        assert_eq!(Status::from_twilio("partially_delivered"), None);
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(refusal(Some(21610)), Refusal::Unsubscribed);
        assert_eq!(refusal(Some(21614)), Refusal::InvalidNumber);
        assert_eq!(refusal(Some(30001)), Refusal::Other);
    }
}
