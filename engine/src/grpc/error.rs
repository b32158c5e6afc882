use super::compression::Encoding;
use super::status::{Code, Status};
use super::CallId;
use crate::h2;

/// A local misuse of the gRPC connection's API, or a call-level refusal.
/// Nothing was sent; the connection is unaffected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The call has ended or never existed.
    #[error("{0} is not active")]
    UnknownCall(CallId),
    /// The send buffer of the call or the connection is full; wait for
    /// [`Event::Writable`](super::Event::Writable).
    #[error("the send buffer of {0} is full")]
    Full(CallId),
    /// The message exceeds `max_send_message_size`.
    #[error("a message of {len} octets exceeds the send limit of {max}")]
    MessageTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// This method belongs to the other role.
    #[error("this operation belongs to the other role")]
    WrongRole,
    /// The connection is closed.
    #[error("the connection is closed")]
    Closed,
    /// A client call's path must be `/Service/Method`.
    #[error("{0:?} is not a /Service/Method path")]
    InvalidPath(String),
    /// Response headers were already sent.
    #[error("the headers of {0} were already sent")]
    HeadersAlreadySent(CallId),
    /// We already half-closed.
    #[error("{0} has already closed its sending side")]
    SendClosed(CallId),
    /// The peer does not accept this encoding.
    #[error("the peer does not accept {0:?}")]
    EncodingNotAccepted(Encoding),
    /// Compressing a message failed.
    #[error("compression failed: {0}")]
    Compression(String),
    /// The HTTP/2 layer refused (stream limit, going away, header size…).
    #[error(transparent)]
    H2(#[from] h2::UserError),
}

impl CallError {
    /// The status a call handle reports for this refusal: a call that is gone
    /// was CANCELLED, an oversized message is RESOURCE_EXHAUSTED, a connection
    /// that cannot take calls is UNAVAILABLE (safe to retry elsewhere), and API
    /// misuse is INTERNAL.
    pub fn to_status(&self) -> Status {
        let code = match self {
            CallError::UnknownCall(_) => Code::Cancelled,
            CallError::MessageTooLarge { .. } => Code::ResourceExhausted,
            CallError::Closed | CallError::H2(_) => Code::Unavailable,
            _ => Code::Internal,
        };
        Status::new(code, self.to_string())
    }
}
