//! What the benchmark programs share. The criterion groups are in
//! `benches/benches/`; the side-by-side benchmark against tonic is the
//! `loopback` binary (see `benches/README.md`), which starts the servers and
//! load generators below as processes of their own so that each can be pinned
//! to a CPU:
//!
//! - `bench-tonic-server`: tonic's `grpc.testing.TestService` ([`tonic_service`]);
//! - `bench-load`: our load client ([`load`]) and tonic's ([`tonic_load`]),
//!   idle connections ([`idle`]) and raw TCP ([`raw`]).
//!
//! [`allocations`] is the unary call whose heap blocks the `allocations`
//! example prints and a test bounds.

pub mod allocations;
pub mod args;
pub mod idle;
pub mod latency;
pub mod load;
pub mod messages;
pub mod raw;
pub mod tonic_load;
pub mod tonic_service;

/// The interop protos (`proto/proto/grpc/testing/`) as tonic-prost-build
/// generates them, `bytes` fields as [`bytes::Bytes`].
pub mod pb {
    #![allow(clippy::all, missing_docs, unreachable_pub)]
    include!(concat!(env!("OUT_DIR"), "/grpc.testing.rs"));
}
