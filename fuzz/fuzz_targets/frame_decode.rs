//! `cargo fuzz run frame_decode`: see `grpc_sansio_fuzz::frame_decode` for the input format and
//! the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| grpc_sansio_fuzz::frame_decode(data));
