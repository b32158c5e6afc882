//! The case table run in memory, against the engine's server role: each case
//! on a fresh [`TestServer`] on virtual time. `tests/h2spec.rs` makes one
//! `#[test]` per case of [`run_in_memory`].
//!
//! In memory a close comes with the engine's connection error, so a close
//! passes a conn-err or stream-err verdict only with one of the expected codes
//! (stricter than over TCP, never looser), and a skip is a failure: the
//! engine must advertise what every case needs.

use grpc_sansio::h2::frame::Settings;

use super::case::{Case, CaseError, CaseResult};
use super::client::Client;
use super::request::RequestKind;
use super::runner::all_cases;
use super::verdict::Expect;
use crate::factory::FrameFactory;
use crate::server::{TestServer, DEFAULT_BODY_LEN};

impl Client for TestServer {
    fn send(&mut self, bytes: &[u8]) {
        TestServer::send(self, bytes);
    }

    fn expect(&mut self, expect: Expect) -> CaseResult {
        self.verdict(expect).map_err(CaseError::Fail)
    }

    fn factory(&mut self) -> &mut FrameFactory {
        &mut self.factory
    }

    fn server_settings(&self) -> &Settings {
        TestServer::server_settings(self)
    }

    /// h2spec's plain requests: the in-memory application answers any method.
    fn requests(&self) -> RequestKind {
        RequestKind::Http
    }
}

/// Runs the case `id` (strict-only ones too) on a fresh in-memory server.
/// The error names the case and says what happened instead.
pub fn run_in_memory(id: &str) -> Result<(), String> {
    let case = all_cases()
        .find(|c| c.id == id)
        .ok_or_else(|| format!("no case is named {id:?}"))?;
    let named = |what: &str| {
        format!(
            "{} (RFC 9113 §{}) {}: {what}",
            case.id, case.section, case.description
        )
    };
    run(case).map_err(|e| match e {
        CaseError::Fail(what) => named(&what),
        CaseError::Skip(why) => named(&format!("skipped in memory, which must not happen: {why}")),
    })
}

fn run(case: &Case) -> CaseResult {
    if let Some(min) = case.min_body.filter(|&min| min > DEFAULT_BODY_LEN) {
        return Err(CaseError::Skip(format!(
            "needs a body of {min} octets; the in-memory server sends {DEFAULT_BODY_LEN}"
        )));
    }
    let mut server = if case.handshake {
        TestServer::new()
    } else {
        TestServer::without_handshake()
    };
    (case.run)(&mut server)
}
