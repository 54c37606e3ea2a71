//! `ike_tcp_fallback`: IKE went unanswered over UDP, then the peers carried it in TCP
//! (RFC 8229): UDP 500/4500 is blocked somewhere on the path.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::{Body, ipproto};

pub const KIND: FindingKind = FindingKind {
    id: "ike_tcp_fallback",
    title: "IKE fell back from UDP to TCP",
    default_severity: Severity::Warning,
    explanation: "UDP 500/4500 is blocked on the path; the peers fell back to TCP. One peer sent IKE over UDP and never got an answer, then carried IKE in TCP (RFC 8229). The tunnel can work this way, but TCP encapsulation is slower (the tunnel's own TCP runs inside TCP, and one loss stalls every flow) and middleboxes may cut long TCP connections.",
    remedy: "Open UDP 500 and 4500 between the peers (and ESP, IP protocol 50, when no NAT is in between) on the firewalls of the path; keep TCP encapsulation for networks that block UDP.",
};

pub struct IkeTcpFallback;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(IkeTcpFallback),
};

impl Rule for IkeTcpFallback {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let ev = cx.ev;
        if ev.flow.proto != ipproto::TCP || !matches!(ev.body, Body::Ike(_)) {
            return;
        }
        let Some(p) = cx.pair() else { return };
        let Some(asker) = (0..2).find(|&s| p.ike_udp[s] > 0 && p.ike_udp[1 - s] == 0) else {
            return;
        };
        let n = p.ike_udp[asker];
        let summary = format!(
            "{} sent {n} IKE message{} over UDP to {} without an answer, then IKE went over TCP port {}: UDP 500/4500 is blocked on the path; the peers fell back to TCP",
            p.addr(asker),
            if n == 1 { "" } else { "s" },
            p.addr(1 - asker),
            if p.tcp.port != 0 {
                p.tcp.port
            } else {
                ev.flow.dport
            },
        );
        out.push(
            0,
            Finding::new(
                &KIND,
                Confidence::Inferred,
                Peers::new(p.addr(asker), p.addr(1 - asker)),
                (p.first_ts, ev.pkt.ts),
                summary,
            )
            .frames([p.first_frame, ev.pkt.frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    fn init() -> Msg {
        Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(300)
    }

    #[test]
    fn unanswered_udp_then_tcp_is_a_fallback() {
        let mut s = Script::default();
        for ms in [0, 500, 1500] {
            s.ike(ms, A, B, init());
        }
        s.ike_tcp(3000, A, B, (40000, 4500), init());
        s.ike_tcp(
            3020,
            B,
            A,
            (4500, 40000),
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).len(300),
        );
        let f = s.settled();
        let f: Vec<_> = f.iter().filter(|f| f.kind == "ike_tcp_fallback").collect();
        assert_eq!(f.len(), 1);
        assert!(f[0].summary.contains("sent 3 IKE messages over UDP"), "{}", f[0].summary);
        assert!(f[0].summary.contains("TCP port 4500"));
    }

    #[test]
    fn tcp_from_the_start_or_answered_udp_is_no_fallback() {
        let mut s = Script::default();
        s.ike_tcp(0, A, B, (40000, 4500), init());
        assert!(!kinds(&s.all()).contains(&"ike_tcp_fallback"));
        let mut s = Script::default();
        healthy_v2(&mut s);
        s.ike_tcp(20_000, A, B, (40000, 4500), init());
        assert!(!kinds(&s.all()).contains(&"ike_tcp_fallback"));
    }
}
