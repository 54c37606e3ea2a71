//! RFC 7383 reassembly fed a sequence of IKE messages: records (common.rs) whose tag picks the
//! direction (bit 0), whether the fragment counts as opened by keys (bit 1, its plaintext the
//! record's first bytes) and a time step (the rest); each record is an IKE message, decoded as
//! the decoder would, then pushed. Small limits, so eviction and expiry run too.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use ike_sniff::decode::ike::{self, skf::SkfReassembler};
use ike_sniff::event::Timestamp;
use ike_sniff::event::ike::Integrity;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut skf = SkfReassembler::new(2, 1 << 16, 30);
    let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let b = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));
    let mut secs = 1_700_000_000i64;
    for (i, (tag, rec)) in common::records(data).into_iter().enumerate() {
        secs += i64::from(tag >> 2);
        let ts = Timestamp::new(secs, 0);
        let key = if tag & 1 == 0 {
            (a, 4500, b, 4500)
        } else {
            (b, 4500, a, 4500)
        };
        let Ok(msg) = ike::decode(rec, false) else {
            continue;
        };
        let plain = (tag & 2 != 0).then(|| (Integrity::Ok, rec[..rec.len().min(64)].to_vec()));
        if let Some((whole, plain)) = skf.push(key, i as u64 + 1, ts, &msg, plain) {
            assert!(!whole.reassembled_from.is_empty());
            if let Some((_, p)) = plain {
                assert!(p.len() <= 64 * whole.reassembled_from.len());
            }
        }
        let _ = skf.expire(ts);
    }
});
