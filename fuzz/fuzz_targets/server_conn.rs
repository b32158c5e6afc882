//! `cargo fuzz run server_conn`: see `grpc_sansio_fuzz::server_conn` for the input format and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| grpc_sansio_fuzz::server_conn(data));
