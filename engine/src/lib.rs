//! grpc-sansio: a gRPC and HTTP/2 protocol engine that owns no sockets, no clock
//! and no threads.
//!
//! Bytes go in through `receive`, events and bytes come out through `poll_event`
//! and `poll_transmit`, and time is always an argument.
//!
//! # Where to start
//!
//! - **Writing a gRPC service or client?** You need not touch this crate:
//!   generate code from your `.proto` with `grpc-sansio-build`, implement the
//!   generated trait, and serve it with an adapter (`grpc-sansio-tokio`,
//!   `-mio` or `-blocking`); the typed API (router, call context, interceptors,
//!   client stubs' options) is in `grpc-sansio-service`.
//! - **Embedding gRPC in your own event loop?** Drive a [`grpc::Connection`]:
//!   the same loop as [`h2::Connection`]'s (its docs list it), with calls
//!   instead of streams. Or a [`session::Session`], which also routes each
//!   call's events to its handle and parks sends while the send buffer is full.
//! - **Plain HTTP/2, or HPACK alone?** [`h2`] and [`hpack`] stand on their own.
//! - **Testing without sockets?** The `testing` feature gives a client and a
//!   server connection wired together on a virtual clock (`testing::GrpcPair`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod grpc;
pub mod h2;
pub mod hash;
pub mod hpack;
pub mod session;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
