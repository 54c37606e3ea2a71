//! Decoding: raw packets to events.

pub mod ike;
