//! Property test for the whole decode stage: whatever bytes arrive on whatever link type, the
//! decoder returns (no panic), and every event it emits points at the packet that caused it.

use ike_sniff::capture::RawPacket;
use ike_sniff::decode::Decoder;
use ike_sniff::event::Timestamp;
use proptest::prelude::*;

/// Frames that look enough like IPsec to get past the prefilter: an IPv4 header for UDP 500/4500
/// or ESP, then arbitrary bytes, so the fuzzing reaches the IKE and ESP decoders.
fn ipsecish_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![17u8, 50, 51, 1]),
        prop::sample::select(vec![500u16, 4500]),
        any::<u16>(),
        prop::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(proto, port, frag, tail)| {
            let total = (20 + 8 + tail.len()) as u16;
            let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0, 0];
            p[2..4].copy_from_slice(&total.to_be_bytes());
            // Sometimes a fragment, sometimes not.
            p[6..8].copy_from_slice(
                &(frag & 0x3fff & if frag % 3 == 0 { 0xffff } else { 0 }).to_be_bytes(),
            );
            p.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
            p.extend_from_slice(&port.to_be_bytes());
            p.extend_from_slice(&port.to_be_bytes());
            p.extend_from_slice(&((8 + tail.len()) as u16).to_be_bytes());
            p.extend_from_slice(&[0, 0]);
            p.extend_from_slice(&tail);
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_frames_on_every_link_type(
        linktype in prop::sample::select(vec![0u32, 1, 12, 101, 108, 113, 228, 229, 276, 147]),
        data in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        let raw = RawPacket { frame: 1, ts: Timestamp::new(1, 0), caplen: data.len() as u32,
            origlen: data.len() as u32, linktype, data: &data };
        d.decode(&raw, &mut out);
        d.finish(&mut out);
        for ev in &out {
            prop_assert_eq!(ev.pkt.frame, 1);
        }
    }

    #[test]
    fn ipsec_looking_sequences_with_fragments(frames in prop::collection::vec(ipsecish_frame(), 1..20)) {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let raw = RawPacket { frame: i as u64 + 1, ts: Timestamp::new(i as i64 * 3, 0),
                caplen: f.len() as u32, origlen: f.len() as u32, linktype: 101, data: f };
            d.decode(&raw, &mut out);
        }
        d.finish(&mut out);
        for ev in &out {
            prop_assert!(ev.pkt.frame >= 1 && ev.pkt.frame <= frames.len() as u64);
        }
        prop_assert_eq!(d.stats.packets, frames.len() as u64);
    }
}
