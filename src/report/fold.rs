//! Text mode: one cause seen on many pairs from one host is written out once.
//!
//! A client that connects to a provider's twenty gateways, each choosing MODP_1024, makes twenty
//! `weak_crypto` findings that say the same words about a different peer. The analyzer is right
//! to keep them apart (each pair has its own frames and its own clearing, and JSON carries them
//! all); a person reading the stream wants the block once. A finding whose kind, severity,
//! confidence, remedy and wording — with the other peer's address taken out — match an earlier
//! one sharing a host is written as one `also` line naming its pair and frames, and the verdict
//! lists each such group with its pairs. Nothing is judged here: only the text is compared.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;

use super::fmt::addr_string;
use super::paint;
use crate::diagnose::Finding;

/// Groups remembered; past it, new causes are written in full (never lost, only not folded).
const MAX_GROUPS: usize = 4096;
/// Pairs named per group in the verdict; the rest are counted.
const PAIRS_NAMED: usize = 8;

/// What must be equal for two findings to say the same thing: kind, severity, confidence, the
/// shared host, the remedy and the summary with the other peer's address replaced.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Cause {
    kind: &'static str,
    severity: u8,
    confidence: &'static str,
    host: IpAddr,
    summary: String,
    remedy: String,
}

struct Group {
    /// The finding written in full.
    first_id: u64,
    /// The other peer of each pair, the first written in full, the first few only.
    others: Vec<IpAddr>,
    folded: u64,
}

/// The causes written so far in text mode, by what they say.
#[derive(Default)]
pub struct Folder {
    groups: HashMap<Cause, Group>,
    /// Insertion order of `groups`, for a stable verdict.
    order: Vec<Cause>,
}

impl Folder {
    /// Whether `f` only repeats an earlier finding's words for another pair; if so, writes its
    /// `also` line and returns true. Otherwise remembers it as a possible first of a group.
    pub fn fold(&mut self, w: &mut dyn Write, f: &Finding) -> io::Result<bool> {
        // A repeat without new words is not written at all (write_finding_text); a clearing
        // is its own short block.
        if f.clearing || f.cleared.is_some() || (f.update && !f.reworded) {
            return Ok(false);
        }
        let causes = [
            cause(f, f.peers.a, f.peers.b),
            cause(f, f.peers.b, f.peers.a),
        ];
        for (c, other) in causes.iter().zip([f.peers.b, f.peers.a]) {
            if let Some(g) = self.groups.get_mut(c) {
                if g.first_id == f.id {
                    // The first of its group, updated: written as usual.
                    return Ok(false);
                }
                g.folded += 1;
                if g.others.len() < PAIRS_NAMED && !g.others.contains(&other) {
                    g.others.push(other);
                }
                write_also(w, f)?;
                return Ok(true);
            }
        }
        if self.groups.len() + 2 <= MAX_GROUPS {
            for (c, other) in causes.into_iter().zip([f.peers.b, f.peers.a]) {
                self.order.push(c.clone());
                self.groups.insert(
                    c,
                    Group {
                        first_id: f.id,
                        others: vec![other],
                        folded: 0,
                    },
                );
            }
        }
        Ok(false)
    }

    /// The verdict's lines for causes shared by more than one pair.
    pub fn write_shared(&self, w: &mut dyn Write) -> io::Result<()> {
        for c in &self.order {
            let g = &self.groups[c];
            if g.folded == 0 {
                continue;
            }
            let mut named: Vec<String> = g.others.iter().map(|a| addr_string(*a)).collect();
            let unnamed = (g.folded as usize + 1).saturating_sub(named.len());
            if unnamed > 0 {
                named.push(format!("{unnamed} more"));
            }
            writeln!(
                w,
                "  shared   {} on {} pairs with {}: {}",
                c.kind,
                g.folded + 1,
                c.host,
                named.join(", ")
            )?;
        }
        Ok(())
    }
}

fn cause(f: &Finding, host: IpAddr, other: IpAddr) -> Cause {
    let other = addr_string(other);
    Cause {
        kind: f.kind,
        severity: f.severity as u8,
        confidence: f.confidence.as_str(),
        host,
        summary: without_address(&f.summary, &other),
        remedy: without_address(&f.remedy, &other),
    }
}

/// `text` with each whole occurrence of the address `addr` replaced by a mark: `10.0.0.1` in
/// `10.0.0.12` or `110.0.0.1` is not the address.
fn without_address(text: &str, addr: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut before: Option<char> = None;
    while let Some(at) = rest.find(addr) {
        let prev = rest[..at].chars().next_back().or(before);
        let after = &rest[at + addr.len()..];
        let next = after.chars().next();
        let joined = |c: Option<char>| c.is_some_and(|c| c.is_ascii_hexdigit() || c == '.');
        // An address runs on into a longer one through a hex digit, or a dot (IPv4) or colon
        // (IPv6) followed by one; a port after ':' or a sentence's full stop does not.
        let runs_on = joined(next)
            && (next != Some('.') || after[1..].starts_with(|c: char| c.is_ascii_digit()));
        let runs_on = runs_on
            || (addr.contains(':')
                && next == Some(':')
                && after[1..].starts_with(|c: char| c.is_ascii_hexdigit()));
        out.push_str(&rest[..at]);
        if joined(prev) || (addr.contains(':') && prev == Some(':')) || runs_on {
            out.push_str(addr);
        } else {
            out.push_str("\u{0}peer\u{0}");
        }
        before = addr.chars().next_back();
        rest = after;
    }
    out.push_str(rest);
    out
}

fn write_also(w: &mut dyn Write, f: &Finding) -> io::Result<()> {
    let [a, b] = f.peers.strings();
    write!(
        w,
        "{} [{}] also {} <-> {}: as above",
        paint::severity(f.severity, f.severity.as_str().to_uppercase()),
        paint::kind(f.kind),
        paint::addr(a),
        paint::addr(b),
    )?;
    if f.update {
        write!(w, " (updated with the packets that followed)")?;
    }
    if !f.frames.is_empty() {
        write!(w, "; frames {}", super::findings::frames_text(&f.frames))?;
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{Confidence, Peers, catalogue};
    use crate::event::Timestamp;

    fn weak(id: u64, client: &str, server: &str, frames: Vec<u64>) -> Finding {
        let (c, s): (IpAddr, IpAddr) = (client.parse().unwrap(), server.parse().unwrap());
        let kind = catalogue().iter().find(|k| k.id == "weak_crypto").unwrap();
        let mut f = Finding::new(
            kind,
            Confidence::Observed,
            Peers::with_ports((c, 10500), (s, 500)),
            (Timestamp::new(1, 0), Timestamp::new(1, 0)),
            format!("{server} chose MODP_1024 (group 2) for the IKEv2 SA with {client}"),
        );
        f.id = id;
        f.frames = frames;
        f
    }

    fn text(folder: &mut Folder, f: &Finding) -> (bool, String) {
        let mut out = Vec::new();
        let folded = folder.fold(&mut out, f).unwrap();
        (folded, String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_same_words_about_another_peer_of_one_host_fold() {
        let mut folder = Folder::default();
        let first = weak(1, "192.168.2.100", "109.237.187.193", vec![16, 19]);
        assert_eq!(text(&mut folder, &first), (false, String::new()));
        let (folded, line) = text(
            &mut folder,
            &weak(2, "192.168.2.100", "109.237.187.195", vec![119, 122]),
        );
        assert!(folded);
        assert_eq!(
            line,
            "WARNING [weak_crypto] also 192.168.2.100:10500 <-> 109.237.187.195:500: as above; \
             frames 119, 122\n"
        );
        // The first one updated is written in full again, as before.
        let mut again = first.clone();
        again.update = true;
        again.reworded = true;
        assert!(!text(&mut folder, &again).0);
        // Another host: its own block.
        assert!(
            !text(
                &mut folder,
                &weak(3, "192.168.2.7", "109.237.187.196", vec![1])
            )
            .0
        );
        // Other words (another group): its own block.
        let mut other = weak(4, "192.168.2.100", "109.237.187.197", vec![2]);
        other.summary = other.summary.replace("MODP_1024", "MODP_768");
        assert!(!text(&mut folder, &other).0);

        let mut out = Vec::new();
        folder.write_shared(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  shared   weak_crypto on 2 pairs with 192.168.2.100: 109.237.187.193, \
             109.237.187.195\n"
        );
    }

    #[test]
    fn the_verdict_names_the_first_pairs_and_counts_the_rest() {
        let mut folder = Folder::default();
        for i in 1..=11u64 {
            let f = weak(i, "192.0.2.1", &format!("198.51.100.{i}"), vec![i]);
            assert_eq!(text(&mut folder, &f).0, i > 1);
        }
        let mut out = Vec::new();
        folder.write_shared(&mut out).unwrap();
        let names: Vec<String> = (1..=8).map(|i| format!("198.51.100.{i}")).collect();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "  shared   weak_crypto on 11 pairs with 192.0.2.1: {}, 3 more\n",
                names.join(", ")
            )
        );
    }

    #[test]
    fn an_address_inside_a_longer_one_is_not_the_peer() {
        let t = "10.0.0.1 answered 10.0.0.12 and 110.0.0.1 from 10.0.0.1:500. Then 10.0.0.1.";
        assert_eq!(
            without_address(t, "10.0.0.1"),
            "\0peer\0 answered 10.0.0.12 and 110.0.0.1 from \0peer\0:500. Then \0peer\0."
        );
        assert_eq!(
            without_address(
                "2001:db8::1 and 2001:db8::1a, [2001:db8::1]:500",
                "2001:db8::1"
            ),
            "\0peer\0 and 2001:db8::1a, [\0peer\0]:500"
        );
    }

    #[test]
    fn a_clearing_never_folds() {
        let mut folder = Folder::default();
        text(&mut folder, &weak(1, "192.0.2.1", "198.51.100.1", vec![1]));
        let mut f = weak(2, "192.0.2.1", "198.51.100.2", vec![2]);
        f.clearing = true;
        f.cleared = Some(Box::new(crate::diagnose::finding::Cleared {
            ts: f.last_ts,
            frame: 3,
            reason: "x".into(),
        }));
        assert!(!text(&mut folder, &f).0);
    }
}
