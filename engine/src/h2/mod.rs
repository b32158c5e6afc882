//! HTTP/2 (RFC 9113): framing, stream states, flow control and the connection.

mod error;
pub mod frame;
mod stream_id;

pub use error::{Error, ErrorCode, Reason};
pub use stream_id::StreamId;
