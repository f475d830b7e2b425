//! Push (R-PUSH): devices, the push outbox and its worker. Providers: the sandbox today; APNs and
//! FCM clients come next (issue #6), behind the same `send`.

pub mod api;
pub mod payload;
pub mod store;
pub mod worker;
