//! `ike_ip_fragmented`: IKE messages were split by IP fragmentation rather than by IKE itself.
//!
//! RFC 7383 lets IKEv2 peers split large messages into encrypted IKE fragments that each fit
//! in a packet, precisely because IP fragments are so often dropped. Seeing IKE in IP
//! fragments means it was not negotiated (IKEV2_FRAGMENTATION_SUPPORTED, notify 16430, from
//! both sides) or its fragment size is too large. Harmless when the messages were answered
//! (info), a risk otherwise (warning; `ike_fragments_lost` says when they were lost).

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Emit, Rule, RuleDef};
use crate::track::Pair;
use crate::track::ike::IkeSa;

pub const KIND: FindingKind = FindingKind {
    id: "ike_ip_fragmented",
    title: "IKE messages are IP-fragmented",
    default_severity: Severity::Warning,
    explanation: "IKE messages larger than the path MTU (typically IKE_AUTH with certificates) were sent as IP fragments. Firewalls and NATs often drop IP fragments, which breaks the handshake for some peers and paths only.",
    remedy: "Enable IKEv2 fragmentation (RFC 7383) on both peers (strongSwan/Libreswan: fragmentation=yes; Cisco: crypto ikev2 fragmentation; Windows supports it since 10 1803) and keep its fragment size below the path MTU; or reduce the certificate payloads.",
};

pub struct IkeIpFragmented;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(IkeIpFragmented),
};

impl Rule for IkeIpFragmented {
    fn sa_closed(&mut self, sa: &IkeSa, _pair: Option<&Pair>, out: &mut Emit<'_>) {
        let mut frag = 0u32;
        let mut lost = false;
        let mut frames = Vec::new();
        let mut largest = 0;
        let mut first = None;
        let mut last = sa.first_ts;
        let mut sender = None;
        for x in &sa.exchanges {
            for s in x.steps.iter().filter(|s| s.ip_fragmented > 0) {
                frag += s.ip_fragmented;
                largest = largest.max(s.ip_len);
                frames.extend(s.frames.iter().copied());
                first =
                    Some(first.map_or(s.times[0], |f: crate::event::Timestamp| f.min(s.times[0])));
                last = last.max(s.last_ts);
                sender.get_or_insert(s.from);
                if !s.response && crate::diagnose::unanswered::unanswered(sa, x).is_some() {
                    lost = true;
                }
            }
        }
        let (Some(first), Some(sender)) = (first, sender) else {
            return;
        };
        let negotiated = sa.ike_fragmentation_offered == [true, true];
        let support = match sa.ike_fragmentation_offered {
            [true, true] => "IKE fragmentation was negotiated but its fragments are still too large for the path".to_string(),
            [true, false] => format!("only the initiator {} offered IKE fragmentation (RFC 7383)", sa.initiator),
            [false, true] => format!("only the responder {} offered IKE fragmentation (RFC 7383)", sa.responder),
            [false, false] if sa.version == 1 => "IKEv1 has no standard IKE fragmentation (vendor extensions exist)".to_string(),
            [false, false] => "neither peer offered IKE fragmentation (RFC 7383)".to_string(),
        };
        let summary = format!(
            "{frag} IKE message transmission{} in SA {:016x} went as IP fragments (largest {largest} bytes, first from {sender}); {support}",
            if frag == 1 { "" } else { "s" },
            sa.ispi,
        );
        let severity = if lost {
            Severity::Warning
        } else {
            Severity::Info
        };
        let other = sa.peer_of(sender);
        let mut f = Finding::new(
            &KIND,
            Confidence::Observed,
            Peers::new(sender, other),
            (first, last),
            summary,
        )
        .severity(severity)
        .frames(frames);
        if negotiated {
            f = f.remedy("Lower the IKE fragment size (strongSwan charon.fragment_size, Libreswan ike-frag size) below the path MTU minus the IP/UDP headers.".to_string());
        }
        out.push(sa.ispi, f);
    }
}
