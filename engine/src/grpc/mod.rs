//! gRPC over the HTTP/2 engine: messages, compression, metadata, status and
//! deadlines, and the client and server call state machines.

pub mod codec;
pub mod compression;
pub mod metadata;
pub mod status;
pub mod timeout;
