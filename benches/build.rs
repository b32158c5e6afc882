//! Generates the interop protos (`proto/proto/grpc/testing/`) for tonic, with
//! `bytes` fields as `Bytes` so that payloads can be slices of a static
//! buffer: the benchmark's tonic server is tonic at its best.

const PROTOS: &[&str] = &["../proto/proto/grpc/testing/test.proto"];
const INCLUDES: &[&str] = &["../proto/proto"];

fn main() {
    let files = protox::compile(PROTOS, INCLUDES).unwrap_or_else(|err| panic!("{err}"));
    tonic_prost_build::configure()
        .bytes(".")
        .generate_default_stubs(true)
        .compile_fds(files)
        .unwrap_or_else(|err| panic!("tonic codegen: {err}"));
    for proto in ["test.proto", "messages.proto", "empty.proto"] {
        println!("cargo:rerun-if-changed=../proto/proto/grpc/testing/{proto}");
    }
}
