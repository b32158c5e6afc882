//! Our load client: one thread drives many connections, each keeping many
//! calls in flight, straight on the engine's [`grpc::Connection`](grpc_sansio::grpc::Connection) over mio
//! sockets (no adapter, no thread or channel per call), so that the client
//! costs as little as it can and the server is what a run measures.
//!
//! [`run`] keeps `streams` calls open on each of `conns` connections: every
//! call that finishes is replaced at once. Calls that end during the warm-up
//! are not counted; the run stops at the end of the window, leaving what is in
//! flight. The [`Report`] has the throughput, the latency percentiles and the
//! client's own CPU time (to compare load clients when the server is the
//! bottleneck).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{ByteStr, CallId, CallOptions, Config, Connection, Event};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::latency::Histogram;

/// What each call sends and what each response message should be.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `/package.Service/Method`.
    pub path: &'static str,
    /// The one request message, encoded (no gRPC prefix).
    pub request: Bytes,
    /// The length each response message must have; others are counted as bad.
    pub response_len: Option<usize>,
}

/// How much load, for how long.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The server.
    pub addr: SocketAddr,
    /// Connections.
    pub conns: usize,
    /// Calls in flight on each connection.
    pub streams: usize,
    /// Run this long before counting.
    pub warmup: Duration,
    /// Count this long.
    pub duration: Duration,
    /// The client connections' configuration.
    pub config: Config,
}

/// What a load run measured, during its window only.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Calls that ended with OK.
    pub calls: u64,
    /// Calls that ended with another status.
    pub errors: u64,
    /// Response messages whose length was not the expected one.
    pub bad_messages: u64,
    /// Octets of response messages received (gRPC prefixes excluded).
    pub bytes: u64,
    /// The window's length.
    pub elapsed: Duration,
    /// The client process's CPU time (user + system) during the window.
    pub cpu: Duration,
    /// Latency of the OK calls, from `start_call` to their status.
    pub latency: Histogram,
    /// The first error status seen, for the diagnosis.
    pub first_error: Option<String>,
}

impl Report {
    /// OK calls per second.
    pub fn qps(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Response octets per second, in MB (10^6).
    pub fn mbps(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// One `key=value` line, what `bench-load` prints and `loopback` parses.
    pub fn line(&self) -> String {
        let us = |q: f64| self.latency.quantile(q).as_secs_f64() * 1e6;
        format!(
            "calls={} errors={} bad={} bytes={} secs={:.3} cpu_secs={:.3} qps={:.1} mbps={:.2} \
             mean_us={:.1} p50_us={:.1} p90_us={:.1} p99_us={:.1} p999_us={:.1}",
            self.calls,
            self.errors,
            self.bad_messages,
            self.bytes,
            self.elapsed.as_secs_f64(),
            self.cpu.as_secs_f64(),
            self.qps(),
            self.mbps(),
            self.latency.mean().as_secs_f64() * 1e6,
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999),
        )
    }
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat`
/// (clock ticks of 1/100 s, Linux's `USER_HZ`); zero where that is missing.
pub fn process_cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; `rest` starts at field 3.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// One client connection and the calls it has in flight.
struct Conn {
    sock: TcpStream,
    grpc: Connection,
    out: Vec<u8>,
    written: usize,
    started: HashMap<CallId, Instant>,
}

/// Output beyond this waits in the connection until the socket takes some.
const MAX_OUT: usize = 256 << 10;

impl Conn {
    fn connect(
        poll: &Poll,
        token: Token,
        addr: SocketAddr,
        config: &Config,
        now: Instant,
    ) -> io::Result<Conn> {
        let std = std::net::TcpStream::connect(addr)?;
        std.set_nodelay(true)?;
        std.set_nonblocking(true)?;
        let mut sock = TcpStream::from_std(std);
        poll.registry()
            .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Conn {
            sock,
            grpc: Connection::client(config.clone(), now),
            out: Vec::with_capacity(MAX_OUT),
            written: 0,
            started: HashMap::new(),
        })
    }

    fn start(&mut self, now: Instant, work: &Workload) -> io::Result<()> {
        let call = self
            .grpc
            .start_call(now, CallOptions::new(ByteStr::from_static(work.path)))
            .map_err(io::Error::other)?;
        self.grpc
            .send_message(call, work.request.clone())
            .map_err(io::Error::other)?;
        self.grpc.close_send(call).map_err(io::Error::other)?;
        self.started.insert(call, now);
        Ok(())
    }

    /// Reads what the socket has; false once the server closed it.
    fn read(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<bool> {
        loop {
            match self.sock.read(buf) {
                Ok(0) => {
                    self.grpc.transport_closed();
                    return Ok(false);
                }
                Ok(n) => self
                    .grpc
                    .receive(now, &buf[..n])
                    .map_err(io::Error::other)?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes what the connection has to send, until the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        loop {
            if self.written == self.out.len() {
                self.out.clear();
                self.written = 0;
                while self.out.len() < MAX_OUT && self.grpc.poll_transmit(&mut self.out) > 0 {}
                if self.out.is_empty() {
                    return Ok(());
                }
            }
            match self.sock.write(&self.out[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while self.grpc.poll_timeout().is_some_and(|t| t <= now) {
            self.grpc.handle_timeout(now);
        }
    }
}

/// The window a run counts in.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

impl Window {
    fn counts(&self, now: Instant) -> bool {
        now >= self.from && now < self.to
    }
}

/// Takes the events of `conn`, counts them into `report`, and replaces the
/// finished calls while the window is open.
fn take_events(
    conn: &mut Conn,
    now: Instant,
    window: Window,
    work: &Workload,
    report: &mut Report,
) -> io::Result<()> {
    let mut finished = 0;
    while let Some(event) = conn.grpc.poll_event() {
        match event {
            Event::Message { message, .. } if window.counts(now) => {
                report.bytes += message.len() as u64;
                if work.response_len.is_some_and(|len| len != message.len()) {
                    report.bad_messages += 1;
                }
            }
            Event::Finished { call, status, .. } => {
                let started = conn.started.remove(&call);
                finished += 1;
                if !window.counts(now) {
                    continue;
                }
                if status.code() == Code::Ok {
                    report.calls += 1;
                    if let Some(started) = started {
                        report.latency.record(now - started);
                    }
                } else {
                    report.errors += 1;
                    report.first_error.get_or_insert_with(|| status.to_string());
                }
            }
            Event::GoAway { code } => {
                return Err(io::Error::other(format!("the server sent GOAWAY {code:?}")));
            }
            _ => {}
        }
    }
    if now < window.to {
        for _ in 0..finished {
            conn.start(now, work)?;
        }
    }
    Ok(())
}

/// Runs `plan` with `work` and reports what the window saw.
pub fn run(plan: &Plan, work: &Workload) -> io::Result<Report> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let now = Instant::now();
    let mut conns = Vec::with_capacity(plan.conns);
    for i in 0..plan.conns {
        let mut conn = Conn::connect(&poll, Token(i), plan.addr, &plan.config, now)?;
        for _ in 0..plan.streams {
            conn.start(now, work)?;
        }
        conn.flush()?;
        conns.push(conn);
    }
    let from = Instant::now() + plan.warmup;
    let window = Window {
        from,
        to: from + plan.duration,
    };
    let mut report = Report::default();
    let mut cpu_from = None;
    let mut buf = vec![0; 256 << 10];
    loop {
        let now = Instant::now();
        if now >= window.from && cpu_from.is_none() {
            cpu_from = Some(process_cpu_time());
        }
        if now >= window.to {
            break;
        }
        let wake = conns
            .iter()
            .filter_map(|c| c.grpc.poll_timeout())
            .chain([if now < window.from {
                window.from
            } else {
                window.to
            }])
            .min()
            .unwrap_or(window.to);
        poll.poll(&mut events, Some(wake.saturating_duration_since(now)))?;
        let now = Instant::now();
        for event in events.iter() {
            let conn = &mut conns[event.token().0];
            if (event.is_readable() || event.is_read_closed()) && !conn.read(now, &mut buf)? {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the server closed a connection",
                ));
            }
        }
        for conn in &mut conns {
            conn.fire_timers(now);
            take_events(conn, now, window, work, &mut report)?;
            conn.flush()?;
        }
    }
    report.elapsed = plan.duration;
    report.cpu = process_cpu_time().saturating_sub(cpu_from.unwrap_or_default());
    Ok(report)
}

/// What one call got back.
#[derive(Debug)]
pub struct Outcome {
    /// The call's status.
    pub status: Status,
    /// The length of each response message.
    pub messages: Vec<usize>,
}

/// Makes one call and waits (at most `timeout`) for its end.
pub fn one_call(addr: SocketAddr, work: &Workload, timeout: Duration) -> io::Result<Outcome> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(64);
    let now = Instant::now();
    let deadline = now + timeout;
    let mut conn = Conn::connect(&poll, Token(0), addr, &Config::client(), now)?;
    conn.start(now, work)?;
    let mut messages = Vec::new();
    let mut buf = vec![0; 256 << 10];
    loop {
        conn.flush()?;
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"));
        }
        let wake = conn
            .grpc
            .poll_timeout()
            .map_or(deadline, |t| t.min(deadline));
        poll.poll(&mut events, Some(wake.saturating_duration_since(now)))?;
        let now = Instant::now();
        let open = conn.read(now, &mut buf)?;
        conn.fire_timers(now);
        while let Some(event) = conn.grpc.poll_event() {
            match event {
                Event::Message { message, .. } => messages.push(message.len()),
                Event::Finished { status, .. } => return Ok(Outcome { status, messages }),
                _ => {}
            }
        }
        if !open {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed the connection before the call ended",
            ));
        }
    }
}
