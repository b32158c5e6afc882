//! Generated code over real sockets, async: `user.UserService` served by the
//! tokio adapter's `Server::bind_router` and called through generated async
//! stubs over its `Channel`.

use std::sync::Arc;
use std::time::Duration;

use grpc_sansio::grpc::status::Code;
use grpc_sansio::grpc::Config;
use grpc_sansio_example::user::user_service_client::AsyncUserServiceClient;
use grpc_sansio_example::user::user_service_server;
use grpc_sansio_example::user::{UserRequest, UserResponse};
use grpc_sansio_example::UserDirectory;
use grpc_sansio_service::{AsyncRouter, RequestOptions};
use grpc_sansio_tokio::{Channel, Server};

#[tokio::test]
async fn get_user_over_loopback() {
    let mut router = AsyncRouter::new();
    user_service_server::register_async(
        &mut router,
        UserDirectory::new().with_user("1", "Ada", 36),
    );
    let server = Server::bind_router("127.0.0.1:0", Config::server(), Arc::new(router))
        .await
        .unwrap();
    let channel = Channel::connect(server.local_addr(), Config::client())
        .await
        .unwrap();
    let client = AsyncUserServiceClient::new(channel);

    let ada = client
        .get_user(
            &UserRequest {
                user_id: "1".into(),
            },
            RequestOptions::new().with_timeout(Duration::from_secs(5)),
        )
        .await
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
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    drop(client);
    server.shutdown().await;
}

#[tokio::test]
async fn an_unregistered_service_is_unimplemented_over_loopback() {
    let server = Server::bind_router(
        "127.0.0.1:0",
        Config::server(),
        Arc::new(AsyncRouter::new()),
    )
    .await
    .unwrap();
    let channel = Channel::connect(server.local_addr(), Config::client())
        .await
        .unwrap();
    let client = AsyncUserServiceClient::new(channel);
    let err = client
        .get_user(
            &UserRequest {
                user_id: "1".into(),
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    drop(client);
    server.shutdown().await;
}
