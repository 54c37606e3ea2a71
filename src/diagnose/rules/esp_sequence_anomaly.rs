//! `esp_sequence_anomaly`: ESP sequence numbers with gaps, repeats or reordering.
//!
//! A sender numbers ESP packets 1, 2, 3… per SA and never reuses a number (RFC 4303 §3.3.3),
//! so at the capture point a gap is loss upstream of it, a repeat is a replay (or the capture
//! saw the packet twice), and a step back is reordering (which the receiver's 64-packet
//! anti-replay window tolerates up to a point). Small loss is info; duplicates, or loss or
//! reordering above 1%, are warnings.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Emit, Rule, RuleDef};
use crate::track::Pair;
use crate::track::esp::{EspKey, EspSa};

pub const KIND: FindingKind = FindingKind {
    id: "esp_sequence_anomaly",
    title: "ESP sequence numbers show loss, replay or reordering",
    default_severity: Severity::Warning,
    explanation: "Gaps in an SA's ESP sequence numbers mean packets were lost before the capture point; repeated numbers mean packets were duplicated or replayed (receivers drop them as replays); numbers going backwards mean reordering (packets beyond the anti-replay window are dropped).",
    remedy: "For loss: look for congestion or a lossy link upstream (or capture drops on this host). For duplicates: look for a loop or a duplicating middlebox, or a capture on several interfaces at once. For reordering: multipath/load-balanced links; widen the anti-replay window (replay_window=) if needed.",
};

pub struct EspSequenceAnomaly;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(EspSequenceAnomaly),
};

impl Rule for EspSequenceAnomaly {
    fn esp_closed(&mut self, k: &EspKey, e: &EspSa, _pair: Option<&Pair>, out: &mut Emit<'_>) {
        if !e.has_anomaly() || e.packets < 2 {
            return;
        }
        let expected = e.packets + e.missing - e.duplicates;
        let loss = e.missing as f64 / expected.max(1) as f64;
        let reorder = e.reordered as f64 / e.packets as f64;
        let severity = if e.duplicates > 0 || loss > 0.01 || reorder > 0.01 {
            Severity::Warning
        } else {
            Severity::Info
        };
        let mut parts = Vec::new();
        if e.missing > 0 {
            parts.push(format!(
                "{} missing ({:.1}% loss before the capture point)",
                e.missing,
                loss * 100.0
            ));
        }
        if e.duplicates > 0 {
            let all = e.duplicates * 2 >= e.packets;
            parts.push(format!(
                "{} duplicate{}",
                e.duplicates,
                if all {
                    " (nearly every packet twice: probably the capture saw each packet twice)"
                } else {
                    ""
                }
            ));
        }
        if e.reordered > 0 {
            parts.push(format!("{} out of order", e.reordered));
        }
        let summary = format!(
            "ESP SPI 0x{:08x} from {} to {}: {} packets, sequence {}–{}: {}",
            k.spi,
            k.src,
            k.dst,
            e.packets,
            e.first_seq,
            e.highest_seq,
            parts.join(", ")
        );
        let frames = [
            e.first_frame,
            e.first_gap_frame,
            e.first_dup_frame,
            e.first_reorder_frame,
            e.last_frame,
        ];
        out.push(
            u64::from(k.spi),
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::new(k.src, k.dst),
                (e.first_ts, e.last_ts),
                summary,
            )
            .severity(severity)
            .frames(frames),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::finding::Severity;
    use crate::diagnose::testutil::*;

    #[test]
    fn gaps_and_duplicates() {
        let mut s = Script::default();
        for (i, q) in [1u32, 2, 3, 7, 7, 8].iter().enumerate() {
            s.esp(i as u64 * 10, A, B, 9, *q);
        }
        let f = s
            .all()
            .into_iter()
            .find(|f| f.kind == "esp_sequence_anomaly")
            .unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.summary.contains("3 missing") && f.summary.contains("1 duplicate"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn clean_sequence_is_quiet() {
        let mut s = Script::default();
        for q in 100..200u32 {
            s.esp(u64::from(q), A, B, 9, q);
        }
        assert!(s.all().is_empty());
    }
}
