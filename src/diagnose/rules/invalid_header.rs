//! `invalid_header`: an IKE header that contradicts itself or the SA it belongs to. The decoder
//! rejects major versions other than 1 and 2; what it cannot see without the SA is an R flag
//! on what the exchange shows to be a request, an I flag from the wrong end of the SA, an
//! IKE_SA_INIT whose message ID is not 0, and an exchange type from the other IKE version's
//! registry (or from neither); reserved flag bits are named beside those. The tracker files such a message by the SA's roles, not by its flags (see
//! `IkeSa::is_response_v2`), so the rest of the peer's behaviour is still followed; this rule
//! only says that the header was wrong.

use std::net::IpAddr;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;
use crate::event::codes::ExchangeType;
use crate::event::ike::{IkeMessage, v1_flags, v2_flags};
use crate::track::ike::IkeSa;

pub const KIND: FindingKind = FindingKind {
    id: "invalid_header",
    title: "IKE header that cannot be right",
    default_severity: Severity::Warning,
    explanation: "A peer sent an IKE header whose flags or exchange type contradict the exchange or the SA: a Response flag on a request, an Initiator flag from the SA's responder (or missing from its initiator), an IKE_SA_INIT with a message ID other than 0, an exchange type of the other IKE version or of neither (reserved flag bits set are mentioned beside these). A strict peer drops such a message, and a middlebox that rewrites IKE headers produces exactly this.",
    remedy: "Look for a middlebox rewriting IKE (an IPsec ALG or 'IPsec passthrough'), then for an implementation bug in the sending peer: update its IKE software.",
};

pub struct InvalidHeader;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(InvalidHeader),
};

/// Private-use exchange types (RFC 2408 §3.1 and RFC 7296 §3.1 both reserve 240–255).
const PRIVATE_USE: std::ops::RangeInclusive<u8> = 240..=255;

/// What is wrong with the header of `m`, sent by `src`, for the SA `sa`; empty when nothing.
fn problems(sa: &IkeSa, src: IpAddr, m: &IkeMessage) -> Vec<String> {
    let mut out = Vec::new();
    let x = m.exchange;
    let other = if m.version == 2 { 1 } else { 2 };
    if m.exchange_name().is_none() && !PRIVATE_USE.contains(&x.0) {
        match x.name(other) {
            Some(name) => out.push(format!(
                "IKEv{} header with the IKEv{other} exchange type {} ({name})",
                m.version, x.0
            )),
            None => out.push(format!(
                "exchange type {} is not assigned in IKEv{}",
                x.0, m.version
            )),
        }
    }
    // RFC 7296 §2.2: IKE_SA_INIT is message ID 0 in both directions, the first exchange of
    // each side's counter.
    if m.version == 2 && x == ExchangeType::IKE_SA_INIT && m.message_id != 0 {
        out.push(format!("message ID {} on IKE_SA_INIT (always 0)", m.message_id));
    }
    // Roles need two ends; an SA seen from one address only (a reflected packet) has none.
    if m.version == 2 && sa.initiator != sa.responder {
        roles(sa, src, m, &mut out);
    }
    // Receivers must ignore reserved flag bits (RFC 7296 §3.1), and old Openswan sets the
    // IKEv1 E bit on every encrypted IKEv2 message: alone they are no finding, beside another
    // problem they say the header was mangled as a whole.
    let reserved = if m.version == 2 {
        m.flags & !(v2_flags::INITIATOR | v2_flags::VERSION | v2_flags::RESPONSE)
    } else {
        m.flags & !(v1_flags::ENCRYPTION | v1_flags::COMMIT | v1_flags::AUTH_ONLY)
    };
    if reserved != 0 && !out.is_empty() {
        out.push(format!("reserved flag bits {reserved:#04x} set"));
    }
    out
}

/// What the IKEv2 flags say against the SA's roles.
fn roles(sa: &IkeSa, src: IpAddr, m: &IkeMessage, out: &mut Vec<String>) {
    let x = m.exchange;
    let response = sa.is_response_v2(src, m);
    if m.is_response() != response {
        out.push(if response {
            format!("no R flag on the {} response", x.label(2))
        } else {
            format!("R flag on the {} request", x.label(2))
        });
    }
    let from_initiator = src == sa.initiator;
    if m.from_original_initiator() != from_initiator {
        out.push(if from_initiator {
            "no I flag from the SA's original initiator".to_string()
        } else {
            "I flag from the SA's original responder".to_string()
        });
    }
}

impl Rule for InvalidHeader {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Ike(m) = &cx.ev.body else { return };
        let Some(sa) = cx.sa() else { return };
        let (src, dst) = (cx.ev.flow.src, cx.ev.flow.dst);
        let found = problems(sa, src, m);
        if found.is_empty() {
            return;
        }
        let what = if m.version == 2 && x_is_known(m.exchange) {
            let kind = if sa.is_response_v2(src, m) {
                "response"
            } else {
                "request"
            };
            format!("{} {kind}", m.exchange.label(2))
        } else {
            format!("IKEv{} {}", m.version, m.exchange.label(m.version))
        };
        let summary = format!(
            "{src} sent {what} to {dst} (message ID {}) with a header that cannot be right: {}",
            m.message_id,
            found.join("; ")
        );
        out.push(
            sa.ispi,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::with_ports((dst, cx.ev.flow.dport), (src, cx.ev.flow.sport)),
                (cx.ev.pkt.ts, cx.ev.pkt.ts),
                summary,
            )
            .frames([cx.ev.pkt.frame]),
        );
    }
}

/// An IKEv2 exchange whose request/response roles the summary can name.
fn x_is_known(x: ExchangeType) -> bool {
    x.name(2).is_some()
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;
    use crate::event::Body;

    fn findings(s: &Script) -> Vec<crate::diagnose::Finding> {
        s.all()
            .into_iter()
            .filter(|f| f.kind == "invalid_header")
            .collect()
    }

    /// The shape of ipsec_isakmp_esp.pcap frame 207: an IKE_SA_INIT request with every flag
    /// bit set, answered by a cookie challenge, then retried with the cookie.
    #[test]
    fn response_flag_on_a_request_is_reported_and_the_cookie_still_recognised() {
        let mut s = Script::default();
        let e = s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(776));
        if let Body::Ike(m) = &mut e.body {
            m.flags = 0xff;
        }
        s.ike(
            30,
            B,
            A,
            Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
                .spis(0x1111, 0)
                .len(52)
                .with(notify(N::COOKIE, &[7; 20])),
        );
        s.ike(40, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).len(800));
        s.ike(70, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(1, 12)])));
        let all = s.all();
        let f = findings(&s);
        assert_eq!(f.len(), 1, "{all:?}");
        assert!(f[0].summary.contains("R flag on the IKE_SA_INIT request"), "{}", f[0].summary);
        assert!(f[0].summary.contains("reserved flag bits 0xc7 set"), "{}", f[0].summary);
        assert_eq!(f[0].frames, [1]);
        assert!(kinds(&all).contains(&"cookie_challenge"), "{:?}", kinds(&all));
        assert!(!kinds(&all).contains(&"ike_unanswered"), "{:?}", kinds(&all));
    }

    #[test]
    fn initiator_flag_from_the_responder() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        s.ike(30, B, A, Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(1, 12)])));
        s.ike(40, B, A, Msg::v2(X::INFORMATIONAL, 0, REQUEST, INITIATOR).with(sk(80)));
        let f = findings(&s);
        assert_eq!(f.len(), 1);
        assert!(f[0].summary.contains("I flag from the SA's original responder"), "{}", f[0].summary);
        assert_eq!(f[0].frames, [3]);
    }

    #[test]
    fn exchange_type_of_the_other_version() {
        let mut s = Script::default();
        s.ike(0, A, B, Msg::v2(X::MAIN, 0, REQUEST, INITIATOR));
        s.ike(10, A, B, Msg::v1(X::IKE_AUTH, 5).spis(0x3333, 0x4444));
        s.ike(20, A, B, Msg::v2(X(60), 0, REQUEST, INITIATOR).spis(0x5555, 0));
        // Reserved bits alone are ignored by receivers: not a finding.
        let e = s.ike(30, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR).spis(0x7777, 0));
        if let Body::Ike(m) = &mut e.body {
            m.flags |= 0x01;
        }
        let f = findings(&s);
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f[0].summary.contains("IKEv2 header with the IKEv1 exchange type 2"), "{}", f[0].summary);
        assert!(f[1].summary.contains("IKEv1 header with the IKEv2 exchange type 35 (IKE_AUTH)"), "{}", f[1].summary);
        assert!(f[2].summary.contains("exchange type 60 is not assigned in IKEv2"), "{}", f[2].summary);
    }

    /// The shape of arkime ike-cert_synthetic.pcap frame 2: the responder's IKE_SA_INIT with
    /// message ID 1 and neither flag.
    #[test]
    fn sa_init_from_the_responder_without_r_and_with_message_id_1() {
        let mut s = Script::default();
        s.ike(0, B, A, Msg::v2(X::IKE_SA_INIT, 1, REQUEST, RESPONDER).with(v2_sa(&[(1, 12)])));
        let f = findings(&s);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].summary.contains("message ID 1 on IKE_SA_INIT (always 0); no R flag on the IKE_SA_INIT response"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn a_healthy_sa_is_quiet() {
        let mut s = Script::default();
        healthy_v2(&mut s);
        assert!(findings(&s).is_empty());
    }
}
