//! Consent (R-IN-4): who may not be texted. Opt-outs per sender and number (the current state in
//! `opt_outs`, every change in the ledger), and the do-not-contact list that holds for everyone.
//! [`blocked`] and [`blocks`] are the one "may we text this number" check; quotes, the
//! dispatcher and scheduled texts all ask it. A feature below compose and outbox, which check it,
//! and replies, which change it by keyword.

pub mod dnc;
pub mod store;

use std::collections::HashMap;

use rusqlite::Connection;

pub use store::{Event, history, opt_in, opt_out};

/// Why a number may not be texted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// On the do-not-contact list: no one texts it.
    Dnc,
    /// Opted out of texts from this sender.
    OptedOut,
}

impl Block {
    /// The reason a quote line, a failed text or a skipped job gives.
    pub fn reason(self) -> &'static str {
        match self {
            Block::Dnc => "the number is on the do-not-contact list",
            Block::OptedOut => "the number opted out of texts from this sender",
        }
    }
}

/// Whether `sender` may text `number`: `None` when it may.
pub fn blocked(conn: &Connection, sender: &str, number: &str) -> anyhow::Result<Option<Block>> {
    Ok(if store::is_dnc(conn, number)? {
        Some(Block::Dnc)
    } else if store::has_opted_out(conn, sender, number)? {
        Some(Block::OptedOut)
    } else {
        None
    })
}

/// The blocked ones of `numbers`, for `sender` (only the DNC list without one). The DNC list
/// comes first: a number on it is `Dnc` even when it also opted out.
pub fn blocks(
    conn: &Connection,
    sender: Option<&str>,
    numbers: &[&str],
) -> anyhow::Result<HashMap<String, Block>> {
    let mut found: HashMap<String, Block> = HashMap::new();
    if let Some(sender) = sender {
        found.extend(store::opted_out(conn, sender, numbers)?.into_iter().map(|n| (n, Block::OptedOut)));
    }
    found.extend(store::on_dnc(conn, numbers)?.into_iter().map(|n| (n, Block::Dnc)));
    Ok(found)
}
