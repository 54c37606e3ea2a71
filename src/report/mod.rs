//! Report stage: what the operator reads. Text for people, JSON Lines for programs; both are a
//! contract (stable names, a `type` on every JSON line, a schema version in the `meta` line).

pub mod findings;
pub mod fmt;
pub mod packets;
pub mod summary;

/// Bumped when a JSON line changes incompatibly.
pub const JSON_SCHEMA_VERSION: u32 = 1;
