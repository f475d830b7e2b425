//! Base layer: pure rules about the values that travel between features, with no I/O and no
//! imports from above (ARCHITECTURE.md). Phone numbers as libphonenumber reads them (R-CON-2),
//! how a text splits into SMS segments (R-SEG-*), and the values parsed once at the edge.

pub mod phone;
pub mod segments;
pub mod values;
