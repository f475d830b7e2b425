//! When to try again: exponential backoff with jitter, and the `Retry-After` a provider sends.
//! Base layer: the outbox, the push worker and the provider clients share it.

use std::time::Duration;

/// The delay before try number `attempts + 1`: `base` doubled per try, at most 5 minutes, with
/// ±25 % jitter; at least what the provider asked for.
pub fn backoff(base: Duration, attempts: u32, retry_after: Option<Duration>) -> Duration {
    let base = base
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)))
        .min(Duration::from_secs(300));
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    base.mul_f64(jitter).max(retry_after.unwrap_or_default())
}

/// A `Retry-After` in seconds (what Twilio, APNs and FCM send), if the answer carries one.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let base = Duration::from_secs(2);
        for (attempts, nominal) in [(1, 2.0), (2, 4.0), (3, 8.0), (12, 300.0)] {
            let d = backoff(base, attempts, None).as_secs_f64();
            assert!(d >= nominal * 0.75 && d <= nominal * 1.25, "{attempts}: {d}");
        }
        assert!(backoff(base, 1, Some(Duration::from_secs(30))) >= Duration::from_secs(30));
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
