//! `h2-conform`: h2spec 2.6.0's cases over TCP against any HTTP/2 server
//! (plain text, prior knowledge). See `spec_tests::conform`.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use spec_tests::conform::{run, Options, RequestKind};
use spec_tests::flags;

const USAGE: &str = "\
usage: h2-conform --port P [--host H] [--timeout-ms N] [--path /p] [--grpc]
                  [--max-header-length N] [--case ID[,ID...]] [--strict]
                  [--jobs N]

Runs h2spec 2.6.0's cases against an HTTP/2 server (plain text, prior
knowledge), a fresh connection per case; prints PASS/FAIL/SKIP per case and a
summary. Exit status 0 when no case failed, 1 when some did, 2 on bad usage.

  --host H        server host (default 127.0.0.1)
  --port P        server port (required)
  --timeout-ms N  how long each wait lasts (default 2000, as h2spec)
  --path /p       :path of every request (default /)
  --grpc          send gRPC calls (POST, content-type application/grpc,
                  te: trailers) instead of h2spec's plain requests: a gRPC
                  server answers those at once and resets their streams, and
                  sends a response body only to a call of a method it serves,
                  so give that method with --path /package.Service/Method
  --max-header-length N
                  value length of the dummy headers some cases send (default
                  4000, as h2spec); http2/6.10/1 sends two in one request, so
                  a server with an 8 KiB header list limit needs about 3800
  --case IDS      run only these cases; an id or an id prefix such as
                  http2/6.9 or hpack (comma-separated, repeatable)
  --strict        also run the strict-only case http2/5.4.1/2
  --jobs N        cases run at once, each on its own connection (default 8)
";

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("h2-conform: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let report = run(&options, |case| {
        let _ = writeln!(stdout, "{case}");
        let _ = stdout.flush();
    });
    match report {
        Ok(report) => {
            let _ = writeln!(stdout, "{}", report.summary());
            if report.failed() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("h2-conform: {e}");
            ExitCode::from(2)
        }
    }
}

/// The options, or `None` for `--help`.
fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options::new("127.0.0.1", 0);
    let mut port = None;
    let switches = ["-h", "--help", "--strict", "--grpc"];
    for (flag, value) in flags::parse(args, &switches)? {
        let value = value.unwrap_or_default();
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--host" => options.host = value,
            "--port" => port = Some(flags::number::<u16>(&flag, &value)?),
            "--timeout-ms" => {
                options.timeout = Duration::from_millis(flags::number(&flag, &value)?);
            }
            "--path" => {
                if !value.starts_with('/') {
                    return Err(format!("--path must start with '/': {value:?}"));
                }
                options.path = value;
            }
            "--case" => options.cases.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned),
            ),
            "--max-header-length" => options.max_header_length = flags::number(&flag, &value)?,
            "--jobs" => options.jobs = flags::number::<usize>(&flag, &value)?.max(1),
            "--strict" => options.strict = true,
            "--grpc" => options.requests = RequestKind::Grpc,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    options.port = port.ok_or("--port is required")?;
    if options.timeout.is_zero() {
        return Err("--timeout-ms must be above 0".to_owned());
    }
    Ok(Some(options))
}
