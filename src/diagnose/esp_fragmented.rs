//! `esp_fragmented`: ESP packets travel as IP fragments.
//!
//! The tunnel's inner MTU is larger than the path allows once the ESP overhead is added, so the
//! gateway fragments after encryption (RFC 4303 §3.3.4): every large packet costs two, the
//! peer must reassemble, and any fragment filter on the path silently drops the traffic.

use super::{Confidence, Cx, Emit, Finding, FindingKind, Peers, Rule, Severity};
use crate::event::Body;

pub const KIND: FindingKind = FindingKind {
    id: "esp_fragmented",
    title: "ESP packets are IP-fragmented",
    default_severity: Severity::Warning,
    explanation: "ESP packets were fragmented at the IP layer after encryption: the tunnel MTU is larger than the path MTU minus the IPsec overhead. This costs throughput and breaks completely where fragments are filtered.",
    remedy: "Lower the tunnel MTU (e.g. mtu=1400 on the tunnel/XFRM interface, or 'ip tcp adjust-mss') and clamp TCP MSS to the tunnel MTU minus 40 so that encrypted packets fit the path.",
};

pub struct EspFragmented;

impl Rule for EspFragmented {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Esp(e) = &cx.ev.body else { return };
        if cx.ev.ip.fragments == 0 {
            return;
        }
        let count = cx.pair().map_or(1, |p| p.esp_fragmented);
        let summary = format!(
            "ESP SPI 0x{:08x} from {} to {}: a {}-byte packet arrived as {} IP fragments (first of {} seen so far on this pair)",
            e.spi, cx.ev.flow.src, cx.ev.flow.dst, cx.ev.ip.total_len, cx.ev.ip.fragments, count
        );
        out.push(
            0,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::new(cx.ev.flow.src, cx.ev.flow.dst),
                (cx.ev.pkt.ts, cx.ev.pkt.ts),
                summary,
            )
            .frames([cx.ev.ip.first_fragment_frame, cx.ev.pkt.frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn fragmented_esp_is_reported_once() {
        let mut s = Script::default();
        for i in 0..3 {
            s.esp(i * 10, A, B, 5, i as u32 + 1).ip.fragments = 2;
        }
        let n = s
            .all()
            .iter()
            .filter(|f| f.kind == "esp_fragmented")
            .count();
        assert_eq!(n, 1);
    }
}
