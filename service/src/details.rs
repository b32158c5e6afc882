//! Rich error details: `grpc-status-details-bin` as a `google.rpc.Status`.
//! The engine carries the details as bytes; decoding them needs prost, which
//! lives here, above the engine.

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use prost::Message;

/// The `google.rpc.Status` message (`google/rpc/status.proto`) and the
/// `google.protobuf.Any` it holds, written by hand to avoid code generation.
pub mod rpc {
    /// `google.rpc.Status`: the usual content of `grpc-status-details-bin`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        /// The status code, a [`Code`](grpc_sansio::grpc::status::Code) number.
        #[prost(int32, tag = "1")]
        pub code: i32,
        /// A developer-facing message, in English.
        #[prost(string, tag = "2")]
        pub message: String,
        /// Messages carrying the error details (such as `google.rpc.ErrorInfo`).
        #[prost(message, repeated, tag = "3")]
        pub details: Vec<Any>,
    }

    /// `google.protobuf.Any`: a serialized message and the URL naming its type.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        /// Names the type, such as `type.googleapis.com/google.rpc.ErrorInfo`.
        #[prost(string, tag = "1")]
        pub type_url: String,
        /// The serialized message.
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }
}

/// A [`Status`] whose details are a `google.rpc.Status`.
pub trait RichDetails: Sized {
    /// Replaces the details with an encoded `google.rpc.Status`. The caller is
    /// expected to keep its `code` and `message` consistent with this status.
    fn with_rich_details(self, details: rpc::Status) -> Self;

    /// The details decoded as a `google.rpc.Status`; `None` when there are no
    /// details.
    fn rich_details(&self) -> Option<Result<rpc::Status, prost::DecodeError>>;
}

impl RichDetails for Status {
    fn with_rich_details(self, details: rpc::Status) -> Status {
        self.with_details(Bytes::from(details.encode_to_vec()))
    }

    fn rich_details(&self) -> Option<Result<rpc::Status, prost::DecodeError>> {
        if self.details().is_empty() {
            return None;
        }
        Some(rpc::Status::decode(self.details().as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use grpc_sansio::grpc::status::Code;

    use super::*;

    #[test]
    fn rich_details_round_trip() {
        assert_eq!(Status::ok().rich_details(), None);
        let rich = rpc::Status {
            code: Code::InvalidArgument.as_i32(),
            message: "bad field".into(),
            details: vec![rpc::Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                value: vec![0x0a, 0x03, b'f', b'o', b'o'],
            }],
        };
        let status =
            Status::new(Code::InvalidArgument, "bad field").with_rich_details(rich.clone());
        let mut out = Vec::new();
        status.to_headers(&mut out);
        let back = Status::from_headers(&out).unwrap();
        assert_eq!(back.rich_details(), Some(Ok(rich)));
        let garbage = Status::ok().with_details(Bytes::from_static(b"\xff\xff"));
        assert!(matches!(garbage.rich_details(), Some(Err(_))));
    }
}
