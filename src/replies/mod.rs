//! Replies (R-IN): the inbound webhook (`inbound`: signature, matching the sender to a contact,
//! the push it queues), the thread of a contact's texts both ways (`threads`), opt-out keywords
//! (`keywords`, written to the consent ledger in `crate::consent`) and the admins'
//! do-not-contact list (`dnc`).

pub mod dnc;
pub mod inbound;
pub mod keywords;
pub mod threads;
