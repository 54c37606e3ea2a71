//! The verdict paragraph that ends a run: how many findings of each severity and kind, and the
//! tunnels with the gravest ones first, so a reader who skipped the stream knows where to look.
//! It counts the findings as they are written; nothing is judged again here.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use super::findings::write_line;
use super::fmt::addr_string;
use super::fold::Folder;
use crate::diagnose::{Finding, Severity};

/// Causes remembered for the tally (the analyzer says each cause once and keeps as many).
const MAX_CAUSES: usize = 1 << 16;
/// Tunnels named in the verdict; the rest are counted.
const WORST_SHOWN: usize = 5;

/// The tally of the findings written so far.
#[derive(Default)]
pub struct Verdict {
    /// Finding id → (kind, gravest severity, pair).
    causes: HashMap<u64, (&'static str, Severity, [IpAddr; 2])>,
    /// Ids whose condition ended (and has not come back since).
    cleared: HashMap<u64, &'static str>,
    dropped: u64,
    /// (kind, severity) → times raised: a first report, or a report again after its clearing.
    raised_total: HashMap<(&'static str, Severity), u64>,
    /// (kind, severity) → times cleared.
    cleared_total: HashMap<(&'static str, Severity), u64>,
}

/// The findings' lifecycle as counted so far (the metrics export reads it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lifecycle {
    /// (kind, gravest severity, causes raised and not cleared since), by kind then severity.
    pub active: Vec<(&'static str, Severity, u64)>,
    /// (kind, severity, total), by kind then severity.
    pub raised: Vec<(&'static str, Severity, u64)>,
    pub cleared: Vec<(&'static str, Severity, u64)>,
}

impl Verdict {
    /// Counts a finding (an update only raises the severity of the cause it updates).
    pub fn observe(&mut self, f: &Finding) {
        if f.clearing {
            if let Some(c) = self.causes.get(&f.id)
                && self.cleared.insert(f.id, f.kind).is_none()
            {
                *self.cleared_total.entry((c.0, c.1)).or_default() += 1;
            }
            return;
        }
        if !f.update && f.cleared.is_none() {
            // Raised (again): whatever ended before is back.
            let again = self.cleared.remove(&f.id).is_some();
            if again || !self.causes.contains_key(&f.id) {
                *self.raised_total.entry((f.kind, f.severity)).or_default() += 1;
            }
        }
        let pair = f.peers.key();
        if let Some(c) = self.causes.get_mut(&f.id) {
            c.1 = c.1.min(f.severity);
            return;
        }
        if self.causes.len() >= MAX_CAUSES {
            self.dropped += 1;
            return;
        }
        self.causes
            .insert(f.id, (f.kind, f.severity, [pair.a, pair.b]));
    }

    /// Findings active now, and raised and cleared so far.
    pub fn lifecycle(&self) -> Lifecycle {
        // Every kind raised so far has a count, 0 once it cleared, so a series ends at 0
        // rather than vanishing.
        let mut active: HashMap<(&'static str, Severity), u64> =
            self.raised_total.keys().map(|&k| (k, 0)).collect();
        for (id, c) in &self.causes {
            if !self.cleared.contains_key(id) {
                *active.entry((c.0, c.1)).or_default() += 1;
            }
        }
        let sorted = |m: &HashMap<(&'static str, Severity), u64>| {
            let mut v: Vec<_> = m.iter().map(|(&(k, s), &n)| (k, s, n)).collect();
            v.sort();
            v
        };
        Lifecycle {
            active: sorted(&active),
            raised: sorted(&self.raised_total),
            cleared: sorted(&self.cleared_total),
        }
    }

    /// The gravest severity written so far (`--fail-on`).
    pub fn gravest(&self) -> Option<Severity> {
        self.causes.values().map(|c| c.1).min()
    }

    fn by_severity(&self) -> [u64; 3] {
        let mut n = [0u64; 3];
        for c in self.causes.values() {
            n[c.1 as usize] += 1;
        }
        n
    }

    /// (kind, severity, count), gravest first, then most frequent, then by name.
    fn by_kind(&self) -> Vec<(&'static str, Severity, u64)> {
        let mut m: HashMap<(&'static str, Severity), u64> = HashMap::new();
        for c in self.causes.values() {
            *m.entry((c.0, c.1)).or_default() += 1;
        }
        let mut v: Vec<_> = m.into_iter().map(|((k, s), n)| (k, s, n)).collect();
        v.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)));
        v
    }

    /// Tunnels with [errors, warnings, info], gravest first.
    fn worst(&self) -> Vec<([IpAddr; 2], [u64; 3])> {
        let mut m: HashMap<[IpAddr; 2], [u64; 3]> = HashMap::new();
        for c in self.causes.values() {
            m.entry(c.2).or_default()[c.1 as usize] += 1;
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// `shared`: the causes text mode wrote once for many pairs, listed with their pairs.
    pub fn write_text(
        &self,
        w: &mut dyn Write,
        info_folded: bool,
        shared: &Folder,
    ) -> io::Result<()> {
        let [e, wa, i] = self.by_severity();
        if e + wa + i == 0 {
            return writeln!(w, "== Verdict: no findings ==");
        }
        writeln!(
            w,
            "== Verdict: {} ==",
            [(e, "error"), (wa, "warning"), (i, "info")]
                .iter()
                .map(|&(n, s)| count(n, s))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        for sev in [Severity::Error, Severity::Warning, Severity::Info] {
            let kinds: Vec<String> = self
                .by_kind()
                .into_iter()
                .filter(|k| k.1 == sev)
                .map(|(k, _, n)| {
                    if n > 1 {
                        format!("{k} x{n}")
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            if kinds.is_empty() {
                continue;
            }
            let folded = if sev == Severity::Info && info_folded {
                " (not shown above; -v shows them)"
            } else {
                ""
            };
            writeln!(w, "  {:<8} {}{folded}", sev.as_str(), kinds.join(", "))?;
        }
        if !self.cleared.is_empty() {
            let mut m: HashMap<&'static str, u64> = HashMap::new();
            for k in self.cleared.values() {
                *m.entry(k).or_default() += 1;
            }
            let mut v: Vec<_> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let kinds: Vec<String> = v
                .into_iter()
                .map(|(k, n)| {
                    if n > 1 {
                        format!("{k} x{n}")
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            writeln!(
                w,
                "  cleared  {} (the condition ended before the capture did)",
                kinds.join(", ")
            )?;
        }
        shared.write_shared(w)?;
        let worst = self.worst();
        let shown: Vec<String> = worst
            .iter()
            .take(WORST_SHOWN)
            .map(|(p, n)| {
                let what: Vec<String> = [(n[0], "error"), (n[1], "warning"), (n[2], "info")]
                    .iter()
                    .filter(|x| x.0 > 0)
                    .map(|&(c, s)| count(c, s))
                    .collect();
                format!("{} <-> {} ({})", p[0], p[1], what.join(", "))
            })
            .collect();
        writeln!(w, "  worst tunnels first: {}", shown.join("; "))?;
        if worst.len() > WORST_SHOWN {
            writeln!(w, "  and {} more tunnels", worst.len() - WORST_SHOWN)?;
        }
        if self.dropped > 0 {
            writeln!(w, "  ({} further findings were not counted)", self.dropped)?;
        }
        writeln!(w)
    }

    pub fn write_json(&self, w: &mut dyn Write) -> io::Result<()> {
        write_line(w, &self.view())
    }

    /// The verdict as the JSON line and the HTML report show it (one view of the same facts).
    pub fn view(&self) -> VerdictLine {
        let [error, warning, info] = self.by_severity();
        VerdictLine {
            kind_tag: "verdict",
            error,
            warning,
            info,
            kinds: self
                .by_kind()
                .into_iter()
                .map(|(kind, s, count)| VerdictKind {
                    kind,
                    severity: s.as_str(),
                    count,
                })
                .collect(),
            tunnels: self
                .worst()
                .into_iter()
                .map(|(p, n)| VerdictTunnel {
                    peers: [addr_string(p[0]), addr_string(p[1])],
                    error: n[0],
                    warning: n[1],
                    info: n[2],
                })
                .collect(),
            cleared: self.cleared.len() as u64,
            not_counted: self.dropped,
        }
    }
}

#[derive(Serialize)]
pub struct VerdictKind {
    pub kind: &'static str,
    pub severity: &'static str,
    pub count: u64,
}

#[derive(Serialize)]
pub struct VerdictTunnel {
    pub peers: [String; 2],
    pub error: u64,
    pub warning: u64,
    pub info: u64,
}

/// The `verdict` line.
#[derive(Serialize)]
pub struct VerdictLine {
    #[serde(rename = "type")]
    kind_tag: &'static str,
    pub error: u64,
    pub warning: u64,
    pub info: u64,
    pub kinds: Vec<VerdictKind>,
    pub tunnels: Vec<VerdictTunnel>,
    /// Findings whose condition ended and did not come back.
    #[serde(skip_serializing_if = "is_zero")]
    pub cleared: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub not_counted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn count(n: u64, what: &str) -> String {
    match (n, what) {
        (1, _) | (_, "info") => format!("{n} {what}"),
        _ => format!("{n} {what}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testutil::*;

    #[test]
    fn gravest_kinds_and_tunnels_first() {
        let mut s = Script::default();
        // An unanswered IKE_SA_INIT to B (error), and a healthy tunnel elsewhere.
        for ms in [0, 500, 1500, 3500, 7500] {
            s.ike(ms, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
        }
        let all = s.all();
        let mut v = Verdict::default();
        for f in &all {
            v.observe(f);
        }
        // The update at the end is the same cause: counted once.
        assert_eq!(v.by_severity(), [1, 0, 0]);
        let mut out = Vec::new();
        v.write_text(&mut out, true, &Folder::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("== Verdict: 1 error, 0 warnings, 0 info =="),
            "{text}"
        );
        assert!(text.contains("  error    ike_unanswered\n"), "{text}");
        assert!(
            text.contains("worst tunnels first: 192.0.2.1 <-> 198.51.100.2 (1 error)"),
            "{text}"
        );
        let mut out = Vec::new();
        v.write_json(&mut out).unwrap();
        let j: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(j["type"], "verdict");
        assert_eq!(j["kinds"][0]["kind"], "ike_unanswered");
        assert_eq!(j["tunnels"][0]["error"], 1);

        let mut out = Vec::new();
        Verdict::default()
            .write_text(&mut out, false, &Folder::default())
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "== Verdict: no findings ==\n"
        );
    }
}
