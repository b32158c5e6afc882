//! An HTTP/2 echo server and client over real TCP on 127.0.0.1, each side a
//! plain blocking loop around the sans-IO engine.
//!
//! The client opens many concurrent streams, each POSTing a body of its own size
//! (some far larger than the flow-control windows), the server echoes every body
//! back followed by trailers, and the client checks each octet.
//!
//! Run: `cargo run --release -p grpc-sansio --example h2_echo`

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::h2::{Config, Connection, Event, Role, StreamId};
use grpc_sansio::hpack::Header;

const STREAMS: usize = 64;

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("server listening on {addr}");
    let server = thread::spawn(move || -> std::io::Result<usize> {
        let (socket, peer) = listener.accept()?;
        println!("server accepted {peer}");
        serve(socket)
    });

    let started = Instant::now();
    let socket = TcpStream::connect(addr)?;
    let (streams, bytes) = run_client(socket)?;
    let served = server.join().expect("server thread")?;
    let elapsed = started.elapsed();
    println!(
        "client: {streams} streams echoed, {bytes} body octets each way, all verified, in {:.1} ms",
        elapsed.as_secs_f64() * 1e3
    );
    println!("server: answered {served} streams, then saw the client's GOAWAY and closed");
    Ok(())
}

/// The server: echoes each request body, then sends trailers.
fn serve(mut socket: TcpStream) -> std::io::Result<usize> {
    let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
    let mut answered = 0;
    let mut rbuf = vec![0u8; 64 << 10];
    loop {
        flush(&mut conn, &mut socket)?;
        if conn.is_closed() {
            return Ok(answered);
        }
        let n = socket.read(&mut rbuf)?;
        if n == 0 {
            return Ok(answered);
        }
        if let Err(e) = conn.receive(Instant::now(), &rbuf[..n]) {
            eprintln!("server: connection error: {e}");
            flush(&mut conn, &mut socket)?;
            return Ok(answered);
        }
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Headers { stream, .. } => {
                    let headers = vec![Header::new(":status", "200")];
                    conn.send_headers(stream, headers, false)
                        .expect("response headers");
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    conn.release_capacity(stream, data.len() as u32);
                    conn.send_data(stream, data, false).expect("echo");
                    if end_stream {
                        let trailers = vec![Header::new("x-echo", "done")];
                        conn.send_headers(stream, trailers, true).expect("trailers");
                        answered += 1;
                    }
                }
                Event::GoAway { .. } => {}
                other => eprintln!("server: {other:?}"),
            }
        }
    }
}

/// The client: opens every stream at once, sends the bodies, checks the echoes.
fn run_client(mut socket: TcpStream) -> std::io::Result<(usize, usize)> {
    let mut conn = Connection::new(Role::Client, Config::default(), Instant::now());
    let mut expected: HashMap<StreamId, Bytes> = HashMap::new();
    let mut received: HashMap<StreamId, Vec<u8>> = HashMap::new();
    let mut total = 0;
    for i in 0..STREAMS {
        let body = body(i);
        total += body.len();
        let request = vec![
            Header::new(":method", "POST"),
            Header::new(":scheme", "http"),
            Header::new(":path", format!("/echo/{i}")),
            Header::new(":authority", "127.0.0.1"),
        ];
        let id = conn.open_stream(request, false).expect("open stream");
        conn.send_data(id, body.clone(), true)
            .expect("request body");
        expected.insert(id, body);
    }
    let mut done = 0;
    let mut rbuf = vec![0u8; 64 << 10];
    while done < STREAMS {
        flush(&mut conn, &mut socket)?;
        let n = socket.read(&mut rbuf)?;
        if n == 0 {
            return Err(std::io::Error::other("server closed early"));
        }
        conn.receive(Instant::now(), &rbuf[..n])
            .map_err(std::io::Error::other)?;
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Headers {
                    stream,
                    headers,
                    end_stream: true,
                } => {
                    assert_eq!(&headers[0].value[..], b"done", "trailers");
                    let got = received.remove(&stream).unwrap_or_default();
                    assert_eq!(got, expected[&stream], "echo of stream {stream}");
                    done += 1;
                }
                Event::Headers { .. } => {}
                Event::Data { stream, data, .. } => {
                    conn.release_capacity(stream, data.len() as u32);
                    received.entry(stream).or_default().extend_from_slice(&data);
                }
                other => return Err(std::io::Error::other(format!("unexpected {other:?}"))),
            }
        }
    }
    conn.shutdown().expect("goaway");
    flush(&mut conn, &mut socket)?;
    Ok((done, total))
}

/// A body whose size and content depend on the stream: up to 256 KiB, well
/// past the 64 KiB default stream window.
fn body(i: usize) -> Bytes {
    let len = (i * 4099) % (256 << 10);
    (0..len).map(|j| (i + j) as u8).collect::<Vec<u8>>().into()
}

fn flush(conn: &mut Connection, socket: &mut TcpStream) -> std::io::Result<()> {
    let mut wbuf = Vec::new();
    while conn.poll_transmit(&mut wbuf) > 0 {}
    socket.write_all(&wbuf)
}
