//! A gzip bomb sent to the server: 64 MiB of zeros, gzip-compressed to about
//! 65 KiB, in one message. The call ends with RESOURCE_EXHAUSTED and the
//! server never holds the 64 MiB: the process's peak resident memory (Linux
//! `VmHWM`) grows by far less. Alone in its binary so that no other test's
//! allocations blur the measurement.

use grpc_sansio::grpc::compression::{self, Encoding};
use grpc_sansio::grpc::status::Code;
use grpc_sansio::grpc::Config;
use grpc_sansio::h2;
use grpc_sansio::hpack::Header;
use grpc_sansio::testing::{self, cancelled, header_value, messages, RawClientPair};

/// Peak resident set size in KiB, where the platform tells.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn gzip_bomb_to_the_server_is_resource_exhausted_without_allocating_it() {
    // 64 gzip members of 1 MiB of zeros each: one 64 MiB message once
    // decompressed (RFC 1952 allows concatenated members). Built without ever
    // holding 64 MiB here.
    let mut member = Vec::new();
    compression::compress(Encoding::Gzip, &vec![0; 1 << 20], &mut member).unwrap();
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 64)
        .collect();
    assert!(bomb.len() < 128 << 10, "{} octets", bomb.len());
    let framed = testing::frame_message(true, &bomb);

    let mut pair = RawClientPair::raw_client(h2::Config::default(), Config::server());
    pair.drive();
    let mut request = testing::grpc_request("/pkg.Svc/Upload", "localhost");
    request.push(Header::new("grpc-encoding", "gzip"));
    let id = pair.client().open_stream(request, false).unwrap();
    let before = peak_rss_kib();
    pair.client().send_data(id, framed, true).unwrap();
    pair.drive();
    let after = peak_rss_kib();

    let (scall, _) = pair.accept().unwrap();
    let server = pair.server_events();
    assert!(messages(&server, scall).is_empty());
    assert_eq!(
        cancelled(&server, scall).expect("cancelled").code(),
        Code::ResourceExhausted
    );
    let events = pair.client_events();
    let status = events.iter().find_map(|e| match e {
        h2::Event::Headers {
            stream,
            headers,
            end_stream: true,
        } if *stream == id => header_value(headers, "grpc-status").map(<[u8]>::to_vec),
        _ => None,
    });
    assert_eq!(status.as_deref(), Some(&b"8"[..]), "{events:?}");
    assert!(pair.server_ref().h2().error().is_none());
    if let (Some(before), Some(after)) = (before, after) {
        let grown = after.saturating_sub(before);
        eprintln!("peak RSS {before} KiB before, {after} KiB after");
        assert!(
            grown < 32 << 10,
            "peak memory grew by {grown} KiB while refusing a 64 MiB bomb"
        );
    }
}
