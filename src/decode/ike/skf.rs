//! Reassembly of IKEv2 messages split with RFC 7383 fragmentation (SKF payloads).
//! (Placeholder signature until the real reassembler lands from its branch.)

use std::net::IpAddr;

use super::IkeMessage;
use crate::event::Timestamp;

pub struct SkfReassembler;

impl SkfReassembler {
    pub fn new(_max_sets: usize, _max_bytes: usize, _timeout_secs: u32) -> Self {
        SkfReassembler
    }
    pub fn push(
        &mut self,
        _key: (IpAddr, u16, IpAddr, u16),
        _frame: u64,
        _ts: Timestamp,
        _msg: &IkeMessage,
    ) -> Option<IkeMessage> {
        None
    }
    pub fn expire(&mut self, _now: Timestamp) -> usize {
        0
    }
    pub fn evicted(&self) -> u64 {
        0
    }
    pub fn pending(&self) -> usize {
        0
    }
}
