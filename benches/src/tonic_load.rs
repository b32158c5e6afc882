//! tonic's load client, the counterpart of [`crate::load`]: `conns` channels
//! (one HTTP/2 connection each) with `streams` tasks each looping unary calls
//! through the generated client, on a current-thread runtime so that it uses
//! one core as ours does.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use prost::Message;
use tonic::transport::{Channel, Endpoint};

use crate::load::{process_cpu_time, Plan, Report};
use crate::pb::test_service_client::TestServiceClient;
use crate::pb::SimpleRequest;

async fn connect(addr: SocketAddr) -> io::Result<Channel> {
    Endpoint::from_shared(format!("http://{addr}"))
        .map_err(io::Error::other)?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(io::Error::other)
}

/// Runs unary calls with `request` per `plan` (its `config` is ours, unused);
/// each response message must be `response_len` octets (encoded, no prefix).
pub fn run_unary(plan: &Plan, request: SimpleRequest, response_len: usize) -> io::Result<Report> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let mut channels = Vec::with_capacity(plan.conns);
        for _ in 0..plan.conns {
            channels.push(connect(plan.addr).await?);
        }
        let from = Instant::now() + plan.warmup;
        let to = from + plan.duration;
        let report = Rc::new(RefCell::new(Report::default()));
        let mut tasks = Vec::new();
        for channel in &channels {
            for _ in 0..plan.streams {
                let mut client = TestServiceClient::new(channel.clone());
                let (report, request) = (report.clone(), request.clone());
                tasks.push(tokio::task::spawn_local(async move {
                    loop {
                        let started = Instant::now();
                        if started >= to {
                            break;
                        }
                        let result = client.unary_call(request.clone()).await;
                        let now = Instant::now();
                        if now < from || now >= to {
                            continue;
                        }
                        let mut report = report.borrow_mut();
                        match result {
                            Ok(response) => {
                                report.calls += 1;
                                report.latency.record(now - started);
                                let len = response.get_ref().encoded_len();
                                report.bytes += len as u64;
                                if len != response_len {
                                    report.bad_messages += 1;
                                }
                            }
                            Err(status) => {
                                report.errors += 1;
                                report.first_error.get_or_insert_with(|| status.to_string());
                            }
                        }
                    }
                }));
            }
        }
        tokio::time::sleep_until(from.into()).await;
        let cpu_from = process_cpu_time();
        for task in tasks {
            task.await.map_err(io::Error::other)?;
        }
        let mut report = report.take();
        report.elapsed = plan.duration;
        report.cpu = process_cpu_time().saturating_sub(cpu_from);
        Ok(report)
    })
}
