//! grpc-sansio inside your own loop, with no adapter: one thread, non-blocking
//! `std::net` sockets polled once per tick, as a game or trading reactor would.
//!
//! The server and the client live in the same loop. The client streams a
//! "player position" every tick over one bidi call; the server answers each with
//! the position it accepted. Each tick does the same four things for each socket:
//! read what is there, let the engine react, write what the engine produced
//! (keeping what the socket did not take), and fire due timers.
//!
//! Run: `cargo run --release -p grpc-sansio --example game_loop`

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallOptions, Config, Connection, Event};

/// A socket and the engine that speaks for it.
struct Peer {
    socket: TcpStream,
    conn: Connection,
    /// Bytes the engine produced that the socket has not taken yet.
    unsent: Vec<u8>,
}

impl Peer {
    /// One tick of I/O: read, feed, write, timers. Returns false once closed.
    fn pump(&mut self, now: Instant) -> bool {
        let mut buf = [0u8; 16 << 10];
        loop {
            match self.socket.read(&mut buf) {
                Ok(0) => {
                    self.conn.transport_closed();
                    break;
                }
                Ok(n) => {
                    // A connection error queues GOAWAY, written below.
                    let _ = self.conn.receive(now, &buf[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.conn.transport_closed();
                    break;
                }
            }
        }
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        while self.conn.poll_transmit(&mut self.unsent) > 0 {}
        while !self.unsent.is_empty() {
            match self.socket.write(&self.unsent) {
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.conn.transport_closed();
                    break;
                }
            }
        }
        !self.conn.is_closed()
    }
}

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let client_socket = TcpStream::connect(listener.local_addr()?)?;
    client_socket.set_nonblocking(true)?;
    let start = Instant::now();
    let mut client = Peer {
        socket: client_socket,
        conn: Connection::client(Config::client(), start),
        unsent: Vec::new(),
    };
    let mut server: Option<Peer> = None;

    let call = client
        .conn
        .start_call(start, CallOptions::new("/game.World/Move"))
        .expect("start call");
    let (mut sent, mut acked, ticks) = (0u32, 0u32, 100u32);
    let mut tick = 0;
    let mut final_status = None;
    while final_status.is_none() {
        let now = Instant::now();
        if server.is_none() {
            if let Ok((socket, _)) = listener.accept() {
                socket.set_nonblocking(true)?;
                server = Some(Peer {
                    socket,
                    conn: Connection::server(Config::server(), now),
                    unsent: Vec::new(),
                });
            }
        }

        // Game logic: one position per tick, then end the stream.
        if tick < ticks {
            let position = format!("x={} y={}", tick * 3, tick * 7);
            client
                .conn
                .send_message(call, Bytes::from(position))
                .expect("send");
            sent += 1;
        } else if tick == ticks {
            client.conn.close_send(call).expect("half-close");
        }
        tick += 1;

        if let Some(server) = &mut server {
            server.pump(now);
            while let Some(event) = server.conn.poll_event() {
                match event {
                    Event::Message { call, message, .. } => {
                        let mut ack = b"accepted ".to_vec();
                        ack.extend_from_slice(&message);
                        let _ = server.conn.send_message(call, ack.into());
                    }
                    Event::HalfClosed { call } => {
                        let _ = server.conn.finish(call, &Status::ok(), &Metadata::new());
                    }
                    _ => {}
                }
            }
            server.pump(now);
        }
        client.pump(now);
        while let Some(event) = client.conn.poll_event() {
            match event {
                Event::Message { .. } => acked += 1,
                Event::Finished { status, .. } => final_status = Some(status),
                _ => {}
            }
        }
        // The rest of the frame: rendering, physics, ... then wait for the next tick.
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "{tick} ticks: sent {sent} positions, {acked} acknowledged, call ended with {}, in {:.1} ms",
        final_status.expect("finished"),
        start.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(sent, acked);
    Ok(())
}
