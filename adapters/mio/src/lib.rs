//! A mio event loop for the grpc-sansio engine: few threads, many connections.
//!
//! Each event-loop thread owns a `mio::Poll`, its connections (non-blocking
//! sockets with partial writes), their timers (from the engine's
//! `poll_timeout`), and a `Waker` through which other threads hand it work.
//! The server answers calls on the loop itself, or hands each call to a worker
//! pool as a blocking [`ServerCall`] ([`Server::serve_pool`],
//! [`Server::serve_router`]). On the loop, either async handlers, each call a
//! task polled there with an [`AsyncServerCall`] handle
//! ([`Server::serve_async`], [`Server::serve_router_inline`] for generated
//! services), or an [`InlineHandler`] reacting to the engine's events
//! ([`Server::serve`]). Handlers on the loop must not block: while one runs,
//! the loop serves nothing else; a method that may block belongs on the pool.
//! [`Server::serve_routers`] chooses per method: an async router's methods on
//! the loop, the rest on the pool.
//! The [`Client`] gives blocking [`ClientCall`] handles. Calls take their
//! deadline in [`CallOptions`].
//!
//! A turn of a loop reads everything readable, routes the events (new calls
//! start tasks, events wake them), polls the woken tasks and applies what
//! they asked until nothing moves, then writes once: every call a read brings
//! that can be answered at once is answered in that one write.
//!
//! The engine's `release_on_poll` is always off here: a message's flow-control
//! credit goes back when an inline handler returns from it or a handle's
//! `recv` takes it (a task's as a worker's), so a slow consumer slows its peer.
//!
//! ```
//! use bytes::Bytes;
//! use grpc_sansio::grpc::{metadata::Metadata, status::Status, CallOptions, Config};
//! use grpc_sansio_mio::{Client, Server};
//!
//! let server = Server::new(Config::server()).threads(2).serve_pool("127.0.0.1:0", 4, |mut call| {
//!     let request = call.recv().ok().flatten().unwrap_or_default();
//!     let _ = call.send(request);
//!     call.finish(Status::ok(), Metadata::new());
//! })?;
//! let client = Client::connect(server.local_addr(), Config::client())?;
//! let reply = client.unary(CallOptions::new("/echo.Echo/Say"), Bytes::from_static(b"hi"));
//! assert_eq!(reply.unwrap().message, "hi");
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod event_loop;
mod pool;
mod server;
mod tasks;

pub use client::{Client, ClientCall, UnaryResponse};
pub use event_loop::Link;
pub use grpc_sansio::grpc::CallOptions;
pub use grpc_sansio_service::Workers;
pub use pool::ServerCall;
pub use server::{Calls, InlineHandler, Server, ServerHandle};
pub use tasks::{AsyncHandler, AsyncServerCall};
