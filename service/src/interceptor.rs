//! Interceptors: code that runs around every call, on the server and on the
//! client, in a chain.
//!
//! # Order
//!
//! A chain is an onion. The interceptor added first is the outermost:
//! `on_start` runs in the order the interceptors were added, then the call
//! (the handler, or the request on the wire), then `on_finish` in the reverse
//! order. When an `on_start` rejects the call, the interceptors after it and
//! the call itself do not run; `on_finish` still runs, in reverse, for that
//! interceptor and every one before it, with the rejection as the status.
//!
//! Each interceptor is added for unary calls, for streaming calls (the three
//! streaming kinds), or for both; a chain skips those that do not apply.
//!
//! Interceptors are synchronous hooks, so one implementation serves the
//! blocking and the async router and client alike. Per-call state travels in
//! the call's [`Extensions`](super::Extensions) (`ctx.extensions_mut()` on the
//! server, `call.options.extensions` on the client).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clock::Clock;
use super::context::CallContext;
use super::options::RequestOptions;
use super::MethodKind;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;

/// A server interceptor: sees every call the router dispatches to a known
/// method, before and after the handler.
pub trait ServerInterceptor: Send + Sync + 'static {
    /// Before the handler: read the metadata, attach extensions for the
    /// handler, or reject the call with a status (the handler never runs).
    fn on_start(&self, ctx: &mut CallContext) -> Result<(), Status> {
        let _ = ctx;
        Ok(())
    }

    /// After the handler (or a rejection): the final status and, when the
    /// router has a clock, how long the call took.
    fn on_finish(&self, ctx: &CallContext, status: &Status, elapsed: Option<Duration>) {
        let _ = (ctx, status, elapsed);
    }
}

impl<T: ServerInterceptor + ?Sized> ServerInterceptor for Arc<T> {
    fn on_start(&self, ctx: &mut CallContext) -> Result<(), Status> {
        (**self).on_start(ctx)
    }
    fn on_finish(&self, ctx: &CallContext, status: &Status, elapsed: Option<Duration>) {
        (**self).on_finish(ctx, status, elapsed)
    }
}

/// A client call about to start, as client interceptors see and change it.
#[derive(Debug, Clone)]
pub struct OutgoingCall {
    /// `/package.Service/Method`.
    pub path: String,
    /// The kind of the method.
    pub kind: MethodKind,
    /// Metadata, deadline, compression and extensions of the call; changes
    /// made in `on_start` are what goes on the wire.
    pub options: RequestOptions,
}

/// A client interceptor: sees every call a [`Client`](super::Client) or
/// [`AsyncClient`](super::AsyncClient) makes.
pub trait ClientInterceptor: Send + Sync + 'static {
    /// Before the call starts: add metadata, or refuse the call (it never
    /// reaches the transport, and the caller gets the status).
    fn on_start(&self, call: &mut OutgoingCall) -> Result<(), Status> {
        let _ = call;
        Ok(())
    }

    /// Once the call is over: its status and trailers and, when the client
    /// has a clock, how long it took.
    fn on_finish(
        &self,
        call: &OutgoingCall,
        status: &Status,
        trailers: &Metadata,
        elapsed: Option<Duration>,
    ) {
        let _ = (call, status, trailers, elapsed);
    }
}

impl<T: ClientInterceptor + ?Sized> ClientInterceptor for Arc<T> {
    fn on_start(&self, call: &mut OutgoingCall) -> Result<(), Status> {
        (**self).on_start(call)
    }
    fn on_finish(
        &self,
        call: &OutgoingCall,
        status: &Status,
        trailers: &Metadata,
        elapsed: Option<Duration>,
    ) {
        (**self).on_finish(call, status, trailers, elapsed)
    }
}

/// Which calls an interceptor sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    All,
    Unary,
    Streaming,
}

impl Scope {
    fn applies(self, kind: MethodKind) -> bool {
        match self {
            Scope::All => true,
            Scope::Unary => kind == MethodKind::Unary,
            Scope::Streaming => kind != MethodKind::Unary,
        }
    }
}

/// An ordered list of interceptors with the scope of each.
pub(crate) struct Chain<I: ?Sized> {
    entries: Vec<(Scope, Arc<I>)>,
}

impl<I: ?Sized> Clone for Chain<I> {
    fn clone(&self) -> Self {
        Chain {
            entries: self.entries.clone(),
        }
    }
}

impl<I: ?Sized> Default for Chain<I> {
    fn default() -> Self {
        Chain {
            entries: Vec::new(),
        }
    }
}

impl<I: ?Sized> Chain<I> {
    pub(crate) fn push(&mut self, scope: Scope, interceptor: Arc<I>) {
        self.entries.push((scope, interceptor));
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn applicable(&self, kind: MethodKind) -> impl DoubleEndedIterator<Item = &Arc<I>> + '_ {
        self.entries
            .iter()
            .filter(move |(scope, _)| scope.applies(kind))
            .map(|(_, i)| i)
    }

    /// Runs `start` in order until one fails; returns how many ran (the failing
    /// one included) and the failure.
    fn start_with(
        &self,
        kind: MethodKind,
        mut start: impl FnMut(&I) -> Result<(), Status>,
    ) -> (usize, Option<Status>) {
        let mut ran = 0;
        for interceptor in self.applicable(kind) {
            ran += 1;
            if let Err(status) = start(interceptor) {
                return (ran, Some(status));
            }
        }
        (ran, None)
    }

    /// Runs `finish`, in reverse order, for the first `ran` applicable ones.
    fn finish_with(&self, kind: MethodKind, ran: usize, mut finish: impl FnMut(&I)) {
        let total = self.applicable(kind).count();
        for interceptor in self.applicable(kind).rev().skip(total.saturating_sub(ran)) {
            finish(interceptor);
        }
    }
}

/// A call in progress through a chain: what `finish` needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started {
    ran: usize,
    at: Option<Instant>,
}

fn elapsed(clock: Option<&Arc<dyn Clock>>, at: Option<Instant>) -> Option<Duration> {
    Some(clock?.now().saturating_duration_since(at?))
}

pub(crate) type ServerChain = Chain<dyn ServerInterceptor>;
pub(crate) type ClientChain = Chain<dyn ClientInterceptor>;

impl Chain<dyn ServerInterceptor> {
    /// Runs the `on_start` hooks for a call of `ctx.kind()`.
    pub(crate) fn start(
        &self,
        ctx: &mut CallContext,
        clock: Option<&Arc<dyn Clock>>,
    ) -> (Started, Option<Status>) {
        let at = clock.map(|c| c.now());
        let kind = ctx.kind().unwrap_or(MethodKind::Unary);
        let (ran, rejected) = self.start_with(kind, |i| i.on_start(ctx));
        (Started { ran, at }, rejected)
    }

    /// Runs the `on_finish` hooks of the interceptors that started.
    pub(crate) fn finish(
        &self,
        ctx: &CallContext,
        started: Started,
        status: &Status,
        clock: Option<&Arc<dyn Clock>>,
    ) {
        let kind = ctx.kind().unwrap_or(MethodKind::Unary);
        let took = elapsed(clock, started.at);
        self.finish_with(kind, started.ran, |i| i.on_finish(ctx, status, took));
    }
}

impl Chain<dyn ClientInterceptor> {
    /// Runs the `on_start` hooks for `call`.
    pub(crate) fn start(
        &self,
        call: &mut OutgoingCall,
        clock: Option<&Arc<dyn Clock>>,
    ) -> (Started, Option<Status>) {
        let at = clock.map(|c| c.now());
        let kind = call.kind;
        let (ran, rejected) = self.start_with(kind, |i| i.on_start(call));
        (Started { ran, at }, rejected)
    }

    /// Runs the `on_finish` hooks of the interceptors that started.
    pub(crate) fn finish(
        &self,
        call: &OutgoingCall,
        started: Started,
        status: &Status,
        trailers: &Metadata,
        clock: Option<&Arc<dyn Clock>>,
    ) {
        let took = elapsed(clock, started.at);
        self.finish_with(call.kind, started.ran, |i| {
            i.on_finish(call, status, trailers, took)
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::clock::ManualClock;
    use grpc_sansio::grpc::status::Code;

    /// Records `start:name` / `finish:name:code` into a shared log.
    struct Named {
        name: &'static str,
        reject: bool,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl ServerInterceptor for Named {
        fn on_start(&self, ctx: &mut CallContext) -> Result<(), Status> {
            self.log
                .lock()
                .unwrap()
                .push(format!("start:{}", self.name));
            ctx.extensions_mut().insert(self.name);
            if self.reject {
                return Err(Status::new(Code::PermissionDenied, self.name));
            }
            Ok(())
        }
        fn on_finish(&self, _: &CallContext, status: &Status, elapsed: Option<Duration>) {
            self.log.lock().unwrap().push(format!(
                "finish:{}:{:?}:{:?}",
                self.name,
                status.code(),
                elapsed
            ));
        }
    }

    fn chain(specs: &[(&'static str, Scope, bool)], log: &Arc<Mutex<Vec<String>>>) -> ServerChain {
        let mut chain = ServerChain::default();
        for &(name, scope, reject) in specs {
            chain.push(
                scope,
                Arc::new(Named {
                    name,
                    reject,
                    log: log.clone(),
                }),
            );
        }
        chain
    }

    fn ctx(kind: MethodKind) -> CallContext {
        let mut ctx = CallContext::from_parts("/a.B/C", Metadata::new(), None, Instant::now());
        ctx.set_kind(kind);
        ctx
    }

    #[test]
    fn onion_order_and_scopes() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let chain = chain(
            &[
                ("outer", Scope::All, false),
                ("unary-only", Scope::Unary, false),
                ("stream-only", Scope::Streaming, false),
                ("inner", Scope::All, false),
            ],
            &log,
        );
        let start = Instant::now();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start));
        let mut call = ctx(MethodKind::Unary);
        let (started, rejected) = chain.start(&mut call, Some(&clock));
        assert!(rejected.is_none());
        chain.finish(&call, started, &Status::ok(), Some(&clock));
        assert_eq!(
            *log.lock().unwrap(),
            [
                "start:outer",
                "start:unary-only",
                "start:inner",
                "finish:inner:Ok:Some(0ns)",
                "finish:unary-only:Ok:Some(0ns)",
                "finish:outer:Ok:Some(0ns)",
            ]
        );

        log.lock().unwrap().clear();
        let mut call = ctx(MethodKind::BidiStreaming);
        let (started, _) = chain.start(&mut call, None);
        chain.finish(&call, started, &Status::ok(), None);
        assert_eq!(
            *log.lock().unwrap(),
            [
                "start:outer",
                "start:stream-only",
                "start:inner",
                "finish:inner:Ok:None",
                "finish:stream-only:Ok:None",
                "finish:outer:Ok:None",
            ]
        );
    }

    #[test]
    fn a_rejection_stops_the_chain_and_unwinds_what_ran() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let chain = chain(
            &[
                ("first", Scope::All, false),
                ("gate", Scope::All, true),
                ("never", Scope::All, false),
            ],
            &log,
        );
        let mut call = ctx(MethodKind::Unary);
        let (started, rejected) = chain.start(&mut call, None);
        let status = rejected.unwrap();
        assert_eq!(status.code(), Code::PermissionDenied);
        chain.finish(&call, started, &status, None);
        assert_eq!(
            *log.lock().unwrap(),
            [
                "start:first",
                "start:gate",
                "finish:gate:PermissionDenied:None",
                "finish:first:PermissionDenied:None",
            ]
        );
        assert!(!call.extensions().is_empty());
    }
}
