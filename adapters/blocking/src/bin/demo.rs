//! The quick-start demo: a real gRPC server and client on 127.0.0.1, both on
//! the blocking adapter, exchanging the four kinds of RPC with metadata and a
//! deadline, and printing what happened.
//!
//! Run: `cargo run --release --bin demo`

use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio_blocking::{Channel, Server, ServerCall};

/// `demo.Greeter`: SayHello (unary), Countdown (server stream), Total (client
/// stream), Chat (bidi), Slow (never answers in time).
fn greeter(mut call: ServerCall) {
    let method = call.request().method().to_owned();
    let result = match method.as_str() {
        "SayHello" => say_hello(&mut call),
        "Countdown" => countdown(&mut call),
        "Total" => total(&mut call),
        "Chat" => chat(&mut call),
        "Slow" => slow(&mut call),
        _ => Err(Status::new(
            Code::Unimplemented,
            format!("no method {method}"),
        )),
    };
    match result {
        Ok(trailers) => call.finish(Status::ok(), trailers),
        Err(status) => call.finish(status, Metadata::new()),
    }
}

fn say_hello(call: &mut ServerCall) -> Result<Metadata, Status> {
    let name = call.recv()?.unwrap_or_default();
    let mut headers = Metadata::new();
    let who = call
        .request()
        .metadata
        .get("x-user")
        .unwrap_or("anonymous")
        .to_owned();
    headers
        .insert("x-greeted-by", "grpc-sansio")
        .expect("valid metadata");
    call.send_headers(headers);
    let reply = format!(
        "Hello, {}! (asked by {who})",
        String::from_utf8_lossy(&name)
    );
    call.send(reply.into())?;
    let mut trailers = Metadata::new();
    trailers
        .insert_bin(
            "x-checksum-bin",
            name.iter().fold(0u8, |a, b| a ^ b).to_be_bytes().to_vec(),
        )
        .expect("valid metadata");
    Ok(trailers)
}

fn countdown(call: &mut ServerCall) -> Result<Metadata, Status> {
    let from = call.recv()?.and_then(|m| m.first().copied()).unwrap_or(3);
    for n in (1..=from).rev() {
        call.send(Bytes::from(format!("{n}...")))?;
    }
    call.send(Bytes::from_static(b"liftoff"))?;
    Ok(Metadata::new())
}

fn total(call: &mut ServerCall) -> Result<Metadata, Status> {
    let (mut count, mut bytes) = (0, 0);
    while let Some(message) = call.recv()? {
        count += 1;
        bytes += message.len();
    }
    call.send(Bytes::from(format!("{count} messages, {bytes} octets")))?;
    Ok(Metadata::new())
}

fn chat(call: &mut ServerCall) -> Result<Metadata, Status> {
    while let Some(line) = call.recv()? {
        call.send(Bytes::from(format!(
            "echo: {}",
            String::from_utf8_lossy(&line)
        )))?;
    }
    Ok(Metadata::new())
}

fn slow(call: &mut ServerCall) -> Result<Metadata, Status> {
    // Waits until the client's deadline cancels the call.
    loop {
        call.recv()?;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::bind("127.0.0.1:0", Config::server(), greeter)?;
    println!("server: listening on {}", server.local_addr());
    let channel = Channel::connect(server.local_addr(), Config::client())?;
    let started = Instant::now();

    // Unary, with request metadata, response headers, a binary trailer and a deadline.
    let mut options = CallOptions::new("/demo.Greeter/SayHello");
    options.metadata.insert("x-user", "ada")?;
    options.timeout = Some(Duration::from_secs(5));
    let reply = channel.unary(options, Bytes::from_static(b"world"))?;
    println!(
        "unary:            {:?} (header x-greeted-by={:?}, trailer x-checksum-bin={:?})",
        String::from_utf8_lossy(&reply.message),
        reply.headers.get("x-greeted-by").unwrap_or_default(),
        reply
            .trailers
            .get_bin("x-checksum-bin")
            .map(|b| b.to_vec())
            .unwrap_or_default()
    );

    // Server streaming.
    let mut call = channel.call(CallOptions::new("/demo.Greeter/Countdown"))?;
    call.send(Bytes::from_static(&[5]))?;
    call.close_send();
    let mut parts = Vec::new();
    while let Some(message) = call.recv()? {
        parts.push(String::from_utf8_lossy(&message).into_owned());
    }
    println!("server streaming: {}", parts.join(" "));

    // Client streaming.
    let mut call = channel.call(CallOptions::new("/demo.Greeter/Total"))?;
    for size in [10, 200, 3000, 40_000] {
        call.send(Bytes::from(vec![b'x'; size]))?;
    }
    call.close_send();
    let summary = call.recv()?.unwrap_or_default();
    println!(
        "client streaming: server counted {}",
        String::from_utf8_lossy(&summary)
    );

    // Bidirectional streaming, in lock-step.
    let mut call = channel.call(CallOptions::new("/demo.Greeter/Chat"))?;
    for line in ["hi", "how are you?", "bye"] {
        call.send(Bytes::from(line))?;
        let answer = call.recv()?.unwrap_or_default();
        println!(
            "bidi streaming:   sent {line:?}, got {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    call.close_send();
    let (status, _) = call.finish();
    println!("bidi streaming:   finished with {status}");

    // A deadline the server cannot meet.
    let mut options = CallOptions::new("/demo.Greeter/Slow");
    options.timeout = Some(Duration::from_millis(100));
    match channel.unary(options, Bytes::new()) {
        Err(status) if status.code() == Code::DeadlineExceeded => {
            println!("deadline:         {status}")
        }
        other => return Err(format!("expected DEADLINE_EXCEEDED, got {other:?}").into()),
    }

    println!(
        "all four RPC kinds done in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    drop(channel);
    server.shutdown();
    println!("server: shut down gracefully");
    Ok(())
}
