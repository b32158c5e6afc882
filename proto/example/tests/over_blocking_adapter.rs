//! Generated code over real sockets: `user.UserService` served by the
//! blocking adapter, on its worker pool (`Server::bind_router`, the blocking
//! traits) and inline (`Builder::bind_router_inline`, the async traits as
//! tasks on the connection's thread), and called through generated stubs
//! over its `Channel`.

use std::sync::Arc;
use std::time::Duration;

use grpc_sansio::grpc::status::Code;
use grpc_sansio::grpc::Config;
use grpc_sansio_blocking::{Channel, Server};
use grpc_sansio_example::user::user_service_client::UserServiceClient;
use grpc_sansio_example::user::user_service_server;
use grpc_sansio_example::user::{UserRequest, UserResponse};
use grpc_sansio_example::UserDirectory;
use grpc_sansio_service::{AsyncRouter, RequestOptions, Router};

/// Where the server runs the handlers.
#[derive(Clone, Copy, Debug)]
enum Handlers {
    /// The blocking traits on a worker pool.
    Pool,
    /// The async traits as tasks on the connection's thread.
    Inline,
}

/// Serves what `blocking` or `inline` registers.
fn serve(
    handlers: Handlers,
    blocking: impl FnOnce(&mut Router),
    inline: impl FnOnce(&mut AsyncRouter),
) -> Server {
    let server = Server::builder(Config::server());
    match handlers {
        Handlers::Pool => {
            let mut router = Router::new();
            blocking(&mut router);
            server.bind_router("127.0.0.1:0", Arc::new(router))
        }
        Handlers::Inline => {
            let mut router = AsyncRouter::new();
            inline(&mut router);
            server.bind_router_inline("127.0.0.1:0", Arc::new(router))
        }
    }
    .unwrap()
}

#[test]
fn get_user_over_loopback() {
    get_user(Handlers::Pool);
}

#[test]
fn get_user_over_loopback_inline() {
    get_user(Handlers::Inline);
}

fn get_user(handlers: Handlers) {
    let directory = UserDirectory::new().with_user("1", "Ada", 36);
    let server = serve(
        handlers,
        |router| user_service_server::register(router, directory.clone()),
        |router| user_service_server::register_async(router, directory.clone()),
    );
    let channel = Channel::connect(server.local_addr(), Config::client()).unwrap();
    let client = UserServiceClient::new(channel);

    let ada = client
        .get_user(
            &UserRequest {
                user_id: "1".into(),
            },
            RequestOptions::new().with_timeout(Duration::from_secs(5)),
        )
        .unwrap()
        .message;
    assert_eq!(
        ada,
        UserResponse {
            name: "Ada".into(),
            age: 36
        }
    );

    let missing = client
        .get_user(
            &UserRequest {
                user_id: "9".into(),
            },
            None,
        )
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    drop(client);
    server.shutdown();
}

#[test]
fn an_unregistered_service_is_unimplemented_over_loopback() {
    an_unregistered_service_is_unimplemented(Handlers::Pool);
}

#[test]
fn an_unregistered_service_is_unimplemented_over_loopback_inline() {
    an_unregistered_service_is_unimplemented(Handlers::Inline);
}

fn an_unregistered_service_is_unimplemented(handlers: Handlers) {
    let server = serve(handlers, |_| {}, |_| {});
    let channel = Channel::connect(server.local_addr(), Config::client()).unwrap();
    let client = UserServiceClient::new(channel);
    let err = client
        .get_user(
            &UserRequest {
                user_id: "1".into(),
            },
            None,
        )
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    drop(client);
    server.shutdown();
}
