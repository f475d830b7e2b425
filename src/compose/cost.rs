//! Credits (R-COST-1..3). Pure.

use serde::Serialize;

use crate::domain::segments::{Encoding, Segmentation};

/// Credits of an MMS, whatever its length or destination (R-COST-2).
pub const MMS_CREDITS: u32 = 3;
/// An MMS body holds at most this many characters (GSM-7) …
pub const MMS_MAX_GSM: usize = 1_600;
/// … or this many UTF-16 units when it needs UCS-2.
pub const MMS_MAX_UCS2: usize = 700;
/// Above this, an SMS is better sent as MMS (R-COST-3).
pub const MMS_ADVICE_ABOVE: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Sms,
    Mms,
}

/// The price of one text to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Price {
    pub kind: Kind,
    pub credits: u32,
    /// What counts toward the daily segment limit: the SMS segments, or 1 for an MMS.
    pub segments: u32,
}

/// Why a text cannot go as priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CostError {
    /// An MMS body over the limit for its encoding.
    MmsTooLong { encoding: Encoding, length: usize, limit: usize },
}

/// Prices a text: SMS at 1 credit a segment (2 international), MMS 3 credits flat.
pub fn price(seg: &Segmentation, with_media: bool, international: bool) -> Result<Price, CostError> {
    if with_media {
        let (length, limit) = match seg.encoding {
            Encoding::Gsm7 => (seg.characters, MMS_MAX_GSM),
            Encoding::Ucs2 => (seg.units, MMS_MAX_UCS2),
        };
        if length > limit {
            return Err(CostError::MmsTooLong { encoding: seg.encoding, length, limit });
        }
        return Ok(Price { kind: Kind::Mms, credits: MMS_CREDITS, segments: 1 });
    }
    let per = if international { 2 } else { 1 };
    let segments = seg.segments as u32;
    Ok(Price { kind: Kind::Sms, credits: segments * per, segments })
}

/// What sending as MMS would save on one SMS (R-COST-3), when it would save anything and the
/// text fits an MMS body (`seg` is the text's segmentation).
pub fn mms_saving(p: &Price, seg: &Segmentation) -> Option<u32> {
    (p.kind == Kind::Sms && p.credits > MMS_ADVICE_ABOVE && price(seg, true, false).is_ok())
        .then(|| p.credits - MMS_CREDITS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::segments::segment;

    #[test]
    fn domestic_international_and_mms() {
        let two = segment(&"a".repeat(200));
        assert_eq!(price(&two, false, false).unwrap(), Price { kind: Kind::Sms, credits: 2, segments: 2 });
        assert_eq!(price(&two, false, true).unwrap().credits, 4);
        assert_eq!(price(&two, true, true).unwrap(), Price { kind: Kind::Mms, credits: 3, segments: 1 });
        assert_eq!(price(&segment(""), false, false).unwrap().credits, 0);
    }

    #[test]
    fn the_mms_advice_starts_above_three_credits() {
        let saving = |text: &str, international: bool| {
            let seg = segment(text);
            mms_saving(&price(&seg, false, international).unwrap(), &seg)
        };
        assert_eq!(saving(&"a".repeat(153 * 3), false), None);
        assert_eq!(saving(&"a".repeat(153 * 4), false), Some(1));
        assert_eq!(saving(&"a".repeat(200), true), Some(1));
        // 701 UCS-2 units cost 11 credits as SMS but do not fit an MMS: no advice to follow.
        assert_eq!(saving(&"ж".repeat(700), false), Some(11 - 3));
        assert_eq!(saving(&"ж".repeat(701), false), None);
    }

    #[test]
    fn mms_length_limits() {
        assert!(price(&segment(&"a".repeat(1600)), true, false).is_ok());
        assert_eq!(
            price(&segment(&"a".repeat(1601)), true, false),
            Err(CostError::MmsTooLong { encoding: Encoding::Gsm7, length: 1601, limit: 1600 })
        );
        assert!(price(&segment(&"ж".repeat(700)), true, false).is_ok());
        assert!(price(&segment(&"ж".repeat(701)), true, false).is_err());
        assert!(price(&segment(&"😀".repeat(351)), true, false).is_err(), "emoji take two units");
    }
}
