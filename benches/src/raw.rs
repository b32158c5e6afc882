//! The streaming ceiling: raw loopback TCP on one connection, a writer
//! sending `chunk`-sized writes of zeros as fast as the socket takes them,
//! a reader counting what arrives.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::load::{process_cpu_time, Report};

/// Accepts connections on `listener` one at a time and writes zeros to each
/// until it closes. Returns only on an accept error.
pub fn serve(listener: TcpListener, chunk: usize) -> io::Error {
    let data = vec![0u8; chunk.max(1)];
    loop {
        let mut sock = match listener.accept() {
            Ok((sock, _)) => sock,
            Err(e) => return e,
        };
        while sock.write_all(&data).is_ok() {}
    }
}

/// Reads from `addr` for `warmup`, then counts octets for `duration`.
pub fn read(
    addr: SocketAddr,
    chunk: usize,
    warmup: Duration,
    duration: Duration,
) -> io::Result<Report> {
    let mut sock = TcpStream::connect(addr)?;
    let mut buf = vec![0u8; chunk.max(1)];
    let from = Instant::now() + warmup;
    let to = from + duration;
    let mut report = Report::default();
    let mut cpu_from = None;
    loop {
        let n = sock.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the writer stopped",
            ));
        }
        let now = Instant::now();
        if now >= to {
            break;
        }
        if now >= from {
            if cpu_from.is_none() {
                cpu_from = Some(process_cpu_time());
            }
            report.bytes += n as u64;
        }
    }
    report.elapsed = duration;
    report.cpu = process_cpu_time().saturating_sub(cpu_from.unwrap_or_default());
    Ok(report)
}
