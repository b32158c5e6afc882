//! One client connection over TCP: raw frames out, the server's frames in,
//! every wait bounded by the run's timeout, and h2spec's verdicts on what
//! arrives.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::case::{CaseError, CaseResult};
use super::client::Client;
use super::frames::{describe, merge_settings, FrameReader};
use super::request::RequestKind;
use super::verdict::{Expect, OnClose};
use super::Options;
use crate::factory::FrameFactory;
use grpc_sansio::h2::frame::{Frame, Settings};

/// How many received frames a failure message lists before it abbreviates.
const FRAMES_LISTED: usize = 8;

/// What waiting for the server brought.
#[derive(Debug)]
pub enum Arrival {
    /// A frame.
    Frame(Frame),
    /// The transport closed (EOF, reset, or a write refused); the text says how.
    Closed(String),
    /// The connection cannot go on for another reason: the server sent a frame
    /// that does not decode, or stopped reading. Unlike a close, this never
    /// passes a verdict.
    Broken(String),
    /// Nothing within the timeout.
    Timeout,
}

/// A client connection to the server under test, playing h2spec's client.
///
/// Writes go straight to the socket; a write the peer refuses means the
/// server has closed the connection, which is what some cases wait for, so
/// it is recorded as the close rather than reported on its own. A write that
/// cannot finish within the timeout breaks the connection instead.
#[derive(Debug)]
pub struct Conn {
    socket: TcpStream,
    reader: FrameReader,
    pending: VecDeque<Frame>,
    closed: Option<String>,
    broken: Option<String>,
    timeout: Duration,
    requests: RequestKind,
    /// The client's frame factory and HPACK encoder for this connection; its
    /// `path`, `authority` and `dummy_len` are the run's.
    pub factory: FrameFactory,
    server_settings: Settings,
}

impl Conn {
    /// Opens a TCP connection to the server (no preface sent yet).
    pub fn connect(options: &Options) -> io::Result<Conn> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host resolved to no address");
        for addr in (options.host.as_str(), options.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, options.timeout) {
                Ok(socket) => {
                    // Frames leave when the case writes them, as h2spec's do.
                    socket.set_nodelay(true)?;
                    socket.set_write_timeout(Some(options.timeout))?;
                    let mut factory = FrameFactory::new();
                    factory.path = options.path.clone();
                    factory.authority = options.authority();
                    factory.dummy_len = options.max_header_length;
                    return Ok(Conn {
                        socket,
                        reader: FrameReader::default(),
                        pending: VecDeque::new(),
                        closed: None,
                        broken: None,
                        timeout: options.timeout,
                        requests: options.requests,
                        factory,
                        server_settings: Settings::default(),
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Writes `bytes` to the server.
    pub fn send(&mut self, bytes: &[u8]) {
        if self.closed.is_some() || self.broken.is_some() {
            return;
        }
        match self.socket.write_all(bytes) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                self.broken = Some(format!(
                    "the server stopped reading: a write did not finish in {} ms",
                    self.timeout.as_millis()
                ));
            }
            Err(e) => self.closed = Some(format!("a write failed: {e}")),
        }
    }

    /// h2spec's handshake: the preface and SETTINGS(INITIAL_WINDOW_SIZE=65535),
    /// then wait (one timeout in all) for the server's SETTINGS, which is
    /// recorded and ACKed, and for the ACK of ours. Other frames seen meanwhile
    /// are dropped, as h2spec does.
    pub fn handshake(&mut self) -> Result<(), String> {
        self.send(&FrameFactory::preface());
        self.send(&FrameFactory::settings_initial_window(65_535));
        let deadline = Instant::now() + self.timeout;
        let (mut remote, mut local) = (false, false);
        while !(remote && local) {
            match self.next_arrival(deadline) {
                Arrival::Frame(Frame::Settings(s)) if s.ack => local = true,
                Arrival::Frame(Frame::Settings(s)) => {
                    remote = true;
                    merge_settings(&mut self.server_settings, &s);
                    self.send(&FrameFactory::settings_ack());
                }
                Arrival::Frame(_) => {}
                Arrival::Closed(why) => {
                    return Err(handshake_failure(remote, local, &format!("closed ({why})")))
                }
                Arrival::Broken(why) => return Err(handshake_failure(remote, local, &why)),
                Arrival::Timeout => {
                    return Err(handshake_failure(remote, local, &self.timeout_text()))
                }
            }
        }
        Ok(())
    }

    /// The next frame, or the close, waiting until `deadline` at most.
    pub fn next_arrival(&mut self, deadline: Instant) -> Arrival {
        let mut buf = [0; 16 * 1024];
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Arrival::Frame(frame);
            }
            if let Some(why) = &self.broken {
                return Arrival::Broken(why.clone());
            }
            if let Some(why) = &self.closed {
                return Arrival::Closed(why.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Arrival::Timeout;
            }
            if let Err(e) = self.socket.set_read_timeout(Some(left)) {
                self.broken = Some(format!("the socket failed: {e}"));
                continue;
            }
            match self.socket.read(&mut buf) {
                Ok(0) => self.closed = Some("EOF".to_owned()),
                Ok(n) => {
                    if let Err(e) = self.reader.push(&buf[..n], &mut self.pending) {
                        self.broken = Some(e.to_string());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => self.closed = Some(e.to_string()),
            }
        }
    }

    fn timeout_text(&self) -> String {
        format!("timeout ({} ms)", self.timeout.as_millis())
    }
}

impl Client for Conn {
    fn send(&mut self, bytes: &[u8]) {
        Conn::send(self, bytes);
    }

    /// Judges what arrives by `expect`, as h2spec does: each frame gets one
    /// timeout to arrive; frames are consumed up to the deciding one. h2spec
    /// cannot see an error code in a close, so a close passes whenever
    /// [`Expect::on_close`] does not say it fails.
    fn expect(&mut self, expect: Expect) -> CaseResult {
        let mut seen = Vec::new();
        loop {
            let deadline = Instant::now() + self.timeout;
            let end = match self.next_arrival(deadline) {
                Arrival::Frame(frame) => match expect.decide(&frame) {
                    Some(true) => return Ok(()),
                    Some(false) => {
                        seen.push(describe(&frame));
                        "that frame decided against it".to_owned()
                    }
                    None => {
                        seen.push(describe(&frame));
                        continue;
                    }
                },
                Arrival::Closed(why) => {
                    if expect.on_close() != OnClose::Fails {
                        return Ok(());
                    }
                    format!("the connection closed ({why})")
                }
                Arrival::Broken(why) => why,
                Arrival::Timeout => self.timeout_text(),
            };
            return Err(CaseError::Fail(failure(&expect, &seen, &end)));
        }
    }

    fn factory(&mut self) -> &mut FrameFactory {
        &mut self.factory
    }

    fn server_settings(&self) -> &Settings {
        &self.server_settings
    }

    fn requests(&self) -> RequestKind {
        self.requests
    }
}

fn handshake_failure(remote: bool, local: bool, end: &str) -> String {
    format!(
        "handshake failed: server SETTINGS seen: {remote}, ACK of ours seen: {local}; then {end}"
    )
}

/// "expected X; received [frames]; then how it ended".
fn failure(expect: &Expect, seen: &[String], end: &str) -> String {
    let mut listed = seen.iter().take(FRAMES_LISTED).cloned().collect::<Vec<_>>();
    if seen.len() > FRAMES_LISTED {
        listed.push(format!("… {} more", seen.len() - FRAMES_LISTED));
    }
    format!(
        "expected {expect}; received [{}]; then {end}",
        listed.join(", ")
    )
}
