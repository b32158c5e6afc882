//! `bench-tonic-server --port P [--threads N]`: tonic's
//! `grpc.testing.TestService` for the side-by-side benchmark (see
//! `benches::tonic_service`) on 127.0.0.1:P. One thread runs a current-thread
//! runtime; more run tokio's multi-thread runtime with that many workers.
//! Prints `listening on ADDR` once ready; runs until killed.

use std::process::ExitCode;

use benches::args::Args;
use benches::tonic_service;

const USAGE: &str = "usage: bench-tonic-server --port P [--threads N]";

fn main() -> ExitCode {
    let parsed = Args::from_env(&["help"]).and_then(|mut args| {
        if args.switch("help") {
            return Err(USAGE.into());
        }
        let port: u16 = args.required("port")?;
        let threads: usize = args.get("threads", 1)?;
        args.finish()?;
        Ok((port, threads))
    });
    let (port, threads) = match parsed {
        Ok(parsed) => parsed,
        Err(why) => {
            eprintln!("bench-tonic-server: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let result = runtime.map_err(|e| e.to_string()).and_then(|runtime| {
        runtime.block_on(async {
            let (listener, addr) = tonic_service::bind(port).await.map_err(|e| e.to_string())?;
            println!("listening on {addr}");
            tonic_service::serve(listener)
                .await
                .map_err(|e| e.to_string())
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("bench-tonic-server: {why}");
            ExitCode::FAILURE
        }
    }
}
