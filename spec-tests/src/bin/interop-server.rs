//! `interop-server --port P [--adapter mio|tokio|blocking] [--threads N]
//! [--handlers inline|pool]`: serves `grpc.testing.TestService` on
//! 127.0.0.1:P, prints `listening on 127.0.0.1:P` once ready, and stops
//! cleanly on SIGTERM or SIGINT.

use std::process::ExitCode;

use spec_tests::flags;
use spec_tests::interop::server::InteropServer;
use spec_tests::interop::{Adapter, Handlers};

const USAGE: &str = "usage: interop-server --port P [--adapter mio|tokio|blocking] [--threads N] \
[--handlers inline|pool] [--use_tls=false]
  --handlers pool    handlers on other threads (default): mio's and blocking's \
worker pools
  --handlers inline  handlers on the thread that read the call: mio polls the \
async service on its event loops, blocking on each connection's thread; tokio's \
handlers are tasks either way (both values are the same server)";

struct Args {
    port: u16,
    adapter: Adapter,
    threads: usize,
    handlers: Handlers,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut port, mut adapter, mut threads) = (None, Adapter::Mio, 1);
    let mut handlers = Handlers::default();
    for (flag, value) in flags::parse(args, &["--help", "-h"])? {
        let value = value.unwrap_or_default();
        match flag.as_str() {
            "--port" => port = Some(flags::number(&flag, &value)?),
            "--adapter" => adapter = value.parse()?,
            "--threads" => threads = flags::number(&flag, &value)?,
            "--handlers" => handlers = value.parse()?,
            // The official servers' flag, for tools that always pass it.
            "--use_tls" if value == "false" => {}
            "--use_tls" => return Err("TLS is not supported: --use_tls=false only".into()),
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        port: port.ok_or("--port is required")?,
        adapter,
        threads,
        handlers,
    })
}

/// Listens for SIGTERM and SIGINT from the start (registering takes
/// descriptors, which a busy server may have used up later); the returned
/// function waits for either.
fn signals() -> std::io::Result<impl FnOnce()> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut term, mut int) = {
        let _inside = runtime.enter();
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    Ok(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("interop-server: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let wait_for_signal = match signals() {
        Ok(wait) => wait,
        Err(e) => {
            eprintln!("interop-server: cannot listen for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server =
        match InteropServer::start_with(args.adapter, args.handlers, args.port, args.threads) {
            Ok(server) => server,
            Err(e) => {
                eprintln!(
                    "interop-server: cannot listen on 127.0.0.1:{}: {e}",
                    args.port
                );
                return ExitCode::FAILURE;
            }
        };
    println!("listening on {}", server.local_addr());
    wait_for_signal();
    server.stop();
    ExitCode::SUCCESS
}
