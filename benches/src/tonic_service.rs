//! tonic's `grpc.testing.TestService` for the side-by-side benchmark: the
//! generated server trait, `UnaryCall` honouring `response_size` and
//! `StreamingOutputCall` honouring each `ResponseParameters.size`, with
//! payloads sliced from a static buffer. No deadline, compression, metadata
//! echo or status request is handled: tonic at its best, doing only what the
//! benchmark asks.

use std::net::SocketAddr;
use std::pin::Pin;

use tokio_stream::Stream;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

use crate::messages;
use crate::pb::test_service_server::{TestService, TestServiceServer};
use crate::pb::StreamingOutputCallResponse;
use crate::pb::{SimpleRequest, SimpleResponse, StreamingOutputCallRequest};

/// The service.
#[derive(Debug, Default, Clone, Copy)]
pub struct BenchService;

/// The responses of a `StreamingOutputCall` (the generated trait's
/// `BoxStream`, with default stubs).
pub type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<StreamingOutputCallResponse, Status>> + Send + 'static>>;

fn size(value: i32) -> Result<usize, Status> {
    usize::try_from(value).map_err(|_| Status::invalid_argument("negative size"))
}

#[tonic::async_trait]
impl TestService for BenchService {
    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let size = size(request.get_ref().response_size)?;
        Ok(Response::new(messages::unary_response(size)))
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<ResponseStream>, Status> {
        let sizes = request
            .into_inner()
            .response_parameters
            .iter()
            .map(|p| size(p.size))
            .collect::<Result<Vec<_>, _>>()?;
        let responses = tokio_stream::iter(sizes.into_iter().map(|size| {
            Ok(StreamingOutputCallResponse {
                payload: Some(messages::payload(size)),
            })
        }));
        Ok(Response::new(Box::pin(responses)))
    }
}

/// Serves [`BenchService`] on `listener` until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener) -> Result<(), tonic::transport::Error> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(TestServiceServer::new(BenchService))
        .serve_with_incoming(incoming)
        .await
}

/// Binds `127.0.0.1:port` (0: any free port).
pub async fn bind(port: u16) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
