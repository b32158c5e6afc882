use std::time::Duration;

use super::compression::{Encoding, EncodingSet};
use crate::h2;

/// Every tunable of a gRPC connection, each with a safe default.
#[derive(Debug, Clone)]
pub struct Config {
    /// The HTTP/2 layer's limits. `h2.max_header_list_size` defaults here to
    /// 8 KiB, the gRPC spec's metadata limit, `h2.max_pending_streams` to
    /// 1024 so calls over the server's concurrency limit wait for a slot, and
    /// `h2.max_adaptive_window` to 16 MiB (BDP-sized windows, as grpc-go;
    /// `h2.fixed_windows(..)` turns that off).
    pub h2: h2::Config,
    /// The largest message we accept (after decompression); larger ones end the
    /// call with RESOURCE_EXHAUSTED. Default 4 MiB.
    pub max_recv_message_size: usize,
    /// The largest message we send; larger ones are refused locally with
    /// RESOURCE_EXHAUSTED. Default `usize::MAX` (unbounded, as in grpc-go).
    pub max_send_message_size: usize,
    /// The encodings we can decompress, advertised in `grpc-accept-encoding`.
    pub accept_encodings: EncodingSet,
    /// The encoding new calls compress with when the peer accepts it. Default
    /// identity (no compression).
    pub send_encoding: Encoding,
    /// Return a message's flow-control credit when `poll_event` hands it out
    /// (default). Off, the application calls `message_consumed` instead, when it
    /// has really processed the message: for adapters that queue messages.
    pub release_on_poll: bool,
    /// For a [`Session`](crate::session::Session): output taken from the
    /// connection and not yet written is kept near this many octets (one
    /// frame may go past it); the rest waits in the connection, whose bounded
    /// queues push back on the calls, so a peer that reads slowly slows them.
    /// Default 256 KiB.
    pub write_buffer_size: usize,
    /// Client: `:scheme` of requests. Default "http".
    pub scheme: String,
    /// Client: `:authority` of requests unless a call names its own.
    pub authority: String,
    /// Client: `user-agent` of requests.
    pub user_agent: String,
    /// Send a keepalive PING after this long without reading anything. Default:
    /// none for clients, 2 hours for servers (grpc-go's defaults).
    pub keepalive_time: Option<Duration>,
    /// How long a keepalive PING may stay unanswered before the connection is
    /// considered dead. Default 20 s.
    pub keepalive_timeout: Duration,
    /// Client: keepalive PINGs also when no call is active. Server: accept
    /// the client's PINGs then at `min_ping_interval`, not one per two hours
    /// (a server's own keepalive pings idle connections either way, as
    /// grpc-go's). Default false.
    pub keepalive_permit_without_calls: bool,
    /// Server: the shortest interval between the client's PINGs we tolerate;
    /// more than two faster ones close the connection with GOAWAY
    /// ENHANCE_YOUR_CALM "too_many_pings". Default 5 minutes.
    pub min_ping_interval: Duration,
    /// Server: shut down gracefully after this long with no active call.
    pub max_connection_idle: Option<Duration>,
    /// Server: shut down gracefully once the connection is this old.
    pub max_connection_age: Option<Duration>,
    /// Server: after `max_connection_age`, calls still running get this long
    /// before the connection is closed. Default: unbounded.
    pub max_connection_age_grace: Option<Duration>,
}

impl Config {
    /// Defaults for a server connection.
    pub fn server() -> Self {
        Config {
            keepalive_time: Some(Duration::from_secs(2 * 60 * 60)),
            ..Config::client()
        }
    }

    /// Defaults for a client connection.
    pub fn client() -> Self {
        Config {
            h2: h2::Config {
                max_header_list_size: 8 << 10,
                // Calls beyond the server's concurrency limit wait for a slot,
                // as in grpc-go, instead of failing.
                max_pending_streams: 1024,
                // grpc-go's BDP estimator and its `bdpLimit`.
                max_adaptive_window: Some(16 << 20),
                // grpc-go's wait for the drain PING's ACK.
                shutdown_timeout: Duration::from_secs(5),
                ..h2::Config::default()
            },
            max_recv_message_size: 4 << 20,
            max_send_message_size: usize::MAX,
            accept_encodings: EncodingSet::all(),
            send_encoding: Encoding::Identity,
            release_on_poll: true,
            write_buffer_size: 256 << 10,
            scheme: "http".into(),
            authority: "localhost".into(),
            user_agent: concat!("grpc-sansio/", env!("CARGO_PKG_VERSION")).into(),
            keepalive_time: None,
            keepalive_timeout: Duration::from_secs(20),
            keepalive_permit_without_calls: false,
            min_ping_interval: Duration::from_secs(5 * 60),
            max_connection_idle: None,
            max_connection_age: None,
            max_connection_age_grace: None,
        }
    }
}
