//! `cleartext_leak`: traffic that a tunnel's selectors cover crosses the capture point in the
//! clear while the tunnel is up.
//!
//! Needs keys: the selectors are inside the encrypted Child SA response, and the tracker only
//! calls a clear packet a leak when no ESP it could open carried the same packet
//! ([`crate::track::leak`]), so a capture on the gateway itself, which sees each packet on both
//! sides of the encryption, raises nothing.

use std::fmt::Write;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity, cap_frames};
use crate::diagnose::rule::{Emit, PairState, Rule, RuleDef};
use crate::event::InnerPacket;
use crate::event::ike::TrafficSelector;
use crate::event::{Timestamp, ipproto};
use crate::track::leak::Leak;
use crate::track::Tracker;

pub const KIND: FindingKind = FindingKind {
    id: "cleartext_leak",
    title: "Traffic the tunnel should protect travels in the clear",
    default_severity: Severity::Error,
    explanation: "Packets between the networks a tunnel's traffic selectors cover crossed the capture point unencrypted while the tunnel was up, and no ESP packet carried the same packet. The gateway's policy does not catch this traffic: a route or policy-based-routing rule sends it around the tunnel, NAT rewrites it before the IPsec policy sees it, the selectors agreed are narrower than the traffic, or the XFRM/SPD policy was removed while the SA stayed. The data is exposed on the path, and the far side usually drops it.",
    remedy: "Make the IPsec policy catch this traffic: compare the flows named above with the policies (ip xfrm policy; swanctl --list-pols; ipsec status), check the routes for the remote network (route-based VPNs: it must point to the XFRM/VTI interface), exempt the traffic from NAT before the policy lookup (iptables -t nat -I POSTROUTING -m policy --dir out --pol ipsec -j ACCEPT ahead of MASQUERADE), and block clear traffic between the protected networks on the outside interface.",
};

/// Distinct flows named in a finding.
const MAX_FLOWS: usize = 4;

#[derive(Default)]
struct Seen {
    packets: u64,
    bytes: u64,
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
    frames: Vec<u64>,
    flows: Vec<(InnerPacket, u64)>,
    selectors: Option<(TrafficSelector, TrafficSelector)>,
    /// Candidates that could not be judged (the tunnel's ESP could not be opened).
    unjudged: u64,
}

#[derive(Default)]
pub struct CleartextLeak {
    pairs: PairState<Seen>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(CleartextLeak::default()),
};

impl Rule for CleartextLeak {
    fn leaked(&mut self, l: &Leak, t: &Tracker, out: &mut Emit<'_>) {
        let key = l.sa.pair;
        let s = self.pairs.entry(key);
        if l.unjudged {
            s.unjudged += 1;
            return;
        }
        s.packets += 1;
        s.bytes += u64::from(l.packet.len);
        s.first_ts.get_or_insert(l.ts);
        s.last_ts = Some(l.ts);
        s.frames.push(l.frame);
        if s.frames.len() > 2 * crate::diagnose::finding::MAX_FRAMES {
            s.frames = cap_frames(std::mem::take(&mut s.frames));
        }
        let flow = |p: &InnerPacket| (p.src, p.dst, p.proto, p.dport);
        match s.flows.iter().position(|(p, _)| flow(p) == flow(&l.packet)) {
            Some(i) => s.flows[i].1 += 1,
            None if s.flows.len() < MAX_FLOWS => s.flows.push((l.packet, 1)),
            None => {}
        }
        s.selectors.get_or_insert_with(|| l.selectors.clone());
        let (Some(first), Some(last), Some((tsi, tsr))) = (s.first_ts, s.last_ts, &s.selectors)
        else {
            return;
        };
        let tunnel = t
            .sa(&l.sa)
            .map(|sa| (sa.initiator, sa.responder))
            .unwrap_or((key.a, key.b));
        let mut summary = format!(
            "{} packet{} ({} bytes) between networks the tunnel between {} and {} protects ({tsi} <=> {tsr}) crossed the capture point in the clear while the tunnel was up, and no ESP carried them: ",
            s.packets,
            if s.packets == 1 { "" } else { "s" },
            s.bytes,
            tunnel.0,
            tunnel.1,
        );
        for (i, (p, n)) in s.flows.iter().enumerate() {
            if i > 0 {
                summary.push_str(", ");
            }
            flow_text(&mut summary, p);
            let _ = write!(summary, " ×{n}");
        }
        summary.push('.');
        if s.unjudged > 0 {
            let _ = write!(
                summary,
                " {} more such packets went by while the tunnel's ESP could not be opened (no key for its SPI), so whether ESP also carried them is unknown.",
                s.unjudged
            );
        }
        out.push(
            0,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::new(tunnel.0, tunnel.1),
                (first, last),
                summary,
            )
            .frames(s.frames.iter().copied()),
        );
    }

    fn pair_closed(&mut self, pair: &crate::track::Pair, _out: &mut Emit<'_>) {
        self.pairs.forget(&pair.key);
    }
}

const TCP: u8 = 6;

/// `10.1.0.1 > 10.2.0.1 ICMP`, `10.1.0.1 > 10.2.0.1:22 TCP`.
fn flow_text(out: &mut String, p: &InnerPacket) {
    let _ = write!(out, "{} > {}", p.src, p.dst);
    match p.proto {
        TCP | ipproto::UDP | 132 => {
            let _ = write!(
                out,
                ":{} {}",
                p.dport,
                match p.proto {
                    TCP => "TCP",
                    ipproto::UDP => "UDP",
                    _ => "SCTP",
                }
            );
        }
        ipproto::ICMP => out.push_str(" ICMP"),
        ipproto::ICMPV6 => out.push_str(" ICMPv6"),
        n => {
            let _ = write!(out, " proto {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;
    use crate::event::codes::PayloadType;
    use crate::event::ike::{Decrypted, Payload, PayloadBody, TrafficSelector};
    use crate::event::{Body, EspDecrypted, Integrity};

    fn sel(a: &str, b: &str) -> TrafficSelector {
        TrafficSelector {
            ts_type: 7,
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start_addr: Some(a.parse().unwrap()),
            end_addr: Some(b.parse().unwrap()),
        }
    }

    /// The healthy IKEv2 script, its IKE_AUTH response opened by keys (when `opened`) and
    /// agreeing 10.1.0.0/24 <=> 10.2.0.0/24.
    fn tunnel(opened: bool) -> Script {
        let mut s = Script::default();
        healthy_v2(&mut s);
        let auth = s
            .events
            .iter_mut()
            .find_map(|e| match &mut e.body {
                Body::Ike(m) if m.exchange == X::IKE_AUTH && m.is_response() => Some(m),
                _ => None,
            })
            .expect("IKE_AUTH response");
        if opened {
            let ts = |t, v| Payload {
                payload_type: t,
                ..payload(PayloadBody::TrafficSelectors(vec![v]))
            };
            auth.decrypted = Some(Box::new(Decrypted {
                integrity: Integrity::Ok,
                payloads: vec![
                    ts(PayloadType::TSI, sel("10.1.0.0", "10.1.0.255")),
                    ts(PayloadType::TSR, sel("10.2.0.0", "10.2.0.255")),
                ],
                error: None,
            }));
        }
        s
    }


    fn plain(s: &mut Script, ms: u64, src: &str, dst: &str, len: u32) {
        s.event(ms, src, dst, 8, 0, 1, Body::Plain(echo_request(src, dst, len)));
    }

    fn carried(s: &mut Script, ms: u64, src: &str, dst: &str, len: u32) {
        let e = s.esp(ms, A, B, 0xc1, 100);
        if let Body::Esp(x) = &mut e.body {
            x.decrypted = Some(Box::new(EspDecrypted {
                integrity: Integrity::Ok,
                next_header: 4,
                inner: Some(echo_request(src, dst, len)),
            }));
        }
    }

    fn leaks(s: &Script) -> Vec<crate::diagnose::Finding> {
        s.settled()
            .into_iter()
            .filter(|f| f.kind == "cleartext_leak")
            .collect()
    }

    /// A clear ping between the protected networks that no ESP carried is a leak, said once
    /// with the final count, naming the agreed selectors and the flow.
    #[test]
    fn clear_traffic_inside_the_selectors_is_a_leak() {
        let mut s = tunnel(true);
        for i in 0..3 {
            plain(&mut s, 5_000 + i * 1_000, "10.1.0.1", "10.2.0.1", 84);
        }
        let f = leaks(&s);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(f[0].summary.starts_with("3 packets (252 bytes)"), "{}", f[0].summary);
        assert!(f[0].summary.contains("(10.1.0.0/24 <=> 10.2.0.0/24)"), "{}", f[0].summary);
        assert!(f[0].summary.contains("10.1.0.1 > 10.2.0.1 ICMP ×3"), "{}", f[0].summary);
        assert_eq!(f[0].frames.len(), 3);
    }

    /// The same packet also carried in ESP (a capture on the gateway sees both sides of the
    /// encryption) is no leak; traffic outside the selectors is none; and without the opened
    /// Child SA response there are no selectors to judge by.
    #[test]
    fn twins_other_traffic_and_unopened_tunnels_raise_nothing() {
        let mut s = tunnel(true);
        plain(&mut s, 5_000, "10.1.0.1", "10.2.0.1", 84);
        carried(&mut s, 5_001, "10.1.0.1", "10.2.0.1", 84);
        carried(&mut s, 5_500, "10.2.0.1", "10.1.0.1", 84);
        plain(&mut s, 5_502, "10.2.0.1", "10.1.0.1", 84);
        plain(&mut s, 6_000, "10.1.0.1", "10.3.0.1", 84);
        assert!(leaks(&s).is_empty(), "{:#?}", leaks(&s));
        let mut s = tunnel(false);
        plain(&mut s, 5_000, "10.1.0.1", "10.2.0.1", 84);
        assert!(leaks(&s).is_empty());
    }

    /// After the IKE SA is deleted the selectors no longer say what must be protected.
    #[test]
    fn nothing_after_the_sa_is_deleted() {
        let mut s = tunnel(true);
        let e = s.ike(
            12_000,
            A,
            B,
            Msg::v2(X::INFORMATIONAL, 3, REQUEST, INITIATOR)
                .len(80)
                .with(sk(52)),
        );
        if let Body::Ike(m) = &mut e.body {
            m.decrypted = Some(Box::new(Decrypted {
                integrity: Integrity::Ok,
                payloads: vec![delete(1, &[])],
                error: None,
            }));
        }
        plain(&mut s, 13_000, "10.1.0.1", "10.2.0.1", 84);
        assert!(leaks(&s).is_empty(), "{:#?}", leaks(&s));
    }
}
