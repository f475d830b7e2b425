//! Base layer: pure rules about the values that travel between features, with no I/O and no
//! imports from above (ARCHITECTURE.md). Phone numbers as libphonenumber reads them (R-CON-2),
//! and how a text splits into SMS segments (R-SEG-*).

pub mod phone;
pub mod segments;
