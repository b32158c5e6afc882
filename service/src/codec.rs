//! The prost codec: typed messages to and from the bytes of one gRPC message.

use bytes::Bytes;
use prost::Message;

use grpc_sansio::grpc::status::{Code, Status};

/// Encodes a message.
pub fn encode<M: Message>(message: &M) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

/// Decodes a message; a malformed one is INTERNAL, with the message type and
/// prost's reason in the status message.
pub fn decode<M: Message + Default>(bytes: Bytes) -> Result<M, Status> {
    decode_as(bytes, "message")
}

/// Decodes a request message (the status message says so).
pub(crate) fn decode_request<M: Message + Default>(bytes: Bytes) -> Result<M, Status> {
    decode_as(bytes, "request")
}

/// Decodes a response message (the status message says so).
pub(crate) fn decode_response<M: Message + Default>(bytes: Bytes) -> Result<M, Status> {
    decode_as(bytes, "response")
}

fn decode_as<M: Message + Default>(bytes: Bytes, what: &str) -> Result<M, Status> {
    M::decode(bytes).map_err(|err| {
        Status::new(
            Code::Internal,
            format!(
                "failed to decode the {what} as {}: {err}",
                std::any::type_name::<M>()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Greeting {
        #[prost(string, tag = "1")]
        text: String,
        #[prost(int32, tag = "2")]
        count: i32,
    }

    #[test]
    fn round_trip() {
        let msg = Greeting {
            text: "hi".into(),
            count: 3,
        };
        let bytes = encode(&msg);
        assert_eq!(decode::<Greeting>(bytes).unwrap(), msg);
    }

    #[test]
    fn a_decode_error_is_internal_and_says_what_failed() {
        // Field 1 as a length-delimited string running past the end.
        let err = decode_request::<Greeting>(Bytes::from_static(&[0x0a, 0x05, b'h'])).unwrap_err();
        assert_eq!(err.code(), Code::Internal);
        assert!(
            err.message().contains("failed to decode the request"),
            "{err}"
        );
        assert!(err.message().contains("Greeting"), "{err}");
        let err = decode_response::<Greeting>(Bytes::from_static(&[0xff])).unwrap_err();
        assert!(err.message().contains("response"), "{err}");
    }
}
