//! `chat.Chat`: the bidirectional-streaming example through generated code.

mod common;

use common::MemoryChannel;
use grpc_sansio::grpc::status::Code;
use grpc_sansio_example::chat::chat_client::ChatClient;
use grpc_sansio_example::chat::{chat_paths, chat_server, ChatMessage};
use grpc_sansio_example::ChatRoom;
use grpc_sansio_service::Router;

fn message(from: &str, text: &str) -> ChatMessage {
    ChatMessage {
        from: from.into(),
        text: text.into(),
        received_at: None,
    }
}

#[test]
fn a_conversation_and_its_history() {
    let mut router = Router::new();
    chat_server::register(&mut router, ChatRoom::new());
    let client = ChatClient::new(MemoryChannel::new(router));

    let mut ada = client.converse(None).unwrap();
    ada.send(&message("ada", "hello")).unwrap();
    let echoed = ada.recv().unwrap().unwrap();
    assert_eq!(
        (echoed.from.as_str(), echoed.text.as_str()),
        ("ada", "hello")
    );
    assert!(echoed.received_at.is_some(), "stamped by the room");

    // A second member joins; ada hears it after her next message.
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

    // `Clear` keeps its default body.
    let err = client.clear(&(), None).unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    assert_eq!(
        err.message(),
        format!("{} is not implemented", chat_paths::CLEAR)
    );
}
