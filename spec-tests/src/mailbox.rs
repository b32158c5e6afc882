//! A std channel as a switchboard's inbox and reply: what tests that drive a
//! [`Session`](grpc_sansio::session::Session) by hand attach to their calls.
//! The engine names no channel type; this newtype lends it one.

use std::sync::mpsc::{self, Receiver, Sender};

use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::Event;
use grpc_sansio::session::{Inbox, Reply};

/// The sending half of a std channel.
#[derive(Debug)]
pub struct Tx<T>(pub Sender<T>);

impl<T> Clone for Tx<T> {
    fn clone(&self) -> Self {
        Tx(self.0.clone())
    }
}

impl Inbox for Tx<Event> {
    fn deliver(&self, event: Event) {
        let _ = self.0.send(event);
    }
}

impl Reply for Tx<Result<(), Status>> {
    fn reply(self, result: Result<(), Status>) {
        let _ = self.0.send(result);
    }
}

/// A std channel whose sender is a [`Tx`].
pub fn channel<T>() -> (Tx<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel();
    (Tx(tx), rx)
}
