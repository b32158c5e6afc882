//! A server that runs out of file descriptors serves again once some are
//! free: every adapter retries a failed accept after a moment (mio's
//! edge-triggered listener would otherwise stay silent, with clients waiting
//! in the backlog, until yet another client arrives). Each server runs as the
//! `interop-server` binary under `prlimit`, so only it is short of descriptors.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

/// A server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(adapter: &str) -> (Server, String) {
    let mut child = Command::new("prlimit")
        .arg("--nofile=32:32")
        .arg(env!("CARGO_BIN_EXE_interop-server"))
        .args(["--port", "0", "--adapter", adapter])
        .stdout(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs the server");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_owned();
    (server, addr)
}

fn serves_again_once_descriptors_are_free(adapter: &str) {
    let (_server, addr) = start(adapter);
    // Idle connections take every descriptor the server has left, and more
    // wait in its backlog.
    let idle: Vec<TcpStream> = (0..48)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(200));
    // A real client queues behind them (each call has a 10 s deadline).
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let client = thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_interop-client"))
            .args(["--server_port", &port, "--test_case", "empty_unary"])
            .output()
            .unwrap()
    });
    thread::sleep(Duration::from_millis(300));
    drop(idle);
    let output = client.join().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{adapter}: {out}");
}

#[test]
fn mio_server() {
    serves_again_once_descriptors_are_free("mio");
}

#[test]
fn tokio_server() {
    serves_again_once_descriptors_are_free("tokio");
}

#[test]
fn blocking_server() {
    serves_again_once_descriptors_are_free("blocking");
}
