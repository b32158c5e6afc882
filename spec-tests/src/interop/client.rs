//! Runs interop cases against a server with one of our adapters' clients,
//! over one connection, reporting each case as it ends.

use std::io;

use grpc_sansio::grpc::Config;

use super::bridge::BlockingTransport;
use super::cases::{self, Outcome};
use super::{block_on, Adapter};

/// Connects to `host:port` with `adapter` and runs `names` in order, handing
/// each outcome to `report` as soon as it is known.
pub fn run(
    adapter: Adapter,
    host: &str,
    port: u16,
    names: &[String],
    mut report: impl FnMut(&Outcome),
) -> io::Result<Vec<Outcome>> {
    let addr = (host, port);
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
            let transport = BlockingTransport(grpc_sansio_blocking::Channel::connect(
                addr,
                Config::client(),
            )?);
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
                let channel = grpc_sansio_tokio::Channel::connect(addr, Config::client()).await?;
                for name in names {
                    record(cases::run(&channel, name).await);
                }
                Ok::<_, io::Error>(())
            })?;
        }
    }
    Ok(outcomes)
}
