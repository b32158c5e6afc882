//! The typed blocking client: what generated client stubs call. It runs the
//! client interceptors and turns the raw [`ClientStream`] of a transport into
//! typed calls. The rules are in [`client_core`](super::client_core), shared
//! with the [`AsyncClient`](super::AsyncClient).

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::client_core::client_shell;
use super::clock::Clock;
use super::codec::encode;
use super::interceptor::{ClientInterceptor, Scope};
use super::options::{RequestOptions, Response};
use super::transport::{ClientStream, ClientTransport};
use super::MethodKind;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;

client_shell! {
    Call over ClientStream, ClientTransport;
    /// A typed client over a blocking [`ClientTransport`]: runs the client
    /// interceptors and encodes and decodes messages. Generated stubs wrap
    /// one; cloning is cheap.
    Client;
    /// The responses of a server-streaming call (also an [`Iterator`]).
    /// Dropping it before the end cancels the call.
    ResponseStream;
    /// A client-streaming call in progress. Dropping it before the end
    /// cancels the call.
    ClientStreamingCall;
    /// A bidirectional-streaming call in progress. Dropping it before the end
    /// cancels the call.
    BidiCall;
    [] []
}

impl<Resp: Message + Default> Iterator for ResponseStream<Resp> {
    type Item = Result<Resp, Status>;

    /// The next response; the iteration ends with the call, after yielding
    /// its error if it failed.
    fn next(&mut self) -> Option<Self::Item> {
        if self.call.core.delivered_end() {
            return None;
        }
        self.recv().transpose()
    }
}
