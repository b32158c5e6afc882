//! Idle HTTP/2 connections, opened by hand: the client preface and an empty
//! SETTINGS frame, then the server's frames are read until its SETTINGS,
//! which is acknowledged. Nothing else is sent: what the server keeps per
//! connection from then on is its idle cost.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
/// A SETTINGS frame with the ACK flag.
const SETTINGS_ACK: [u8; 9] = [0, 0, 0, 4, 1, 0, 0, 0, 0];
const TYPE_SETTINGS: u8 = 4;
const FLAG_ACK: u8 = 1;

/// Opens one connection and completes the handshake.
pub fn open_one(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let mut sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(timeout))?;
    let mut hello = PREFACE.to_vec();
    hello.extend_from_slice(&SETTINGS);
    sock.write_all(&hello)?;
    let mut payload = Vec::new();
    loop {
        let mut head = [0u8; 9];
        sock.read_exact(&mut head)?;
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        payload.resize(len, 0);
        sock.read_exact(&mut payload)?;
        if head[3] == TYPE_SETTINGS && head[4] & FLAG_ACK == 0 {
            sock.write_all(&SETTINGS_ACK)?;
            return Ok(sock);
        }
    }
}

/// Opens `n` idle connections, one after the other.
pub fn open(addr: SocketAddr, n: usize, timeout: Duration) -> io::Result<Vec<TcpStream>> {
    (0..n).map(|_| open_one(addr, timeout)).collect()
}

/// Resident memory of process `pid` in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_rss_is_read() {
        let rss = rss_bytes(std::process::id()).unwrap();
        assert!(rss > 0);
    }
}
