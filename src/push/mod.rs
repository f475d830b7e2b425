//! Push (R-PUSH): devices, the push outbox and its worker, and the providers: our APNs and FCM
//! clients, or the sandbox (which records pushes) when neither is configured.

pub mod api;
pub mod apns;
pub mod fcm;
pub mod payload;
pub mod store;
pub mod worker;
