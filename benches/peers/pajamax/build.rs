//! pajamax's code for the repository's interop protos
//! (`proto/proto/grpc/testing/`), `TestService` only, in pajamax's local mode
//! (each request answered on its connection's thread). `bytes` fields are
//! `Bytes` so that payloads can be slices of a static buffer.

const PROTOS: &[&str] = &["../../../proto/proto/grpc/testing/test.proto"];
const INCLUDES: &[&str] = &["../../../proto/proto"];

fn main() {
    let files = protox::compile(PROTOS, INCLUDES).unwrap_or_else(|err| panic!("{err}"));
    prost_build::Config::new()
        .bytes(["."])
        .service_generator(Box::new(pajamax_build::PajamaxGen::ListBoth {
            local_svcs: vec!["TestService"],
            dispatch_svcs: vec![],
        }))
        .compile_fds(files)
        .unwrap_or_else(|err| panic!("pajamax codegen: {err}"));
    println!("cargo:rerun-if-changed=../../../proto/proto/grpc/testing");
}
