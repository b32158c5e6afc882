//! Per-call options of typed client calls, and what a unary call returns.

use std::time::{Duration, Instant};

use super::context::CallContext;
use super::extensions::Extensions;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::{Metadata, MetadataValue};
use grpc_sansio::grpc::CallOptions;

/// Options of one client call: deadline or timeout, metadata, compression,
/// authority, and extensions for client interceptors. The one per-call
/// options type of the application-facing API: typed clients and generated
/// stubs take `impl Into<Option<RequestOptions>>` (`None` for the defaults).
/// The engine's wire-level `CallOptions` (with the path) are built from them
/// inside the client, for the [`ClientTransport`](super::ClientTransport)
/// an adapter implements; applications never fill both.
///
/// A [`Client`](super::Client) has default options; a call's options are laid
/// over them: what a call sets wins, and its metadata comes after the
/// defaults' metadata.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Relative deadline, sent as `grpc-timeout`.
    pub timeout: Option<Duration>,
    /// Absolute deadline (with a timeout too, the earlier wins).
    pub deadline: Option<Instant>,
    /// Request metadata.
    pub metadata: Metadata,
    /// Compression of the request messages; the connection's default otherwise.
    pub encoding: Option<Encoding>,
    /// Overrides the connection's `:authority`.
    pub authority: Option<String>,
    /// Values for client interceptors (for example the parent trace context).
    pub extensions: Extensions,
}

impl RequestOptions {
    /// No options: the client's defaults apply.
    pub fn new() -> Self {
        RequestOptions::default()
    }

    /// Options for a call made while serving `ctx`: the same deadline, and the
    /// call's extensions (so the trace context and the principal carry over).
    pub fn child_of(ctx: &CallContext) -> Self {
        RequestOptions {
            deadline: ctx.deadline(),
            extensions: ctx.extensions().clone(),
            ..RequestOptions::default()
        }
    }

    /// Sets the timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the absolute deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Replaces the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Compresses the request messages with `encoding`.
    pub fn with_compression(mut self, encoding: Encoding) -> Self {
        self.encoding = Some(encoding);
        self
    }

    /// Sets the `:authority`.
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = Some(authority.into());
        self
    }

    /// Attaches a value for client interceptors.
    pub fn with_extension<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// These options laid over `defaults`.
    pub(crate) fn over(self, defaults: &RequestOptions) -> RequestOptions {
        let mut metadata = defaults.metadata.clone();
        append(&mut metadata, &self.metadata);
        let mut extensions = defaults.extensions.clone();
        extensions.extend(&self.extensions);
        RequestOptions {
            timeout: self.timeout.or(defaults.timeout),
            deadline: self.deadline.or(defaults.deadline),
            metadata,
            encoding: self.encoding.or(defaults.encoding),
            authority: self.authority.or_else(|| defaults.authority.clone()),
            extensions,
        }
    }

    /// The engine's options for a call to `path`.
    pub(crate) fn to_call_options(&self, path: &str) -> CallOptions {
        let mut options = CallOptions::new(path);
        options.authority = self.authority.clone();
        options.metadata = self.metadata.clone();
        options.timeout = self.timeout;
        options.deadline = self.deadline;
        options.encoding = self.encoding;
        options
    }
}

/// Appends every entry of `from` to `to`. Entries `to` would refuse (only
/// possible for received metadata) are left out.
fn append(to: &mut Metadata, from: &Metadata) {
    for (key, value) in from {
        let _ = match value {
            MetadataValue::Binary(bytes) => to.insert_bin(key, bytes.clone()),
            MetadataValue::Ascii(_) => to.insert(key, value.as_str().unwrap_or_default()),
        };
    }
}

/// The answer to a unary or client-streaming call, with the server's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    /// The response message.
    pub message: T,
    /// The server's initial metadata.
    pub headers: Metadata,
    /// The server's trailing metadata.
    pub trailers: Metadata,
}

impl<T> Response<T> {
    /// The message alone.
    pub fn into_message(self) -> T {
        self.message
    }

    /// The message alone (as [`into_message`](Self::into_message)).
    pub fn into_inner(self) -> T {
        self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_lay_over_defaults() {
        let now = Instant::now();
        let mut defaults = RequestOptions::new()
            .with_timeout(Duration::from_secs(5))
            .with_authority("svc")
            .with_extension(1u8);
        defaults.metadata.insert("x-client", "tests").unwrap();
        let mut call = RequestOptions::new()
            .with_deadline(now)
            .with_timeout(Duration::from_secs(1))
            .with_compression(Encoding::Gzip)
            .with_extension(2u8)
            .with_extension("x");
        call.metadata.insert("x-request", "1").unwrap();
        call.metadata.insert_bin("x-raw-bin", &b"\x00"[..]).unwrap();
        let merged = call.over(&defaults);
        assert_eq!(merged.timeout, Some(Duration::from_secs(1)));
        assert_eq!(merged.deadline, Some(now));
        assert_eq!(merged.authority.as_deref(), Some("svc"));
        assert_eq!(merged.encoding, Some(Encoding::Gzip));
        let keys: Vec<_> = merged.metadata.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["x-client", "x-request", "x-raw-bin"]);
        assert_eq!(merged.extensions.get::<u8>(), Some(&2));
        assert_eq!(merged.extensions.get::<&str>(), Some(&"x"));

        let wire = merged.to_call_options("/a.B/C");
        assert_eq!(wire.path, "/a.B/C");
        assert_eq!(wire.timeout, Some(Duration::from_secs(1)));
        assert_eq!(wire.deadline, Some(now));
        assert_eq!(wire.authority.as_deref(), Some("svc"));
        assert_eq!(wire.encoding, Some(Encoding::Gzip));
        assert_eq!(wire.metadata.len(), 3);
    }

    #[test]
    fn child_of_carries_deadline_and_extensions() {
        let now = Instant::now();
        let mut ctx = CallContext::from_parts(
            "/a.B/C",
            Metadata::new(),
            Some(now + Duration::from_secs(3)),
            now,
        );
        ctx.extensions_mut().insert(42u64);
        let child = RequestOptions::child_of(&ctx);
        assert_eq!(child.deadline, Some(now + Duration::from_secs(3)));
        assert_eq!(child.extensions.get::<u64>(), Some(&42));
        assert!(child.metadata.is_empty());
    }
}
