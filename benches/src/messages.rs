//! The messages of the benchmark's calls, built once and shared by every
//! client so that all of them send the same octets.

use bytes::Bytes;
use prost::Message;

use crate::pb::{Payload, ResponseParameters, SimpleRequest, SimpleResponse};
use crate::pb::{StreamingOutputCallRequest, StreamingOutputCallResponse};

/// `/grpc.testing.TestService/UnaryCall`.
pub const UNARY_PATH: &str = "/grpc.testing.TestService/UnaryCall";
/// `/grpc.testing.TestService/StreamingOutputCall`.
pub const STREAMING_PATH: &str = "/grpc.testing.TestService/StreamingOutputCall";

/// Zeros that payloads are sliced from.
static ZEROS: [u8; MAX_PAYLOAD] = [0; MAX_PAYLOAD];

/// The largest payload [`payload`] serves without allocating.
pub const MAX_PAYLOAD: usize = 4 << 20;

/// `Payload { body: len zeros }`, a slice of a static buffer up to
/// [`MAX_PAYLOAD`] octets (allocated beyond).
pub fn payload(len: usize) -> Payload {
    let body = if len <= MAX_PAYLOAD {
        Bytes::from_static(&ZEROS[..len])
    } else {
        Bytes::from(vec![0; len])
    };
    Payload { r#type: 0, body }
}

/// A `SimpleRequest` carrying `request` octets and asking for `response`.
pub fn unary_request(request: usize, response: usize) -> SimpleRequest {
    SimpleRequest {
        response_size: i32::try_from(response).expect("response size fits i32"),
        payload: Some(payload(request)),
        ..SimpleRequest::default()
    }
}

/// The `SimpleResponse` a server answers [`unary_request`] with.
pub fn unary_response(response: usize) -> SimpleResponse {
    SimpleResponse {
        payload: Some(payload(response)),
        ..SimpleResponse::default()
    }
}

/// A `StreamingOutputCallRequest` for `count` messages of `size` octets.
pub fn streaming_request(size: usize, count: usize) -> StreamingOutputCallRequest {
    let size = i32::try_from(size).expect("message size fits i32");
    StreamingOutputCallRequest {
        response_parameters: vec![
            ResponseParameters {
                size,
                ..ResponseParameters::default()
            };
            count
        ],
        ..StreamingOutputCallRequest::default()
    }
}

/// Octets of one `StreamingOutputCallResponse` of `size`, prefix excluded.
pub fn streaming_response_len(size: usize) -> usize {
    StreamingOutputCallResponse {
        payload: Some(payload(size)),
    }
    .encoded_len()
}

/// `message` encoded, without the gRPC prefix.
pub fn encode(message: &impl Message) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

/// `message` as one gRPC length-prefixed message (uncompressed): the body of
/// an HTTP/2 request or response carrying it, what `h2load -d` sends.
pub fn framed(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let len = u32::try_from(body.len()).expect("message fits u32");
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(0);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    out
}
