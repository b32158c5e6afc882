//! The router: from `/package.Service/Method` to a handler, with the
//! interceptor chain around it and the audit hook for unknown calls.

use std::sync::Arc;

use super::async_server::AsyncService;
use super::async_transport::AsyncServerStream;
use super::audit::{AuditHook, UnknownCall, UnknownReason};
use super::clock::Clock;
use super::context::CallContext;
use super::interceptor::{Scope, ServerChain, ServerInterceptor, Started};
use super::server::{Method, Service};
use super::transport::ServerStream;
use super::MethodKind;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::hash::FxHashMap;

/// How a dispatched call ended: what the adapter finishes the call with
/// (`finish(status, trailers)`; a Trailers-Only response when the handler sent
/// nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// The final status.
    pub status: Status,
    /// The trailers the handler set.
    pub trailers: Metadata,
}

/// What the blocking and the async router share: interceptors, audit hook,
/// clock.
#[derive(Clone, Default)]
struct Core {
    interceptors: ServerChain,
    audit: Option<Arc<dyn AuditHook>>,
    clock: Option<Arc<dyn Clock>>,
}

impl Core {
    /// Splits the path and finds the method, or says why not.
    fn find<'s, S, H>(
        services: &'s FxHashMap<String, S>,
        path: &str,
        method_of: impl Fn(&'s S, &str) -> Option<&'s Method<H>>,
    ) -> Result<&'s Method<H>, UnknownReason> {
        let (service, method) = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .filter(|(s, m)| !s.is_empty() && !m.is_empty() && !m.contains('/'))
            .ok_or(UnknownReason::MalformedPath)?;
        let service = services.get(service).ok_or(UnknownReason::UnknownService)?;
        method_of(service, method).ok_or(UnknownReason::UnknownMethod)
    }

    /// Answers an unroutable call: tells the audit hook, returns UNIMPLEMENTED.
    fn unknown(&self, ctx: &CallContext, reason: UnknownReason) -> CallOutcome {
        let call = UnknownCall {
            path: ctx.path(),
            reason,
            peer_addr: ctx.peer_addr(),
            metadata: ctx.metadata(),
        };
        if let Some(audit) = &self.audit {
            audit.unknown_call(&call);
        }
        CallOutcome {
            status: call.status(),
            trailers: Metadata::new(),
        }
    }

    /// Runs the `on_start` hooks. Durations come from the context's clock (the
    /// router's unless the adapter gave the context its own).
    fn begin(&self, ctx: &mut CallContext, kind: MethodKind) -> (Started, Option<Status>) {
        ctx.set_clock_if_none(self.clock.as_ref());
        ctx.set_kind(kind);
        let clock = ctx.clock().cloned();
        self.interceptors.start(ctx, clock.as_ref())
    }

    fn end(&self, mut ctx: CallContext, started: Started, status: Status) -> CallOutcome {
        let clock = ctx.clock().cloned();
        self.interceptors
            .finish(&ctx, started, &status, clock.as_ref());
        CallOutcome {
            status,
            trailers: ctx.take_trailers(),
        }
    }

    fn push(&mut self, scope: Scope, interceptor: impl ServerInterceptor) {
        self.interceptors.push(scope, Arc::new(interceptor));
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("interceptors", &self.interceptors.len())
            .field("audit", &self.audit.is_some())
            .field("clock", &self.clock.is_some())
            .finish()
    }
}

fn status_of(result: Result<(), Status>) -> Status {
    result.err().unwrap_or_else(Status::ok)
}

macro_rules! router_config {
    ($service:ty) => {
        /// Serves `service`; a service of the same name is replaced.
        pub fn add(&mut self, service: $service) -> &mut Self {
            self.services.insert(service.name().to_owned(), service);
            self
        }

        /// Adds a server interceptor for every call (see
        /// [the order](super::interceptor)).
        pub fn add_interceptor(&mut self, interceptor: impl ServerInterceptor) -> &mut Self {
            self.core.push(Scope::All, interceptor);
            self
        }

        /// Adds a server interceptor for unary calls only.
        pub fn add_unary_interceptor(&mut self, interceptor: impl ServerInterceptor) -> &mut Self {
            self.core.push(Scope::Unary, interceptor);
            self
        }

        /// Adds a server interceptor for streaming calls only.
        pub fn add_stream_interceptor(&mut self, interceptor: impl ServerInterceptor) -> &mut Self {
            self.core.push(Scope::Streaming, interceptor);
            self
        }

        /// Sets the hook told about calls for unknown services and methods.
        pub fn set_audit_hook(&mut self, hook: impl AuditHook + 'static) -> &mut Self {
            self.core.audit = Some(Arc::new(hook));
            self
        }

        /// Sets the clock for call durations and deadlines (none by default:
        /// the engine reads no clock itself). A context's own clock wins.
        pub fn set_clock(&mut self, clock: impl Clock + 'static) -> &mut Self {
            self.core.clock = Some(Arc::new(clock));
            self
        }

        /// The names of the services served.
        pub fn service_names(&self) -> impl Iterator<Item = &str> + '_ {
            self.services.keys().map(String::as_str)
        }

        /// The kind of the method at `path`, if it is served.
        pub fn method_kind(&self, path: &str) -> Option<MethodKind> {
            Core::find(&self.services, path, <$service>::method)
                .ok()
                .map(|m| m.kind)
        }
    };
}

/// Routes calls to blocking services. Share it between connections and
/// threads behind an `Arc`.
///
/// ```
/// use grpc_sansio::grpc::status::Code;
/// use grpc_sansio_service::{Router, Service};
///
/// let mut router = Router::new();
/// router
///     .add(Service::new("echo.Echo").unary("Say", |_ctx, text: String| Ok(text)))
///     .set_audit_hook(|call: &grpc_sansio_service::UnknownCall<'_>| {
///         eprintln!("unknown {} from {:?}", call.path, call.peer_addr);
///     });
/// assert!(router.method_kind("/echo.Echo/Say").is_some());
/// assert!(router.method_kind("/echo.Echo/Shout").is_none());
/// ```
#[derive(Debug, Default)]
pub struct Router {
    services: FxHashMap<String, Service>,
    core: Core,
}

impl Router {
    /// A router serving nothing.
    pub fn new() -> Self {
        Router::default()
    }

    router_config!(Service);

    /// Runs one call: finds its method (an unknown one is answered with
    /// UNIMPLEMENTED and reported to the audit hook, running no user code),
    /// runs the interceptors and the handler over `stream`, and returns the
    /// status and trailers for the adapter to finish the call with.
    pub fn dispatch(&self, stream: &mut dyn ServerStream, mut ctx: CallContext) -> CallOutcome {
        let method = match Core::find(&self.services, ctx.path(), Service::method) {
            Ok(method) => method,
            Err(reason) => return self.core.unknown(&ctx, reason),
        };
        let (started, rejected) = self.core.begin(&mut ctx, method.kind);
        let mut status = match rejected {
            Some(status) => status,
            None => status_of((method.handler)(&mut ctx, stream)),
        };
        if let Some(metadata) = ctx.headers.take_nonempty() {
            if let Err(err) = stream.send_headers(metadata) {
                if status.is_ok() {
                    status = err;
                }
            }
        }
        self.core.end(ctx, started, status)
    }
}

/// Routes calls to async services: [`Router`] for async adapters.
#[derive(Debug, Default)]
pub struct AsyncRouter {
    services: FxHashMap<String, AsyncService>,
    core: Core,
}

impl AsyncRouter {
    /// A router serving nothing.
    pub fn new() -> Self {
        AsyncRouter::default()
    }

    router_config!(AsyncService);

    /// Runs one call, as [`Router::dispatch`] does, awaiting the handler.
    pub async fn dispatch(
        &self,
        stream: &mut dyn AsyncServerStream,
        mut ctx: CallContext,
    ) -> CallOutcome {
        let method = match Core::find(&self.services, ctx.path(), AsyncService::method) {
            Ok(method) => method,
            Err(reason) => return self.core.unknown(&ctx, reason),
        };
        let (started, rejected) = self.core.begin(&mut ctx, method.kind);
        let mut status = match rejected {
            Some(status) => status,
            None => status_of((method.handler)(&mut ctx, &mut *stream).await),
        };
        if let Some(metadata) = ctx.headers.take_nonempty() {
            if let Err(err) = stream.send_headers(metadata).await {
                if status.is_ok() {
                    status = err;
                }
            }
        }
        self.core.end(ctx, started, status)
    }
}
