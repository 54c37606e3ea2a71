//! `icmp_frag_needed`: a router says an IKE or ESP packet was too big for the next hop
//! (ICMP type 3 code 4, RFC 1191; ICMPv6 Packet Too Big, RFC 8201), and gives the MTU.

use crate::diagnose::path::{quoted_what, tunnel_numbers};
use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;

pub const KIND: FindingKind = FindingKind {
    id: "icmp_frag_needed",
    title: "Path MTU smaller than the tunnel's packets",
    default_severity: Severity::Warning,
    explanation: "A router on the path dropped an IKE or ESP packet because it was larger than the next hop's MTU and reported that MTU. Large packets through the tunnel are lost until the sender lowers its packet size: small requests work, bulk transfers stall.",
    remedy: "Lower the tunnel MTU below the path MTU minus the IPsec overhead and clamp the TCP MSS accordingly; make sure ICMP 'fragmentation needed' / 'packet too big' reaches the gateway.",
};

pub struct IcmpFragNeeded;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(IcmpFragNeeded),
};

impl Rule for IcmpFragNeeded {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::IcmpError(e) = &cx.ev.body else {
            return;
        };
        let frag_needed = (!e.v6 && e.icmp_type == 3 && e.code == 4) || (e.v6 && e.icmp_type == 2);
        let Some(q) = e.quoted.flow.filter(|_| frag_needed) else {
            return;
        };
        let udp = q.dport == 4500 || q.sport == 4500;
        let mtu = e.mtu.filter(|&m| m >= 68);
        let (summary, remedy) = match mtu {
            Some(m) => {
                let (tunnel, mss) =
                    tunnel_numbers(m, q.src.is_ipv6(), udp && e.quoted.esp_spi.is_some());
                (
                    format!(
                        "{} reports a next-hop MTU of {m} bytes for the {} from {} to {} ({} bytes{})",
                        cx.ev.flow.src,
                        quoted_what(e),
                        q.src,
                        q.dst,
                        e.quoted.total_len,
                        if e.quoted.dont_fragment {
                            ", DF set"
                        } else {
                            ""
                        },
                    ),
                    format!(
                        "Lower the tunnel MTU to {tunnel} (e.g. mtu={tunnel} on the tunnel interface or XFRM interface) and clamp TCP MSS to {mss} (iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss {mss}); for IKE, enable IKE fragmentation. Make sure these ICMP messages reach the gateway."
                    ),
                )
            }
            None => (
                format!(
                    "{} reports that the {} from {} to {} ({} bytes) needs fragmentation, without an MTU",
                    cx.ev.flow.src,
                    quoted_what(e),
                    q.src,
                    q.dst,
                    e.quoted.total_len
                ),
                KIND.remedy.to_string(),
            ),
        };
        let peers = Peers::new(q.src, q.dst);
        out.push(
            u64::from(mtu.unwrap_or(0)),
            Finding::new(
                &KIND,
                Confidence::Observed,
                peers,
                (cx.ev.pkt.ts, cx.ev.pkt.ts),
                summary,
            )
            .remedy(remedy)
            .frames([cx.ev.pkt.frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    #[test]
    fn frag_needed_reports_mtu_and_numbers() {
        let mut s = Script::default();
        icmp(&mut s, 10, 3, 4, Some(1400));
        let f = s.all();
        let f = f
            .iter()
            .find(|f| f.kind == "icmp_frag_needed")
            .expect("reported");
        assert!(f.summary.contains("1400"), "{}", f.summary);
        assert!(f.remedy.contains("mtu=1320"), "{}", f.remedy);
    }
}
