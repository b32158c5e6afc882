//! A `chat.Chat` room, blocking and async; neither flavour waits on the
//! room, so the async one may run on an event loop.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use grpc_sansio::grpc::status::Status;
use grpc_sansio_service::{AsyncBidiStream, AsyncResponseSink};
use grpc_sansio_service::{BidiStream, CallContext, ResponseSink};

use crate::chat::chat_server::{AsyncChat, Chat};
use crate::chat::ChatMessage;

/// One room: every `Converse` stream posts to it and hears every message
/// posted after it joined.
#[derive(Debug, Clone, Default)]
pub struct ChatRoom {
    inner: Arc<Mutex<Room>>,
}

#[derive(Debug, Default)]
struct Room {
    history: Vec<ChatMessage>,
    members: Vec<Sender<ChatMessage>>,
}

impl ChatRoom {
    /// An empty room.
    pub fn new() -> Self {
        ChatRoom::default()
    }

    /// Posts a message: stamps it, keeps it, and hands it to every member.
    fn post(&self, mut message: ChatMessage) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        message.received_at = Some(prost_types::Timestamp {
            seconds: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(now.subsec_nanos()).unwrap_or(0),
        });
        let mut room = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        room.history.push(message.clone());
        room.members
            .retain(|member| member.send(message.clone()).is_ok());
    }

    fn history(&self) -> Vec<ChatMessage> {
        let room = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        room.history.clone()
    }

    fn join(&self) -> Receiver<ChatMessage> {
        let (tx, rx) = mpsc::channel();
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .members
            .push(tx);
        rx
    }
}

impl Chat for ChatRoom {
    fn converse(
        &self,
        ctx: &mut CallContext,
        mut stream: BidiStream<'_, ChatMessage, ChatMessage>,
    ) -> Result<(), Status> {
        // A blocking handler has one thread: post what the caller sends, and
        // after each message relay what the room received meanwhile.
        let inbox = self.join();
        while let Some(message) = stream.recv()? {
            ctx.check()?;
            self.post(message);
            while let Ok(posted) = inbox.try_recv() {
                stream.send(&posted)?;
            }
        }
        while let Ok(posted) = inbox.try_recv() {
            stream.send(&posted)?;
        }
        Ok(())
    }

    fn history(
        &self,
        _ctx: &mut CallContext,
        _request: (),
        mut responses: ResponseSink<'_, ChatMessage>,
    ) -> Result<(), Status> {
        for message in &ChatRoom::history(self) {
            responses.send(message)?;
        }
        Ok(())
    }

    // `Clear` is left to its default: UNIMPLEMENTED.
}

/// The same room for async adapters, answering as the blocking one does:
/// what the room received is relayed after each message the caller sends.
impl AsyncChat for ChatRoom {
    async fn converse(
        &self,
        ctx: &mut CallContext,
        mut stream: AsyncBidiStream<'_, ChatMessage, ChatMessage>,
    ) -> Result<(), Status> {
        let inbox = self.join();
        while let Some(message) = stream.recv().await? {
            ctx.check()?;
            self.post(message);
            while let Ok(posted) = inbox.try_recv() {
                stream.send(&posted).await?;
            }
        }
        while let Ok(posted) = inbox.try_recv() {
            stream.send(&posted).await?;
        }
        Ok(())
    }

    async fn history(
        &self,
        _ctx: &mut CallContext,
        _request: (),
        mut responses: AsyncResponseSink<'_, ChatMessage>,
    ) -> Result<(), Status> {
        for message in &ChatRoom::history(self) {
            responses.send(message).await?;
        }
        Ok(())
    }
}
