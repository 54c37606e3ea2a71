//! `fragments_lost`: IP fragment sets of IPsec traffic that never completed at the capture
//! point, or an ICMP "fragment reassembly time exceeded" about them.
//!
//! Small packets pass whole, large ones are fragmented and lose a piece: the classic "ping
//! works, SSH/HTTPS freezes" tunnel.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;

pub const KIND: FindingKind = FindingKind {
    id: "fragments_lost",
    title: "IP fragments of IPsec traffic are lost",
    default_severity: Severity::Warning,
    explanation: "Some IP fragments of IKE or ESP datagrams never arrived: the set stayed incomplete, or the receiver reported a reassembly timeout. Small packets get through, large ones are lost: ping works, bulk transfers and interactive sessions freeze.",
    remedy: "Avoid fragmentation: lower the tunnel MTU and clamp TCP MSS, enable IKE fragmentation for IKE; or allow fragments through the firewalls/NAT on the path.",
};

pub struct FragmentsLost;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(FragmentsLost),
};

impl Rule for FragmentsLost {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        match &cx.ev.body {
            Body::FragmentsIncomplete(inc) => {
                let what = match (inc.proto, inc.sport, inc.dport) {
                    (50, _, _) => "ESP".to_string(),
                    (17, s, d) if s != 0 || d != 0 => format!("UDP {s}→{d}"),
                    (p, _, _) => format!("IP protocol {p}"),
                };
                let missing = match (inc.had_first, inc.had_last) {
                    (false, _) => "the first fragment is missing",
                    (true, false) => "the last fragment is missing",
                    (true, true) => "a middle fragment is missing",
                };
                let summary = format!(
                    "{what} datagram from {} to {} (IP ID {:#x}): {} fragment(s), {} bytes seen, never completed ({missing})",
                    cx.ev.flow.src, cx.ev.flow.dst, inc.ident, inc.fragments_seen, inc.bytes_seen
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
                    .frames([inc.first_frame, inc.last_frame]),
                );
            }
            Body::IcmpError(e) if e.code == 1 && e.icmp_type == if e.v6 { 3 } else { 11 } => {
                let Some(q) = e.quoted.flow else { return };
                let summary = format!(
                    "{} reports fragment reassembly time exceeded for a datagram from {} to {}: some of its fragments never arrived",
                    cx.ev.flow.src, q.src, q.dst
                );
                out.push(
                    1,
                    Finding::new(
                        &KIND,
                        Confidence::Observed,
                        Peers::new(q.src, q.dst),
                        (cx.ev.pkt.ts, cx.ev.pkt.ts),
                        summary,
                    )
                    .frames([cx.ev.pkt.frame]),
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;
    use crate::event::{Body, IncompleteFragments};

    #[test]
    fn incomplete_set_is_reported() {
        let mut s = Script::default();
        s.event(
            0,
            A,
            B,
            4500,
            4500,
            17,
            Body::FragmentsIncomplete(IncompleteFragments {
                ident: 7,
                proto: 17,
                first_frame: 1,
                last_frame: 1,
                fragments_seen: 1,
                bytes_seen: 1480,
                had_first: true,
                had_last: false,
                sport: 4500,
                dport: 4500,
            }),
        );
        assert_eq!(kinds(&s.all()), vec!["fragments_lost"]);
    }
}
