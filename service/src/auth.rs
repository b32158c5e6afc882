//! Bearer-token authentication: a server interceptor that checks the
//! `authorization` metadata, and a client interceptor that sends it.
//!
//! ```
//! use grpc_sansio::grpc::status::{Code, Status};
//! use grpc_sansio_service::auth::{tokens_match, BearerAuth, BearerToken};
//! use grpc_sansio_service::Router;
//!
//! #[derive(Debug, Clone, PartialEq)]
//! struct User(String);
//!
//! let mut router = Router::new();
//! router.add_interceptor(
//!     BearerAuth::new(|token: &str| {
//!         if tokens_match(token, "s3cret") {
//!             Ok(User("alice".into()))
//!         } else {
//!             Err(Status::new(Code::Unauthenticated, "unknown token"))
//!         }
//!     })
//!     .exempt("/grpc.health.v1.Health/Check"),
//! );
//! // Handlers read `ctx.extensions().get::<User>()`; clients add
//! // `BearerToken::new("s3cret")` as an interceptor.
//! # let _ = BearerToken::new("s3cret");
//! ```

use std::marker::PhantomData;
use std::sync::Arc;

use super::context::CallContext;
use super::interceptor::{ClientInterceptor, OutgoingCall, ServerInterceptor};
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};

/// The metadata key carrying credentials.
pub const AUTHORIZATION: &str = "authorization";

/// The token of an `authorization: Bearer <token>` entry; UNAUTHENTICATED
/// when it is missing or not a bearer token. The scheme is matched without
/// regard to case (RFC 9110 §11.1).
pub fn bearer_token(metadata: &Metadata) -> Result<&str, Status> {
    let value = metadata
        .get(AUTHORIZATION)
        .ok_or_else(|| Status::new(Code::Unauthenticated, "missing bearer token"))?;
    let malformed = || {
        Status::new(
            Code::Unauthenticated,
            "malformed authorization metadata: expected `Bearer <token>`",
        )
    };
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

/// Compares two tokens in time that depends only on their lengths, so a
/// validator does not leak how much of a secret a guess got right.
pub fn tokens_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Server interceptor: every call must carry `authorization: Bearer <token>`
/// that `validate` accepts; the principal it returns is attached to the call
/// (`ctx.extensions().get::<P>()`). A missing or malformed token is
/// UNAUTHENTICATED; a rejected one gets the validator's status (use
/// UNAUTHENTICATED or PERMISSION_DENIED). The handler does not run.
pub struct BearerAuth<F, P> {
    validate: F,
    exempt: Vec<String>,
    _principal: PhantomData<fn() -> P>,
}

impl<F, P> BearerAuth<F, P>
where
    F: Fn(&str) -> Result<P, Status> + Send + Sync + 'static,
    P: Send + Sync + 'static,
{
    /// Checks tokens with `validate`.
    pub fn new(validate: F) -> Self {
        BearerAuth {
            validate,
            exempt: Vec::new(),
            _principal: PhantomData,
        }
    }

    /// Lets calls to `path` (`/package.Service/Method`) through without a
    /// token (health checks, reflection).
    pub fn exempt(mut self, path: impl Into<String>) -> Self {
        self.exempt.push(path.into());
        self
    }
}

impl<F, P> ServerInterceptor for BearerAuth<F, P>
where
    F: Fn(&str) -> Result<P, Status> + Send + Sync + 'static,
    P: Send + Sync + 'static,
{
    fn on_start(&self, ctx: &mut CallContext) -> Result<(), Status> {
        if self.exempt.iter().any(|path| path == ctx.path()) {
            return Ok(());
        }
        let principal = (self.validate)(bearer_token(ctx.metadata())?)?;
        ctx.extensions_mut().insert(principal);
        Ok(())
    }
}

impl<F, P> std::fmt::Debug for BearerAuth<F, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("exempt", &self.exempt)
            .finish_non_exhaustive()
    }
}

type TokenSource = dyn Fn() -> Result<String, Status> + Send + Sync;

/// Client interceptor: adds `authorization: Bearer <token>` to every call
/// that does not carry an `authorization` entry already.
#[derive(Clone)]
pub struct BearerToken {
    source: Arc<TokenSource>,
}

impl BearerToken {
    /// Always sends `token`.
    pub fn new(token: impl Into<String>) -> Self {
        let token = token.into();
        BearerToken::from_fn(move || Ok(token.clone()))
    }

    /// Asks `source` for the token of each call (for tokens that expire); its
    /// error fails the call before it starts.
    pub fn from_fn(source: impl Fn() -> Result<String, Status> + Send + Sync + 'static) -> Self {
        BearerToken {
            source: Arc::new(source),
        }
    }
}

impl ClientInterceptor for BearerToken {
    fn on_start(&self, call: &mut OutgoingCall) -> Result<(), Status> {
        if call.options.metadata.contains_key(AUTHORIZATION) {
            return Ok(());
        }
        let token = (self.source)()?;
        call.options
            .metadata
            .insert(AUTHORIZATION, &format!("Bearer {token}"))
            .map_err(|err| Status::new(Code::Internal, format!("invalid bearer token: {err}")))
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerToken").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::options::RequestOptions;
    use crate::MethodKind;

    #[derive(Debug, PartialEq)]
    struct User(&'static str);

    fn auth() -> BearerAuth<impl Fn(&str) -> Result<User, Status>, User> {
        BearerAuth::new(|token: &str| {
            if tokens_match(token, "s3cret") {
                Ok(User("alice"))
            } else {
                Err(Status::new(Code::Unauthenticated, "unknown token"))
            }
        })
        .exempt("/grpc.health.v1.Health/Check")
    }

    fn ctx(path: &str, authorization: Option<&str>) -> CallContext {
        let mut md = Metadata::new();
        if let Some(value) = authorization {
            md.insert(AUTHORIZATION, value).unwrap();
        }
        CallContext::from_parts(path, md, None, Instant::now())
    }

    #[test]
    fn accepted_token_attaches_the_principal() {
        let mut call = ctx("/a.B/C", Some("Bearer s3cret"));
        auth().on_start(&mut call).unwrap();
        assert_eq!(call.extensions().get::<User>(), Some(&User("alice")));
        let mut call = ctx("/a.B/C", Some("bearer   s3cret "));
        auth().on_start(&mut call).unwrap();
    }

    #[test]
    fn missing_malformed_and_wrong_tokens_are_rejected() {
        for (value, message) in [
            (None, "missing bearer token"),
            (Some("Basic czNjcmV0"), "malformed"),
            (Some("Bearer"), "malformed"),
            (Some("Bearer "), "malformed"),
            (Some("Bearer wrong"), "unknown token"),
        ] {
            let mut call = ctx("/a.B/C", value);
            let err = auth().on_start(&mut call).unwrap_err();
            assert_eq!(err.code(), Code::Unauthenticated, "{value:?}");
            assert!(err.message().contains(message), "{value:?}: {err}");
            assert!(call.extensions().get::<User>().is_none());
        }
    }

    #[test]
    fn exempt_paths_need_no_token() {
        let mut call = ctx("/grpc.health.v1.Health/Check", None);
        auth().on_start(&mut call).unwrap();
        assert!(call.extensions().get::<User>().is_none());
    }

    #[test]
    fn the_client_side_adds_the_header_once() {
        let mut call = OutgoingCall {
            path: "/a.B/C".into(),
            kind: MethodKind::Unary,
            options: RequestOptions::new(),
        };
        BearerToken::new("s3cret").on_start(&mut call).unwrap();
        assert_eq!(
            call.options.metadata.get(AUTHORIZATION),
            Some("Bearer s3cret")
        );
        // An explicit header wins.
        BearerToken::new("other").on_start(&mut call).unwrap();
        assert_eq!(call.options.metadata.get_all(AUTHORIZATION).count(), 1);

        let failing = BearerToken::from_fn(|| Err(Status::new(Code::Unavailable, "no token")));
        let mut fresh = OutgoingCall {
            options: RequestOptions::new(),
            ..call
        };
        assert_eq!(
            failing.on_start(&mut fresh).unwrap_err().code(),
            Code::Unavailable
        );
        let bad = BearerToken::new("line\nbreak");
        assert_eq!(bad.on_start(&mut fresh).unwrap_err().code(), Code::Internal);
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "abcd"));
    }
}
