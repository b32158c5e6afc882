use std::time::Duration;

/// Every tunable of an HTTP/2 connection, each with a safe default.
///
/// Values we advertise in SETTINGS are our *receive* limits; the peer's SETTINGS
/// govern what we send.
#[derive(Debug, Clone)]
pub struct Config {
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the peer may use when
    /// encoding for us. Default 4096.
    pub header_table_size: u32,
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams the peer may have open at once;
    /// more are refused with REFUSED_STREAM. Default 100.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: our receive window per stream. Default 65 535.
    pub initial_stream_window: u32,
    /// Our receive window for the whole connection, opened with a WINDOW_UPDATE
    /// on stream 0 after the preface. Default 1 MiB.
    pub connection_window: u32,
    /// Grow both receive windows toward the measured bandwidth-delay product,
    /// up to this many octets each: a PING goes out when DATA arrives and none
    /// is outstanding, and its round trip times the octets received meanwhile
    /// (grpc-go's BDP estimator). `None` keeps `initial_stream_window` and
    /// `connection_window` as set; [`fixed_windows`](Self::fixed_windows) sets
    /// both and this. Default `None`; gRPC connections default to 16 MiB, as
    /// grpc-go. The limit is also how far a peer can make us buffer.
    pub max_adaptive_window: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload we accept. Default 16 384.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: the decoded header list limit (name + value
    /// + 32 per field). Larger lists reset the stream. Default 16 KiB.
    pub max_header_list_size: u32,
    /// Encoded octets one header block (HEADERS and its CONTINUATIONs) may take
    /// before the connection is closed with ENHANCE_YOUR_CALM. Default 64 KiB.
    pub max_header_block_size: usize,
    /// CONTINUATION frames one header block may use (the CONTINUATION flood bound).
    /// Default 32.
    pub max_continuation_frames: usize,
    /// How long the peer has to acknowledge our SETTINGS before the connection
    /// fails with SETTINGS_TIMEOUT. Default 10 s.
    pub settings_timeout: Duration,
    /// How long a graceful shutdown waits for its PING to return before it
    /// sends the final GOAWAY anyway. Default 10 s.
    pub shutdown_timeout: Duration,
    /// Octets the application may queue for sending on one stream beyond the
    /// first message; past it `send_data` says [`SendBufferFull`](super::UserError::SendBufferFull)
    /// and a [`Writable`](super::Event::Writable) event follows once it drains.
    /// Default 1 MiB.
    pub max_send_buffer_per_stream: usize,
    /// Octets the application may queue for sending over all streams together;
    /// past it `send_data` is refused the same way. Default 16 MiB.
    pub max_send_buffer_per_connection: usize,
    /// Streams we may open beyond the peer's SETTINGS_MAX_CONCURRENT_STREAMS:
    /// they wait, in order, for a slot. Past this, `open_stream` says
    /// [`StreamLimit`](super::UserError::StreamLimit). Default 0 (never wait).
    pub max_pending_streams: usize,
    /// Streams reset by the peer, or by us for the peer's fault, allowed within
    /// `reset_window` before the connection is closed with ENHANCE_YOUR_CALM (the
    /// rapid-reset bound, CVE-2023-44487). Default 200.
    pub max_resets_per_window: u32,
    /// The window for `max_resets_per_window`. Default 30 s.
    pub reset_window: Duration,
    /// Control frames we may owe the peer (PING and SETTINGS acknowledgements,
    /// RST_STREAMs) before the transmit side is drained; a peer that makes us owe
    /// more is flooding us and gets ENHANCE_YOUR_CALM. Default 1000.
    pub max_pending_control_frames: usize,
    /// Frames that carry nothing (empty DATA without END_STREAM, empty
    /// CONTINUATION) the peer may send in a row. Default 100.
    pub max_empty_frames: u32,
    /// Streams we reset whose late frames we still silently ignore (RFC 9113 §5.1,
    /// "closed"); older ones are forgotten. Default 1024.
    pub max_reset_streams_remembered: usize,
}

impl Config {
    /// These receive windows, never grown from a BDP estimate (grpc-go turns
    /// its estimator off the same way when a window is set explicitly).
    #[must_use]
    pub fn fixed_windows(mut self, stream: u32, connection: u32) -> Self {
        self.initial_stream_window = stream;
        self.connection_window = connection;
        self.max_adaptive_window = None;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            header_table_size: 4096,
            max_concurrent_streams: 100,
            initial_stream_window: 65_535,
            connection_window: 1 << 20,
            max_adaptive_window: None,
            max_frame_size: 16_384,
            max_header_list_size: 16 << 10,
            max_header_block_size: 64 << 10,
            max_continuation_frames: 32,
            settings_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
            max_send_buffer_per_stream: 1 << 20,
            max_send_buffer_per_connection: 16 << 20,
            max_pending_streams: 0,
            max_resets_per_window: 200,
            reset_window: Duration::from_secs(30),
            max_pending_control_frames: 1000,
            max_empty_frames: 100,
            max_reset_streams_remembered: 1024,
        }
    }
}
