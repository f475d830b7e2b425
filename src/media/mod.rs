//! Media (R-SND-6): `POST /v1/media` takes one image, video or gif (multipart, at most 5 MB, its
//! type read from its bytes, not its name) and gives an id for `media_ids` and an unguessable URL
//! under the public URL, where Twilio fetches it for an MMS.

pub mod api;
pub mod store;

use crate::config::Settings;

pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// What Twilio takes for MMS and a phone shows: JPEG, PNG, GIF, MP4.
const ACCEPTED: &[&str] = &["image/jpeg", "image/png", "image/gif", "video/mp4"];

/// The built-in media id of [`CLEAR_PNG_BYTES`].
pub const CLEAR_PNG: &str = "clear-png";

/// A 1×1 transparent PNG: turns an SMS into an MMS recipients do not see (R-COST-3).
const CLEAR_PNG_BYTES: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00,
    0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00,
    0x01, 0xE9, 0xFA, 0xDC, 0xD8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The URL Twilio fetches a media item at.
pub fn url(settings: &Settings, id: &str) -> String {
    let file = if id == CLEAR_PNG { "clear-png.png" } else { id };
    format!("{}/media/{file}", settings.server.public_url.trim_end_matches('/'))
}

/// The URLs of a text's media.
pub fn urls(settings: &Settings, ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| url(settings, id)).collect()
}

/// The content type of a media file, read from its first bytes; `None` when not accepted.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let kind = infer::get(bytes)?;
    ACCEPTED.iter().copied().find(|t| *t == kind.mime_type())
}

#[cfg(test)]
mod tests {
    #[test]
    fn types_are_read_from_the_bytes() {
        assert_eq!(super::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(super::sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"), Some("image/jpeg"));
        assert_eq!(super::sniff(b"GIF89a\x01\0\x01\0"), Some("image/gif"));
        assert_eq!(super::sniff(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"), Some("video/mp4"));
        assert_eq!(super::sniff(b"%PDF-1.7\n"), None);
        assert_eq!(super::sniff(b"<html>"), None);
    }
}
