//! The rules' unit tests: the shared event scripts (`crate::testutil`) run through a fresh
//! analyzer.

pub use crate::testutil::*;

use super::finding::Severity;
use super::{Analyzer, Finding};

/// Runs a script through the analyzer.
pub trait Run {
    /// (findings while running, findings at finish, the analyzer).
    fn run(&self) -> (Vec<Finding>, Vec<Finding>, Analyzer);
    /// Every finding, in order.
    fn all(&self) -> Vec<Finding>;
    /// Each cause once, as it stood at the end (what a reader keeping the last line of each
    /// id has): the last record of each id, a clearing record counting as the finding cleared.
    fn settled(&self) -> Vec<Finding>;
}

impl Run for Script {
    /// Runs the script through a fresh analyzer: (findings while running, findings at finish).
    fn run(&self) -> (Vec<Finding>, Vec<Finding>, Analyzer) {
        let mut a = Analyzer::new();
        let mut live = Vec::new();
        for e in &self.events {
            a.observe(e, &mut live);
        }
        let mut end = Vec::new();
        a.finish(&mut end);
        (live, end, a)
    }

    fn all(&self) -> Vec<Finding> {
        let (mut l, e, _) = self.run();
        l.extend(e);
        l
    }

    fn settled(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        for mut f in self.all() {
            f.clearing = false;
            match out.iter_mut().find(|o| o.id == f.id) {
                Some(o) => *o = f,
                None => out.push(f),
            }
        }
        out
    }
}

pub fn kinds(fs: &[Finding]) -> Vec<&'static str> {
    fs.iter().map(|f| f.kind).collect()
}

/// No error or warning at all.
pub fn assert_quiet(fs: &[Finding]) {
    for f in fs {
        assert!(
            f.severity == Severity::Info,
            "unexpected {} {:?}: {}",
            f.kind,
            f.severity,
            f.summary
        );
    }
}
