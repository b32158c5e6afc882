//! In-memory transports for the generated clients, wired straight to a
//! router: a thread (blocking) or a task (async) runs each call, and channels
//! carry the messages both ways, as an adapter would. No sockets.
#![allow(dead_code, unreachable_pub)]

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::CallOptions;
use grpc_sansio_service::{
    AsyncClientStream, AsyncClientTransport, AsyncRouter, AsyncServerStream, BoxFuture,
    CallContext, CancelReason, CancelToken, ClientStream, ClientTransport, Router, ServerStream,
};

enum ToServer {
    Message(Bytes),
    HalfClose,
    Cancel,
}

enum ToClient {
    Headers(Metadata),
    Message(Bytes),
    End(Status, Metadata),
}

/// The context an adapter would build: path, metadata, deadline, peer, and a
/// token cancelled when the deadline passes.
fn context(options: &CallOptions, peer: &str, token: &CancelToken) -> CallContext {
    let now = Instant::now();
    let deadline = match (options.deadline, options.timeout.map(|t| now + t)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(deadline) = deadline {
        // The engine would report the deadline as a cancellation.
        let token = token.clone();
        thread::spawn(move || {
            thread::sleep(deadline.saturating_duration_since(Instant::now()));
            token.cancel_with(CancelReason::DeadlineExceeded);
        });
    }
    CallContext::from_parts(
        options.path.clone(),
        options.metadata.clone(),
        deadline,
        now,
    )
    .with_peer_addr(peer)
    .with_cancel_token(token.clone())
    .with_clock(Arc::new(Instant::now))
}

// ----- blocking -----

/// A blocking "channel" to a router: each call runs on its own thread.
#[derive(Clone)]
pub struct MemoryChannel {
    router: Arc<Router>,
    peer: String,
}

impl MemoryChannel {
    pub fn new(router: Router) -> Self {
        MemoryChannel::shared(Arc::new(router))
    }

    pub fn shared(router: Arc<Router>) -> Self {
        MemoryChannel {
            router,
            peer: "192.0.2.7:50123".into(),
        }
    }
}

impl ClientTransport for MemoryChannel {
    fn call(&self, options: CallOptions) -> Result<Box<dyn ClientStream>, Status> {
        let (to_server, server_rx) = mpsc::channel();
        let (server_tx, from_server) = mpsc::channel();
        let token = CancelToken::new();
        let ctx = context(&options, &self.peer, &token);
        let router = self.router.clone();
        let server_token = token.clone();
        thread::spawn(move || {
            let mut stream = MemoryServerStream {
                rx: server_rx,
                tx: server_tx.clone(),
                token: server_token,
                half_closed: false,
                headers_sent: false,
            };
            let outcome = router.dispatch(&mut stream, ctx);
            let _ = server_tx.send(ToClient::End(outcome.status, outcome.trailers));
        });
        Ok(Box::new(MemoryClientStream {
            tx: to_server,
            rx: from_server,
            headers: None,
            end: None,
        }))
    }
}

struct MemoryServerStream {
    rx: mpsc::Receiver<ToServer>,
    tx: mpsc::Sender<ToClient>,
    token: CancelToken,
    half_closed: bool,
    headers_sent: bool,
}

impl ServerStream for MemoryServerStream {
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        if self.half_closed {
            return Ok(None);
        }
        loop {
            if let Some(reason) = self.token.reason() {
                return Err(reason.to_status());
            }
            match self.rx.recv_timeout(std::time::Duration::from_millis(5)) {
                Ok(ToServer::Message(message)) => return Ok(Some(message)),
                Ok(ToServer::HalfClose) => {
                    self.half_closed = true;
                    return Ok(None);
                }
                Ok(ToServer::Cancel) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.token.cancel();
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status> {
        self.headers_sent = true;
        let _ = self.tx.send(ToClient::Headers(metadata));
        Ok(())
    }

    /// Nothing in memory is compressed.
    fn recv_compressed(&self) -> bool {
        false
    }

    fn set_compression(&mut self, _encoding: Encoding) -> Result<(), Status> {
        Ok(())
    }

    fn send_with(&mut self, message: Bytes, _compress: bool) -> Result<(), Status> {
        if let Some(reason) = self.token.reason() {
            return Err(reason.to_status());
        }
        if !self.headers_sent {
            self.send_headers(Metadata::new())?;
        }
        self.tx
            .send(ToClient::Message(message))
            .map_err(|_| Status::new(Code::Cancelled, "the client is gone"))
    }
}

struct MemoryClientStream {
    tx: mpsc::Sender<ToServer>,
    rx: mpsc::Receiver<ToClient>,
    headers: Option<Metadata>,
    end: Option<(Status, Metadata)>,
}

impl MemoryClientStream {
    fn next(&mut self) -> Option<Bytes> {
        match self.rx.recv() {
            Ok(ToClient::Headers(metadata)) => self.headers = Some(metadata),
            Ok(ToClient::Message(message)) => return Some(message),
            Ok(ToClient::End(status, trailers)) => self.end = Some((status, trailers)),
            Err(_) => {
                self.end = Some((
                    Status::new(Code::Unavailable, "the server is gone"),
                    Metadata::new(),
                ))
            }
        }
        None
    }
}

impl ClientStream for MemoryClientStream {
    /// Nothing in memory is compressed.
    fn recv_compressed(&self) -> bool {
        false
    }

    fn send_with(&mut self, message: Bytes, _compress: bool) -> Result<(), Status> {
        if self.end.is_some() {
            return Err(Status::new(Code::Cancelled, "the call is over"));
        }
        self.tx
            .send(ToServer::Message(message))
            .map_err(|_| Status::new(Code::Cancelled, "the call is over"))
    }

    fn close_send(&mut self) {
        let _ = self.tx.send(ToServer::HalfClose);
    }

    fn headers(&mut self) -> Result<Metadata, Status> {
        while self.headers.is_none() && self.end.is_none() {
            if let Some(message) = self.next() {
                unreachable!("a message before the headers: {message:?}");
            }
        }
        Ok(self.headers.clone().unwrap_or_default())
    }

    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some((status, _)) = &self.end {
                return if status.is_ok() {
                    Ok(None)
                } else {
                    Err(status.clone())
                };
            }
            if let Some(message) = self.next() {
                return Ok(Some(message));
            }
        }
    }

    fn finish(&mut self) -> (Status, Metadata) {
        while self.end.is_none() {
            self.next();
        }
        self.end.clone().expect("ended")
    }

    fn cancel(&mut self) {
        if self.end.is_none() {
            let _ = self.tx.send(ToServer::Cancel);
            self.end = Some((Status::new(Code::Cancelled, "cancelled"), Metadata::new()));
        }
    }
}

impl Drop for MemoryClientStream {
    fn drop(&mut self) {
        self.cancel();
    }
}

// ----- async (tokio) -----

/// An async "channel" to an async router: each call runs as a tokio task.
#[derive(Clone)]
pub struct AsyncMemoryChannel {
    router: Arc<AsyncRouter>,
    peer: String,
}

impl AsyncMemoryChannel {
    pub fn new(router: AsyncRouter) -> Self {
        AsyncMemoryChannel {
            router: Arc::new(router),
            peer: "198.51.100.3:443".into(),
        }
    }
}

impl AsyncClientTransport for AsyncMemoryChannel {
    fn call(
        &self,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<Box<dyn AsyncClientStream>, Status>> {
        Box::pin(async move {
            let (to_server, server_rx) = tokio::sync::mpsc::unbounded_channel();
            let (server_tx, from_server) = tokio::sync::mpsc::unbounded_channel();
            let token = CancelToken::new();
            let ctx = context(&options, &self.peer, &token);
            let router = self.router.clone();
            tokio::spawn(async move {
                let mut stream = AsyncMemoryServerStream {
                    rx: server_rx,
                    tx: server_tx.clone(),
                    token,
                    half_closed: false,
                    headers_sent: false,
                };
                let outcome = router.dispatch(&mut stream, ctx).await;
                let _ = server_tx.send(ToClient::End(outcome.status, outcome.trailers));
            });
            let stream: Box<dyn AsyncClientStream> = Box::new(AsyncMemoryClientStream {
                tx: to_server,
                rx: from_server,
                headers: None,
                end: None,
            });
            Ok(stream)
        })
    }
}

struct AsyncMemoryServerStream {
    rx: tokio::sync::mpsc::UnboundedReceiver<ToServer>,
    tx: tokio::sync::mpsc::UnboundedSender<ToClient>,
    token: CancelToken,
    half_closed: bool,
    headers_sent: bool,
}

impl AsyncServerStream for AsyncMemoryServerStream {
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(async move {
            if self.half_closed {
                return Ok(None);
            }
            let received = tokio::select! {
                reason = self.token.cancelled() => return Err(reason.to_status()),
                received = self.rx.recv() => received,
            };
            match received {
                Some(ToServer::Message(message)) => Ok(Some(message)),
                Some(ToServer::HalfClose) => {
                    self.half_closed = true;
                    Ok(None)
                }
                Some(ToServer::Cancel) | None => {
                    self.token.cancel();
                    Err(Status::new(Code::Cancelled, "the client cancelled"))
                }
            }
        })
    }

    fn send_headers(&mut self, metadata: Metadata) -> BoxFuture<'_, Result<(), Status>> {
        self.headers_sent = true;
        let _ = self.tx.send(ToClient::Headers(metadata));
        Box::pin(std::future::ready(Ok(())))
    }

    /// Nothing in memory is compressed.
    fn recv_compressed(&self) -> bool {
        false
    }

    fn set_compression(&mut self, _encoding: Encoding) -> Result<(), Status> {
        Ok(())
    }

    fn send_with(&mut self, message: Bytes, _compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move {
            if let Some(reason) = self.token.reason() {
                return Err(reason.to_status());
            }
            if !self.headers_sent {
                self.send_headers(Metadata::new()).await?;
            }
            self.tx
                .send(ToClient::Message(message))
                .map_err(|_| Status::new(Code::Cancelled, "the client is gone"))
        })
    }

    /// In memory a send never waits: the same as `send`.
    fn send_last_with(&mut self, message: Bytes, _compress: bool) -> Result<(), Status> {
        if let Some(reason) = self.token.reason() {
            return Err(reason.to_status());
        }
        if !self.headers_sent {
            drop(self.send_headers(Metadata::new()));
        }
        self.tx
            .send(ToClient::Message(message))
            .map_err(|_| Status::new(Code::Cancelled, "the client is gone"))
    }
}

struct AsyncMemoryClientStream {
    tx: tokio::sync::mpsc::UnboundedSender<ToServer>,
    rx: tokio::sync::mpsc::UnboundedReceiver<ToClient>,
    headers: Option<Metadata>,
    end: Option<(Status, Metadata)>,
}

impl AsyncMemoryClientStream {
    async fn next(&mut self) -> Option<Bytes> {
        match self.rx.recv().await {
            Some(ToClient::Headers(metadata)) => self.headers = Some(metadata),
            Some(ToClient::Message(message)) => return Some(message),
            Some(ToClient::End(status, trailers)) => self.end = Some((status, trailers)),
            None => {
                self.end = Some((
                    Status::new(Code::Unavailable, "the server is gone"),
                    Metadata::new(),
                ))
            }
        }
        None
    }
}

impl AsyncClientStream for AsyncMemoryClientStream {
    /// Nothing in memory is compressed.
    fn recv_compressed(&self) -> bool {
        false
    }

    fn send_with(&mut self, message: Bytes, _compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        let result = if self.end.is_some() {
            Err(Status::new(Code::Cancelled, "the call is over"))
        } else {
            self.tx
                .send(ToServer::Message(message))
                .map_err(|_| Status::new(Code::Cancelled, "the call is over"))
        };
        Box::pin(std::future::ready(result))
    }

    fn close_send(&mut self) -> BoxFuture<'_, ()> {
        let _ = self.tx.send(ToServer::HalfClose);
        Box::pin(std::future::ready(()))
    }

    fn headers(&mut self) -> BoxFuture<'_, Result<Metadata, Status>> {
        Box::pin(async move {
            while self.headers.is_none() && self.end.is_none() {
                assert!(self.next().await.is_none(), "a message before the headers");
            }
            Ok(self.headers.clone().unwrap_or_default())
        })
    }

    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(async move {
            loop {
                if let Some((status, _)) = &self.end {
                    return if status.is_ok() {
                        Ok(None)
                    } else {
                        Err(status.clone())
                    };
                }
                if let Some(message) = self.next().await {
                    return Ok(Some(message));
                }
            }
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, (Status, Metadata)> {
        Box::pin(async move {
            while self.end.is_none() {
                self.next().await;
            }
            self.end.clone().expect("ended")
        })
    }

    fn cancel(&mut self) {
        if self.end.is_none() {
            let _ = self.tx.send(ToServer::Cancel);
            self.end = Some((Status::new(Code::Cancelled, "cancelled"), Metadata::new()));
        }
    }
}

impl Drop for AsyncMemoryClientStream {
    fn drop(&mut self) {
        self.cancel();
    }
}
