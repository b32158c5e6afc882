//! W3C Trace Context (`traceparent`) propagation, with a span per call
//! recorded through a hook.
//!
//! [`Tracing`] is both a server and a client interceptor. On the server it
//! reads the caller's `traceparent`, starts a server span in the same trace
//! (a new trace when there is none or it is invalid) and attaches it to the
//! call as a [`TraceContext`]. On the client it starts a client span, child of
//! the [`TraceContext`] in the call's extensions (there when the call is made
//! from a handler with [`RequestOptions::child_of`](super::RequestOptions::child_of)),
//! and sends it as `traceparent`. Every span is reported to the
//! [`SpanRecorder`] when its call ends, with the status and the duration.
//!
//! The engine has no randomness: span and trace ids come from an
//! [`IdGenerator`] the application provides ([`SequentialIds`] is a
//! deterministic one).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::context::CallContext;
use super::interceptor::{ClientInterceptor, OutgoingCall, ServerInterceptor};
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};

/// The metadata key of the trace parent.
pub const TRACEPARENT: &str = "traceparent";
/// The metadata key of vendor trace state, passed along unchanged.
pub const TRACESTATE: &str = "tracestate";

/// A 16-byte trace id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The `sampled` bit of the trace flags.
pub const FLAG_SAMPLED: u8 = 0x01;

/// A span's place in a trace: what the server attaches to a call and the
/// client continues from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: TraceId,
    /// This span.
    pub span_id: SpanId,
    /// The span this one is a child of, when there is one.
    pub parent_span_id: Option<SpanId>,
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
    /// The `tracestate` received, passed along.
    pub trace_state: Option<String>,
}

impl TraceContext {
    /// The `traceparent` value for this span: `00-<trace>-<span>-<flags>`.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }

    /// Whether the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// A child span of this one, with a new span id.
    pub fn child(&self, ids: &dyn IdGenerator) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: ids.span_id(),
            parent_span_id: Some(self.span_id),
            flags: self.flags,
            trace_state: self.trace_state.clone(),
        }
    }

    /// The root span of a new, sampled trace.
    pub fn root(ids: &dyn IdGenerator) -> TraceContext {
        TraceContext {
            trace_id: ids.trace_id(),
            span_id: ids.span_id(),
            parent_span_id: None,
            flags: FLAG_SAMPLED,
            trace_state: None,
        }
    }

    /// The remote span in a `traceparent` value (W3C Trace Context level 1):
    /// trace id, span id and flags with an empty `parent_span_id`. `None` for
    /// an invalid value: wrong length or case, version `ff`, zero ids.
    pub fn parse(traceparent: &str) -> Option<TraceContext> {
        let value = traceparent.trim_matches([' ', '\t']).as_bytes();
        if value.len() < 55 {
            return None;
        }
        let version = hex_byte(&value[0..2])?;
        if version == 0xff || (version == 0 && value.len() != 55) {
            return None;
        }
        if version != 0 && value.len() > 55 && value[55] != b'-' {
            return None;
        }
        if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
            return None;
        }
        let mut trace_id = [0u8; 16];
        for (i, byte) in trace_id.iter_mut().enumerate() {
            *byte = hex_byte(&value[3 + 2 * i..5 + 2 * i])?;
        }
        let mut span_id = [0u8; 8];
        for (i, byte) in span_id.iter_mut().enumerate() {
            *byte = hex_byte(&value[36 + 2 * i..38 + 2 * i])?;
        }
        let flags = hex_byte(&value[53..55])?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id: TraceId(trace_id),
            span_id: SpanId(span_id),
            parent_span_id: None,
            flags,
            trace_state: None,
        })
    }
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    Some(digit(two[0])? << 4 | digit(two[1])?)
}

/// Makes trace and span ids. The engine has no randomness; applications give
/// a random generator, tests a deterministic one.
pub trait IdGenerator: Send + Sync {
    /// A new trace id (not all zeros).
    fn trace_id(&self) -> TraceId;
    /// A new span id (not all zeros).
    fn span_id(&self) -> SpanId;
}

/// Deterministic ids: a splitmix64 sequence from a seed. Unique within one
/// generator, but predictable: for tests and for systems that do not need
/// unguessable ids.
#[derive(Debug)]
pub struct SequentialIds {
    state: AtomicU64,
}

impl SequentialIds {
    /// A sequence starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SequentialIds {
            state: AtomicU64::new(seed),
        }
    }

    fn next(&self) -> u64 {
        loop {
            let mut z = self
                .state
                .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
                .wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            if z != 0 {
                return z;
            }
        }
    }
}

impl IdGenerator for SequentialIds {
    fn trace_id(&self) -> TraceId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next().to_be_bytes());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        TraceId(id)
    }

    fn span_id(&self) -> SpanId {
        SpanId(self.next().to_be_bytes())
    }
}

/// Which side of a call a span describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// A call served.
    Server,
    /// A call made.
    Client,
}

/// A finished span: one call, as the recorder hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanRecord {
    /// Server or client.
    pub kind: SpanKind,
    /// `/package.Service/Method`.
    pub path: String,
    /// The trace, span and parent.
    pub context: TraceContext,
    /// The final status code.
    pub code: Code,
    /// The final status message.
    pub message: String,
    /// How long the call took, when the router or client has a clock.
    pub duration: Option<Duration>,
    /// Server spans: the client's address, when known.
    pub peer_addr: Option<String>,
}

/// Where finished spans go (a log, a metrics system, an exporter). Any
/// `Fn(SpanRecord)` is a recorder.
pub trait SpanRecorder: Send + Sync {
    /// One finished span.
    fn record(&self, span: SpanRecord);
}

impl<F: Fn(SpanRecord) + Send + Sync> SpanRecorder for F {
    fn record(&self, span: SpanRecord) {
        self(span)
    }
}

/// The client span of an outgoing call, kept apart from the parent
/// [`TraceContext`] in the call's extensions.
#[derive(Debug, Clone)]
struct ClientSpan(TraceContext);

/// The trace interceptor, for servers and clients alike (see the
/// [module documentation](self)).
#[derive(Clone)]
pub struct Tracing {
    ids: Arc<dyn IdGenerator>,
    recorder: Option<Arc<dyn SpanRecorder>>,
}

impl Tracing {
    /// Propagates trace context with ids from `ids`, recording nothing.
    pub fn new(ids: impl IdGenerator + 'static) -> Self {
        Tracing {
            ids: Arc::new(ids),
            recorder: None,
        }
    }

    /// Reports every finished span to `recorder`.
    pub fn with_recorder(mut self, recorder: impl SpanRecorder + 'static) -> Self {
        self.recorder = Some(Arc::new(recorder));
        self
    }

    fn record(
        &self,
        kind: SpanKind,
        path: &str,
        context: &TraceContext,
        status: &Status,
        duration: Option<Duration>,
        peer_addr: Option<&str>,
    ) {
        if let Some(recorder) = &self.recorder {
            recorder.record(SpanRecord {
                kind,
                path: path.to_owned(),
                context: context.clone(),
                code: status.code(),
                message: status.message().to_owned(),
                duration,
                peer_addr: peer_addr.map(str::to_owned),
            });
        }
    }
}

/// The span a call continues from: the remote parent in `metadata`.
fn remote_parent(metadata: &Metadata) -> Option<TraceContext> {
    let mut parent = TraceContext::parse(metadata.get(TRACEPARENT)?)?;
    parent.trace_state = metadata.get(TRACESTATE).map(str::to_owned);
    Some(parent)
}

impl ServerInterceptor for Tracing {
    fn on_start(&self, ctx: &mut CallContext) -> Result<(), Status> {
        let span = match remote_parent(ctx.metadata()) {
            Some(parent) => parent.child(&*self.ids),
            None => TraceContext::root(&*self.ids),
        };
        ctx.extensions_mut().insert(span);
        Ok(())
    }

    fn on_finish(&self, ctx: &CallContext, status: &Status, elapsed: Option<Duration>) {
        if let Some(span) = ctx.extensions().get::<TraceContext>() {
            self.record(
                SpanKind::Server,
                ctx.path(),
                span,
                status,
                elapsed,
                ctx.peer_addr(),
            );
        }
    }
}

impl ClientInterceptor for Tracing {
    fn on_start(&self, call: &mut OutgoingCall) -> Result<(), Status> {
        let span = match call.options.extensions.get::<TraceContext>() {
            Some(parent) => parent.child(&*self.ids),
            None => TraceContext::root(&*self.ids),
        };
        let metadata = &mut call.options.metadata;
        metadata.remove(TRACEPARENT);
        metadata
            .insert(TRACEPARENT, &span.traceparent())
            .map_err(|err| Status::new(Code::Internal, err.to_string()))?;
        if let Some(state) = &span.trace_state {
            metadata.remove(TRACESTATE);
            // A state we cannot send is dropped, as the spec allows.
            let _ = metadata.insert(TRACESTATE, state);
        }
        call.options.extensions.insert(ClientSpan(span));
        Ok(())
    }

    fn on_finish(
        &self,
        call: &OutgoingCall,
        status: &Status,
        _trailers: &Metadata,
        elapsed: Option<Duration>,
    ) {
        if let Some(ClientSpan(span)) = call.options.extensions.get::<ClientSpan>() {
            self.record(SpanKind::Client, &call.path, span, status, elapsed, None);
        }
    }
}

impl fmt::Debug for Tracing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracing")
            .field("recorder", &self.recorder.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use super::*;
    use crate::options::RequestOptions;
    use crate::MethodKind;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parse_and_format_round_trip() {
        let ctx = TraceContext::parse(EXAMPLE).unwrap();
        assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.span_id.to_string(), "00f067aa0ba902b7");
        assert!(ctx.is_sampled());
        assert_eq!(ctx.traceparent(), EXAMPLE);
    }

    #[test]
    fn invalid_traceparents_are_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad:?}");
        }
        // A later version may append fields.
        assert!(TraceContext::parse(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"
        )
        .is_some());
    }

    #[test]
    fn sequential_ids_are_distinct_and_deterministic() {
        let a = SequentialIds::new(7);
        let b = SequentialIds::new(7);
        let first = a.span_id();
        assert_eq!(first, b.span_id());
        assert_ne!(first, a.span_id());
        assert_ne!(a.trace_id(), a.trace_id());
    }

    #[test]
    fn server_continues_the_callers_trace_and_records_the_span() {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let sink = spans.clone();
        let tracing = Tracing::new(SequentialIds::new(1))
            .with_recorder(move |span: SpanRecord| sink.lock().unwrap().push(span));
        let mut md = Metadata::new();
        md.insert(TRACEPARENT, EXAMPLE).unwrap();
        md.insert(TRACESTATE, "vendor=1").unwrap();
        let mut ctx =
            CallContext::from_parts("/a.B/C", md, None, Instant::now()).with_peer_addr("peer");
        ServerInterceptor::on_start(&tracing, &mut ctx).unwrap();
        let span = ctx.extensions().get::<TraceContext>().unwrap().clone();
        let remote = TraceContext::parse(EXAMPLE).unwrap();
        assert_eq!(span.trace_id, remote.trace_id);
        assert_eq!(span.parent_span_id, Some(remote.span_id));
        assert_ne!(span.span_id, remote.span_id);
        assert_eq!(span.trace_state.as_deref(), Some("vendor=1"));

        ServerInterceptor::on_finish(
            &tracing,
            &ctx,
            &Status::new(Code::NotFound, "nope"),
            Some(Duration::from_millis(3)),
        );
        let spans = spans.lock().unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].kind, SpanKind::Server);
        assert_eq!(spans[0].code, Code::NotFound);
        assert_eq!(spans[0].duration, Some(Duration::from_millis(3)));
        assert_eq!(spans[0].peer_addr.as_deref(), Some("peer"));
        assert_eq!(spans[0].context, span);
    }

    #[test]
    fn client_sends_a_child_of_the_parent_in_its_extensions() {
        let tracing = Tracing::new(SequentialIds::new(2));
        let parent = TraceContext::parse(EXAMPLE).unwrap();
        let mut call = OutgoingCall {
            path: "/a.B/C".into(),
            kind: MethodKind::Unary,
            options: RequestOptions::new().with_extension(parent.clone()),
        };
        call.options.metadata.insert(TRACEPARENT, "stale").unwrap();
        ClientInterceptor::on_start(&tracing, &mut call).unwrap();
        let sent = call.options.metadata.get(TRACEPARENT).unwrap();
        assert_eq!(call.options.metadata.get_all(TRACEPARENT).count(), 1);
        let sent = TraceContext::parse(sent).unwrap();
        assert_eq!(sent.trace_id, parent.trace_id);
        assert_ne!(sent.span_id, parent.span_id);

        // Without a parent: a new trace.
        let mut call = OutgoingCall {
            path: "/a.B/C".into(),
            kind: MethodKind::Unary,
            options: RequestOptions::new(),
        };
        ClientInterceptor::on_start(&tracing, &mut call).unwrap();
        let sent = TraceContext::parse(call.options.metadata.get(TRACEPARENT).unwrap()).unwrap();
        assert_ne!(sent.trace_id, parent.trace_id);
        assert!(sent.is_sampled());
    }
}
