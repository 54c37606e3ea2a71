//! `esp_fragmented`: ESP packets travel as IP fragments.
//!
//! The tunnel's inner MTU is larger than the path allows once the ESP overhead is added, so the
//! gateway fragments after encryption (RFC 4303 §3.3.4): every large packet costs two, the
//! peer must reassemble, and any fragment filter on the path silently drops the traffic.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;

pub const KIND: FindingKind = FindingKind {
    id: "esp_fragmented",
    title: "ESP packets are IP-fragmented",
    default_severity: Severity::Warning,
    explanation: "ESP packets were fragmented at the IP layer after encryption: the tunnel MTU is larger than the path MTU minus the IPsec overhead. This costs throughput and breaks completely where fragments are filtered.",
    remedy: "Lower the tunnel MTU (e.g. mtu=1400 on the tunnel/XFRM interface, or 'ip tcp adjust-mss') and clamp TCP MSS to the tunnel MTU minus 40 so that encrypted packets fit the path.",
};

pub struct EspFragmented;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(EspFragmented),
};

impl Rule for EspFragmented {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let ev = cx.ev;
        // Either a reassembled ESP packet, or a first fragment carrying an ESP header: the
        // latter is proof enough, and the only proof when the rest of the datagram is lost.
        let (summary, frames) = match &ev.body {
            Body::Esp(e) if ev.ip.fragments > 0 => (
                format!(
                    "ESP SPI 0x{:08x} from {} to {}: a {}-byte packet arrived as {} IP fragments (first of {} seen so far on this pair)",
                    e.spi,
                    ev.flow.src,
                    ev.flow.dst,
                    ev.ip.total_len,
                    ev.ip.fragments,
                    cx.pair().map_or(1, |p| p.esp_fragmented.max(1))
                ),
                [ev.ip.first_fragment_frame, ev.pkt.frame],
            ),
            Body::Fragment(f) if f.offset == 0 && f.more_fragments => {
                let Some((spi, seq)) = f.esp else { return };
                (
                    format!(
                        "ESP SPI 0x{spi:08x} from {} to {}: packet {seq} left as IP fragments (first fragment of {} bytes, IP ID {:#06x})",
                        ev.flow.src, ev.flow.dst, ev.ip.total_len, f.ident
                    ),
                    [ev.pkt.frame, ev.pkt.frame],
                )
            }
            _ => return,
        };
        out.push(
            0,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::new(ev.flow.src, ev.flow.dst),
                (ev.pkt.ts, ev.pkt.ts),
                summary,
            )
            .frames(frames.into_iter().filter(|&f| f > 0)),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn fragmented_esp_is_reported_once() {
        let mut s = Script::default();
        for i in 0..3 {
            s.esp(i * 10, A, B, 5, i as u32 + 1).ip.fragments = 2;
        }
        let all = s.all();
        let f: Vec<_> = all.iter().filter(|f| f.kind == "esp_fragmented").collect();
        // Said once; the end folds the two later packets in as repeats, under the same id.
        assert_eq!(f.iter().filter(|f| !f.update).count(), 1);
        let u = f.iter().find(|f| f.update).expect("an update at the end");
        assert_eq!((u.id, u.repeats, u.reworded), (f[0].id, 2, false));
        assert_eq!(u.frames, vec![1, 2, 3]);
    }

    /// The lab's esp_fragments_dropped.pcap: only first fragments pass the router.
    #[test]
    fn a_first_fragment_alone_shows_fragmentation() {
        let mut s = Script::default();
        s.esp(0, A, B, 5, 1);
        let ev = s.esp(10, A, B, 5, 2);
        ev.ip.total_len = 1196;
        ev.body = crate::event::Body::Fragment(crate::event::FragmentInfo {
            ident: 0x3639,
            offset: 0,
            more_fragments: true,
            data_len: 1176,
            proto: 50,
            esp: Some((5, 2)),
        });
        assert!(kinds(&s.all()).contains(&"esp_fragmented"));
    }
}
