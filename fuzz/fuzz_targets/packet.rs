//! The per-packet decoder on every link type, fed a sequence of frames (so IP and SKF
//! reassembly and the ICMP quoting paths see state): `[linktype index]` then records
//! `[time step][len][frame]` (common.rs).
#![no_main]

use ike_sniff::capture::RawPacket;
use ike_sniff::decode::Decoder;
use ike_sniff::event::Timestamp;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&lt, rest)) = data.split_first() else {
        return;
    };
    let linktype = common::LINKTYPES[usize::from(lt) % common::LINKTYPES.len()];
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    let mut secs = 1_700_000_000i64;
    let records = common::records(rest);
    for (i, (step, frame)) in records.iter().enumerate() {
        // Steps up to 255 s, so fragment and SKF sets also time out.
        secs += i64::from(*step);
        let raw = RawPacket {
            frame: i as u64 + 1,
            ts: Timestamp::new(secs, (i as u32 * 7919) % 1_000_000_000),
            caplen: frame.len() as u32,
            origlen: frame.len() as u32 + u32::from(*step & 3) * 100,
            linktype,
            data: frame,
        };
        decoder.decode(&raw, &mut events);
    }
    decoder.finish(&mut events);
    for ev in &events {
        assert!(ev.pkt.frame >= 1 && ev.pkt.frame <= records.len() as u64);
    }
});
