//! The connection thread: one `grpc::Connection`, its socket, and the calls'
//! handles talking to it over one channel. No protocol decisions live here.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallId, CallOptions, Connection, Event, Request};
use grpc_sansio::service::CancelToken;

/// A byte stream the driver can read on one thread and write on another.
pub trait Transport: Read + Write + Send + Sized + 'static {
    /// A second handle to the same socket, for the reader thread.
    fn try_clone(&self) -> io::Result<Self>;
    /// Closes both directions, waking the reader.
    fn shutdown(&self);
}

impl Transport for std::net::TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::net::TcpStream::try_clone(self)
    }
    fn shutdown(&self) {
        let _ = std::net::TcpStream::shutdown(self, std::net::Shutdown::Both);
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::os::unix::net::UnixStream::try_clone(self)
    }
    fn shutdown(&self) {
        let _ = std::os::unix::net::UnixStream::shutdown(self, std::net::Shutdown::Both);
    }
}

/// What reaches the connection thread.
pub(crate) enum Input {
    Read(Vec<u8>),
    ReadClosed,
    Start {
        options: CallOptions,
        reply: Sender<Result<(CallId, Receiver<Inbound>), Status>>,
    },
    Headers {
        call: CallId,
        metadata: Metadata,
    },
    Send {
        call: CallId,
        message: Bytes,
        compress: bool,
        done: Sender<Result<(), Status>>,
    },
    /// Server: the encoding of the responses (checked by the handle).
    Encoding(CallId, Encoding),
    CloseSend(CallId),
    Finish {
        call: CallId,
        status: Status,
        trailers: Metadata,
    },
    Cancel(CallId),
    Consumed(CallId),
    Shutdown,
}

/// What a call's handle receives.
pub(crate) enum Inbound {
    Headers(Metadata),
    /// A message and whether it arrived compressed.
    Message(Bytes, bool),
    HalfClosed,
    /// Terminal: the client's outcome, or why a server call was cancelled.
    End(Status, Metadata),
}

/// Each call's handle: its inbox, and the token that tells a handler the call
/// was cancelled even while it is not reading.
type Inboxes = HashMap<CallId, (Sender<Inbound>, CancelToken)>;

/// What waits for send capacity, in order.
enum Outgoing {
    Message(Bytes, bool, Sender<Result<(), Status>>),
    /// A half-close issued behind parked messages.
    CloseSend,
}

type Parked = VecDeque<Outgoing>;

/// Runs a connection until it closes. `on_call` gets every call a peer starts.
pub(crate) fn run<T: Transport>(
    mut conn: Connection,
    socket: T,
    inputs: Receiver<Input>,
    input_tx: Sender<Input>,
    mut on_call: impl FnMut(CallId, Request, Receiver<Inbound>, CancelToken),
) {
    let Ok(reader) = socket.try_clone() else {
        return;
    };
    thread::spawn(move || read_loop(reader, input_tx));
    let mut socket = socket;
    let mut inboxes: Inboxes = HashMap::new();
    let mut parked: HashMap<CallId, Parked> = HashMap::new();
    let mut wbuf = Vec::with_capacity(64 << 10);
    loop {
        // Until quiet: transmitting can itself free capacity (Writable events).
        loop {
            let mut progressed = false;
            while let Some(event) = conn.poll_event() {
                route(event, &mut conn, &mut inboxes, &mut parked, &mut on_call);
                progressed = true;
            }
            wbuf.clear();
            while conn.poll_transmit(&mut wbuf) > 0 {}
            if !wbuf.is_empty() {
                progressed = true;
                if socket.write_all(&wbuf).is_err() {
                    conn.transport_closed();
                }
            }
            if !progressed {
                break;
            }
        }
        if conn.is_closed() {
            socket.shutdown();
            return;
        }
        let input = match conn.poll_timeout() {
            Some(at) => inputs.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => inputs.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let now = Instant::now();
        match input {
            Err(RecvTimeoutError::Timeout) => conn.handle_timeout(now),
            Err(RecvTimeoutError::Disconnected) => return,
            Ok(Input::Read(bytes)) => {
                // A connection error queues GOAWAY; the next turn flushes it.
                let _ = conn.receive(now, &bytes);
            }
            Ok(Input::ReadClosed) => conn.transport_closed(),
            Ok(input) => apply(input, now, &mut conn, &mut inboxes, &mut parked),
        }
    }
}

fn read_loop<T: Transport>(mut socket: T, tx: Sender<Input>) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = tx.send(Input::ReadClosed);
                return;
            }
            Ok(n) => {
                if tx.send(Input::Read(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
}

fn route(
    event: Event,
    conn: &mut Connection,
    inboxes: &mut Inboxes,
    parked: &mut HashMap<CallId, Parked>,
    on_call: &mut impl FnMut(CallId, Request, Receiver<Inbound>, CancelToken),
) {
    let (call, inbound) = match event {
        Event::CallStarted { call, request } => {
            let (tx, rx) = mpsc::channel();
            let token = CancelToken::new();
            inboxes.insert(call, (tx, token.clone()));
            on_call(call, request, rx, token);
            return;
        }
        Event::Headers { call, metadata } => (call, Inbound::Headers(metadata)),
        Event::Message {
            call,
            message,
            compressed,
        } => (call, Inbound::Message(message, compressed)),
        Event::HalfClosed { call } => (call, Inbound::HalfClosed),
        Event::Finished {
            call,
            status,
            trailers,
        } => (call, Inbound::End(status, trailers)),
        Event::Cancelled { call, status } => (call, Inbound::End(status, Metadata::new())),
        Event::Writable { call } => return unpark(call, conn, parked),
        Event::GoAway { .. } => return,
    };
    let terminal = matches!(inbound, Inbound::End(..));
    if terminal {
        fail_parked(parked.remove(&call), Code::Cancelled);
        if let Some((tx, token)) = inboxes.remove(&call) {
            if let Inbound::End(status, _) = &inbound {
                if !status.is_ok() {
                    token.cancel_for(status);
                }
            }
            let _ = tx.send(inbound);
        }
    } else if let Some((tx, _)) = inboxes.get(&call) {
        // A handle that is gone has its finish or cancel on the way: the
        // event is dropped and the call's credit returns when it ends.
        let _ = tx.send(inbound);
    }
}

fn apply(
    input: Input,
    now: Instant,
    conn: &mut Connection,
    inboxes: &mut Inboxes,
    parked: &mut HashMap<CallId, Parked>,
) {
    match input {
        Input::Start { options, reply } => {
            let result = conn.start_call(now, options).map(|call| {
                let (tx, rx) = mpsc::channel();
                inboxes.insert(call, (tx, CancelToken::new()));
                (call, rx)
            });
            let _ = reply.send(result.map_err(|e| e.to_status()));
        }
        Input::Encoding(call, encoding) => {
            let _ = conn.set_send_encoding(call, encoding);
        }
        Input::Headers { call, metadata } => {
            let _ = conn.send_headers(call, &metadata);
        }
        Input::Send {
            call,
            message,
            compress,
            done,
        } => {
            let queue = parked.entry(call).or_default();
            queue.push_back(Outgoing::Message(message, compress, done));
            unpark(call, conn, parked);
        }
        Input::CloseSend(call) => {
            if let Some(queue) = parked.get_mut(&call) {
                // Keep order: half-close after the parked messages.
                queue.push_back(Outgoing::CloseSend);
            } else {
                let _ = conn.close_send(call);
            }
        }
        Input::Finish {
            call,
            status,
            trailers,
        } => {
            fail_parked(parked.remove(&call), Code::Cancelled);
            let _ = conn.finish(call, &status, &trailers);
            inboxes.remove(&call);
        }
        Input::Cancel(call) => {
            fail_parked(parked.remove(&call), Code::Cancelled);
            let _ = conn.cancel(call);
            inboxes.remove(&call);
        }
        Input::Consumed(call) => conn.message_consumed(call),
        Input::Shutdown => conn.shutdown(),
        Input::Read(_) | Input::ReadClosed => unreachable!("handled by run"),
    }
}

/// Hands parked messages to the engine until it is full again.
fn unpark(call: CallId, conn: &mut Connection, parked: &mut HashMap<CallId, Parked>) {
    let Some(queue) = parked.get_mut(&call) else {
        return;
    };
    while let Some(item) = queue.pop_front() {
        let Outgoing::Message(message, compress, done) = item else {
            let _ = conn.close_send(call);
            continue;
        };
        match conn.send_message_with(call, message.clone(), compress) {
            Ok(()) => {
                let _ = done.send(Ok(()));
            }
            Err(CallError::Full(_)) => {
                queue.push_front(Outgoing::Message(message, compress, done));
                return;
            }
            Err(e) => {
                let _ = done.send(Err(e.to_status()));
            }
        }
    }
    parked.remove(&call);
}

fn fail_parked(queue: Option<Parked>, code: Code) {
    for item in queue.into_iter().flatten() {
        if let Outgoing::Message(_, _, done) = item {
            let _ = done.send(Err(Status::new(code, "the call ended")));
        }
    }
}
