//! `cargo fuzz run client_conn`: see `grpc_sansio_fuzz::client_conn` for the input format and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| grpc_sansio_fuzz::client_conn(data));
