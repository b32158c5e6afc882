//! What a run found: one line per case, and the summary.

use std::fmt;
use std::time::Duration;

use super::case::Case;

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server reacted as h2spec expects.
    Pass,
    /// It did not; what arrived instead.
    Fail(String),
    /// The case could not run against this server; why.
    Skip(String),
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The case.
    pub case: Case,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took, connection included.
    pub elapsed: Duration,
}

/// `PASS|FAIL|SKIP <id> (RFC 9113 §<section>) <description>[: <detail>]`.
impl fmt::Display for CaseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Case {
            id,
            section,
            description,
            ..
        } = self.case;
        let (word, detail) = match &self.outcome {
            Outcome::Pass => ("PASS", None),
            Outcome::Fail(what) => ("FAIL", Some(what)),
            Outcome::Skip(why) => ("SKIP", Some(why)),
        };
        write!(f, "{word} {id} (RFC 9113 §{section}) {description}")?;
        match detail {
            Some(detail) => write!(f, ": {detail}"),
            None => Ok(()),
        }
    }
}

/// Every case's result, in table order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The results.
    pub cases: Vec<CaseReport>,
}

impl Report {
    fn count(&self, which: fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|r| which(&r.outcome)).count()
    }

    /// Cases passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Pass))
    }

    /// Cases failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Fail(_)))
    }

    /// Cases skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skip(_)))
    }

    /// The reports of the failed cases.
    pub fn failures(&self) -> impl Iterator<Item = &CaseReport> + '_ {
        self.cases
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
    }

    /// `<P> passed, <F> failed, <S> skipped`.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }
}
