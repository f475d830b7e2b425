//! The API test binary: the real app on 127.0.0.1:0, a temporary SQLite file, and wiremock
//! standing in for Twilio.

mod accounts;
mod cli;
mod compose;
mod contacts;
mod exactly_once;
mod helpers;
mod import;
mod ops;
mod plans;
mod push;
mod replies;
mod scripts;
mod send;
mod storage;
mod twilio;
