//! Replies (R-IN): the inbound webhook (`inbound`: signature, matching the sender to a contact,
//! the push it queues), the thread of a contact's texts both ways and the one-contact text from it
//! (`threads`), and opt-out keywords (`keywords`, written to the consent ledger in
//! `crate::consent`, which also keeps the do-not-contact list). All SQL in `store`.

pub mod inbound;
pub mod keywords;
pub mod store;
pub mod threads;
