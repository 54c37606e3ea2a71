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
