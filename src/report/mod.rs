//! report stage.
pub mod findings;
