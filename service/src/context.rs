//! What a handler knows about its call, and what it can set on the response.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::clock::Clock;
use super::extensions::Extensions;
use super::MethodKind;
use super::{CancelToken, Cancelled};
use grpc_sansio::grpc::metadata::{Metadata, MetadataError};
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{ByteStr, Request};

/// A handler's view of its call: the request head, the time left, the
/// cancellation signal, the response metadata to send, and values interceptors
/// attached.
///
/// The adapter builds one per call with [`CallContext::new`] (the time it passes
/// is the call's start) and hands it to [`Router::dispatch`](super::Router::dispatch);
/// it keeps a clone of the [`CancelToken`] to set when the engine reports the
/// call cancelled.
pub struct CallContext {
    path: ByteStr,
    authority: Option<ByteStr>,
    metadata: Metadata,
    deadline: Option<Instant>,
    started: Instant,
    kind: Option<MethodKind>,
    /// Shared with the connection's [`Origin`](super::Origin): a clone per
    /// call, not a copy.
    peer_addr: Option<ByteStr>,
    local_addr: Option<ByteStr>,
    cancel: CancelToken,
    clock: Option<Arc<dyn Clock>>,
    pub(crate) headers: ResponseHeaders,
    trailers: Metadata,
    extensions: Extensions,
}

impl CallContext {
    /// The context of a call that started at `now` with this request head.
    pub fn new(request: &Request, now: Instant) -> Self {
        CallContext::with_token(request, now, CancelToken::new())
    }

    /// [`new`](Self::new) with the call's own cancellation token: a call
    /// handle's context makes no token only to replace it.
    pub(crate) fn with_token(request: &Request, now: Instant, cancel: CancelToken) -> Self {
        let mut ctx = CallContext::with_path(
            request.path.clone(),
            request.metadata.clone(),
            request.deadline,
            now,
            cancel,
        );
        ctx.authority = request.authority.clone();
        ctx
    }

    /// The context of a call to `path` with this metadata and deadline, started
    /// at `now`: for adapters without a [`Request`] and for tests.
    pub fn from_parts(
        path: impl Into<String>,
        metadata: Metadata,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Self {
        CallContext::with_path(
            ByteStr::from(path.into()),
            metadata,
            deadline,
            now,
            CancelToken::new(),
        )
    }

    /// [`from_parts`](Self::from_parts) with the path as it is held: the
    /// request's, shared.
    fn with_path(
        path: ByteStr,
        metadata: Metadata,
        deadline: Option<Instant>,
        now: Instant,
        cancel: CancelToken,
    ) -> Self {
        CallContext {
            path,
            authority: None,
            metadata,
            deadline,
            started: now,
            kind: None,
            peer_addr: None,
            local_addr: None,
            cancel,
            clock: None,
            headers: ResponseHeaders::default(),
            trailers: Metadata::new(),
            extensions: Extensions::new(),
        }
    }

    /// Records the client's address.
    pub fn with_peer_addr(mut self, addr: impl Into<ByteStr>) -> Self {
        self.peer_addr = Some(addr.into());
        self
    }

    /// Records our own address (the one the client connected to).
    pub fn with_local_addr(mut self, addr: impl Into<ByteStr>) -> Self {
        self.local_addr = Some(addr.into());
        self
    }

    /// Uses `token` as the cancellation signal (the adapter keeps a clone).
    pub fn with_cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }

    /// Reads the time from `clock` (the router's clock is used otherwise).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    pub(crate) fn set_clock_if_none(&mut self, clock: Option<&Arc<dyn Clock>>) {
        if self.clock.is_none() {
            self.clock = clock.cloned();
        }
    }

    pub(crate) fn clock(&self) -> Option<&Arc<dyn Clock>> {
        self.clock.as_ref()
    }

    pub(crate) fn set_kind(&mut self, kind: MethodKind) {
        self.kind = Some(kind);
    }

    // ----- the request -----

    /// The `:path`, `/package.Service/Method`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The service part of the path (`package.Service`).
    pub fn service(&self) -> &str {
        split_path(&self.path).0
    }

    /// The method part of the path (`Method`).
    pub fn method(&self) -> &str {
        split_path(&self.path).1
    }

    /// The kind of the method, once the router has found it.
    pub fn kind(&self) -> Option<MethodKind> {
        self.kind
    }

    /// The `:authority` the client sent.
    pub fn authority(&self) -> Option<&str> {
        self.authority.as_deref()
    }

    /// The request metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The request metadata, for an interceptor to rewrite (for example to drop
    /// a credential once checked).
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// The client's address, when the adapter knows it.
    pub fn peer_addr(&self) -> Option<&str> {
        self.peer_addr.as_deref()
    }

    /// Our address for this call (a server may listen on several), when the
    /// adapter knows it.
    pub fn local_addr(&self) -> Option<&str> {
        self.local_addr.as_deref()
    }

    // ----- time -----

    /// When the call started (the `now` given to [`CallContext::new`]).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The current time, when a clock was given.
    pub fn now(&self) -> Option<Instant> {
        self.clock.as_ref().map(|clock| clock.now())
    }

    /// When the call expires, if the client set a deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left before the deadline at `now` (zero once it passed).
    pub fn remaining_at(&self, now: Instant) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(now))
    }

    /// The time left before the deadline: now, with a clock; at the start of
    /// the call without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.remaining_at(self.now().unwrap_or(self.started))
    }

    // ----- cancellation -----

    /// The call's cancellation signal.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// Whether the call is over for the client: cancelled, or (with a clock)
    /// past its deadline.
    pub fn is_cancelled(&self) -> bool {
        self.check().is_err()
    }

    /// `Err` with CANCELLED or DEADLINE_EXCEEDED once the call is over for the
    /// client, for a streaming handler to `?` in its loop.
    pub fn check(&self) -> Result<(), Status> {
        if let Some(reason) = self.cancel.reason() {
            return Err(reason.to_status());
        }
        match (self.deadline, self.now()) {
            (Some(deadline), Some(now)) if now >= deadline => Err(Status::new(
                Code::DeadlineExceeded,
                "the deadline of the call has passed",
            )),
            _ => Ok(()),
        }
    }

    /// A future that completes when the call is cancelled (the adapter sets
    /// the signal for the deadline too).
    pub fn cancelled(&self) -> Cancelled<'_> {
        self.cancel.cancelled()
    }

    // ----- response metadata -----

    /// Adds a text entry to the response headers (initial metadata). They go
    /// out before the first response message, or with the status; after that
    /// this fails with INTERNAL.
    pub fn set_header(&mut self, key: &str, value: &str) -> Result<(), Status> {
        self.headers.update(|md| md.insert(key, value))
    }

    /// Adds a binary (`-bin`) entry to the response headers.
    pub fn set_header_bin(&mut self, key: &str, value: impl Into<Bytes>) -> Result<(), Status> {
        let value = value.into();
        self.headers.update(|md| md.insert_bin(key, value))
    }

    /// The response headers set so far (empty once sent).
    pub fn response_headers(&self) -> Metadata {
        self.headers.pending()
    }

    /// Whether the response headers have gone out.
    pub fn headers_sent(&self) -> bool {
        self.headers.sent()
    }

    /// Adds a text entry to the trailers sent with the status.
    pub fn set_trailer(&mut self, key: &str, value: &str) -> Result<(), Status> {
        self.trailers.insert(key, value).map_err(invalid_metadata)
    }

    /// Adds a binary (`-bin`) entry to the trailers.
    pub fn set_trailer_bin(&mut self, key: &str, value: impl Into<Bytes>) -> Result<(), Status> {
        self.trailers
            .insert_bin(key, value.into())
            .map_err(invalid_metadata)
    }

    /// The trailers set so far.
    pub fn trailers(&self) -> &Metadata {
        &self.trailers
    }

    pub(crate) fn take_trailers(&mut self) -> Metadata {
        std::mem::take(&mut self.trailers)
    }

    // ----- extensions -----

    /// Values attached to the call by interceptors.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Values attached to the call, to add to.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("metadata", &self.metadata)
            .field("deadline", &self.deadline)
            .field("peer_addr", &self.peer_addr)
            .field("cancel", &self.cancel)
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

fn split_path(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').unwrap_or((path, ""))
}

fn invalid_metadata(err: MetadataError) -> Status {
    Status::new(Code::Internal, format!("invalid response metadata: {err}"))
}

/// The response headers, shared between the context (where the handler sets
/// them) and the response sink (which sends them before the first message).
#[derive(Clone, Default)]
pub(crate) struct ResponseHeaders {
    inner: Arc<Mutex<HeaderState>>,
}

#[derive(Default)]
struct HeaderState {
    metadata: Metadata,
    sent: bool,
}

impl ResponseHeaders {
    fn update(
        &self,
        f: impl FnOnce(&mut Metadata) -> Result<(), MetadataError>,
    ) -> Result<(), Status> {
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if state.sent {
            return Err(Status::new(
                Code::Internal,
                "the response headers were already sent",
            ));
        }
        f(&mut state.metadata).map_err(invalid_metadata)
    }

    fn pending(&self) -> Metadata {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .metadata
            .clone()
    }

    fn sent(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sent
    }

    /// Marks the headers sent; returns them (possibly empty) if they were not
    /// sent yet.
    pub(crate) fn take_unsent(&self) -> Option<Metadata> {
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if state.sent {
            return None;
        }
        state.sent = true;
        Some(std::mem::take(&mut state.metadata))
    }

    /// Before a message or the status: the headers to send explicitly, if
    /// they are unsent and not empty (empty ones go out implicitly).
    pub(crate) fn take_nonempty(&self) -> Option<Metadata> {
        self.take_unsent().filter(|md| !md.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::CancelReason;

    fn ctx(deadline: Option<Duration>) -> (CallContext, Instant) {
        let start = Instant::now();
        let mut md = Metadata::new();
        md.insert("x-user", "alice").unwrap();
        (
            CallContext::from_parts("/pkg.Svc/Do", md, deadline.map(|d| start + d), start)
                .with_peer_addr("10.0.0.1:5000"),
            start,
        )
    }

    #[test]
    fn request_head() {
        let (ctx, _) = ctx(None);
        assert_eq!(ctx.path(), "/pkg.Svc/Do");
        assert_eq!(ctx.service(), "pkg.Svc");
        assert_eq!(ctx.method(), "Do");
        assert_eq!(ctx.metadata().get("x-user"), Some("alice"));
        assert_eq!(ctx.peer_addr(), Some("10.0.0.1:5000"));
        assert_eq!(ctx.remaining(), None);
        assert!(ctx.check().is_ok());
    }

    #[test]
    fn remaining_deadline_follows_the_clock() {
        let (ctx, start) = ctx(Some(Duration::from_secs(10)));
        // Without a clock: the time left at the start.
        assert_eq!(ctx.remaining(), Some(Duration::from_secs(10)));
        assert_eq!(
            ctx.remaining_at(start + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        let clock = Arc::new(ManualClock::new(start));
        let ctx = ctx.with_clock(clock.clone());
        clock.advance(Duration::from_secs(3));
        assert_eq!(ctx.remaining(), Some(Duration::from_secs(7)));
        assert!(!ctx.is_cancelled());
        clock.advance(Duration::from_secs(8));
        assert_eq!(ctx.remaining(), Some(Duration::ZERO));
        assert_eq!(ctx.check().unwrap_err().code(), Code::DeadlineExceeded);
    }

    #[test]
    fn cancellation_is_visible_through_the_context() {
        let token = CancelToken::new();
        let (ctx, _) = ctx(None);
        let ctx = ctx.with_cancel_token(token.clone());
        assert!(!ctx.is_cancelled());
        token.cancel_with(CancelReason::Cancelled);
        assert!(ctx.is_cancelled());
        assert_eq!(ctx.check().unwrap_err().code(), Code::Cancelled);
    }

    #[test]
    fn response_metadata() {
        let (mut ctx, _) = ctx(None);
        ctx.set_header("x-served-by", "a").unwrap();
        ctx.set_header_bin("x-raw-bin", &b"\x00\x01"[..]).unwrap();
        assert_eq!(
            ctx.set_header("Bad Key", "v").unwrap_err().code(),
            Code::Internal
        );
        assert_eq!(ctx.response_headers().len(), 2);
        let sent = ctx.headers.take_unsent().unwrap();
        assert_eq!(sent.get("x-served-by"), Some("a"));
        assert!(ctx.headers_sent());
        assert!(ctx.headers.take_unsent().is_none());
        assert_eq!(
            ctx.set_header("late", "v").unwrap_err().code(),
            Code::Internal
        );

        ctx.set_trailer("x-cost", "3").unwrap();
        ctx.set_trailer_bin("x-trace-bin", &b"\xff"[..]).unwrap();
        assert_eq!(ctx.trailers().len(), 2);
        assert_eq!(ctx.take_trailers().get("x-cost"), Some("3"));
        assert!(ctx.trailers().is_empty());
    }

    #[test]
    fn empty_headers_are_not_sent_explicitly() {
        let (ctx, _) = ctx(None);
        assert!(ctx.headers.take_nonempty().is_none());
        assert!(ctx.headers_sent());
        assert!(ctx.headers.take_unsent().is_none());
    }
}
