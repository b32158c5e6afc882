//! Async tokio server and client for the grpc-sansio engine.
//!
//! A task per connection drives the engine. Server handlers are async
//! functions whose futures that task polls itself, one per call: they must
//! not block the thread (see [`Handler`]). Client calls are handles usable
//! from any task. Calls take their deadline in [`CallOptions`].
//! Sends wait while the engine's send buffer is full, and a received message
//! returns its flow-control credit only when the handle takes it.
//!
//! ```no_run
//! use bytes::Bytes;
//! use grpc_sansio::grpc::{metadata::Metadata, status::Status, CallOptions, Config};
//! use grpc_sansio_tokio::{Channel, Server, ServerCall};
//!
//! # async fn example() -> std::io::Result<()> {
//! let server = Server::bind("127.0.0.1:0", Config::server(), |mut call: ServerCall| async move {
//!     let request = call.recv().await.ok().flatten().unwrap_or_default();
//!     let _ = call.send(request).await;
//!     call.finish(Status::ok(), Metadata::new());
//! })
//! .await?;
//! let channel = Channel::connect(server.local_addr(), Config::client()).await?;
//! let reply = channel.unary(CallOptions::new("/echo.Echo/Say"), Bytes::from_static(b"hi"));
//! assert_eq!(reply.await.unwrap().message, "hi");
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod driver;
mod server;

pub use client::{Channel, ClientCall, UnaryResponse};
pub use driver::{Done, Link, Transport};
pub use grpc_sansio::grpc::CallOptions;
pub use grpc_sansio_service::LocalLink;
pub use server::{Handler, Server, ServerCall};
