//! Replies (R-IN): what inbound texts mean for consent, the consent ledger, and the admins'
//! do-not-contact list. (The inbound webhook, threads and notifications come with issue #6.)

pub mod consent;
pub mod dnc;
pub mod inbound;
pub mod keywords;
pub mod threads;
