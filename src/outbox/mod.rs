//! The outbox (R-SND): every text is a row before it is an HTTP call; a dispatcher hands rows to
//! the provider at each sender's pace, retries what may succeed later, ends what will not, and
//! gives back the credits of texts Twilio never accepted.

pub mod api;
pub mod dispatcher;
pub mod later;
pub mod notices;
pub mod pacing;
pub mod send;
pub mod status;
pub mod store;
pub mod webhook;
