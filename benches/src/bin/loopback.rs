//! The side-by-side benchmark of issue 13: tonic's server (A) against ours (B)
//! on loopback, measured the way `BENCHMARKING.md` says.
//!
//! `cargo run --release -p benches --bin loopback -- [--quick] [--case NAME,…]
//! [--reps N] [--ours NAME,…] [--list]` (`--list` names the cases and servers;
//! see `benches/README.md` for every flag and what each case measures).
//!
//! Every server runs as a process of its own, started afresh for each
//! measurement: tonic's is `bench-tonic-server`, ours `interop-server` of
//! `spec-tests` (one line per variant in [`OURS`]), the optional third one
//! pajamax (`benches/peers/pajamax`, built here on demand), and the ceilings
//! `nghttpd` and raw TCP. Single-core cases pin the server to CPU 0 and the
//! load to CPU 1; two-thread cases pin nothing. Unary load comes from `h2load`
//! when it is installed, from our own load client (`bench-load`) otherwise.
//! Each repetition runs the line-up in order (odd repetitions) or reversed
//! (even ones); each contender's figure is divided by tonic's of the same
//! repetition, and the median and range of those ratios are printed.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use benches::args::Args;
use benches::idle::rss_bytes;
use benches::messages;
use prost::Message;

/// One variant of our server: `interop-server --adapter ADAPTER
/// [--handlers HANDLERS]`. `--handlers` is passed only when set here, and a
/// variant whose binary does not know the flag is skipped with a note.
#[derive(Debug, Clone, Copy)]
struct OurServer {
    name: &'static str,
    adapter: &'static str,
    handlers: Option<&'static str>,
    /// Run when `--ours` is not given.
    default: bool,
}

/// `OurServer` in one line: name, `--adapter`, `--handlers`, run by default.
const fn ours(
    name: &'static str,
    adapter: &'static str,
    handlers: Option<&'static str>,
    default: bool,
) -> OurServer {
    OurServer {
        name,
        adapter,
        handlers,
        default,
    }
}

/// Our servers, one line each.
const OURS: &[OurServer] = &[
    ours("mio", "mio", None, true),
    ours("mio-inline", "mio", Some("inline"), true),
    ours("mio-pool", "mio", Some("pool"), false),
    ours("tokio", "tokio", None, false),
    ours("blocking", "blocking", None, false),
    ours("blocking-inline", "blocking", Some("inline"), false),
];

/// Where the server and the load generator run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Server on CPU 0 with one thread, load on CPU 1.
    OneCore,
    /// Server with two threads, nothing pinned.
    TwoThreads,
}

/// What a case measures.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Unary calls with a 16-octet payload asking for 16: `conns` connections
    /// times `streams` calls in flight; requests per second.
    Unary { conns: usize, streams: usize },
    /// Server-streaming messages of `size` octets on one connection; MB/s.
    Streaming { size: usize },
    /// Server memory per idle HTTP/2 connection; bytes.
    Idle,
    /// Our load client against tonic's, the same server (tonic's) on CPU 0.
    LoadClients { conns: usize, streams: usize },
}

#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    kind: Kind,
    placement: Placement,
}

const fn case(name: &'static str, kind: Kind, placement: Placement) -> Case {
    Case {
        name,
        kind,
        placement,
    }
}

const fn unary(conns: usize, streams: usize) -> Kind {
    Kind::Unary { conns, streams }
}

const fn streaming(size: usize) -> Kind {
    Kind::Streaming { size }
}

use Placement::{OneCore, TwoThreads};

/// The cases, in the order they run.
const CASES: &[Case] = &[
    case("unary-16x16-1core", unary(16, 16), OneCore),
    case("unary-1x64-1core", unary(1, 64), OneCore),
    case("unary-16x16-2threads", unary(16, 16), TwoThreads),
    case("unary-1x64-2threads", unary(1, 64), TwoThreads),
    case("stream-64KiB-1core", streaming(64 << 10), OneCore),
    case("stream-1MiB-1core", streaming(1 << 20), OneCore),
    case("idle-conns", Kind::Idle, OneCore),
    case(
        "load-client",
        Kind::LoadClients {
            conns: 16,
            streams: 16,
        },
        OneCore,
    ),
];

/// The A-vs-A smoke case: tonic against tonic, once per run.
const SMOKE: Case = Case {
    name: "smoke-tonic-vs-tonic",
    kind: Kind::Unary {
        conns: 16,
        streams: 16,
    },
    placement: Placement::OneCore,
};

/// Unary payload sizes: a 16-octet payload asking for a 16-octet reply.
const REQUEST_SIZE: usize = 16;
const RESPONSE_SIZE: usize = 16;

const USAGE: &str = "usage: loopback [--quick] [--case NAME,...] [--reps N] [--ours NAME,...] \
[--duration SECS] [--warmup SECS] [--idle-conns N] [--load h2load|ours] [--no-build] \
[--no-pajamax] [--list]";

#[derive(Debug)]
struct Opts {
    quick: bool,
    reps: usize,
    cases: Vec<String>,
    ours: Vec<OurServer>,
    duration: Duration,
    warmup: Duration,
    idle_conns: usize,
    /// Use our load client for unary cases even when h2load is installed.
    force_our_load: bool,
    build: bool,
    pajamax: bool,
}

fn parse_opts() -> Result<Option<Opts>, String> {
    let mut args = Args::from_env(&["quick", "no-build", "no-pajamax", "list", "help"])?;
    if args.switch("help") {
        return Err(USAGE.into());
    }
    if args.switch("list") {
        println!(
            "cases (--case): {}",
            CASES.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
        );
        for ours in OURS {
            println!(
                "our server (--ours) {:<16} interop-server --adapter {}{}{}",
                ours.name,
                ours.adapter,
                ours.handlers
                    .map(|h| format!(" --handlers {h}"))
                    .unwrap_or_default(),
                if ours.default { "  [default]" } else { "" }
            );
        }
        return Ok(None);
    }
    let quick = args.switch("quick");
    let list = |v: Option<String>| -> Vec<String> {
        v.map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
    };
    let cases = list(args.string("case"));
    for case in &cases {
        if !CASES.iter().any(|c| c.name == case) {
            return Err(format!("unknown case {case} (see --list)"));
        }
    }
    let ours = match args.string("ours") {
        None => OURS.iter().filter(|o| o.default).copied().collect(),
        Some(names) => list(Some(names))
            .iter()
            .map(|name| {
                OURS.iter()
                    .find(|o| o.name == name)
                    .copied()
                    .ok_or(format!("unknown server {name} (see --list)"))
            })
            .collect::<Result<_, _>>()?,
    };
    let (reps, duration, warmup) = if quick { (1, 1.0, 0.3) } else { (3, 5.0, 1.0) };
    let load = args.string("load").unwrap_or_else(|| "h2load".into());
    let opts = Opts {
        quick,
        reps: args.get("reps", reps)?.max(1),
        cases,
        ours,
        duration: Duration::from_secs_f64(args.get("duration", duration)?),
        warmup: Duration::from_secs_f64(args.get("warmup", warmup)?),
        idle_conns: args.get("idle-conns", 1000)?.max(1),
        force_our_load: match load.as_str() {
            "h2load" => false,
            "ours" => true,
            other => return Err(format!("--load {other}: h2load or ours")),
        },
        build: !args.switch("no-build"),
        pajamax: !args.switch("no-pajamax"),
    };
    args.finish()?;
    Ok(Some(opts))
}

/// What the machine has, found once.
struct Env {
    /// Where `bench-load`, `bench-tonic-server` and `interop-server` are.
    bin_dir: PathBuf,
    /// Scratch files: the request body, nghttpd's document root.
    scratch: PathBuf,
    taskset: bool,
    h2load: bool,
    nghttpd: bool,
    nghttp: bool,
    /// Our server variants the binary supports.
    ours: Vec<OurServer>,
    pajamax: Option<PathBuf>,
    /// Octets of DATA per unary response: the 5-octet prefix and the message.
    response_data_len: usize,
}

impl Env {
    fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    fn request_file(&self) -> PathBuf {
        self.scratch.join("request.bin")
    }
}

/// A server to start.
#[derive(Debug, Clone)]
enum Server {
    Tonic,
    Ours(OurServer),
    Pajamax(PathBuf),
    /// nghttpd serving the unary response as a static file.
    Nghttpd,
    /// Raw TCP writes of this many octets.
    Raw(usize),
}

impl Server {
    fn speaks_grpc(&self) -> bool {
        !matches!(self, Server::Nghttpd | Server::Raw(_))
    }
}

/// What drives the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    H2load,
    OurUnary,
    TonicUnary,
    OurStreaming(usize),
    RawRead(usize),
    Idle,
}

/// One entry of a case's line-up.
#[derive(Debug, Clone)]
struct Contender {
    label: String,
    server: Server,
    load: Load,
}

/// One measurement.
#[derive(Debug, Clone, Default)]
struct Sample {
    value: f64,
    /// Requests per CPU-second of the load client (load-client case).
    per_cpu: Option<f64>,
    detail: String,
}

/// A running server process, killed when dropped.
struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `program` run pinned to `cpu` when pinning is on and available.
fn command(env: &Env, cpu: Option<u8>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match cpu {
        Some(cpu) if env.taskset => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(cpu.to_string()).arg(program);
            cmd
        }
        _ => Command::new(program),
    }
}

fn server_cpu(placement: Placement) -> Option<u8> {
    (placement == Placement::OneCore).then_some(0)
}

fn load_cpu(placement: Placement) -> Option<u8> {
    (placement == Placement::OneCore).then_some(1)
}

fn start_server(env: &Env, server: &Server, placement: Placement) -> Result<Running, String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let threads = if placement == Placement::OneCore {
        "1"
    } else {
        "2"
    };
    let cpu = server_cpu(placement);
    let mut cmd = match server {
        Server::Tonic => {
            let mut cmd = command(env, cpu, env.bin("bench-tonic-server"));
            cmd.args(["--threads", threads]);
            cmd.arg("--port").arg(port.to_string());
            cmd
        }
        Server::Ours(ours) => {
            let mut cmd = command(env, cpu, env.bin("interop-server"));
            cmd.args(["--adapter", ours.adapter, "--threads", threads]);
            if let Some(handlers) = ours.handlers {
                cmd.args(["--handlers", handlers]);
            }
            cmd.arg("--port").arg(port.to_string());
            cmd
        }
        Server::Pajamax(path) => {
            let mut cmd = command(env, cpu, path);
            cmd.arg("--port").arg(port.to_string());
            cmd
        }
        Server::Nghttpd => {
            let mut cmd = command(env, cpu, "nghttpd");
            cmd.args(["--no-tls", "-n", threads, "-d"]);
            cmd.arg(env.scratch.join("docroot")).arg(port.to_string());
            cmd
        }
        Server::Raw(chunk) => {
            let mut cmd = command(env, cpu, env.bin("bench-load"));
            cmd.args(["raw-serve", "--chunk", &chunk.to_string()]);
            cmd.arg("--port").arg(port.to_string());
            cmd
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {server:?}: {e}"))?;
    let mut running = Running {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(format!("{server:?} exited at start ({status})"));
        }
        if TcpStream::connect(running.addr).is_ok() {
            return Ok(running);
        }
        if Instant::now() > deadline {
            return Err(format!("{server:?} did not listen within 10 s"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to its end (killed after `limit`); returns its standard output
/// and whether it succeeded.
fn run_within(mut cmd: Command, limit: Duration) -> Result<(bool, String), String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} still ran after {limit:?}: killed"));
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let out = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    if !status.success() && !err.trim().is_empty() {
        return Ok((false, format!("{out}{}", err.trim())));
    }
    Ok((status.success(), out))
}

/// The `key=value` pairs of `bench-load`'s line.
fn field(line: &str, key: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// One real `UnaryCall` before a measurement: `grpc-status: 0` and a response
/// of the expected length, seen by nghttp when installed (an independent
/// client), by our client otherwise.
fn check_call(env: &Env, addr: SocketAddr) -> Result<(), String> {
    if env.nghttp {
        let mut cmd = Command::new("nghttp");
        cmd.args([
            "-v",
            "-H",
            ":method: POST",
            "-H",
            "content-type: application/grpc",
        ]);
        cmd.args(["-H", "te: trailers", "-d"])
            .arg(env.request_file());
        cmd.arg(format!("http://{addr}{}", messages::UNARY_PATH));
        let (_, out) = run_within(cmd, Duration::from_secs(10))?;
        let data: Vec<usize> = out
            .lines()
            .filter_map(|l| l.split("recv DATA frame <length=").nth(1))
            .filter_map(|rest| rest.split(',').next()?.parse().ok())
            .collect();
        let status_ok = out
            .lines()
            .any(|l| l.trim_end().ends_with("grpc-status: 0"));
        let data_len: usize = data.iter().sum();
        if !status_ok || data_len != env.response_data_len {
            return Err(format!(
                "check call: grpc-status 0 {}, {data_len} octets of DATA (want {})",
                if status_ok { "seen" } else { "NOT seen" },
                env.response_data_len
            ));
        }
        return Ok(());
    }
    let mut cmd = Command::new(env.bin("bench-load"));
    cmd.arg("check").arg("--addr").arg(addr.to_string());
    match run_within(cmd, Duration::from_secs(10))? {
        (true, _) => Ok(()),
        (false, out) => Err(format!("check call failed: {}", out.trim())),
    }
}

fn secs_arg(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

/// `h2load` unary at `conns` × `streams`: a discarded warm-up run, then the
/// measured one. h2load counts gRPC errors (HTTP 200) as successes, so the
/// octets of DATA per request must be the response's (within 1 %).
fn h2load(
    env: &Env,
    opts: &Opts,
    addr: SocketAddr,
    placement: Placement,
    conns: usize,
    streams: usize,
) -> Result<Sample, String> {
    let run = |duration: Duration| {
        let mut cmd = command(env, load_cpu(placement), "h2load");
        cmd.args([
            "-c",
            &conns.to_string(),
            "-m",
            &streams.to_string(),
            "-t",
            "1",
        ]);
        cmd.args(["-D", &secs_arg(duration)]);
        cmd.args([
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            "-d",
        ]);
        cmd.arg(env.request_file());
        cmd.arg(format!("http://{addr}{}", messages::UNARY_PATH));
        run_within(cmd, duration + Duration::from_secs(30))
    };
    if !opts.warmup.is_zero() {
        run(opts.warmup)?;
    }
    let (ok, out) = run(opts.duration)?;
    if !ok {
        return Err(format!("h2load failed: {}", out.trim()));
    }
    parse_h2load(&out, env.response_data_len)
}

/// req/s from h2load's report, after checking what it counted.
fn parse_h2load(out: &str, response_data_len: usize) -> Result<Sample, String> {
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .ok_or(format!("h2load printed no {prefix:?} line:\n{out}"))
    };
    // finished in 5.00s, 123456.00 req/s, 4.5MB/s
    let finished = line("finished in")?;
    let rps: f64 = finished
        .split(", ")
        .find_map(|part| part.strip_suffix(" req/s"))
        .and_then(|v| v.parse().ok())
        .ok_or(format!("no req/s in {finished:?}"))?;
    // requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
    let requests = line("requests:")?;
    let count = |what: &str| -> u64 {
        requests
            .split(", ")
            .find_map(|part| part.trim_start_matches("requests: ").strip_suffix(what))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let (succeeded, failed, errored) = (count(" succeeded"), count(" failed"), count(" errored"));
    // traffic: 5.90MB (6181784) total, 324.38KB (332168) headers (...), 2.63MB (2758800) data
    let traffic = line("traffic:")?;
    let data: u64 = traffic
        .split(", ")
        .find(|part| part.ends_with(" data"))
        .and_then(|part| part.split('(').nth(1)?.split(')').next()?.parse().ok())
        .ok_or(format!("no data total in {traffic:?}"))?;
    if succeeded == 0 {
        return Err(format!("h2load: no request succeeded ({requests})"));
    }
    let per_request = data as f64 / succeeded as f64;
    // Within 1 %: h2load counts the DATA of answers whose trailers had not
    // come when the run stopped (up to conns × streams of them, 25.01 octets
    // a request at 250 k answers), and a server answering 1 % of its calls
    // with a gRPC error (a Trailers-Only response, no DATA) falls below.
    if (per_request / response_data_len as f64 - 1.0).abs() > 0.01 {
        return Err(format!(
            "h2load: {per_request:.2} octets of DATA per request, want {response_data_len}: \
             the server answered something else (gRPC errors count as successes)"
        ));
    }
    // h2load's own failures (resets, timeouts) are printed; the figure stands.
    let detail = if failed + errored > 0 {
        format!("h2load: {succeeded} succeeded, {failed} failed, {errored} errored")
    } else {
        String::new()
    };
    Ok(Sample {
        value: rps,
        per_cpu: None,
        detail,
    })
}

/// Runs `bench-load` with `args` and parses its line.
fn bench_load(env: &Env, opts: &Opts, cpu: Option<u8>, args: &[String]) -> Result<String, String> {
    let mut cmd = command(env, cpu, env.bin("bench-load"));
    cmd.args(args);
    cmd.args(["--warmup", &opts.warmup.as_secs_f64().to_string()]);
    cmd.args(["--duration", &opts.duration.as_secs_f64().to_string()]);
    let (ok, out) = run_within(cmd, opts.warmup + opts.duration + Duration::from_secs(30))?;
    if !ok {
        return Err(format!("bench-load failed: {}", out.trim()));
    }
    let line = out.lines().last().unwrap_or_default().to_owned();
    let bad = field(&line, "errors").unwrap_or(0.0) + field(&line, "bad").unwrap_or(0.0);
    if bad > 0.0 {
        return Err(format!(
            "bench-load saw failed calls or bad responses: {line}"
        ));
    }
    Ok(line)
}

/// The load client's CPU time over the window, in percent of one core.
fn cpu_percent(line: &str) -> f64 {
    100.0 * field(line, "cpu_secs").unwrap_or(0.0) / field(line, "secs").unwrap_or(1.0).max(1e-9)
}

fn unary_sample(line: &str) -> Sample {
    let qps = field(line, "qps").unwrap_or(0.0);
    let cpu = field(line, "cpu_secs").unwrap_or(0.0);
    let secs = field(line, "secs").unwrap_or(1.0);
    let us = |k| field(line, k).unwrap_or(0.0);
    Sample {
        value: qps,
        per_cpu: (cpu > 0.0).then(|| qps * secs / cpu),
        detail: format!(
            "p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs, client CPU {:.0} %",
            us("p50_us"),
            us("p99_us"),
            us("p999_us"),
            cpu_percent(line)
        ),
    }
}

/// Server RSS per idle connection: RSS after the check call, then with
/// `n` idle connections open.
fn idle(env: &Env, opts: &Opts, running: &Running, placement: Placement) -> Result<Sample, String> {
    thread::sleep(Duration::from_millis(200));
    let before = rss_bytes(running.pid()).map_err(|e| e.to_string())?;
    let mut cmd = command(env, load_cpu(placement), env.bin("bench-load"));
    cmd.args(["idle", "--conns", &opts.idle_conns.to_string()]);
    cmd.arg("--addr").arg(running.addr.to_string());
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run bench-load idle: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_default();
    let result = if ready.starts_with("ready") {
        thread::sleep(Duration::from_millis(500));
        rss_bytes(running.pid())
            .map_err(|e| e.to_string())
            .map(|after| {
                let per_conn = after.saturating_sub(before) as f64 / opts.idle_conns as f64;
                Sample {
                    value: per_conn,
                    per_cpu: None,
                    detail: format!("RSS {} KiB → {} KiB", before >> 10, after >> 10),
                }
            })
    } else {
        Err(format!("bench-load idle did not get ready: {ready:?}"))
    };
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Starts the contender's server, checks one call, measures.
fn measure(env: &Env, opts: &Opts, case: &Case, who: &Contender) -> Result<Sample, String> {
    let placement = case.placement;
    let running = start_server(env, &who.server, placement)?;
    if who.server.speaks_grpc() {
        check_call(env, running.addr)?;
    }
    let addr = running.addr.to_string();
    let cpu = load_cpu(placement);
    let sample = match (who.load, case.kind) {
        (Load::H2load, Kind::Unary { conns, streams }) => {
            h2load(env, opts, running.addr, placement, conns, streams)?
        }
        (
            Load::OurUnary | Load::TonicUnary,
            Kind::Unary { conns, streams } | Kind::LoadClients { conns, streams },
        ) => {
            let client = if who.load == Load::OurUnary {
                "ours"
            } else {
                "tonic"
            };
            let args: Vec<String> = [
                "unary",
                "--client",
                client,
                "--addr",
                &addr,
                "--conns",
                &conns.to_string(),
                "--streams",
                &streams.to_string(),
            ]
            .map(String::from)
            .to_vec();
            unary_sample(&bench_load(env, opts, cpu, &args)?)
        }
        (Load::OurStreaming(size), _) => {
            let args = ["stream", "--addr", &addr, "--size", &size.to_string()].map(String::from);
            let line = bench_load(env, opts, cpu, &args)?;
            Sample {
                value: field(&line, "mbps").unwrap_or(0.0),
                per_cpu: None,
                detail: format!(
                    "{} calls, client CPU {:.0} %",
                    field(&line, "calls").unwrap_or(0.0),
                    cpu_percent(&line)
                ),
            }
        }
        (Load::RawRead(chunk), _) => {
            let args =
                ["raw-read", "--addr", &addr, "--chunk", &chunk.to_string()].map(String::from);
            let line = bench_load(env, opts, cpu, &args)?;
            Sample {
                value: field(&line, "mbps").unwrap_or(0.0),
                per_cpu: None,
                detail: format!("reader CPU {:.0} %", cpu_percent(&line)),
            }
        }
        (Load::Idle, _) => idle(env, opts, &running, placement)?,
        (load, kind) => return Err(format!("no way to drive {kind:?} with {load:?}")),
    };
    drop(running);
    Ok(sample)
}

/// The line-up of a case: tonic (A) first.
fn lineup(env: &Env, opts: &Opts, case: &Case) -> Vec<Contender> {
    let unary_load = if env.h2load && !opts.force_our_load {
        Load::H2load
    } else {
        Load::OurUnary
    };
    let entry = |label: &str, server: Server, load: Load| Contender {
        label: label.into(),
        server,
        load,
    };
    let mut out = Vec::new();
    match case.kind {
        Kind::Unary { .. } => {
            out.push(entry("tonic", Server::Tonic, unary_load));
            for ours in &env.ours {
                out.push(entry(ours.name, Server::Ours(*ours), unary_load));
            }
            if let Some(path) = &env.pajamax {
                out.push(entry("pajamax", Server::Pajamax(path.clone()), unary_load));
            }
            if env.nghttpd && unary_load == Load::H2load {
                out.push(entry("ceiling: nghttpd", Server::Nghttpd, unary_load));
            }
        }
        Kind::Streaming { size } => {
            out.push(entry("tonic", Server::Tonic, Load::OurStreaming(size)));
            for ours in &env.ours {
                out.push(entry(
                    ours.name,
                    Server::Ours(*ours),
                    Load::OurStreaming(size),
                ));
            }
            out.push(entry(
                "ceiling: raw TCP",
                Server::Raw(size),
                Load::RawRead(size),
            ));
        }
        Kind::Idle => {
            out.push(entry("tonic", Server::Tonic, Load::Idle));
            for ours in &env.ours {
                out.push(entry(ours.name, Server::Ours(*ours), Load::Idle));
            }
            if let Some(path) = &env.pajamax {
                out.push(entry("pajamax", Server::Pajamax(path.clone()), Load::Idle));
            }
        }
        Kind::LoadClients { .. } => {
            // The fastest server we have, so that the clients are the bottleneck.
            let server = env.pajamax.clone().map_or(Server::Tonic, Server::Pajamax);
            out.push(entry("tonic client", server.clone(), Load::TonicUnary));
            out.push(entry("our client", server, Load::OurUnary));
        }
    }
    out
}

fn describe(env: &Env, opts: &Opts, case: &Case) -> String {
    let place = match case.placement {
        Placement::OneCore => "server on CPU 0 (1 thread), load on CPU 1",
        Placement::TwoThreads => "server with 2 threads, nothing pinned",
    };
    let what = match case.kind {
        Kind::Unary { conns, streams } if env.h2load && !opts.force_our_load => format!(
            "unary {REQUEST_SIZE} B → {RESPONSE_SIZE} B, h2load -c {conns} -m {streams} -t 1; req/s, higher is better"
        ),
        Kind::Unary { conns, streams } => format!(
            "unary {REQUEST_SIZE} B → {RESPONSE_SIZE} B, our load client {conns} conns × {streams} streams; req/s, higher is better"
        ),
        Kind::Streaming { size } => format!(
            "server streaming, {} KiB messages, one call at a time on one connection; MB/s, higher is better",
            size >> 10
        ),
        Kind::Idle => format!(
            "server RSS per idle h2c connection, {} connections; bytes, LOWER is better",
            opts.idle_conns
        ),
        Kind::LoadClients { conns, streams } => format!(
            "load clients (ours vs tonic's) against {}, {conns} conns × {streams} streams; \
             req/s (and req per client CPU-second), higher is better",
            if env.pajamax.is_some() { "pajamax's server" } else { "tonic's server (pajamax did not build: the server may be the bottleneck)" }
        ),
    };
    format!("{what}; {place}")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// A row of the final table.
struct Row {
    case: String,
    label: String,
    unit: &'static str,
    median: f64,
    ratio: Option<(f64, f64, f64)>,
    reps: usize,
}

fn unit(kind: Kind) -> &'static str {
    match kind {
        Kind::Unary { .. } | Kind::LoadClients { .. } => "req/s",
        Kind::Streaming { .. } => "MB/s",
        Kind::Idle => "B/conn",
    }
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Runs a case: `reps` repetitions of the line-up, alternated.
fn run_case(env: &Env, opts: &Opts, case: &Case, lineup: &[Contender], rows: &mut Vec<Row>) {
    println!("\n== {}: {}", case.name, describe(env, opts, case));
    // samples[rep][contender]
    let mut samples: Vec<Vec<Option<Sample>>> = vec![vec![None; lineup.len()]; opts.reps];
    for (rep, results) in samples.iter_mut().enumerate() {
        let order: Vec<usize> = if rep % 2 == 0 {
            (0..lineup.len()).collect()
        } else {
            (0..lineup.len()).rev().collect()
        };
        for i in order {
            match measure(env, opts, case, &lineup[i]) {
                Ok(sample) => results[i] = Some(sample),
                Err(why) => println!("  ! {} (rep {}): {why}", lineup[i].label, rep + 1),
            }
        }
        let a = results[0].as_ref().map(|s| s.value);
        let mut line = format!("  rep {}:", rep + 1);
        for (i, (who, result)) in lineup.iter().zip(results.iter()).enumerate() {
            match result {
                Some(s) => {
                    write!(line, " {} {}", who.label, fmt_value(s.value)).ok();
                    if let (true, Some(a)) = (i > 0, a) {
                        write!(line, " ({:.2})", s.value / a).ok();
                    }
                    line.push(';');
                }
                None => write!(line, " {} failed;", who.label).unwrap_or(()),
            }
        }
        println!("{}", line.trim_end_matches(';'));
        for (who, result) in lineup.iter().zip(results.iter()) {
            if let Some(s) = result.as_ref().filter(|s| !s.detail.is_empty()) {
                println!("         {}: {}", who.label, s.detail);
            }
        }
    }
    let unit = unit(case.kind);
    println!(
        "  {:<18} {:>12} {:>10}   vs {} [min–max]",
        "", unit, "median", lineup[0].label
    );
    for (i, who) in lineup.iter().enumerate() {
        let mut values: Vec<f64> = samples
            .iter()
            .filter_map(|rep| Some(rep[i].as_ref()?.value))
            .collect();
        let ok = values.len();
        let med = median(&mut values);
        let mut ratios: Vec<f64> = samples
            .iter()
            .filter_map(|rep| Some(rep[i].as_ref()?.value / rep[0].as_ref()?.value))
            .collect();
        let ratio = (i > 0 && !ratios.is_empty()).then(|| {
            let (lo, hi) = (
                ratios.iter().copied().fold(f64::INFINITY, f64::min),
                ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            );
            (median(&mut ratios), lo, hi)
        });
        let mut line = format!("  {:<18} {:>12}", who.label, fmt_value(med));
        if let Some((m, lo, hi)) = ratio {
            write!(line, "   {m:.2} [{lo:.2}–{hi:.2}]").ok();
        }
        if ok < opts.reps {
            write!(line, "   ({ok} of {} reps)", opts.reps).ok();
        }
        println!("{line}");
        rows.push(Row {
            case: case.name.into(),
            label: who.label.clone(),
            unit,
            median: med,
            ratio,
            reps: ok,
        });
    }
    if matches!(case.kind, Kind::LoadClients { .. }) {
        let mut ratios: Vec<f64> = samples
            .iter()
            .filter_map(|rep| Some(rep[1].as_ref()?.per_cpu? / rep[0].as_ref()?.per_cpu?))
            .collect();
        if !ratios.is_empty() {
            println!(
                "  our client / tonic's, requests per client CPU-second: median {:.2} (the issue asks ≥ 2 in req/s; \
                 when the server is the bottleneck, this is the figure that compares the clients)",
                median(&mut ratios)
            );
        }
    }
    if case.name == SMOKE.name {
        if let Some(row) = rows.last() {
            match row.ratio {
                Some((m, lo, hi)) if (0.8..=1.2).contains(&lo) && (0.8..=1.2).contains(&hi) => {
                    println!("  A-vs-A ratio {m:.2}: the box is quiet enough to measure")
                }
                Some((m, ..)) => println!(
                    "  ! A-vs-A ratio {m:.2} with a range outside 0.8–1.2: the box is too busy, take ratios with care"
                ),
                None => println!("  ! no A-vs-A ratio"),
            }
        }
    }
}

/// Builds what the run needs: our bins (unless `--no-build`) and pajamax.
fn build(opts: &Opts, workspace: &Path, bin_dir: &Path) -> Result<Option<PathBuf>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    if opts.build {
        println!("building bench-load, bench-tonic-server and interop-server (release)…");
        let status = Command::new(&cargo)
            .current_dir(workspace)
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "benches",
                "-p",
                "spec-tests",
            ])
            .args([
                "--bin",
                "bench-load",
                "--bin",
                "bench-tonic-server",
                "--bin",
                "interop-server",
            ])
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("cargo build failed".into());
        }
    }
    if !opts.pajamax {
        return Ok(None);
    }
    let target = bin_dir.parent().unwrap_or(bin_dir).join("peers");
    let manifest = workspace.join("benches/peers/pajamax/Cargo.toml");
    println!("building the pajamax peer (benches/peers/pajamax; the first time takes a minute)…");
    let log = target.join("build.log");
    let _ = std::fs::create_dir_all(&target);
    let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let status = Command::new(&cargo)
        .current_dir(workspace)
        .args(["build", "--release", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(log_file)
        .status();
    match status {
        Ok(s) if s.success() => Ok(Some(target.join("release/bench-pajamax-server"))),
        _ => {
            println!(
                "note: pajamax did not build (see {}): running without it",
                log.display()
            );
            Ok(None)
        }
    }
}

fn found(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether `interop-server` starts with `ours`'s flags: a trial start on port
/// 0 must print `listening on` (a flag it does not know makes it exit with
/// its usage instead).
fn trial_start(bin_dir: &Path, ours: &OurServer) -> Result<(), String> {
    let mut cmd = Command::new(bin_dir.join("interop-server"));
    cmd.args(["--port", "0", "--adapter", ours.adapter]);
    if let Some(handlers) = ours.handlers {
        cmd.args(["--handlers", handlers]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let _ = child.kill();
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if line.starts_with("listening on") {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&output.stderr);
    Err(why.lines().next().unwrap_or("no output").to_owned())
}

/// Our variants that `interop-server` supports; a variant that needs a flag
/// the binary does not have yet (`--handlers`) is skipped with a note.
fn supported_ours(bin_dir: &Path, wanted: &[OurServer]) -> Vec<OurServer> {
    wanted
        .iter()
        .filter(|ours| match trial_start(bin_dir, ours) {
            Ok(()) => true,
            Err(why) => {
                println!(
                    "note: skipping our server {}: interop-server does not start with its flags ({why})",
                    ours.name
                );
                false
            }
        })
        .copied()
        .collect()
}

fn prepare(opts: &Opts) -> Result<Env, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin_dir = exe
        .parent()
        .ok_or("no directory for the executable")?
        .to_path_buf();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pajamax = build(opts, &workspace, &bin_dir)?;
    for bin in ["bench-load", "bench-tonic-server", "interop-server"] {
        if !bin_dir.join(bin).exists() {
            return Err(format!(
                "{} is missing: build it (or drop --no-build)",
                bin_dir.join(bin).display()
            ));
        }
    }
    let scratch = std::env::temp_dir().join(format!("grpc-sansio-loopback-{}", std::process::id()));
    let docroot = scratch.join("docroot/grpc.testing.TestService");
    std::fs::create_dir_all(&docroot).map_err(|e| e.to_string())?;
    let request = messages::framed(&messages::unary_request(REQUEST_SIZE, RESPONSE_SIZE));
    let response = messages::framed(&messages::unary_response(RESPONSE_SIZE));
    std::fs::write(scratch.join("request.bin"), request).map_err(|e| e.to_string())?;
    std::fs::write(docroot.join("UnaryCall"), &response).map_err(|e| e.to_string())?;
    let env = Env {
        taskset: Command::new("taskset")
            .args(["-c", "1", "true"])
            .status()
            .is_ok_and(|s| s.success()),
        h2load: found("h2load", "--version"),
        nghttpd: found("nghttpd", "--version"),
        nghttp: found("nghttp", "--version"),
        ours: supported_ours(&bin_dir, &opts.ours),
        pajamax,
        response_data_len: response.len(),
        bin_dir,
        scratch,
    };
    debug_assert_eq!(
        env.response_data_len,
        5 + messages::unary_response(RESPONSE_SIZE).encoded_len()
    );
    if !env.taskset {
        println!("note: taskset (or CPU 1) is missing: single-core cases run unpinned");
    }
    if !env.h2load {
        println!("note: h2load is missing (apt-get install nghttp2-client): unary cases use our load client, no nghttpd ceiling");
    }
    if env.h2load && !env.nghttpd {
        println!("note: nghttpd is missing (apt-get install nghttp2-server): no unary ceiling");
    }
    Ok(env)
}

fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(Some(opts)) => opts,
        Ok(None) => return ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("loopback: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let env = match prepare(&opts) {
        Ok(env) => env,
        Err(why) => {
            eprintln!("loopback: {why}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    println!(
        "{} repetition(s), {:?} per run after {:?} of warm-up; our servers: {}; pajamax: {}",
        opts.reps,
        opts.duration,
        opts.warmup,
        env.ours
            .iter()
            .map(|o| o.name)
            .collect::<Vec<_>>()
            .join(", "),
        if env.pajamax.is_some() { "yes" } else { "no" },
    );
    let mut rows = Vec::new();
    let unary_load = if env.h2load && !opts.force_our_load {
        Load::H2load
    } else {
        Load::OurUnary
    };
    let smoke = [
        Contender {
            label: "tonic".into(),
            server: Server::Tonic,
            load: unary_load,
        },
        Contender {
            label: "tonic again".into(),
            server: Server::Tonic,
            load: unary_load,
        },
    ];
    run_case(&env, &opts, &SMOKE, &smoke, &mut rows);
    for case in CASES {
        if opts.cases.is_empty() || opts.cases.iter().any(|c| c == case.name) {
            run_case(&env, &opts, case, &lineup(&env, &opts, case), &mut rows);
        }
    }
    println!(
        "\n== summary ({} s{}); ratio = figure / tonic's of the same repetition",
        started.elapsed().as_secs(),
        if opts.quick {
            ", --quick: a smoke run, not a measurement"
        } else {
            ""
        }
    );
    println!("| case | server | unit | median | ratio to tonic, median [min–max] | reps |");
    println!("| --- | --- | --- | ---: | --- | ---: |");
    for row in &rows {
        let ratio = row
            .ratio
            .map(|(m, lo, hi)| format!("{m:.2} [{lo:.2}–{hi:.2}]"))
            .unwrap_or_else(|| "–".into());
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.case,
            row.label,
            row.unit,
            fmt_value(row.median),
            ratio,
            row.reps
        );
    }
    let _ = std::fs::remove_dir_all(&env.scratch);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    const H2LOAD: &str = "\
finished in 2.00s, 55176.00 req/s, 2.95MB/s
requests: 110352 total, 110608 started, 110352 done, 110352 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 110352 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 5.90MB (6181784) total, 324.38KB (332168) headers (space savings 95.76%), 2.63MB (2758800) data
";

    #[test]
    fn h2load_report_is_parsed_and_checked() {
        let sample = parse_h2load(H2LOAD, 25).unwrap();
        assert_eq!(sample.value, 55176.0);
        assert!(sample.detail.is_empty());
        // 25 octets of DATA per request were expected; 26 means another answer.
        let err = parse_h2load(H2LOAD, 26).unwrap_err();
        assert!(err.contains("25.00 octets of DATA per request"), "{err}");
        assert!(parse_h2load("finished in 2.00s, 1.00 req/s, 0MB/s", 25).is_err());
        // Answers whose trailers missed the end of the run: a little more.
        let late = H2LOAD.replace("(2758800) data", "(2759900) data");
        assert!(parse_h2load(&late, 25).is_ok());
        // One call in ten answered with an error (no DATA): refused.
        let errors = H2LOAD.replace("(2758800) data", "(2482920) data");
        assert!(parse_h2load(&errors, 25).is_err());
    }

    #[test]
    fn bench_load_fields() {
        let line = "calls=10 errors=0 qps=123.5 p50_us=7.0";
        assert_eq!(field(line, "qps"), Some(123.5));
        assert_eq!(field(line, "calls"), Some(10.0));
        assert_eq!(field(line, "p99_us"), None);
    }

    #[test]
    fn median_and_tables() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
        let mut names: Vec<&str> = OURS.iter().map(|o| o.name).collect();
        names.extend(CASES.iter().map(|c| c.name));
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "names are unique");
    }
}
