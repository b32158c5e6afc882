//! The builder outside a build script: output directory, options, errors.

use std::path::PathBuf;

use grpc_sansio_build::{Builder, Error};

fn protos() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grpc-sansio-build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn writes_messages_services_and_the_descriptor_set() {
    let out = out_dir("all");
    Builder::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .compile(&[protos().join("user.proto")], &[protos()])
        .unwrap();
    let code = std::fs::read_to_string(out.join("user.rs")).unwrap();
    for expected in [
        "pub struct UserRequest",
        "pub mod user_service_paths",
        "pub const GET_USER: &str = \"/user.UserService/GetUser\";",
        "pub trait UserService",
        "pub trait AsyncUserService",
        "pub struct UserServiceClient",
        "pub struct AsyncUserServiceClient",
        "pub fn get_user(",
        "options: impl ::core::convert::Into<",
        "/// Returns the user with the given id, or NOT_FOUND.",
        "pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(",
    ] {
        assert!(code.contains(expected), "missing {expected:?}");
    }
    assert!(!code.contains("get_user_with"), "one stub method per RPC");
    assert!(out.join("file_descriptor_set.bin").is_file());
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn sides_and_flavours_can_be_turned_off() {
    let out = out_dir("server-blocking");
    Builder::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .build_client(false)
        .build_async(false)
        .service_path("::my_service")
        .file_descriptor_set_name("user.fds")
        .compile(&[protos().join("user.proto")], &[protos()])
        .unwrap();
    let code = std::fs::read_to_string(out.join("user.rs")).unwrap();
    assert!(code.contains("pub trait UserService"));
    assert!(code.contains("::my_service::CallContext"));
    assert!(!code.contains("AsyncUserService"));
    assert!(!code.contains("user_service_client"));
    assert!(out.join("user.fds").is_file());
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn a_bad_proto_is_a_protos_error() {
    let out = out_dir("bad");
    let err = Builder::new()
        .out_dir(&out)
        .emit_rerun_if_changed(false)
        .compile(&[protos().join("missing.proto")], &[protos()])
        .unwrap_err();
    assert!(matches!(err, Error::Protos(_)), "{err}");
    assert!(err.to_string().contains("missing.proto"), "{err}");
    let _ = std::fs::remove_dir_all(out);
}
