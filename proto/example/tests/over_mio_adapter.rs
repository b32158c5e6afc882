//! Generated code over real sockets: `user.UserService` and the chat service
//! served by the mio adapter, on its worker pool (`Server::serve_router`, the
//! blocking traits) and inline (`Server::serve_router_inline`, the async
//! traits polled on the event loop), and called through generated stubs over
//! its `Client`.

use std::sync::Arc;
use std::time::Duration;

use grpc_sansio::grpc::status::Code;
use grpc_sansio::grpc::Config;
use grpc_sansio_example::chat::chat_client::ChatClient;
use grpc_sansio_example::chat::{chat_server, ChatMessage};
use grpc_sansio_example::user::user_service_client::UserServiceClient;
use grpc_sansio_example::user::user_service_server;
use grpc_sansio_example::user::{UserRequest, UserResponse};
use grpc_sansio_example::{ChatRoom, UserDirectory};
use grpc_sansio_mio::{Client, Server, ServerHandle};
use grpc_sansio_service::{AsyncRouter, RequestOptions, Router};

/// Where the server runs the handlers.
#[derive(Clone, Copy, Debug)]
enum Handlers {
    /// The blocking traits on a worker pool.
    Pool,
    /// The async traits as tasks on the event loop.
    Inline,
}

/// Serves what `blocking` or `inline` registers, on `threads` event loops.
fn serve(
    handlers: Handlers,
    threads: usize,
    blocking: impl FnOnce(&mut Router),
    inline: impl FnOnce(&mut AsyncRouter),
) -> ServerHandle {
    let server = Server::new(Config::server()).threads(threads);
    match handlers {
        Handlers::Pool => {
            let mut router = Router::new();
            blocking(&mut router);
            // Two conversations at once each hold a worker.
            server.serve_router("127.0.0.1:0", 4, Arc::new(router))
        }
        Handlers::Inline => {
            let mut router = AsyncRouter::new();
            inline(&mut router);
            server.serve_router_inline("127.0.0.1:0", Arc::new(router))
        }
    }
    .unwrap()
}

fn get_user_over_loopback(handlers: Handlers) {
    let directory = UserDirectory::new().with_user("1", "Ada", 36);
    let server = serve(
        handlers,
        1,
        |router| user_service_server::register(router, directory.clone()),
        |router| user_service_server::register_async(router, directory.clone()),
    );
    let client = Client::connect(server.local_addr(), Config::client()).unwrap();
    let client = UserServiceClient::new(client);

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
fn get_user_over_loopback_pool() {
    get_user_over_loopback(Handlers::Pool);
}

#[test]
fn get_user_over_loopback_inline() {
    get_user_over_loopback(Handlers::Inline);
}

fn an_unregistered_service_is_unimplemented_over_loopback(handlers: Handlers) {
    let server = serve(handlers, 1, |_| {}, |_| {});
    let client = Client::connect(server.local_addr(), Config::client()).unwrap();
    let client = UserServiceClient::new(client);
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

#[test]
fn an_unregistered_service_is_unimplemented_over_loopback_pool() {
    an_unregistered_service_is_unimplemented_over_loopback(Handlers::Pool);
}

#[test]
fn an_unregistered_service_is_unimplemented_over_loopback_inline() {
    an_unregistered_service_is_unimplemented_over_loopback(Handlers::Inline);
}

fn message(from: &str, text: &str) -> ChatMessage {
    ChatMessage {
        from: from.into(),
        text: text.into(),
        received_at: None,
    }
}

fn a_chat_over_loopback(handlers: Handlers) {
    let room = ChatRoom::new();
    let server = serve(
        handlers,
        2,
        |router| chat_server::register(router, room.clone()),
        |router| chat_server::register_async(router, room.clone()),
    );
    let client = ChatClient::new(Client::connect(server.local_addr(), Config::client()).unwrap());

    let mut ada = client.converse(None).unwrap();
    ada.send(&message("ada", "hello")).unwrap();
    let echoed = ada.recv().unwrap().unwrap();
    assert_eq!(
        (echoed.from.as_str(), echoed.text.as_str()),
        ("ada", "hello")
    );
    assert!(echoed.received_at.is_some(), "stamped by the room");

    let mut grace = client.converse(None).unwrap();
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
        .history(&(), None)
        .unwrap()
        .map(|m| m.unwrap().text)
        .collect();
    assert_eq!(history, ["hello", "hi ada", "hi grace"]);

    // `Clear` keeps its default body: UNIMPLEMENTED over the wire too.
    assert_eq!(
        client.clear(&(), None).unwrap_err().code(),
        Code::Unimplemented
    );
    drop(client);
    server.shutdown();
}

#[test]
fn a_chat_over_loopback_pool() {
    a_chat_over_loopback(Handlers::Pool);
}

#[test]
fn a_chat_over_loopback_inline() {
    a_chat_over_loopback(Handlers::Inline);
}
