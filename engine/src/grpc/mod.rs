//! gRPC over the HTTP/2 engine: messages, compression, metadata, status and
//! deadlines, and the client and server call state machines.

mod byte_str;
mod call;
pub mod codec;
pub mod compression;
mod config;
mod connection;
mod error;
mod event;
pub mod metadata;
mod ping_policy;
pub mod status;
pub mod timeout;
mod timers;

pub use byte_str::ByteStr;
pub use config::Config;
pub use connection::{CallOptions, Connection};
pub use error::CallError;
pub use event::{CallId, Event, Request};
