//! HTTP/2 (RFC 9113): framing, stream states, flow control and the connection.

mod bdp;
mod config;
mod conn;
mod error;
mod event;
mod flow;
pub mod frame;
mod semantics;
pub mod state;
mod stream_id;

pub use config::Config;
pub use conn::{Connection, PeerSettings, Role, PREFACE};
pub use error::{Error, ErrorCode, Reason, UserError};
pub use event::{Event, Initiator};
pub use state::State;
pub use stream_id::StreamId;
