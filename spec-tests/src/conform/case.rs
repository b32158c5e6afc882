//! A case: its h2spec id, where RFC 9113 states the rule, and the code that
//! runs it over a connection.

use super::client::Client;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The server's reaction was not the expected one; says what came instead.
    Fail(String),
    /// The case cannot run against this server (h2spec skips it too); says why.
    Skip(String),
}

impl From<String> for CaseError {
    fn from(what: String) -> Self {
        CaseError::Fail(what)
    }
}

/// What a case (or a step of one) comes to: `Ok` is a pass so far.
pub type CaseResult = Result<(), CaseError>;

/// Runs a case over a connection, TCP or in memory (after the handshake,
/// unless the case says otherwise).
pub type CaseFn = fn(&mut dyn Client) -> CaseResult;

/// One h2spec case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// h2spec's id, e.g. `http2/6.9.1/2` (RFC 7540 section numbers).
    pub id: &'static str,
    /// The RFC 9113 section stating the rule, e.g. `6.9.1`.
    pub section: &'static str,
    /// What the case checks, in a few words.
    pub description: &'static str,
    /// Whether the runner does h2spec's handshake before `run`.
    pub handshake: bool,
    /// The response body length the case needs; h2spec skips it against a
    /// server whose response is shorter.
    pub min_body: Option<usize>,
    /// Whether the case runs only in strict mode.
    pub strict: bool,
    /// The case itself.
    pub run: CaseFn,
}

impl Case {
    /// A default-run case that starts after the handshake.
    pub const fn new(
        id: &'static str,
        section: &'static str,
        description: &'static str,
        run: CaseFn,
    ) -> Case {
        Case {
            id,
            section,
            description,
            handshake: true,
            min_body: None,
            strict: false,
            run,
        }
    }

    /// The case sends the preface itself.
    pub const fn without_handshake(self) -> Case {
        Case {
            handshake: false,
            ..self
        }
    }

    /// The case needs a response body of at least `len` octets.
    pub const fn needs_body(self, len: usize) -> Case {
        Case {
            min_body: Some(len),
            ..self
        }
    }

    /// The case runs only with `--strict`.
    pub const fn strict_only(self) -> Case {
        Case {
            strict: true,
            ..self
        }
    }

    /// Whether the case is selected by `filter`: its id, or a prefix of it
    /// ending at a `/` boundary (`http2/5.1` selects `http2/5.1/3`, not
    /// `http2/5.1.1/1`; `hpack` selects the group).
    pub fn matches(&self, filter: &str) -> bool {
        let filter = filter.trim_end_matches('/');
        self.id == filter
            || self
                .id
                .strip_prefix(filter)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}
