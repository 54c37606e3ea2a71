//! `tcp_encap_blocked`: a peer tried to carry IKE in TCP (RFC 8229) and the connection never
//! came up: its SYNs to the encapsulation port went unanswered, or were answered with a reset.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef, Wake};
use crate::event::{Body, Timestamp};
use crate::track::{Pair, Tracker};

pub const KIND: FindingKind = FindingKind {
    id: "tcp_encap_blocked",
    title: "TCP encapsulation blocked or not enabled on the peer",
    default_severity: Severity::Error,
    explanation: "A peer tried to carry IKE in TCP (RFC 8229) and the connection was never set up. SYNs to the encapsulation port that go unanswered are dropped on the path; a reset in answer means nothing accepts TCP on that port at the other side (TCP encapsulation not enabled there) or a firewall rejects it. When UDP 500/4500 is blocked as well, no tunnel can come up on this path.",
    remedy: "Allow TCP to the encapsulation port (4500 unless configured otherwise) towards the responder and enable TCP encapsulation there (Libreswan listen-tcp=yes, with enable-tcp=fallback or yes and tcp-remoteport on the initiator); or open UDP 500 and 4500 so TCP is not needed.",
};

/// How long a SYN waits for its SYN-ACK before it counts as unanswered: by then the opener
/// has resent it at least once (Linux resends after 1 s and 3 s).
const SYN_WAIT_SECS: f64 = 3.0;

pub struct TcpEncapBlocked;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(TcpEncapBlocked),
};

/// A reset in answer to `opener`'s SYN, from the other side.
fn refused(p: &Pair, opener: usize, out: &mut Emit<'_>) {
    let responder = 1 - opener;
    let t = &p.tcp;
    let Some((ts, frame)) = t.first_refused[responder] else {
        return;
    };
    let summary = format!(
        "{} answered {} SYN{} from {} to TCP port {} with a reset: nothing accepts TCP-encapsulated IKE there (not enabled, or a firewall rejects it)",
        p.addr(responder),
        t.syns[opener],
        if t.syns[opener] == 1 { "" } else { "s" },
        p.addr(opener),
        t.port
    );
    let first = t.first_syn[opener].map_or(ts, |s| s.0);
    let frames = t.first_syn[opener].map(|s| s.1).into_iter().chain([frame]);
    out.push(
        (opener * 2) as u64,
        Finding::new(
            &KIND,
            Confidence::Observed,
            Peers::new(p.addr(opener), p.addr(responder)),
            (first, ts),
            summary,
        )
        .frames(frames),
    );
}

/// SYNs from `opener` that got neither a SYN-ACK nor a reset.
fn unanswered(p: &Pair, opener: usize, now: Timestamp, out: &mut Emit<'_>) {
    let t = &p.tcp;
    let responder = 1 - opener;
    let (Some(first), Some(last)) = (t.first_syn[opener], t.last_syn[opener]) else {
        return;
    };
    if t.syn_acks[responder] > 0 || t.refused[responder] > 0 {
        return;
    }
    // One SYN at the very end of the capture may still have been answered.
    if t.syns[opener] < 2 && now.since(first.0) < SYN_WAIT_SECS {
        return;
    }
    let summary = format!(
        "{} sent {} SYN{} to TCP port {} of {} over {:.1} s and got no answer: TCP encapsulation is blocked on the path (or the peer is down)",
        p.addr(opener),
        t.syns[opener],
        if t.syns[opener] == 1 { "" } else { "s" },
        t.port,
        p.addr(responder),
        last.0.since(first.0)
    );
    out.push(
        (opener * 2 + 1) as u64,
        Finding::new(
            &KIND,
            Confidence::Inferred,
            Peers::new(p.addr(opener), p.addr(responder)),
            (first.0, last.0),
            summary,
        )
        .frames([first.1, last.1]),
    );
}

impl Rule for TcpEncapBlocked {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Tcp(t) = &cx.ev.body else { return };
        let Some(p) = cx.pair() else { return };
        let side = p.key.side(cx.ev.flow.src);
        if t.syn() && !t.ack_flag() && p.tcp.syns[side] == 1 {
            out.wake_at(cx.ev.pkt.ts.plus(SYN_WAIT_SECS), Wake::Pair(p.key));
        }
        if t.rst() && p.tcp.first_refused[side].is_some_and(|(_, f)| f == cx.ev.pkt.frame) {
            refused(p, 1 - side, out);
        }
    }

    fn wake(&mut self, what: Wake, now: Timestamp, t: &Tracker, out: &mut Emit<'_>) {
        let Wake::Pair(k) = what else { return };
        if let Some(p) = t.pair(&k) {
            for s in 0..2 {
                unanswered(p, s, now, out);
            }
        }
    }

    fn pair_closed(&mut self, p: &Pair, out: &mut Emit<'_>) {
        for s in 0..2 {
            unanswered(p, s, p.last_ts, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::tcp::flags::{ACK, RST, SYN};
    use crate::diagnose::testutil::*;

    #[test]
    fn syns_unanswered_are_blocked() {
        let mut s = Script::default();
        for ms in [0, 1000, 3000, 7000] {
            s.tcp(ms, A, B, 40000, 4500, SYN, |_| {});
        }
        let f = s.settled();
        let f: Vec<_> = f.iter().filter(|f| f.kind == "tcp_encap_blocked").collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].summary.contains("sent 4 SYNs to TCP port 4500"), "{}", f[0].summary);
    }

    #[test]
    fn a_reset_in_answer_is_refusal() {
        let mut s = Script::default();
        s.tcp(0, A, B, 40000, 4500, SYN, |_| {});
        s.tcp(1, B, A, 4500, 40000, RST | ACK, |_| {});
        let f = s.settled();
        let f: Vec<_> = f.iter().filter(|f| f.kind == "tcp_encap_blocked").collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].summary.contains("with a reset"), "{}", f[0].summary);
    }

    #[test]
    fn an_answered_syn_is_fine() {
        let mut s = Script::default();
        s.tcp(0, A, B, 40000, 4500, SYN, |_| {});
        s.tcp(1, B, A, 4500, 40000, SYN | ACK, |_| {});
        s.tcp(9000, A, B, 40000, 4500, ACK, |t| t.prefix = true);
        assert!(!kinds(&s.all()).contains(&"tcp_encap_blocked"));
    }
}
