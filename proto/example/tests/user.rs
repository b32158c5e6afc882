//! `user.UserService` through generated code: the example implementation,
//! unknown calls and the audit hook, bearer-token auth, and `traceparent`
//! propagated through a client → server → client chain.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::{AsyncMemoryChannel, MemoryChannel};
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio_example::user::user_service_client::{AsyncUserServiceClient, UserServiceClient};
use grpc_sansio_example::user::user_service_server::{self, UserService};
use grpc_sansio_example::user::{user_service_paths, UserRequest, UserResponse};
use grpc_sansio_example::UserDirectory;
use grpc_sansio_service::auth::{tokens_match, BearerAuth, BearerToken};
use grpc_sansio_service::trace::{SequentialIds, SpanKind, SpanRecord, TraceContext, Tracing};
use grpc_sansio_service::{
    AsyncRouter, CallContext, Client, RequestOptions, Router, UnknownCall, UnknownReason,
};

fn directory() -> UserDirectory {
    UserDirectory::new()
        .with_user("1", "Ada", 36)
        .with_user("2", "Grace", 85)
}

fn request(id: &str) -> UserRequest {
    UserRequest { user_id: id.into() }
}

#[test]
fn get_user_blocking() {
    let mut router = Router::new();
    user_service_server::register(&mut router, directory());
    let client = UserServiceClient::new(MemoryChannel::new(router));
    assert_eq!(
        client.get_user(&request("1"), None).unwrap().into_inner(),
        UserResponse {
            name: "Ada".into(),
            age: 36
        }
    );
    assert_eq!(
        client.get_user(&request("9"), None).unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        client.get_user(&request(""), None).unwrap_err().code(),
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn get_user_async() {
    let mut router = AsyncRouter::new();
    user_service_server::register_async(&mut router, directory());
    let client = AsyncUserServiceClient::new(AsyncMemoryChannel::new(router));
    assert_eq!(
        client
            .get_user(&request("2"), None)
            .await
            .unwrap()
            .message
            .name,
        "Grace"
    );
    assert_eq!(
        client
            .get_user(&request("3"), None)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}

#[test]
fn unknown_service_and_method_reach_the_audit_hook() {
    let audit: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = audit.clone();
    let mut router = Router::new();
    user_service_server::register(&mut router, directory());
    router.set_audit_hook(move |call: &UnknownCall<'_>| {
        sink.lock().unwrap().push(format!(
            "{:?} {} from {} as {}",
            call.reason,
            call.path,
            call.peer_addr.unwrap_or("?"),
            call.metadata.get("x-agent").unwrap_or("?"),
        ));
    });
    let client = Client::new(MemoryChannel::new(router));
    let mut options = RequestOptions::new();
    options.metadata.insert("x-agent", "scanner").unwrap();
    for path in ["/user.UserService/DeleteUser", "/admin.Admin/GetUser"] {
        let err = client
            .unary::<UserRequest, UserResponse>(path, &request("1"), options.clone())
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
    }
    assert_eq!(
        *audit.lock().unwrap(),
        [
            format!(
                "{:?} /user.UserService/DeleteUser from 192.0.2.7:50123 as scanner",
                UnknownReason::UnknownMethod
            ),
            format!(
                "{:?} /admin.Admin/GetUser from 192.0.2.7:50123 as scanner",
                UnknownReason::UnknownService
            ),
        ]
    );
}

/// Who the bearer token says the caller is.
#[derive(Debug, Clone, PartialEq)]
struct Caller(&'static str);

fn auth() -> BearerAuth<impl Fn(&str) -> Result<Caller, Status> + Send + Sync + 'static, Caller> {
    BearerAuth::new(|token: &str| {
        if tokens_match(token, "gateway-secret") {
            Ok(Caller("gateway"))
        } else {
            Err(Status::new(Code::PermissionDenied, "token not accepted"))
        }
    })
}

/// Answers with the caller's name as the user's name.
struct WhoAmI;

impl UserService for WhoAmI {
    fn get_user(&self, ctx: &mut CallContext, _: UserRequest) -> Result<UserResponse, Status> {
        let caller = ctx.extensions().get::<Caller>().expect("auth ran");
        Ok(UserResponse {
            name: caller.0.into(),
            age: 0,
        })
    }
}

#[test]
fn bearer_auth_accepted_and_rejected() {
    let mut router = Router::new();
    user_service_server::register(&mut router, WhoAmI);
    router.add_interceptor(auth());
    let channel = MemoryChannel::new(router);

    let good = UserServiceClient::from_client(
        Client::new(channel.clone()).with_interceptor(BearerToken::new("gateway-secret")),
    );
    assert_eq!(
        good.get_user(&request("1"), None).unwrap().message.name,
        "gateway"
    );

    let wrong = UserServiceClient::from_client(
        Client::new(channel.clone()).with_interceptor(BearerToken::new("guess")),
    );
    let err = wrong.get_user(&request("1"), None).unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let none = UserServiceClient::new(channel);
    let err = none.get_user(&request("1"), None).unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(err.message(), "missing bearer token");
}

/// A front end that serves `GetUser` by asking a back end, as a child call.
struct Gateway {
    backend: UserServiceClient,
}

impl UserService for Gateway {
    fn get_user(
        &self,
        ctx: &mut CallContext,
        request: UserRequest,
    ) -> Result<UserResponse, Status> {
        let response = self
            .backend
            .get_user(&request, RequestOptions::child_of(ctx))?;
        Ok(response.message)
    }
}

#[test]
fn traceparent_propagates_through_client_server_client() {
    let spans: Arc<Mutex<Vec<SpanRecord>>> = Arc::default();
    let sink = spans.clone();
    let tracing = Arc::new(
        Tracing::new(SequentialIds::new(2024))
            .with_recorder(move |span: SpanRecord| sink.lock().unwrap().push(span)),
    );

    // The back end: tracing, then auth.
    let mut backend = Router::new();
    user_service_server::register(&mut backend, directory());
    backend
        .add_interceptor(tracing.clone())
        .add_interceptor(auth());
    let backend = UserServiceClient::from_client(
        Client::new(MemoryChannel::new(backend))
            .with_interceptor(tracing.clone())
            .with_interceptor(BearerToken::new("gateway-secret")),
    );

    // The gateway, calling the back end while it serves.
    let mut gateway = Router::new();
    user_service_server::register(&mut gateway, Gateway { backend });
    gateway.add_interceptor(tracing.clone());

    // The outer client starts the trace.
    let client = UserServiceClient::from_client(
        Client::new(MemoryChannel::new(gateway))
            .with_interceptor(tracing)
            .with_clock(Instant::now),
    );
    assert_eq!(
        client.get_user(&request("2"), None).unwrap().message.name,
        "Grace"
    );
    assert_eq!(
        client.get_user(&request("7"), None).unwrap_err().code(),
        Code::NotFound
    );

    let spans = spans.lock().unwrap();
    assert_eq!(spans.len(), 8, "{spans:#?}");
    let find = |kind: SpanKind, nth: usize| -> &TraceContext {
        &spans
            .iter()
            .filter(|s| s.kind == kind)
            .nth(nth)
            .expect("span")
            .context
    };
    // The first call's spans, in the order they ended: backend server, gateway
    // client, gateway server, outer client.
    let (backend_server, gateway_client) = (find(SpanKind::Server, 0), find(SpanKind::Client, 0));
    let (gateway_server, outer_client) = (find(SpanKind::Server, 1), find(SpanKind::Client, 1));
    assert_eq!(outer_client.parent_span_id, None);
    for span in [gateway_server, gateway_client, backend_server] {
        assert_eq!(span.trace_id, outer_client.trace_id);
    }
    assert_eq!(gateway_server.parent_span_id, Some(outer_client.span_id));
    assert_eq!(gateway_client.parent_span_id, Some(gateway_server.span_id));
    assert_eq!(backend_server.parent_span_id, Some(gateway_client.span_id));
    assert!(spans[..4].iter().all(|s| s.code == Code::Ok));
    assert!(spans[..4]
        .iter()
        .all(|s| s.path == user_service_paths::GET_USER));
    // Durations where there is a clock: the servers' contexts (the adapter's)
    // and the outer client; the gateway's client to the back end has none.
    let timed: Vec<bool> = spans[..4].iter().map(|s| s.duration.is_some()).collect();
    assert_eq!(timed, [true, false, true, true]);

    // The second call: a new trace, and NOT_FOUND recorded on every span.
    assert_ne!(spans[4].context.trace_id, outer_client.trace_id);
    assert!(spans[4..].iter().all(|s| s.code == Code::NotFound));
    assert!(spans[4..]
        .iter()
        .all(|s| s.context.trace_id == spans[4].context.trace_id));
}
