//! Generated code over real sockets: `user.UserService` and the chat service
//! served by the mio adapter's worker pool (`Server::serve_router`) and
//! called through generated stubs over its `Client`.

use std::sync::Arc;
use std::time::Duration;

use grpc_sansio::grpc::status::Code;
use grpc_sansio::grpc::Config;
use grpc_sansio::service::{RequestOptions, Router};
use grpc_sansio_example::chat::chat_client::ChatClient;
use grpc_sansio_example::chat::{chat_server, ChatMessage};
use grpc_sansio_example::user::user_service_client::UserServiceClient;
use grpc_sansio_example::user::user_service_server;
use grpc_sansio_example::user::{UserRequest, UserResponse};
use grpc_sansio_example::{ChatRoom, UserDirectory};
use grpc_sansio_mio::{Client, Server};

#[test]
fn get_user_over_loopback() {
    let mut router = Router::new();
    user_service_server::register(&mut router, UserDirectory::new().with_user("1", "Ada", 36));
    let server = Server::new(Config::server())
        .serve_router("127.0.0.1:0", 2, Arc::new(router))
        .unwrap();
    let client = Client::connect(server.local_addr(), Config::client()).unwrap();
    let client = UserServiceClient::new(client);

    let ada = client
        .get_user_with(
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
        .get_user(&UserRequest {
            user_id: "9".into(),
        })
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    drop(client);
    server.shutdown();
}

#[test]
fn an_unregistered_service_is_unimplemented_over_loopback() {
    let server = Server::new(Config::server())
        .serve_router("127.0.0.1:0", 1, Arc::new(Router::new()))
        .unwrap();
    let client = Client::connect(server.local_addr(), Config::client()).unwrap();
    let client = UserServiceClient::new(client);
    let err = client
        .get_user(&UserRequest {
            user_id: "1".into(),
        })
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    drop(client);
    server.shutdown();
}

fn message(from: &str, text: &str) -> ChatMessage {
    ChatMessage {
        from: from.into(),
        text: text.into(),
        received_at: None,
    }
}

#[test]
fn a_chat_over_loopback() {
    let mut router = Router::new();
    chat_server::register(&mut router, ChatRoom::new());
    // Two conversations at once: each holds a worker.
    let server = Server::new(Config::server())
        .threads(2)
        .serve_router("127.0.0.1:0", 4, Arc::new(router))
        .unwrap();
    let client = ChatClient::new(Client::connect(server.local_addr(), Config::client()).unwrap());

    let mut ada = client.converse().unwrap();
    ada.send(&message("ada", "hello")).unwrap();
    let echoed = ada.recv().unwrap().unwrap();
    assert_eq!(
        (echoed.from.as_str(), echoed.text.as_str()),
        ("ada", "hello")
    );
    assert!(echoed.received_at.is_some(), "stamped by the room");

    let mut grace = client.converse().unwrap();
    grace.send(&message("grace", "hi ada")).unwrap();
    assert_eq!(grace.recv().unwrap().unwrap().text, "hi ada");
    ada.send(&message("ada", "hi grace")).unwrap();
    let heard: Vec<String> = [ada.recv().unwrap().unwrap(), ada.recv().unwrap().unwrap()]
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(heard, ["hi ada", "hi grace"]);
    ada.close_send();
    grace.close_send();
    assert!(grace.finish().is_ok());
    assert!(ada.finish().is_ok());

    let history: Vec<String> = client
        .history(&())
        .unwrap()
        .map(|m| m.unwrap().text)
        .collect();
    assert_eq!(history, ["hello", "hi ada", "hi grace"]);

    // `Clear` keeps its default body: UNIMPLEMENTED over the wire too.
    assert_eq!(client.clear(&()).unwrap_err().code(), Code::Unimplemented);
    drop(client);
    server.shutdown();
}
