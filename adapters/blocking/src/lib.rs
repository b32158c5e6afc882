//! Blocking `std::net` server and client for the grpc-sansio engine.
//!
//! A thread per connection drives the engine; handlers are plain functions
//! run by a bounded pool of worker threads (see [`Builder`] for its sizes and
//! how calls reach it), or async handlers polled as tasks on the connection's
//! thread itself, with no thread hop ([`Builder::bind_router_inline`], or per
//! method [`Builder::bind_routers`]). Inline handlers must not block: they
//! run on the connection's thread; a method that may block belongs on the
//! pool. A turn of a connection's thread takes what arrived, routes the
//! events (new calls start tasks, events wake them), polls the woken tasks
//! and applies what they asked until nothing moves, then writes once. Calls
//! take their deadline in [`CallOptions`].
//!
//! ```no_run
//! use bytes::Bytes;
//! use grpc_sansio::grpc::{metadata::Metadata, status::Status, CallOptions, Config};
//! use grpc_sansio_blocking::{Channel, Server};
//!
//! let server = Server::bind("127.0.0.1:0", Config::server(), |mut call| {
//!     let request = call.recv().ok().flatten().unwrap_or_default();
//!     let _ = call.send(request);
//!     call.finish(Status::ok(), Metadata::new());
//! })?;
//! let channel = Channel::connect(server.local_addr(), Config::client())?;
//! let reply = channel.unary(CallOptions::new("/echo.Echo/Say"), Bytes::from_static(b"hi"));
//! assert_eq!(reply.unwrap().message, "hi");
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod driver;
mod server;

pub use client::{Channel, ClientCall, UnaryResponse};
pub use driver::{Link, Transport};
pub use grpc_sansio::grpc::CallOptions;
pub use grpc_sansio_service::Workers;
pub use server::{AsyncHandler, AsyncServerCall, Builder, Handler, Server, ServerCall};
