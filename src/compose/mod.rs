//! Composing (R-REC, R-SEG, R-COST): segments, cost, recipients and quotes.

pub mod api;
pub mod cost;
pub mod quote;
pub mod store;
