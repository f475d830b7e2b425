//! Pacing (R-SND-2): each sending number sends at most so many segments per second, by number
//! type, under an account-wide cap. One governor limiter per number type (a keyed limiter has
//! one quota for all its keys), one cell per segment and a burst of one, so no second holds more
//! than the rate. Generic over governor's clock so tests can move time.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed, keyed::DashMapStateStore};
use governor::{Quota, RateLimiter};

use crate::config::SendingSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberType {
    LongCode,
    TollFree,
    ShortCode,
    TenDlc,
}

/// How a sending number is paced: short codes are 5–6 digits, toll-free numbers are NANP
/// 800/833/844/855/866/877/888, 10DLC numbers are listed in config, the rest are long codes.
pub fn number_type(number: &str, ten_dlc: &[String]) -> NumberType {
    let digits = number.trim_start_matches('+');
    if digits.len() <= 6 && digits.chars().all(|c| c.is_ascii_digit()) {
        NumberType::ShortCode
    } else if ["800", "833", "844", "855", "866", "877", "888"]
        .iter()
        .any(|a| digits.starts_with(&format!("1{a}")))
    {
        NumberType::TollFree
    } else if ten_dlc.iter().any(|n| n == number) {
        NumberType::TenDlc
    } else {
        NumberType::LongCode
    }
}

type Keyed<C> = RateLimiter<String, DashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;
type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

pub struct Pacer<C: Clock = DefaultClock> {
    long_code: Keyed<C>,
    toll_free: Keyed<C>,
    short_code: Keyed<C>,
    ten_dlc: Keyed<C>,
    account: Direct<C>,
    ten_dlc_numbers: Vec<String>,
    clock: C,
}

fn per_second(n: u32) -> Quota {
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(Duration::from_secs(1) / n.get())
        .unwrap_or_else(|| Quota::per_second(n))
        .allow_burst(NonZeroU32::MIN)
}

impl Pacer<DefaultClock> {
    pub fn new(s: &SendingSettings) -> Self {
        Self::with_clock(s, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Pacer<C> {
    pub fn with_clock(s: &SendingSettings, clock: C) -> Self {
        let keyed = |n| RateLimiter::dashmap_with_clock(per_second(n), clock.clone());
        Pacer {
            long_code: keyed(s.long_code),
            toll_free: keyed(s.toll_free),
            short_code: keyed(s.short_code),
            ten_dlc: keyed(s.ten_dlc),
            account: RateLimiter::direct_with_clock(per_second(s.account_per_second), clock.clone()),
            ten_dlc_numbers: s.ten_dlc_numbers.clone(),
            clock,
        }
    }

    /// Takes the sender's cell for one segment: `None` when taken, else how long to wait.
    pub fn try_sender(&self, sender: &str) -> Option<Duration> {
        let limiter = match number_type(sender, &self.ten_dlc_numbers) {
            NumberType::LongCode => &self.long_code,
            NumberType::TollFree => &self.toll_free,
            NumberType::ShortCode => &self.short_code,
            NumberType::TenDlc => &self.ten_dlc,
        };
        limiter.check_key(&sender.to_owned()).err().map(|w| w.wait_time_from(self.clock.now()))
    }

    /// Takes the account's cell for one segment: `None` when taken, else how long to wait.
    pub fn try_account(&self) -> Option<Duration> {
        self.account.check().err().map(|w| w.wait_time_from(self.clock.now()))
    }

    /// Waits (on the real clock) until `segments` segments of `sender` may go: for each, the
    /// sender's cell, then the account's (a cell once taken is kept while waiting for the other).
    pub async fn until_ready(&self, sender: &str, segments: u32) {
        for _ in 0..segments.max(1) {
            while let Some(wait) = self.try_sender(sender) {
                pause(wait).await;
            }
            while let Some(wait) = self.try_account() {
                pause(wait).await;
            }
        }
    }

    #[cfg(test)]
    fn elapsed(&self, since: C::Instant) -> Duration {
        use governor::clock::Reference;
        self.clock.now().duration_since(since).into()
    }
}

/// Tokio's timer ticks in milliseconds: a shorter wait yields instead of sleeping a whole tick.
async fn pause(wait: Duration) {
    if wait < Duration::from_millis(1) {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn number_types() {
        assert_eq!(number_type("+18005550100", &[]), NumberType::TollFree);
        assert_eq!(number_type("+13125550100", &[]), NumberType::LongCode);
        assert_eq!(number_type("+13125550100", &["+13125550100".into()]), NumberType::TenDlc);
        assert_eq!(number_type("898211", &[]), NumberType::ShortCode);
    }

    /// Sends as fast as the pacer allows for `secs` of fake time; returns segments sent per sender.
    fn run(s: &SendingSettings, senders: &[&str], secs: u64) -> Vec<u64> {
        let clock = FakeRelativeClock::default();
        let pacer = Pacer::with_clock(s, clock.clone());
        let start = clock.now();
        let mut sent = vec![0u64; senders.len()];
        let mut holding = vec![false; senders.len()];
        let tick = Duration::from_millis(1);
        while pacer.elapsed(start) < Duration::from_secs(secs) {
            // The sender that sent least goes first, as the dispatcher's claims take turns.
            let mut order: Vec<usize> = (0..senders.len()).collect();
            order.sort_by_key(|&i| sent[i]);
            for i in order {
                loop {
                    if !holding[i] {
                        holding[i] = pacer.try_sender(senders[i]).is_none();
                    }
                    if !holding[i] || pacer.try_account().is_some() {
                        break;
                    }
                    holding[i] = false;
                    sent[i] += 1;
                }
            }
            clock.advance(tick);
        }
        sent
    }

    #[test]
    fn no_sender_passes_its_rate() {
        let s = SendingSettings {
            long_code: 1,
            toll_free: 3,
            ten_dlc: 10,
            ten_dlc_numbers: vec!["+13125550102".into()],
            ..Default::default()
        };
        let sent = run(&s, &["+13125550100", "+18005550100", "+13125550102"], 30);
        // One cell at a time: at most rate × seconds (the first cell goes at t = 0), and close to it.
        for (got, rate) in sent.iter().zip([1, 3, 10]) {
            assert!(*got <= rate * 30 && *got >= rate * 30 * 95 / 100, "{sent:?}");
        }
    }

    #[test]
    fn the_account_cap_holds_every_sender_back() {
        let s = SendingSettings { short_code: 100, account_per_second: 20, ..Default::default() };
        let sent = run(&s, &["898211", "898212"], 10);
        assert!(sent.iter().sum::<u64>() <= 20 * 10 + 1, "{sent:?}");
        assert!(sent.iter().all(|n| *n >= 50), "both senders get a share: {sent:?}");
    }
}
