//! IP reassembly fed a sequence of fragments: records (common.rs) whose tag picks the set
//! (low 2 bits: identification, bit 2: ESP or UDP), and whose first 3 bytes are the offset in
//! 8-byte units (13 bits, as on the wire), the more-fragments flag and a time step. Small
//! limits, so eviction and expiry run too.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use ike_sniff::decode::frag::{FragKey, FragTable, Limits};
use ike_sniff::event::{IpInfo, PacketRef, Timestamp};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut table = FragTable::new(Limits {
        max_sets: 3,
        max_bytes: 1 << 16,
        timeout_secs: 30,
    });
    let mut secs = 1_700_000_000i64;
    for (i, (tag, rec)) in common::records(data).into_iter().enumerate() {
        if rec.len() < 3 {
            continue;
        }
        let offset = u32::from(u16::from_be_bytes([rec[0], rec[1]]) & 0x1fff) * 8;
        let more = rec[2] & 1 == 1;
        secs += i64::from(rec[2] >> 1);
        let payload = &rec[3..];
        let key = FragKey {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            ident: u32::from(tag & 3),
            proto: if tag & 4 == 0 { 17 } else { 50 },
        };
        let ts = Timestamp::new(secs, 0);
        let pkt = PacketRef {
            frame: i as u64 + 1,
            ts,
            caplen: payload.len() as u32 + 20,
            origlen: payload.len() as u32 + 20,
        };
        let ip = IpInfo {
            version: 4,
            total_len: payload.len() as u32 + 20,
            ident: key.ident,
            ttl: 64,
            ..IpInfo::default()
        };
        let pushed = table.push(key, pkt, ip, offset, more, payload);
        if let Some(done) = pushed.complete {
            assert!(done.fragments >= 1);
        }
        let _ = table.expire(ts);
    }
    let _ = table.drain_incomplete(Timestamp::new(secs + 60, 0), 0);
    assert!(table.is_empty());
});
