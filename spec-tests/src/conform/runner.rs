//! Running the selected cases: a fresh connection each, several at a time
//! (most of a case's time is spent waiting on the network), results handed
//! out in table order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use super::case::{Case, CaseError};
use super::probe::{probe_body, BodyProbe};
use super::report::{CaseReport, Outcome, Report};
use super::request::RequestKind;
use super::tcp::Conn;
use super::{generic, hpack, http2, Options};

/// Every case, strict-only ones included, in h2spec's order.
pub fn all_cases() -> impl Iterator<Item = &'static Case> {
    generic::CASES
        .iter()
        .chain(http2::CASES)
        .chain(hpack::CASES)
}

/// The cases `options` select: all of the default run, or those its filters
/// name; strict-only cases only in strict mode. A filter that selects nothing
/// is an error.
pub fn select(options: &Options) -> Result<Vec<&'static Case>, String> {
    let runnable = |case: &&Case| options.strict || !case.strict;
    if options.cases.is_empty() {
        return Ok(all_cases().filter(runnable).collect());
    }
    for filter in &options.cases {
        let mut named = all_cases().filter(|c| c.matches(filter)).peekable();
        if named.peek().is_none() {
            return Err(format!("no case is named {filter:?}"));
        }
        if !named.any(|c| runnable(&c)) {
            return Err(format!("{filter} runs only with --strict"));
        }
    }
    Ok(all_cases()
        .filter(runnable)
        .filter(|c| options.cases.iter().any(|f| c.matches(f)))
        .collect())
}

/// Runs the cases `options` select against the server, `options.jobs` at a
/// time, and calls `on_report` with each result in table order as soon as
/// the cases before it are done. Fails only when the selection is empty.
pub fn run(options: &Options, mut on_report: impl FnMut(&CaseReport)) -> Result<Report, String> {
    let cases = select(options)?;
    let probe = cases
        .iter()
        .any(|c| c.min_body.is_some())
        .then(|| probe_body(options));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let mut done: Vec<Option<CaseReport>> = vec![None; cases.len()];
    let mut reports = Vec::with_capacity(cases.len());
    thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, cases.len().max(1)) {
            let (tx, next, cases, probe) = (tx.clone(), &next, &cases, probe.as_ref());
            scope.spawn(move || loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(index) else {
                    return;
                };
                if tx.send((index, run_case(case, options, probe))).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        for (index, report) in rx {
            done[index] = Some(report);
            while let Some(report) = done.get_mut(reports.len()).and_then(Option::take) {
                on_report(&report);
                reports.push(report);
            }
        }
    });
    Ok(Report { cases: reports })
}

/// Runs one case on a connection of its own.
pub fn run_case(case: &Case, options: &Options, probe: Option<&BodyProbe>) -> CaseReport {
    let start = Instant::now();
    let outcome = match outcome(case, options, probe) {
        Ok(()) => Outcome::Pass,
        Err(CaseError::Fail(what)) => Outcome::Fail(what),
        Err(CaseError::Skip(why)) => Outcome::Skip(why),
    };
    CaseReport {
        case: *case,
        outcome,
        elapsed: start.elapsed(),
    }
}

fn outcome(case: &Case, options: &Options, probe: Option<&BodyProbe>) -> Result<(), CaseError> {
    if let (Some(min), Some(probe)) = (case.min_body, probe) {
        if probe.len < min {
            let mut why = format!(
                "needs a response body of at least {min} octets; {}",
                probe.summary
            );
            if options.requests == RequestKind::Http {
                why.push_str(
                    "; a gRPC server sends a body only in answer to a gRPC call \
                     (--grpc --path /package.Service/Method)",
                );
            }
            return Err(CaseError::Skip(why));
        }
    }
    let mut conn = Conn::connect(options).map_err(|e| {
        CaseError::Fail(format!(
            "cannot connect to {}:{}: {e}",
            options.host, options.port
        ))
    })?;
    if case.handshake {
        conn.handshake()?;
    }
    (case.run)(&mut conn)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn ids(options: &Options) -> Result<Vec<&'static str>, String> {
        select(options).map(|cases| cases.iter().map(|c| c.id).collect())
    }

    #[test]
    fn the_table_holds_h2spec_cases_once_each() {
        let all: Vec<_> = all_cases().collect();
        assert_eq!(all.len(), 147);
        let unique: HashSet<_> = all.iter().map(|c| c.id).collect();
        assert_eq!(unique.len(), 147, "duplicate ids");
        for (group, count) in [("generic", 44), ("http2", 95), ("hpack", 8)] {
            assert_eq!(all.iter().filter(|c| c.matches(group)).count(), count);
        }
        let strict: Vec<_> = all.iter().filter(|c| c.strict).map(|c| c.id).collect();
        assert_eq!(strict, ["http2/5.4.1/2"]);
    }

    #[test]
    fn filters_select_ids_and_sections() {
        let mut options = Options::new("localhost", 1);
        assert_eq!(ids(&options).unwrap().len(), 146);
        options.strict = true;
        assert_eq!(ids(&options).unwrap().len(), 147);
        options.cases = vec!["http2/5.1".to_owned(), "generic/1/1".to_owned()];
        let selected = ids(&options).unwrap();
        assert_eq!(selected.len(), 14, "{selected:?}");
        assert_eq!(selected[0], "generic/1/1", "table order, not filter order");
        assert!(selected[1..].iter().all(|id| id.starts_with("http2/5.1/")));
    }

    #[test]
    fn filters_that_select_nothing_are_errors() {
        let mut options = Options::new("localhost", 1);
        options.cases = vec!["http2/5.4.1/2".to_owned()];
        assert!(ids(&options).unwrap_err().contains("--strict"));
        options.cases = vec!["http2/9".to_owned()];
        assert!(ids(&options).unwrap_err().contains("no case"));
    }
}
