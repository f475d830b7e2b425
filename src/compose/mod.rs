//! Composing (R-REC, R-SEG, R-COST): segments, cost, recipients and quotes.

pub mod cost;
pub mod segments;
