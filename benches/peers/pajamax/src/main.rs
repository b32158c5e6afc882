//! `bench-pajamax-server --port P`: pajamax serving
//! `grpc.testing.TestService/UnaryCall` (honouring `response_size`, payloads
//! sliced from a static buffer) on 127.0.0.1:P. pajamax is unary-only: the
//! streaming methods of the service answer UNIMPLEMENTED. Runs until killed.

use bytes::Bytes;
use pajamax::status::{Code, Status};

mod pb {
    #![allow(clippy::all, dead_code)]
    pajamax::include_proto!("grpc.testing");
}

use pb::{Empty, Payload, SimpleRequest, SimpleResponse, StreamingInputCallRequest};
use pb::{StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse};

const MAX_PAYLOAD: usize = 4 << 20;
static ZEROS: [u8; MAX_PAYLOAD] = [0; MAX_PAYLOAD];

struct Service;

fn unimplemented<T>() -> pajamax::Response<T> {
    Err(Status {
        code: Code::Unimplemented,
        message: "pajamax serves UnaryCall only".into(),
    })
}

impl pb::TestService for Service {
    fn unary_call(&self, request: SimpleRequest) -> pajamax::Response<SimpleResponse> {
        let size = usize::try_from(request.response_size)
            .ok()
            .filter(|&size| size <= MAX_PAYLOAD)
            .ok_or(Status {
                code: Code::InvalidArgument,
                message: "response_size out of range".into(),
            })?;
        Ok(SimpleResponse {
            payload: Some(Payload {
                r#type: 0,
                body: Bytes::from_static(&ZEROS[..size]),
            }),
            ..SimpleResponse::default()
        })
    }

    fn empty_call(&self, _: Empty) -> pajamax::Response<Empty> {
        Ok(Empty {})
    }

    fn cacheable_unary_call(&self, request: SimpleRequest) -> pajamax::Response<SimpleResponse> {
        self.unary_call(request)
    }

    fn streaming_output_call(
        &self,
        _: StreamingOutputCallRequest,
    ) -> pajamax::Response<StreamingOutputCallResponse> {
        unimplemented()
    }

    fn streaming_input_call(
        &self,
        _: StreamingInputCallRequest,
    ) -> pajamax::Response<StreamingInputCallResponse> {
        unimplemented()
    }

    fn full_duplex_call(
        &self,
        _: StreamingOutputCallRequest,
    ) -> pajamax::Response<StreamingOutputCallResponse> {
        unimplemented()
    }

    fn half_duplex_call(
        &self,
        _: StreamingOutputCallRequest,
    ) -> pajamax::Response<StreamingOutputCallResponse> {
        unimplemented()
    }

    fn unimplemented_call(&self, _: Empty) -> pajamax::Response<Empty> {
        unimplemented()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = match (args.next().as_deref(), args.next().map(|p| p.parse())) {
        (Some("--port"), Some(Ok(port))) => port,
        _ => {
            eprintln!("usage: bench-pajamax-server --port P");
            std::process::exit(2);
        }
    };
    println!("listening on 127.0.0.1:{port}");
    let served = pajamax::Config::new()
        .max_concurrent_connections(20_000)
        .add_service(pb::TestServiceServer::new(Service))
        .serve(("127.0.0.1", port));
    if let Err(e) = served {
        eprintln!("bench-pajamax-server: {e}");
        std::process::exit(1);
    }
}
