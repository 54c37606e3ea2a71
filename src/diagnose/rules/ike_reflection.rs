//! `ike_reflection`: many IKE responders answer one address that never asked.
//!
//! An IKE responder answers an IKE_SA_INIT, Main Mode or Aggressive Mode request with a larger
//! message, and IKEv1 responders resend it several times while the initiator stays silent, so
//! a request sent with a forged source address makes every responder it reaches send its
//! answers to the forged address: a reflection and amplification attack on that address (and
//! the same shape as a scan with a spoofed source). At the victim the capture holds only the
//! answers: responses whose request never crossed the capture point, from many responders,
//! often all to one initiator SPI or cookie (the attacker's tool uses a fixed one), and nothing
//! from the victim to any of them.
//!
//! A capture that starts in the middle of a negotiation also holds a response without its
//! request, but one per negotiation, and the initiator goes on with the exchange (IKE_AUTH,
//! MM3). That is not reported; neither are the reflectors' retransmissions as unanswered
//! requests (they are responses), nor their proposals as the victim's weak crypto.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::{Body, Timestamp};
use crate::track::Tracker;
use crate::track::lru::Lru;

pub const KIND: FindingKind = FindingKind {
    id: "ike_reflection",
    title: "IKE responses nobody asked for: reflection attack",
    default_severity: Severity::Warning,
    explanation: "Many IKE responders send IKE_SA_INIT / Main Mode / Aggressive Mode answers to one address that sent them no request, and that address never goes on with any of them: someone sends IKE requests with this address forged as the source, so the responders (and their retransmissions) flood it. IKE responses are larger than the requests and IKEv1 responders resend them: an amplification attack, or a scan with a spoofed source.",
    remedy: "Nothing is wrong with this host's VPN. If the traffic is a burden, rate-limit or drop unsolicited inbound UDP 500/4500 from addresses this host has no tunnel with (stateful firewall rule), and report the responders' networks to their operators; responders under your control should enable cookies/anti-DoS thresholds (strongSwan dos_protection, Cisco 'crypto ikev2 cookie-challenge') and not answer unknown peers with retransmissions.",
};

/// Distinct responders, each answering unasked while the victim stays silent, before it is a
/// reflection: one or two are a capture that started mid-negotiation or a peer that lost
/// state; the attack needs many.
const MIN_REFLECTORS: usize = 5;
/// Responders remembered per victim (the count goes on past it).
const MAX_REFLECTORS: usize = 1024;
/// Victims remembered; the one answered least recently goes first.
const MAX_VICTIMS: usize = 1024;

#[derive(Default)]
struct Victim {
    /// Responder → (packets, its first frame, the victim spoke to it).
    reflectors: HashMap<IpAddr, (u64, u64, bool)>,
    /// Reflectors the victim never spoke to: counted as they change, since the check runs on
    /// every answer and a flood brings a thousand reflectors.
    silent: usize,
    /// Answers from responders past [`MAX_REFLECTORS`].
    reflectors_over_cap: u64,
    /// Initiator SPIs/cookies the answers carried → packets.
    spis: HashMap<u64, u64>,
    packets: u64,
    bytes: u64,
    first_ts: Timestamp,
    last_ts: Timestamp,
    /// Reported with this many silent reflectors (0: not yet).
    reported_at: usize,
    /// The responder the finding was first reported with: its peers, and so its id, stay.
    named: Option<IpAddr>,
}

impl Victim {
    fn silent_reflectors(&self) -> usize {
        self.silent
    }

    /// `r` turned out to be a real peer of the victim.
    fn spoke_to(&mut self, r: &IpAddr) -> bool {
        match self.reflectors.get_mut(r) {
            Some(r) if !r.2 => {
                r.2 = true;
                self.silent -= 1;
                true
            }
            Some(_) => true,
            None => false,
        }
    }
}

pub struct IkeReflection {
    victims: Lru<IpAddr, Victim>,
}

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || {
        Box::new(IkeReflection {
            victims: Lru::new(MAX_VICTIMS),
        })
    },
};

impl Rule for IkeReflection {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Ike(m) = &cx.ev.body else { return };
        let Some(sa) = cx.sa() else { return };
        let (src, dst) = (cx.ev.flow.src, cx.ev.flow.dst);
        // The victim speaks to a responder: that one is a real peer, not a reflector.
        if !self.victims.is_empty()
            && let Some(v) = self.victims.get_mut(&src)
            && v.spoke_to(&dst)
        {
            return;
        }
        if !sa.unasked() || src != sa.responder {
            return;
        }
        // A responder that says more than its one answer (an IKE_AUTH response, MM4) answers
        // requests that did reach it from this address: the capture sees one direction of a
        // real negotiation (a mirror port on an asymmetric path), not a reflection.
        let answers: usize = sa
            .exchanges
            .iter()
            .map(|x| x.steps.iter().filter(|s| s.from == src).count())
            .sum();
        if answers > 1 {
            if let Some(v) = self.victims.get_mut(&dst)
                && v.reflectors.get(&src).is_some_and(|r| !r.2)
            {
                v.spoke_to(&src);
                if let Some(named) = v.named
                    && v.silent_reflectors() < MIN_REFLECTORS
                {
                    let at = (cx.ev.pkt.ts, cx.ev.pkt.frame);
                    out.clear(KIND.id, Peers::new(named, dst).key(), 0, at, |_| {
                        format!(
                            "the responders went on: {src} sent a second, different answer to {dst}, so these are negotiations {dst} started, seen from one direction (a capture on one leg of an asymmetric path), not a reflection"
                        )
                    });
                    v.reported_at = 0;
                    v.named = None;
                }
            }
            return;
        }
        let ts = cx.ev.pkt.ts;
        let (v, _, _) = self.victims.touch_or_insert_with(&dst, || Victim {
            first_ts: ts,
            ..Victim::default()
        });
        v.packets += 1;
        v.bytes += u64::from(cx.ev.ip.total_len);
        v.last_ts = ts;
        if v.spis.len() < MAX_REFLECTORS || v.spis.contains_key(&m.ispi) {
            *v.spis.entry(m.ispi).or_default() += 1;
        }
        let room = v.reflectors.len() < MAX_REFLECTORS;
        match v.reflectors.get_mut(&src) {
            Some(r) => r.0 += 1,
            None if room => {
                v.reflectors.insert(src, (1, cx.ev.pkt.frame, false));
                v.silent += 1;
            }
            None => v.reflectors_over_cap += 1,
        }
        // Said when it becomes one, and again (as an update) each time the count doubles; the
        // end of input gives the final numbers.
        let n = v.silent_reflectors();
        if n >= MIN_REFLECTORS && n >= 2 * v.reported_at {
            v.reported_at = n;
            report(dst, v, out);
        }
    }

    fn finish(&mut self, _t: &Tracker, out: &mut Emit<'_>) {
        for (victim, v) in self.victims.iter_mut() {
            if v.silent_reflectors() >= MIN_REFLECTORS {
                report(*victim, v, out);
            }
        }
    }
}

fn report(victim: IpAddr, v: &mut Victim, out: &mut Emit<'_>) {
    let mut silent: Vec<(&IpAddr, &(u64, u64, bool))> =
        v.reflectors.iter().filter(|r| !r.1.2).collect();
    silent.sort_by_key(|r| r.1.1);
    let Some(first) = silent.first() else { return };
    let named = *v.named.get_or_insert(*first.0);
    let n = silent.len();
    let (top_spi, top_n) = v
        .spis
        .iter()
        .max_by_key(|(spi, n)| (**n, std::cmp::Reverse(**spi)))
        .map_or((0, 0), |(s, n)| (*s, *n));
    let spi_text = if top_n * 2 >= v.packets {
        format!(
            ", {top_n} of them to the same initiator SPI/cookie {top_spi:016x} (the forged requests' own)"
        )
    } else {
        format!(", to {} different initiator SPIs/cookies", v.spis.len())
    };
    let shown: Vec<String> = silent.iter().take(5).map(|r| r.0.to_string()).collect();
    let more = match (n > 5, v.reflectors_over_cap > 0) {
        (_, true) => format!(" and more than {} others", n - 5),
        (true, false) => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    let summary = format!(
        "{}{n} IKE responders ({}{more}) sent {} answers to IKE requests ({} bytes) to {victim} over {:.1} s{spi_text}; {victim} sent none of them a request and went on with none: they answer requests forged with its address",
        if v.reflectors_over_cap > 0 { "more than " } else { "" },
        shown.join(", "),
        v.packets,
        v.bytes,
        v.last_ts.since(v.first_ts),
    );
    out.push(
        0,
        Finding::new(
            &KIND,
            Confidence::Inferred,
            Peers::new(named, victim),
            (v.first_ts, v.last_ts),
            summary,
        )
        .frames(silent.iter().map(|r| r.1.1)),
    );
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;

    fn reflected(s: &mut Script, n: u32, victim_answers: bool) {
        for i in 0..n {
            let refl = format!("203.0.113.{}", i + 1);
            for k in 0..3u64 {
                s.ike(
                    u64::from(i) * 10 + k * 1000,
                    &refl,
                    "192.0.2.99",
                    Msg::v1(X::MAIN, 0)
                        .spis(0xdead_beef_dead_beef, 0x1000 + u64::from(i))
                        .with(v1_sa(1, &[(1, 5), (2, 2), (3, 1), (4, 2)]))
                        .len(120),
                );
            }
            if victim_answers {
                s.ike(
                    u64::from(i) * 10 + 5,
                    "192.0.2.99",
                    &refl,
                    Msg::v1(X::MAIN, 0).spis(0xdead_beef_dead_beef, 0x1000 + u64::from(i)).len(200),
                );
            }
        }
    }

    /// Twelve responders answer a cookie the victim never sent, three times each: one
    /// reflection finding naming the victim, the cookie and the count; no unanswered request
    /// and no weak crypto held against the victim.
    #[test]
    fn many_unsolicited_answers_to_one_address() {
        let mut s = Script::default();
        reflected(&mut s, 12, false);
        let all = s.settled();
        let r: Vec<_> = all.iter().filter(|f| f.kind == "ike_reflection").collect();
        assert_eq!(r.len(), 1, "{all:?}");
        assert!(r[0].summary.starts_with("12 IKE responders (203.0.113.1, "), "{}", r[0].summary);
        assert!(r[0].summary.contains("36 answers to IKE requests"), "{}", r[0].summary);
        assert!(r[0].summary.contains("same initiator SPI/cookie deadbeefdeadbeef"), "{}", r[0].summary);
        assert_eq!(r[0].peers.b, ip("192.0.2.99"));
        let k = kinds(&all);
        assert!(!k.contains(&"ike_unanswered") && !k.contains(&"weak_crypto"), "{k:?}");
    }

    /// Victims are bounded: a thousand others answered since forget the first victim's four
    /// reflectors (the least recently answered goes), so a fifth makes no finding; without
    /// them it does.
    #[test]
    fn the_victim_answered_least_recently_is_forgotten_first() {
        let answer = |s: &mut Script, ms: u64, refl: &str, victim: &str, n: u64| {
            s.ike(
                ms,
                refl,
                victim,
                Msg::v1(X::MAIN, 0)
                    .spis(0xdead_beef_dead_beef, 0x1000 + n)
                    .with(v1_sa(1, &[(1, 5), (2, 2), (3, 1), (4, 2)]))
                    .len(120),
            );
        };
        for flood in [false, true] {
            let mut s = Script::default();
            for i in 1..=4u64 {
                answer(&mut s, i, &format!("203.0.113.{i}"), "192.0.2.99", i);
            }
            if flood {
                for i in 0..super::MAX_VICTIMS as u64 {
                    let victim = format!("10.0.{}.{}", i / 250, i % 250 + 1);
                    answer(&mut s, 10 + i, "198.51.100.1", &victim, 100 + i);
                }
            }
            answer(&mut s, 5_000, "203.0.113.5", "192.0.2.99", 5);
            let found = kinds(&s.all()).contains(&"ike_reflection");
            assert_eq!(found, !flood, "flood {flood}");
        }
    }

    /// A capture that started mid-negotiation: answers without requests, but the initiator
    /// goes on with each. Not a reflection.
    #[test]
    fn answers_the_initiator_goes_on_with_are_not_reflection() {
        let mut s = Script::default();
        reflected(&mut s, 12, true);
        assert!(!kinds(&s.all()).contains(&"ike_reflection"));
        let mut few = Script::default();
        reflected(&mut few, 2, false);
        assert!(!kinds(&few.all()).contains(&"ike_reflection"));
    }

    /// A capture that sees only what comes back to a concentrator (one leg of an asymmetric
    /// path): each peer's first answer, then its MM4. More than one answer each: real
    /// negotiations, not a reflection.
    #[test]
    fn one_direction_of_real_negotiations_is_not_reflection() {
        let mut s = Script::default();
        reflected(&mut s, 12, false);
        for i in 0..12u32 {
            s.ike(
                5_000 + u64::from(i) * 10,
                &format!("203.0.113.{}", i + 1),
                "192.0.2.99",
                Msg::v1(X::MAIN, 0).spis(0xdead_beef_dead_beef, 0x1000 + u64::from(i)).len(300),
            );
        }
        let all = s.settled();
        let r: Vec<_> = all.iter().filter(|f| f.kind == "ike_reflection").collect();
        // Raised while only first answers had come, then cleared by the second answers.
        assert_eq!(r.len(), 1);
        assert!(r[0].cleared.as_ref().is_some_and(|c| c.reason.contains("not a reflection")), "{r:?}");
    }
}
