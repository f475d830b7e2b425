//! Plans (R-PLAN), the scheduler, the team privacy notice (R-TEAM) and quiet hours (R-QH).

pub mod api;
pub mod model;
pub mod scheduler;
pub mod store;
