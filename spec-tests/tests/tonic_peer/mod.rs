//! A tonic peer for the interop cases of `spec-tests/interop/CASES.md`: a
//! `grpc.testing.TestService` server and a client running the 18 cases.
//!
//! Each integration test that says `mod tonic_peer;` compiles its own copy and
//! may use only the server or only the client, hence `dead_code`; the API is
//! `pub` for those test crates, whose root module keeps it private, hence
//! `unreachable_pub`.
#![allow(dead_code, unreachable_pub)]

pub mod client;
pub mod server;

/// The interop protos (`proto/proto/grpc/testing/`) as tonic-prost-build
/// generates them.
pub mod pb {
    #![allow(clippy::all, missing_docs, unreachable_pub)]
    include!(concat!(env!("OUT_DIR"), "/tonic/grpc.testing.rs"));
}

/// Metadata key whose value the server echoes in its initial metadata.
pub const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// Metadata key whose value the server echoes in its trailers.
pub const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

/// `Payload { type: COMPRESSABLE, body: size zero bytes }`, CASES.md's "payload N".
pub fn payload(size: usize) -> pb::Payload {
    pb::Payload {
        r#type: pb::PayloadType::Compressable as i32,
        body: vec![0; size],
    }
}
