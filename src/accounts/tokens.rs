//! Bearer tokens (R-ACC-2): 256 random bits, shown once, stored only as SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "tdg_";

/// A new token and its stored hash.
pub fn generate() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = digest(&token);
    (token, hash)
}

pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Constant-time comparison of a presented token's hash with a stored one.
pub fn matches(presented: &[u8; 32], stored: &[u8]) -> bool {
    presented.ct_eq(stored).into()
}

/// Cheap shape check before touching the database.
pub fn well_formed(token: &str) -> bool {
    token.len() == PREFIX.len() + 43 && token.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = generate();
        let (b, _) = generate();
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert!(matches(&digest(&a), &ha));
        assert!(!matches(&digest(&b), &ha));
        assert!(!matches(&digest(&a), &ha[..31]));
    }
}
