//! Generates the interop test protos twice: for our own interop binaries
//! (`grpc-sansio-build`, into `OUT_DIR`) and for the tonic peer the interop
//! tests run against (`tonic-prost-build`, into `OUT_DIR/tonic`).

use std::path::PathBuf;

const PROTOS: &[&str] = &["../proto/proto/grpc/testing/test.proto"];
const INCLUDES: &[&str] = &["../proto/proto"];

fn main() {
    grpc_sansio_build::compile_protos(PROTOS, INCLUDES).unwrap_or_else(|err| panic!("{err}"));

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("tonic");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/tonic");
    let files = protox::compile(PROTOS, INCLUDES).unwrap_or_else(|err| panic!("{err}"));
    tonic_prost_build::configure()
        .out_dir(&out)
        .compile_fds(files)
        .unwrap_or_else(|err| panic!("tonic codegen: {err}"));
}
