//! The builder: options, then protox → descriptor set → prost-build messages
//! and our services.

use std::path::{Path, PathBuf};

use prost::Message;
use prost_types::FileDescriptorSet;

use crate::generator::{Generator, Options};
use crate::Error;

/// Configures and runs code generation. [`compile_protos`](crate::compile_protos)
/// is `Builder::new().compile(..)`.
///
/// ```no_run
/// // build.rs
/// grpc_sansio_build::Builder::new()
///     .build_client(false) // a server only
///     .build_async(false) // blocking adapters only
///     .compile(&["proto/user.proto"], &["proto"])
///     .unwrap();
/// ```
pub struct Builder {
    server: bool,
    client: bool,
    blocking: bool,
    asynchronous: bool,
    service: String,
    out_dir: Option<PathBuf>,
    descriptor_set_name: String,
    rerun: bool,
    prost: Option<prost_build::Config>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Everything on: server and client, blocking and async.
    pub fn new() -> Self {
        Builder {
            server: true,
            client: true,
            blocking: true,
            asynchronous: true,
            service: "::grpc_sansio_service".into(),
            out_dir: None,
            descriptor_set_name: "file_descriptor_set.bin".into(),
            rerun: true,
            prost: None,
        }
    }

    /// Whether to generate the server traits and `into_service` functions
    /// (default on).
    pub fn build_server(mut self, enable: bool) -> Self {
        self.server = enable;
        self
    }

    /// Whether to generate the typed clients (default on).
    pub fn build_client(mut self, enable: bool) -> Self {
        self.client = enable;
        self
    }

    /// Whether to generate the blocking flavour (default on).
    pub fn build_blocking(mut self, enable: bool) -> Self {
        self.blocking = enable;
        self
    }

    /// Whether to generate the async flavour (default on).
    pub fn build_async(mut self, enable: bool) -> Self {
        self.asynchronous = enable;
        self
    }

    /// The path of the service crate in generated code (default
    /// `::grpc_sansio_service`), for a renamed dependency or a re-export.
    pub fn service_path(mut self, path: impl Into<String>) -> Self {
        self.service = path.into();
        self
    }

    /// Where to write the generated files (default `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The file name of the encoded descriptor set in the output directory
    /// (default `file_descriptor_set.bin`).
    pub fn file_descriptor_set_name(mut self, name: impl Into<String>) -> Self {
        self.descriptor_set_name = name.into();
        self
    }

    /// Whether [`compile`](Self::compile) prints `cargo:rerun-if-changed` for
    /// the protos and include directories (default on).
    pub fn emit_rerun_if_changed(mut self, enable: bool) -> Self {
        self.rerun = enable;
        self
    }

    /// Starts from this prost-build configuration (attributes, extern paths,
    /// bytes fields…). Its output directory and service generator are
    /// replaced.
    pub fn prost_config(mut self, config: prost_build::Config) -> Self {
        self.prost = Some(config);
        self
    }

    /// Compiles `protos` (found in `includes`; `google/protobuf/*.proto` are
    /// built in) with protox, then generates the code. No `protoc` needed.
    pub fn compile(
        self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        if self.rerun {
            for path in protos
                .iter()
                .map(AsRef::as_ref)
                .chain(includes.iter().map(AsRef::as_ref))
            {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let fds = protox::compile(protos, includes)?;
        self.compile_fds(fds)
    }

    /// Generates the code for an already compiled descriptor set (with source
    /// info for the doc comments, and imports for reflection).
    pub fn compile_fds(self, fds: FileDescriptorSet) -> Result<(), Error> {
        let out_dir = match self.out_dir {
            Some(dir) => dir,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::NoOutDir)?,
        };
        std::fs::create_dir_all(&out_dir)?;

        // Reflection needs the descriptors, not the comments and spans.
        let mut stripped = fds.clone();
        for file in &mut stripped.file {
            file.source_code_info = None;
        }
        let descriptor_set = std::path::absolute(out_dir.join(&self.descriptor_set_name))?;
        write_if_changed(&descriptor_set, &stripped.encode_to_vec())?;

        let generator = Generator {
            options: Options {
                server: self.server,
                client: self.client,
                blocking: self.blocking,
                asynchronous: self.asynchronous,
                service: self.service,
                descriptor_set: Some(descriptor_set),
            },
        };
        let mut config = self.prost.unwrap_or_default();
        config.out_dir(&out_dir);
        config.service_generator(Box::new(generator));
        config.compile_fds(fds)?;
        Ok(())
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("server", &self.server)
            .field("client", &self.client)
            .field("blocking", &self.blocking)
            .field("async", &self.asynchronous)
            .field("service", &self.service)
            .field("out_dir", &self.out_dir)
            .field("descriptor_set_name", &self.descriptor_set_name)
            .field("rerun", &self.rerun)
            .finish_non_exhaustive()
    }
}

/// Writes `data` unless the file already holds it, so an unchanged build does
/// not touch the file's time.
fn write_if_changed(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == data) {
        return Ok(());
    }
    std::fs::write(path, data)
}
