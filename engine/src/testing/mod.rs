//! In-memory testing on virtual time (feature `testing`): a gRPC client and
//! server connection wired to each other with no socket and no thread, and the
//! fixtures tests of the engine, its adapters and its users share.
//!
//! [`GrpcPair`] moves octets between the two ends and fires their timers on a
//! [`Clock`] the test moves, so a two-hour keepalive runs in microseconds and
//! the same calls always give the same octets. Either end may be a raw
//! [`h2::Connection`](crate::h2::Connection) instead, for tests that play a
//! misbehaving peer.

pub mod clock;
mod fixtures;
mod pair;

pub use clock::Clock;
pub use fixtures::{
    add_grpc_fields, frame_message, grpc_request, grpc_response, header_value, next_frame,
    parse_frames, pattern, request, Side,
};
pub use pair::{
    assert_lifecycle, cancelled, event_call, finished, half_closed, headers, is_terminal, messages,
    Chunking, Endpoint, GrpcPair, Link, RawClientPair, RawServerPair, MAX_DRIVE_STEPS,
    MAX_TIMER_FIRINGS,
};
