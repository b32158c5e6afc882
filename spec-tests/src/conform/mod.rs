//! h2spec 2.6.0's cases, written once in one table ([`all_cases`]) and run
//! two ways: over TCP against any HTTP/2 server (the library behind the
//! `h2-conform` binary), and in memory against the engine ([`run_in_memory`],
//! one `#[test]` per case in `tests/h2spec.rs`). A case talks to its
//! connection only through [`Client`], which both drivers implement.
//!
//! Over TCP each case opens a fresh plain-text connection (HTTP/2 with prior
//! knowledge), does h2spec's handshake, sends what h2spec sends (built by
//! [`FrameFactory`](crate::factory::FrameFactory)) and judges the server's
//! reaction with h2spec's verdicts ([`verdict::Expect`]): over TCP a closed
//! connection counts as a connection error of any code, and every wait gives
//! up after [`Options::timeout`]. `h2spec-cases.md` describes each case.
//!
//! ```no_run
//! use spec_tests::conform::{run, Options};
//!
//! let options = Options::new("127.0.0.1", 50051);
//! let report = run(&options, |case| println!("{case}")).unwrap();
//! println!("{}", report.summary());
//! ```

use std::time::Duration;

use crate::factory::DUMMY_HEADER_LEN;

mod case;
mod client;
pub mod frames;
mod generic;
mod hpack;
mod http2;
mod memory;
mod probe;
mod report;
mod request;
mod runner;
mod tcp;
pub mod verdict;

pub use case::{Case, CaseError, CaseFn, CaseResult};
pub use client::Client;
pub use memory::run_in_memory;
pub use probe::{probe_body, BodyProbe};
pub use report::{CaseReport, Outcome, Report};
pub use request::RequestKind;
pub use runner::{all_cases, run, run_case, select};
pub use tcp::{Arrival, Conn};

/// h2spec's default wait timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Cases run at once by default: they mostly wait on the network.
pub const DEFAULT_JOBS: usize = 8;

/// What to run, against which server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The server's host name or address.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// How long every wait lasts before it gives up (h2spec's `--timeout`).
    pub timeout: Duration,
    /// The `:path` of every request (h2spec's `--path`).
    pub path: String,
    /// Plain HTTP requests as h2spec sends them, or gRPC calls.
    pub requests: RequestKind,
    /// The value length of the dummy headers some cases send (h2spec's
    /// `--max-header-length`). A server whose SETTINGS_MAX_HEADER_LIST_SIZE
    /// cannot hold two of them next to a request refuses http2/6.10/1.
    pub max_header_length: usize,
    /// Also run the strict-only case (h2spec's `--strict`).
    pub strict: bool,
    /// Case ids or id prefixes to run; empty runs them all.
    pub cases: Vec<String>,
    /// How many cases run at once, each on its own connection.
    pub jobs: usize,
}

impl Options {
    /// Every default-run case against `host:port` with h2spec's defaults.
    pub fn new(host: impl Into<String>, port: u16) -> Options {
        Options {
            host: host.into(),
            port,
            timeout: DEFAULT_TIMEOUT,
            path: "/".to_owned(),
            requests: RequestKind::Http,
            max_header_length: DUMMY_HEADER_LEN,
            strict: false,
            cases: Vec::new(),
            jobs: DEFAULT_JOBS,
        }
    }

    /// The `:authority` of requests: `host:port`, as h2spec sends it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}
