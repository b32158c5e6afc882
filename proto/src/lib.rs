//! Code generation for grpc-sansio: from `.proto` files to prost messages,
//! service traits and typed client stubs, in a `build.rs`, with no `protoc`
//! installed (protox parses the files).
//!
//! ```no_run
//! // In build.rs's `main`:
//! grpc_sansio_build::compile_protos(&["proto/user.proto"], &["proto"]).unwrap();
//! ```
//!
//! ```text
//! // src/lib.rs: one module per proto package.
//! pub mod user {
//!     include!(concat!(env!("OUT_DIR"), "/user.rs"));
//! }
//! ```
//!
//! For each service `package.Name`, next to the messages of its package:
//!
//! - `name_paths` (snake case): `SERVICE_NAME` and one path constant per method
//!   (`GET_USER = "/user.UserService/GetUser"`);
//! - `name_server`: the traits `Name` (blocking) and `AsyncName` (async), one
//!   method per RPC whose default body answers UNIMPLEMENTED (so adding an RPC
//!   never breaks an implementation), and `into_service` / `register`
//!   (`into_async_service` / `register_async`) to serve an implementation on a
//!   `grpc_sansio_service::Router` (`AsyncRouter`);
//! - `name_client`: `NameClient` (blocking) and `AsyncNameClient`, with one
//!   method per RPC taking the request (if one) and per-call options:
//!   `client.get_user(&request, None)`, or
//!   `Some(grpc_sansio_service::RequestOptions)` (a `RequestOptions` too). A
//!   unary or client-streaming call answers a `grpc_sansio_service::Response`
//!   (`.into_inner()` for the message, `.headers`, `.trailers`).
//!
//! Each package with services also gets `FILE_DESCRIPTOR_SET`, the encoded
//! descriptor set for server reflection. Proto comments become doc comments;
//! items without one get a generated doc, so the code builds under
//! `#![deny(missing_docs)]`.
//!
//! The generated code uses the `grpc-sansio-service` and `prost` crates (and
//! `prost-types` for well-known types): depend on them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod docs;
mod error;
mod generator;

use std::path::Path;

pub use builder::Builder;
pub use error::Error;
/// The prost-build configuration type, for [`Builder::prost_config`].
pub use prost_build::Config as ProstConfig;

/// Compiles `protos` (found in `includes`) and writes the generated code to
/// `OUT_DIR`, with every option on: see [`Builder`].
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<(), Error> {
    Builder::new().compile(protos, includes)
}
