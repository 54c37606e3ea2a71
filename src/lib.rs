//! ike-sniff reads IPsec traffic — live or from a capture file — and says what is wrong with the
//! VPN and what to do about it.
//!
//! The modules are the pipeline, in order: [`capture`] yields raw packets, [`decode`] turns the
//! IPsec ones into [`event::Event`]s, [`track`] follows IKE SAs, exchanges and ESP SAs,
//! [`diagnose`] turns what was tracked into findings, and [`report`] prints them.

// Denied everywhere; one function maps capture files (capture/file.rs, `map_window`).
#![deny(unsafe_code)]

pub mod app;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod event;
pub mod hash;
pub mod keys;
pub mod report;
#[cfg(test)]
mod testutil;
pub mod track;
