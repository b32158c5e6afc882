//! The blocking adapters' streams seen through the async interfaces, so the
//! interop service and cases are written once. Each future does its blocking
//! work when first polled and is then ready.

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::CallOptions;
use grpc_sansio_service::{
    AsyncClientStream, AsyncClientTransport, AsyncServerStream, BoxFuture, ClientStream,
    ClientTransport, ServerStream,
};

/// A blocking server stream as an async one.
pub struct BlockingServerStream<'a>(pub &'a mut dyn ServerStream);

impl AsyncServerStream for BlockingServerStream<'_> {
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(async move { self.0.recv() })
    }
    /// Blocks as `recv`'s future would, without boxing one.
    fn try_recv(&mut self) -> Option<Result<Option<Bytes>, Status>> {
        Some(self.0.recv())
    }
    fn recv_compressed(&self) -> bool {
        self.0.recv_compressed()
    }
    fn send_headers(&mut self, metadata: Metadata) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move { self.0.send_headers(metadata) })
    }
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        self.0.set_compression(encoding)
    }
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move { self.0.send_with(message, compress) })
    }
    fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.0.send_last_with(message, compress)
    }
}

/// A blocking client transport as an async one.
pub struct BlockingTransport<T>(pub T);

impl<T: ClientTransport> AsyncClientTransport for BlockingTransport<T> {
    fn call(
        &self,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<Box<dyn AsyncClientStream>, Status>> {
        Box::pin(async move {
            let stream = self.0.call(options)?;
            Ok(Box::new(BlockingClientStream(stream)) as Box<dyn AsyncClientStream>)
        })
    }
}

struct BlockingClientStream(Box<dyn ClientStream>);

impl AsyncClientStream for BlockingClientStream {
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move { self.0.send_with(message, compress) })
    }
    fn close_send(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.0.close_send() })
    }
    fn send_last(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move { self.0.send_last(message) })
    }
    fn headers(&mut self) -> BoxFuture<'_, Result<Metadata, Status>> {
        Box::pin(async move { self.0.headers() })
    }
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(async move { self.0.recv() })
    }
    fn recv_compressed(&self) -> bool {
        self.0.recv_compressed()
    }
    fn finish(&mut self) -> BoxFuture<'_, (Status, Metadata)> {
        Box::pin(async move { self.0.finish() })
    }
    fn cancel(&mut self) {
        self.0.cancel()
    }
}
