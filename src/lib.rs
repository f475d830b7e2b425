//! tidings: the texting backend of a real-estate CRM. Agents text contacts through Twilio, replies
//! come back through webhooks and reach phones as push notifications; admins script templates and
//! filters in Rhai. See README.md for running it and PRODUCT.md for the rules (`R-…`) cited here.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod app;
pub mod cli;
pub mod clock;
pub mod compose;
pub mod config;
pub mod consent;
pub mod contacts;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod geo;
pub mod idempotency;
pub mod limits;
pub mod media;
pub mod ops;
pub mod outbox;
pub mod plans;
pub mod push;
pub mod replies;
pub mod retry;
pub mod schema;
pub mod scripts;
pub mod twilio;
