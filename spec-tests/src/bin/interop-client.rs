//! `interop-client --server_host H --server_port P --test_case CASES [--adapter A]`:
//! the gRPC interop client cases (flag names as the official clients'),
//! one line per case (`PASS name` / `FAIL name: why`), then
//! `N passed, M failed`; exit status 0 only when all passed.

use std::io::Write;
use std::process::ExitCode;

use spec_tests::flags;
use spec_tests::interop::{cases, client, Adapter};

const USAGE: &str = "usage: interop-client --server_port P [--server_host H] \
                     [--test_case name|a,b,c|all] [--adapter mio|tokio|blocking] \
                     [--server_host_override NAME] [--use_tls=false]";

struct Args {
    host: String,
    port: u16,
    cases: String,
    adapter: Adapter,
    authority: Option<String>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut host, mut port, mut cases) = ("127.0.0.1".to_owned(), None, "all".to_owned());
    let (mut adapter, mut authority) = (Adapter::Mio, None);
    for (flag, value) in flags::parse(args, &["--help", "-h"])? {
        let value = value.unwrap_or_default();
        match flag.as_str() {
            "--server_host" => host = value,
            "--server_port" => port = Some(flags::number(&flag, &value)?),
            "--test_case" => cases = value,
            "--adapter" => adapter = value.parse()?,
            // The official clients' flags that a plain-text run can take.
            "--server_host_override" => authority = Some(value),
            "--use_tls" if value == "false" => {}
            "--use_tls" => return Err("TLS is not supported: --use_tls=false only".into()),
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        host,
        port: port.ok_or("--server_port is required")?,
        cases,
        adapter,
        authority,
    })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("interop-client: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let names = cases::select(&args.cases);
    let print = |outcome: &cases::Outcome| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", outcome.line());
        let _ = out.flush();
    };
    let outcomes = match client::run(
        args.adapter,
        (&args.host, args.port),
        args.authority.as_deref(),
        &names,
        print,
    ) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            // No connection: every case fails, each on its own line.
            let outcomes: Vec<_> = names
                .iter()
                .map(|name| cases::Outcome {
                    name: name.clone(),
                    result: Err(format!(
                        "cannot connect to {}:{}: {e}",
                        args.host, args.port
                    )),
                })
                .collect();
            outcomes.iter().for_each(print);
            outcomes
        }
    };
    println!("{}", cases::summary(&outcomes));
    if outcomes.iter().all(|o| o.result.is_ok()) && !outcomes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
