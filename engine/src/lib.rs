//! grpc-sansio: a gRPC and HTTP/2 protocol engine that owns no sockets, no clock
//! and no threads.
//!
//! Bytes go in through `receive`, events and bytes come out through `poll_event`
//! and `poll_transmit`, and time is always an argument. See [`h2::Connection`] for
//! the driving loop.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod grpc;
pub mod h2;
pub mod hash;
pub mod hpack;
pub mod session;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
