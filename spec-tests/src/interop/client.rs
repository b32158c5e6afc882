//! Runs interop cases against a server with one of our adapters' clients,
//! over one connection, reporting each case as it ends.

use std::io;

use grpc_sansio::grpc::Config;

use super::bridge::BlockingTransport;
use super::cases::{self, Outcome};
use super::{block_on, Adapter};

/// Connects to `host:port` with `adapter` and runs `names` in order, handing
/// each outcome to `report` as soon as it is known. Requests name `authority`
/// as their `:authority` (the official clients' `--server_host_override`),
/// `host:port` without one.
pub fn run(
    adapter: Adapter,
    (host, port): (&str, u16),
    authority: Option<&str>,
    names: &[String],
    mut report: impl FnMut(&Outcome),
) -> io::Result<Vec<Outcome>> {
    let addr = (host, port);
    let config = Config {
        authority: authority.map_or_else(|| format!("{host}:{port}"), str::to_owned),
        ..Config::client()
    };
    let mut outcomes = Vec::with_capacity(names.len());
    let mut record = |outcome: Outcome| {
        report(&outcome);
        outcomes.push(outcome);
    };
    match adapter {
        Adapter::Mio => {
            let transport =
                BlockingTransport(grpc_sansio_mio::Client::connect(addr, Config::client())?);
            for name in names {
                record(block_on(cases::run(&transport, name)));
            }
        }
        Adapter::Blocking => {
            let transport =
                BlockingTransport(grpc_sansio_blocking::Channel::connect(addr, config)?);
            for name in names {
                record(block_on(cases::run(&transport, name)));
            }
        }
        Adapter::Tokio => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let channel = grpc_sansio_tokio::Channel::connect(addr, config).await?;
                for name in names {
                    record(cases::run(&channel, name).await);
                }
                Ok::<_, io::Error>(())
            })?;
        }
    }
    Ok(outcomes)
}
