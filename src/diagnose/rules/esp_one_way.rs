//! `esp_one_way`: the data plane (ESP or AH) flows in one direction only, from the start or
//! from some point on.
//!
//! Nearly all tunnel traffic is two-way (TCP, ping, DNS), and every ESP or AH SA has a partner
//! SA the other way (RFC 4301 §4.1). Data-plane packets from one peer, repeatedly over seconds,
//! and none from the other means the other peer does not send (no return route into the tunnel,
//! policy mismatch, NAT on the return path, a restart that lost the SAs) or its packets are
//! dropped before the capture point. Two shapes are reported, at most one per pair and
//! direction:
//! - never two-way: one side sent and the other never did;
//! - stopped: both sides sent, then one went silent while the other kept sending. The report
//!   says when the silent side's last packet was and how much went unanswered after it.
//!
//! When IKE was seen both ways the capture point certainly sees both directions; without IKE in
//! the capture the finding says so (a capture point on an asymmetric path sees one direction
//! only). Traffic to a multicast or the limited broadcast address is never a candidate: group
//! SAs (GDOI, RFC 6407; multicast IPsec, RFC 5374) have one sender and no return direction
//! (`group_traffic` describes it). A subnet's directed broadcast cannot be told from a unicast
//! address without the prefix length, which the capture does not carry, so it is not excluded.

use std::collections::HashMap;

use super::group_traffic::is_group;
use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;
use crate::track::{Pair, PairKey, Unanswered};

pub const KIND: FindingKind = FindingKind {
    id: "esp_one_way",
    title: "ESP flows in one direction only",
    default_severity: Severity::Warning,
    explanation: "The IKE SA is up and ESP (or AH) flows from one peer, but nothing comes back, from the start or from some point on. The silent peer does not route the return traffic into the tunnel, drops what it receives (policy or selector mismatch, anti-replay, wrong keys, SAs lost in a restart), or its ESP is filtered on the way.",
    remedy: "On the silent peer: check that the decrypted traffic reaches its destination and the replies are routed back into the tunnel (routes, NAT exemption for VPN traffic, firewall rules on the inner traffic), that ESP (protocol 50, or 51 for AH) or UDP 4500 is allowed outbound, and whether it restarted or deleted the SA.",
};

/// Packets one way, with none back, over at least [`MIN_SECS`], before a tunnel counts as
/// one-way: a request/response exchange would have drawn a reply by then.
const MIN_PACKETS: u64 = 5;
const MIN_SECS: f64 = 2.0;

/// A direction counts as stopped when the other side sent at least [`STOP_MIN_PACKETS`]
/// data-plane packets spread over at least [`STOP_MIN_SECS`] since its last packet. Why 5 s:
/// inner TCP is ack-clocked (a receiver acks within 500 ms, RFC 1122 §4.2.3.2) and a sender
/// with no acks retransmits after 1 s, then 2 s (RFC 6298), so 5 s of unanswered sending is
/// three retransmissions of one connection, or five pings; the lab's dead-peer and restart
/// captures show 7-8 unanswered packets over 5.5-5.7 s before the initiator gave up. Why 5
/// packets and a span rather than a silence alone: an idle tunnel sends nothing either way
/// (keepalives and DPD are UDP and IKE, not ESP), and after an idle spell one side may send a
/// burst (a TCP initial window, 10 segments) before the first reply; only sending that keeps
/// going unanswered for seconds is a stop. A one-way inner flow (syslog, flow export) on a
/// tunnel that also carried two-way traffic looks the same and would be reported.
const STOP_MIN_PACKETS: u64 = 5;
const STOP_MIN_SECS: f64 = 5.0;

/// Most stops remembered as ongoing; each pair has at most two and leaves with its pair.
const MAX_STOPS: usize = 8192;

#[derive(Default)]
pub struct EspOneWay {
    /// Stops reported and not over yet: (pair, sending side) → what went unanswered since the
    /// other side's last packet. Kept here because the tracker starts a new run when the IKE SA
    /// changes, while the stop goes on until the silent side sends again.
    stops: HashMap<(PairKey, usize), Unanswered>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(EspOneWay::default()),
};

/// "ESP", "AH" or "ESP and AH": what a side sent.
fn protocols(p: &Pair, side: usize) -> &'static str {
    match (p.esp_packets[side] > 0, p.ah_packets[side] > 0) {
        (_, false) => "ESP",
        (false, true) => "AH",
        (true, true) => "ESP and AH",
    }
}

fn context(p: &Pair) -> &'static str {
    if p.established_ever && p.ike_seen_both_ways() {
        "on an established tunnel (IKE flows both ways here, so the capture sees both directions)"
    } else if p.ike_seen_both_ways() {
        "(IKE flows both ways here, so the capture sees both directions)"
    } else {
        "(no two-way IKE in this capture: if the capture point sees only one direction of the path, this is expected)"
    }
}

impl Rule for EspOneWay {
    /// Judged on each data-plane packet, so a stop is reported as soon as it is one (the
    /// evidence is the sender's own packets, so no clock is needed) and cleared by the silent
    /// side's next packet.
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let len = match &cx.ev.body {
            Body::Esp(e) => e.len,
            Body::Ah(_) => cx.ev.ip.total_len,
            _ => return,
        };
        let Some(p) = cx.pair() else { return };
        let side = p.key.side(cx.ev.flow.src);
        let at = (cx.ev.pkt.ts, cx.ev.pkt.frame);
        if !self.stops.is_empty() {
            if let Some(st) = self.stops.get_mut(&(p.key, side)) {
                st.packets += 1;
                st.bytes += u64::from(len);
                st.last_ts = Some(at.0);
                st.last_frame = at.1;
            }
            // This packet answers the other side: its reported stop ends here.
            if let Some(st) = self.stops.remove(&(p.key, 1 - side)) {
                stopped(p, 1 - side, &st, Tail::Resumed, out);
                out.clear(KIND.id, p.key, 1 - side as u64, at, |f| {
                    format!(
                        "{} from {} to {} flows again, {:.1} s after it stopped; {} {} packets ({} bytes) from {} went unanswered meanwhile",
                        protocols(p, side),
                        p.addr(side),
                        p.addr(1 - side),
                        at.0.since(f.first_ts),
                        st.packets,
                        protocols(p, 1 - side),
                        st.bytes,
                        p.addr(1 - side),
                    )
                });
            }
        }
        // The other side's first packet ever: a "never two-way" of the other side ends.
        if sent(p, side) == 1 && sent(p, 1 - side) >= MIN_PACKETS {
            out.clear(KIND.id, p.key, 1 - side as u64, at, |f| {
                format!(
                    "{} sent its first {} to {}, {:.1} s after {}'s first",
                    p.addr(side),
                    protocols(p, side),
                    p.addr(1 - side),
                    at.0.since(f.first_ts),
                    p.addr(1 - side),
                )
            });
        }
        if is_group(p.key.a) || is_group(p.key.b) {
            return;
        }
        let run = p.unanswered[side];
        if run.packets >= STOP_MIN_PACKETS
            && run.span() >= STOP_MIN_SECS
            && !self.stops.contains_key(&(p.key, side))
        {
            stopped(p, side, &run, Tail::Ongoing, out);
            if self.stops.len() < MAX_STOPS {
                self.stops.insert((p.key, side), run);
            }
        } else if sent(p, 1 - side) == 0
            && sent(p, side) >= MIN_PACKETS
            && !out.active(KIND.id, p.key, side as u64)
        {
            never_two_way(p, out);
        }
    }

    /// The final counts: a one-way state still going at the end of the capture (or when the
    /// pair leaves the tables) is reported as it stands then.
    fn pair_closed(&mut self, p: &Pair, out: &mut Emit<'_>) {
        let stops = [self.stops.remove(&(p.key, 0)), self.stops.remove(&(p.key, 1))];
        if is_group(p.key.a) || is_group(p.key.b) {
            return;
        }
        never_two_way(p, out);
        for (live, st) in stops.into_iter().enumerate() {
            let run = p.unanswered[live];
            if let Some(st) = st {
                stopped(p, live, &st, Tail::End, out);
            } else if run.packets >= STOP_MIN_PACKETS && run.span() >= STOP_MIN_SECS {
                stopped(p, live, &run, Tail::End, out);
            }
        }
    }
}

fn sent(p: &Pair, s: usize) -> u64 {
    p.esp_packets[s] + p.ah_packets[s]
}

fn never_two_way(p: &Pair, out: &mut Emit<'_>) {
    let (from, to, n) = match (sent(p, 0), sent(p, 1)) {
        (n, 0) if n >= MIN_PACKETS => (p.key.a, p.key.b, n),
        (0, n) if n >= MIN_PACKETS => (p.key.b, p.key.a, n),
        _ => return,
    };
    let side = p.key.side(from);
    let span = p
        .children
        .iter()
        .filter(|c| c.src == from)
        .map(|c| c.last_ts.since(c.first_ts))
        .fold(0.0, f64::max);
    if span < MIN_SECS {
        return;
    }
    let proto = protocols(p, side);
    let summary = format!(
        "{n} {proto} packets ({} bytes) went from {from} to {to} over {span:.0} s {}, and no {proto} came back from {to}",
        p.esp_bytes[side] + p.ah_bytes[side],
        context(p)
    );
    let first = match p.esp_first_frame[side] {
        0 => p.first_frame,
        f => f,
    };
    // Without IKE both ways nothing shows the capture point sees both directions: a capture
    // on one leg of an asymmetric path looks exactly like this. Said, not alarmed.
    let severity = if p.ike_seen_both_ways() {
        Severity::Warning
    } else {
        Severity::Info
    };
    out.push(
        side as u64,
        Finding::new(
            &KIND,
            Confidence::Inferred,
            Peers::new(from, to),
            (p.first_ts, p.last_ts),
            summary,
        )
        .severity(severity)
        .frames([first, p.last_frame]),
    );
}

/// How a stop stands when it is told.
#[derive(Clone, Copy, PartialEq)]
enum Tail {
    /// Still going: told the moment it became one.
    Ongoing,
    /// Still going when the capture ended.
    End,
    /// The silent side sent again.
    Resumed,
}

/// `live` kept sending after the other side's last data-plane packet, for `run`.
fn stopped(p: &Pair, live: usize, run: &Unanswered, tail: Tail, out: &mut Emit<'_>) {
    let (Some(after), Some(last)) = (run.after_ts, run.last_ts) else {
        return;
    };
    let (from, silent) = (p.addr(live), p.addr(1 - live));
    let proto = protocols(p, live);
    let tail = match tail {
        Tail::Ongoing => format!("nothing has come back from {silent} since"),
        Tail::End => format!("nothing came back from {silent} up to the end of the capture"),
        Tail::Resumed => format!("nothing came back from {silent} until it sent again"),
    };
    let summary = format!(
        "{} from {silent} to {from} stopped at frame {} ({:.1} s into the capture of this pair) while {from} kept sending: {} {proto} packets ({} bytes) over {:.1} s after it, frames {}-{}, {}; {tail}",
        protocols(p, 1 - live),
        run.after_frame,
        after.since(p.first_ts),
        run.packets,
        run.bytes,
        run.span(),
        run.first_frame,
        run.last_frame,
        context(p),
    );
    out.push(
        live as u64,
        Finding::new(
            &KIND,
            Confidence::Inferred,
            Peers::new(from, silent),
            (after, last),
            summary,
        )
        .frames([run.after_frame, run.first_frame, run.last_frame]),
    );
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    fn tunnel_up(s: &mut Script) {
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(
            20,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(4, 14)])),
        );
        s.ike(40, A, B, Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR).len(400).with(sk(370)));
        s.ike(60, B, A, Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER).len(300).with(sk(270)));
    }

    /// Each one-way cause as it stood at the end.
    fn one_way(s: &Script) -> Vec<Finding> {
        s.settled().into_iter().filter(|f| f.kind == "esp_one_way").collect()
    }

    /// Every esp_one_way record, in the order written.
    fn records(s: &Script) -> Vec<Finding> {
        s.all().into_iter().filter(|f| f.kind == "esp_one_way").collect()
    }

    use crate::diagnose::Finding;

    #[test]
    fn one_way_esp_on_established_tunnel() {
        let mut s = Script::default();
        tunnel_up(&mut s);
        for i in 0..20u32 {
            s.esp(100 + u64::from(i) * 200, A, B, 0xc1, i + 1);
        }
        assert!(kinds(&s.all()).contains(&"esp_one_way"));
        let mut h = Script::default();
        healthy_v2(&mut h);
        assert!(!kinds(&h.all()).contains(&"esp_one_way"));
        // A short one-way burst is not enough.
        let mut b = Script::default();
        for i in 0..8u32 {
            b.esp(u64::from(i) * 100, A, B, 0xc1, i + 1);
        }
        assert!(!kinds(&b.all()).contains(&"esp_one_way"));
    }

    /// Both ways for a while, then B falls silent while A keeps sending once a second: reported
    /// once, for A→B, from B's last packet, with what A sent after it.
    #[test]
    fn esp_that_stops_one_way_mid_tunnel() {
        let mut s = Script::default();
        tunnel_up(&mut s);
        for i in 0..10u32 {
            s.esp(100 + u64::from(i) * 100, A, B, 0xc1, i + 1);
            s.esp(150 + u64::from(i) * 100, B, A, 0xc2, i + 1);
        }
        let b_last = s.events.last().unwrap().pkt.frame;
        for i in 0..8u32 {
            s.esp(2_000 + u64::from(i) * 1000, A, B, 0xc1, 20 + i);
        }
        let f = one_way(&s);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].peers.a, ip(A));
        assert_eq!(f[0].frames[0], b_last);
        assert!(f[0].summary.contains("8 ESP packets (960 bytes) over 7.0 s"), "{}", f[0].summary);
        assert!(f[0].summary.contains("up to the end of the capture"), "{}", f[0].summary);
        assert!(f[0].cleared.is_none());
        // Said while running, the moment the stop was one (the 6th unanswered packet, 5 s
        // after the first), then updated with the final count at the end.
        let (live, _, _) = s.run();
        let first: Vec<_> = live.iter().filter(|f| f.kind == "esp_one_way").collect();
        assert_eq!(first.len(), 1, "{first:?}");
        assert!(first[0].summary.contains("6 ESP packets") && first[0].summary.contains("nothing has come back from 198.51.100.2 since"), "{}", first[0].summary);
        assert_eq!(first[0].id, f[0].id);
    }

    /// B stops, A goes on unanswered for 6 s, then B comes back (a new SA after a restart):
    /// the stop is still reported, as one that ended.
    #[test]
    fn stop_that_ends_is_reported_once() {
        let mut s = Script::default();
        tunnel_up(&mut s);
        s.esp(100, A, B, 0xc1, 1);
        s.esp(150, B, A, 0xc2, 1);
        for i in 0..7u32 {
            s.esp(1_000 + u64::from(i) * 1000, A, B, 0xc1, 2 + i);
        }
        for i in 0..5u32 {
            s.esp(9_000 + u64::from(i) * 100, B, A, 0xc4, 1 + i);
            s.esp(9_050 + u64::from(i) * 100, A, B, 0xc3, 1 + i);
        }
        let f = one_way(&s);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].summary.contains("until it sent again"), "{}", f[0].summary);
        // Raised while A went on unanswered, cleared by B's first packet back (frame of the
        // ESP at 9 s), with how long it lasted and what went unanswered.
        let r = records(&s);
        let clearing: Vec<_> = r.iter().filter(|f| f.clearing).collect();
        assert_eq!(clearing.len(), 1, "{r:?}");
        let c = clearing[0].cleared.as_ref().unwrap();
        assert!(c.reason.starts_with("ESP from 198.51.100.2 to 192.0.2.1 flows again"), "{}", c.reason);
        assert!(c.reason.contains("7 ESP packets (840 bytes) from 192.0.2.1 went unanswered"), "{}", c.reason);
        assert_eq!(clearing[0].id, f[0].id);
        assert!(f[0].cleared.is_some());
        assert!(r[0].summary.contains("nothing has come back"), "{}", r[0].summary);
    }

    /// A tunnel that stops, resumes and stops again: two episodes under one id, the second
    /// raised again after the first was cleared.
    #[test]
    fn a_second_stop_after_a_clearing_is_raised_again() {
        let mut s = Script::default();
        tunnel_up(&mut s);
        s.esp(100, A, B, 0xc1, 1);
        s.esp(150, B, A, 0xc2, 1);
        let mut seq = 2;
        for start in [1_000u64, 20_000] {
            for i in 0..7u64 {
                s.esp(start + i * 1000, A, B, 0xc1, seq);
                seq += 1;
            }
            s.esp(start + 8_000, B, A, 0xc2, seq);
        }
        let r = records(&s);
        let raised: Vec<_> = r.iter().filter(|f| !f.clearing && !f.update).collect();
        let cleared: Vec<_> = r.iter().filter(|f| f.clearing).collect();
        assert_eq!((raised.len(), cleared.len()), (2, 2), "{r:?}");
        assert!(raised.iter().chain(&cleared).all(|f| f.id == raised[0].id));
        assert!(raised[1].first_ts >= cleared[0].cleared.as_ref().unwrap().ts);
    }

    /// Quiet-but-healthy shapes: an idle spell followed by a burst answered at its end, and a
    /// side that sends a few packets over a long idle time (fewer than the window's count).
    #[test]
    fn idle_tunnel_and_burst_after_idle_are_not_a_stop() {
        let mut s = Script::default();
        tunnel_up(&mut s);
        s.esp(100, A, B, 0xc1, 1);
        s.esp(150, B, A, 0xc2, 1);
        // 60 s idle, then a 12-packet burst within 300 ms, then the reply.
        for i in 0..12u32 {
            s.esp(60_000 + u64::from(i) * 25, A, B, 0xc1, 2 + i);
        }
        s.esp(60_400, B, A, 0xc2, 2);
        // Three lone packets over a minute, unanswered.
        for i in 0..3u32 {
            s.esp(70_000 + u64::from(i) * 20_000, A, B, 0xc1, 20 + i);
        }
        assert!(one_way(&s).is_empty(), "{:?}", one_way(&s));
    }

    /// AH is data plane too: one-way AH on a tunnel is reported, AH both ways is not.
    #[test]
    fn one_way_ah() {
        let mut s = Script::default();
        tunnel_up(&mut s);
        for i in 0..10u32 {
            s.ah(100 + u64::from(i) * 500, A, B, 0xa1, i + 1);
        }
        let f = one_way(&s);
        assert_eq!(f.len(), 1);
        assert!(f[0].summary.starts_with("10 AH packets (1400 bytes)"), "{}", f[0].summary);
        let mut h = Script::default();
        tunnel_up(&mut h);
        for i in 0..10u32 {
            h.ah(100 + u64::from(i) * 500, A, B, 0xa1, i + 1);
            h.ah(150 + u64::from(i) * 500, B, A, 0xa2, i + 1);
        }
        assert!(one_way(&h).is_empty());
    }

    /// Group traffic has no return direction: AH or ESP to a multicast group or the limited
    /// broadcast address is never one-way (the shape of captures/public/tcpdump/OSPFv3_with_AH).
    #[test]
    fn multicast_and_broadcast_are_not_one_way() {
        for dst in ["ff02::5", "239.1.1.1", "255.255.255.255"] {
            let src = if dst.contains(':') { "fe80::1" } else { A };
            let mut s = Script::default();
            for i in 0..20u32 {
                s.ah(u64::from(i) * 1000, src, dst, 0x100, i + 1);
                s.esp(u64::from(i) * 1000 + 10, src, dst, 0x200, i + 1);
            }
            assert!(one_way(&s).is_empty(), "{dst}");
        }
    }
}
