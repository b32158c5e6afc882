//! The connection thread: one `grpc::Connection`, its socket, and the calls'
//! handles talking to it over one channel. No protocol decisions live here.

use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::Instant;

use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallId, CallOptions, Connection, Event, Request};
use grpc_sansio::service::handle::SendDone;
use grpc_sansio::service::{self, CancelToken, Command, Switchboard};

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

/// Inputs taken in one turn before the connection writes again.
const BATCH: usize = 64;

/// What reaches the connection thread.
pub(crate) enum Input {
    Read(Vec<u8>),
    ReadClosed,
    Start {
        options: CallOptions,
        reply: Sender<Result<(CallId, Receiver<Event>), Status>>,
    },
    Call(Command<SendDone>),
    Shutdown,
}

/// Runs a connection until it closes. `on_call` gets every call a peer starts.
pub(crate) fn run<T: Transport>(
    mut conn: Connection,
    socket: T,
    inputs: Receiver<Input>,
    input_tx: Sender<Input>,
    mut on_call: impl FnMut(CallId, Request, Receiver<Event>, CancelToken),
) {
    let Ok(reader) = socket.try_clone() else {
        return;
    };
    thread::spawn(move || read_loop(reader, input_tx));
    let mut socket = socket;
    let mut board = Switchboard::new();
    let mut wbuf = Vec::with_capacity(64 << 10);
    loop {
        // Until quiet: transmitting can itself free capacity (Writable events).
        loop {
            let mut progressed = false;
            while let Some(event) = board.poll_event(&mut conn) {
                if let Event::CallStarted { call, request } = event {
                    let (tx, rx) = mpsc::channel();
                    let token = board.attach(call, tx);
                    on_call(call, request, rx, token);
                }
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
        let first = match conn.poll_timeout() {
            Some(at) => inputs.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => inputs.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let now = Instant::now();
        // What is already queued goes in before the next write (one write for
        // many calls' frames), a bounded batch so writing is never starved.
        let mut first = Some(first);
        for _ in 0..BATCH {
            let Some(input) = first.take().or_else(|| inputs.try_recv().ok().map(Ok)) else {
                break;
            };
            match input {
                Err(RecvTimeoutError::Timeout) => conn.handle_timeout(now),
                Err(RecvTimeoutError::Disconnected) => return,
                // A connection error queues GOAWAY; the next turn flushes it.
                Ok(Input::Read(bytes)) => drop(conn.receive(now, &bytes)),
                Ok(Input::ReadClosed) => conn.transport_closed(),
                Ok(Input::Start { options, reply }) => {
                    let (tx, rx) = mpsc::channel();
                    let result = board.start_call(&mut conn, now, options, tx);
                    if let Err(mpsc::SendError(Ok((call, _)))) = reply.send(result.map(|c| (c, rx)))
                    {
                        // The caller stopped waiting: nobody owns the call.
                        board.apply(&mut conn, Command::Cancel(call));
                    }
                }
                Ok(Input::Call(command)) => board.apply(&mut conn, command),
                Ok(Input::Shutdown) => conn.shutdown(),
            }
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

/// A call handle's way to its connection thread.
pub struct Link(pub(crate) Sender<Input>);

impl service::Link for Link {
    type Done = SendDone;
    fn command(&self, command: Command<SendDone>) -> bool {
        self.0.send(Input::Call(command)).is_ok()
    }
}
