//! Generates the example and test services: what a user's build.rs does.

fn main() {
    grpc_sansio_build::compile_protos(
        &[
            "../proto/user.proto",
            "../proto/chat.proto",
            "../proto/test/kinds_v1.proto",
            "../proto/test/kinds_v2.proto",
            "../proto/test/edge.proto",
        ],
        &["../proto"],
    )
    .unwrap_or_else(|err| panic!("{err}"));
}
