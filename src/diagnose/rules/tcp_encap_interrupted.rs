//! `tcp_encap_interrupted`: the TCP connection that carries a tunnel's IKE and ESP (RFC 8229)
//! was reset, or stalled (a zero receive window, or data resent without the receiver
//! acknowledging anything new), while the tunnel was up.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;

pub const KIND: FindingKind = FindingKind {
    id: "tcp_encap_interrupted",
    title: "TCP connection carrying the tunnel reset or stalled",
    default_severity: Severity::Error,
    explanation: "With TCP encapsulation (RFC 8229) all of a tunnel's IKE and ESP share one TCP connection. A reset ends it: traffic stops until the initiator opens a new connection and the peers re-authenticate or resume. A stall (the receiver's window at zero, or the same data resent with no acknowledgement) holds every flow in the tunnel at once.",
    remedy: "Look for what resets or stalls long TCP connections on the path: firewall or NAT idle timeouts (send keepalives more often than the timeout), TCP inspection or proxies on port 4500/443, and the receiving peer's load. Where UDP 500/4500 can be opened, UDP avoids the problem.",
};

/// Resends of the same data without the receiver acknowledging anything new, past which the
/// connection is taken as stalled (TCP's own retransmission backs off: three resends span
/// seconds).
const STALL_RESENDS: u16 = 3;

pub struct TcpEncapInterrupted;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(TcpEncapInterrupted),
};

impl Rule for TcpEncapInterrupted {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let ev = cx.ev;
        let Body::Tcp(t) = &ev.body else { return };
        let Some(p) = cx.pair() else { return };
        // Under a tunnel that was up (authenticated at least), carried in TCP.
        if !(p.established_ever || p.current_sa.is_some()) || p.tcp.messages() == 0 {
            return;
        }
        let side = p.key.side(ev.flow.src);
        let (me, other) = (p.addr(side), p.addr(1 - side));
        let reset = t.rst() && p.tcp.last_reset[side].is_some_and(|(_, f)| f == ev.pkt.frame);
        let (scope, severity, summary) = if reset {
            (
                0,
                Severity::Error,
                format!(
                    "{me} reset the TCP connection carrying the tunnel with {other}: its IKE and ESP stop until a new connection is opened"
                ),
            )
        } else if t.zero_window == Some(true) {
            (
                1,
                Severity::Warning,
                format!(
                    "{me} advertised a zero receive window on the TCP connection carrying the tunnel with {other}: everything in the tunnel waits"
                ),
            )
        } else if t.resent && t.resends_unacked >= STALL_RESENDS {
            (
                1,
                Severity::Warning,
                format!(
                    "{me} resent the same data {} times on the TCP connection carrying the tunnel and {other} acknowledged nothing new: the connection is stalled",
                    t.resends_unacked
                ),
            )
        } else {
            return;
        };
        out.push(
            scope,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::new(me, other),
                (ev.pkt.ts, ev.pkt.ts),
                summary,
            )
            .severity(severity)
            .frames([ev.pkt.frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::tcp::flags::{ACK, RST, SYN};
    use crate::diagnose::finding::{Finding, Severity};
    use crate::diagnose::testutil::*;

    /// A tunnel set up in TCP: handshake, then the IKEv2 exchanges carried in it.
    fn tunnel(s: &mut Script) {
        s.tcp(0, A, B, 40000, 4500, SYN, |_| {});
        s.tcp(1, B, A, 4500, 40000, SYN | ACK, |_| {});
        let msgs = [
            (A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(300)),
            (B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).len(300)),
            (A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(400).with(sk(370))),
            (B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).len(300).with(sk(270))),
        ];
        for (i, (src, dst, m)) in msgs.into_iter().enumerate() {
            let ports = if src == A { (40000, 4500) } else { (4500, 40000) };
            s.ike_tcp(10 + i as u64 * 10, src, dst, ports, m);
        }
    }

    fn found(s: &Script) -> Vec<Finding> {
        s.settled()
            .into_iter()
            .filter(|f| f.kind == "tcp_encap_interrupted")
            .collect()
    }

    #[test]
    fn a_reset_under_an_established_tunnel() {
        let mut s = Script::default();
        tunnel(&mut s);
        s.tcp(5000, B, A, 4500, 40000, RST | ACK, |_| {});
        let f = found(&s);
        assert_eq!(f.len(), 1);
        assert!(f[0].summary.contains("reset the TCP connection"), "{}", f[0].summary);
    }

    #[test]
    fn a_stall_under_an_established_tunnel() {
        let mut s = Script::default();
        tunnel(&mut s);
        for n in 1..=3 {
            s.tcp(5000 + u64::from(n) * 1000, A, B, 40000, 4500, ACK, |t| {
                t.resent = true;
                t.resends_unacked = n;
            });
        }
        let f = found(&s);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        let mut s = Script::default();
        tunnel(&mut s);
        s.tcp(6000, B, A, 4500, 40000, ACK, |t| t.zero_window = Some(true));
        assert!(found(&s)[0].summary.contains("zero receive window"));
    }

    #[test]
    fn a_reset_before_the_tunnel_is_not_this() {
        let mut s = Script::default();
        s.tcp(0, A, B, 40000, 4500, SYN, |_| {});
        s.tcp(1, B, A, 4500, 40000, SYN | ACK, |_| {});
        s.tcp(5, B, A, 4500, 40000, RST | ACK, |_| {});
        assert!(found(&s).is_empty());
    }
}
