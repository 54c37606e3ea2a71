//! `mss_too_large`: TCP inside the tunnel announces a segment size the path cannot carry once
//! ESP wraps it — "ping works, SSH/HTTPS freezes".
//!
//! Needs keys: the MSS is in the SYN, inside ESP. The rule takes, per peer pair, the largest
//! MSS a SYN announced, the ESP overhead measured on the pair's own packets (outer IP length
//! minus the inner packet's: outer IP, UDP when encapsulated, ESP header, IV, padding, trailer
//! and ICV of the transform actually negotiated) and the path MTU the capture shows (an ICMP
//! "fragmentation needed" / "packet too big" for the pair's ESP, or the size of the first
//! fragment when ESP arrives fragmented). When a full segment plus the inner headers plus that
//! overhead exceeds the path MTU, the finding gives the MSS to clamp to.


use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::path::{icmp_about_pair, is_frag_needed};
use crate::diagnose::rule::{Cx, Emit, PairState, Rule, RuleDef};
use crate::event::{Body, InnerPacket, Integrity};
use crate::track::PairKey;

pub const KIND: FindingKind = FindingKind {
    id: "mss_too_large",
    title: "TCP MSS inside the tunnel too large for the path",
    default_severity: Severity::Warning,
    explanation: "TCP connections through the tunnel announce a maximum segment size that, once the inner IP/TCP headers and the ESP overhead of the negotiated transform are added, makes packets larger than the path MTU. Small packets (ping, the TCP handshake) pass; full-size segments are fragmented, or dropped where fragments or ICMP are filtered, so interactive sessions freeze and transfers stall.",
    remedy: "Clamp the TCP MSS of traffic entering the tunnel to the value given (iptables -t mangle -A FORWARD -o <tunnel or uplink> -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss N; nftables 'tcp flags syn tcp option maxseg size set N'; Cisco 'ip tcp adjust-mss N'; FortiGate 'set tcp-mss-sender/receiver N'), or lower the MTU of the tunnel/XFRM interface by the same margin.",
};


#[derive(Default, Clone, Copy)]
struct Seen {
    /// The largest MSS announced by a SYN inside the tunnel: (mss, inner is IPv6, frame).
    mss: Option<(u16, bool, u64)>,
    /// The largest ESP overhead measured on the pair (bytes).
    overhead: u32,
    /// The smallest path MTU seen and the frame that showed it, and how it was shown.
    mtu: Option<(u32, u64, &'static str)>,
}

#[derive(Default)]
pub struct MssTooLarge {
    pairs: PairState<Seen>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(MssTooLarge::default()),
};

impl Rule for MssTooLarge {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let ev = cx.ev;
        let (key, seen) = match &ev.body {
            Body::Esp(e) => {
                let Some(d) = e.decrypted.as_deref().filter(|d| d.integrity != Integrity::Failed) else {
                    return;
                };
                let Some(inner) = d.inner else { return };
                let key = PairKey::of(ev.flow.src, ev.flow.dst).0;
                let s = self.pairs.entry(key);
                // The ESP packet as sent, whole: its IP length minus what it carries.
                if ev.ip.total_len > inner.len {
                    s.overhead = s.overhead.max(ev.ip.total_len - inner.len);
                }
                if let Some(mss) = syn_mss(&inner)
                    && s.mss.is_none_or(|(m, _, _)| mss > m)
                {
                    s.mss = Some((mss, inner.src.is_ipv6(), ev.pkt.frame));
                }
                (key, *s)
            }
            Body::IcmpError(_) => {
                let Some((key, e)) = icmp_about_pair(ev) else {
                    return;
                };
                let Some(m) = e.mtu.filter(|&m| m >= 68 && is_frag_needed(e)) else {
                    return;
                };
                if e.quoted.esp_spi.is_none() {
                    return;
                }
                let s = self.pairs.entry(key);
                if s.mtu.is_none_or(|(have, _, _)| m < have) {
                    s.mtu = Some((m, ev.pkt.frame, "an ICMP error reports"));
                }
                (key, *s)
            }
            Body::Fragment(f) if f.offset == 0 && f.more_fragments && f.esp.is_some() => {
                let key = PairKey::of(ev.flow.src, ev.flow.dst).0;
                let s = self.pairs.entry(key);
                let m = ev.ip.total_len;
                if m >= 68 && s.mtu.is_none_or(|(have, _, _)| m < have) {
                    s.mtu = Some((m, ev.pkt.frame, "ESP arrives fragmented at"));
                }
                (key, *s)
            }
            _ => return,
        };
        let (Some((mss, v6, syn_frame)), Some((mtu, mtu_frame, how)), true) =
            (seen.mss, seen.mtu, seen.overhead > 0)
        else {
            return;
        };
        let headers = if v6 { 60 } else { 40 };
        let full = u32::from(mss) + headers + seen.overhead;
        if full <= mtu || out.already(KIND.id, key, 0) {
            return;
        }
        let clamp = mtu.saturating_sub(headers + seen.overhead);
        let summary = format!(
            "TCP inside the tunnel between {} and {} announces MSS {mss} (SYN, frame {syn_frame}): a full segment is {} bytes inside and {full} bytes as ESP ({} bytes of overhead measured on this tunnel's packets), but {how} a path MTU of {mtu} (frame {mtu_frame}). Ping works; full-size segments do not fit.",
            key.a,
            key.b,
            u32::from(mss) + headers,
            seen.overhead,
        );
        let remedy = format!(
            "Clamp the TCP MSS of traffic entering the tunnel to {clamp} (iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss {clamp}; Cisco 'ip tcp adjust-mss {clamp}'; FortiGate 'set tcp-mss-sender {clamp}'), or lower the tunnel interface's MTU to {} so the endpoints pick it themselves.",
            clamp + headers
        );
        out.push(
            0,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::new(key.a, key.b),
                (ev.pkt.ts, ev.pkt.ts),
                summary,
            )
            .remedy(remedy)
            .frames([syn_frame, mtu_frame]),
        );
    }

    fn pair_closed(&mut self, pair: &crate::track::Pair, _out: &mut Emit<'_>) {
        self.pairs.forget(&pair.key);
    }
}

/// The MSS option of a TCP SYN carried inside ESP.
fn syn_mss(p: &InnerPacket) -> Option<u16> {
    (p.proto == 6 && p.tcp_flags.is_some_and(|f| f & 0x02 != 0))
        .then_some(p.tcp_mss)
        .flatten()
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;
    use crate::event::{Body, EspDecrypted, InnerPacket, Integrity};

    fn syn(s: &mut Script, ms: u64, seq: u32, mss: u16) {
        let e = s.esp(ms, A, B, 0x71, seq);
        e.ip.total_len = 124;
        if let Body::Esp(x) = &mut e.body {
            x.decrypted = Some(Box::new(EspDecrypted {
                integrity: Integrity::Ok,
                next_header: 4,
                inner: Some(InnerPacket {
                    src: "10.1.0.1".parse().unwrap(),
                    dst: "10.2.0.1".parse().unwrap(),
                    proto: 6,
                    sport: 40000,
                    dport: 22,
                    len: 60,
                    dont_fragment: true,
                    tcp_flags: Some(0x02),
                    tcp_mss: Some(mss),
                    ident: 0,
                    l4_head: 0,
                }),
            }));
        }
    }

    fn frag_needed(s: &mut Script, ms: u64, mtu: u32) {
        s.frag_needed_for_esp(ms, A, B, 0x71, mtu);
    }

    #[test]
    fn a_syn_mss_that_does_not_fit_the_path_gets_its_clamp() {
        let mut s = Script::default();
        syn(&mut s, 0, 1, 1360);
        frag_needed(&mut s, 100, 1300);
        let f: Vec<_> = s.all().into_iter().filter(|f| f.kind == "mss_too_large").collect();
        assert_eq!(f.len(), 1, "{f:?}");
        // 64 bytes of overhead (124 - 60): 1300 - 40 - 64.
        assert!(f[0].remedy.contains("--set-mss 1196"), "{}", f[0].remedy);
        assert!(f[0].summary.contains("MSS 1360"), "{}", f[0].summary);
    }

    #[test]
    fn an_mss_that_fits_is_not_reported() {
        let mut s = Script::default();
        syn(&mut s, 0, 1, 1180);
        frag_needed(&mut s, 100, 1300);
        assert!(s.all().iter().all(|f| f.kind != "mss_too_large"));
    }
}
