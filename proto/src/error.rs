//! What can go wrong while generating code.

/// Why generating code failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `.proto` file could not be read, parsed or resolved (protox's
    /// diagnostic says where).
    #[error("failed to compile the .proto files: {0}")]
    Protos(Box<protox::Error>),
    /// Writing the generated files failed.
    #[error("failed to write the generated code: {0}")]
    Io(#[from] std::io::Error),
    /// No output directory: `OUT_DIR` is unset (not running in a build
    /// script) and [`Builder::out_dir`](crate::Builder::out_dir) was not called.
    #[error("OUT_DIR is not set: call this from build.rs, or set Builder::out_dir")]
    NoOutDir,
}

impl From<protox::Error> for Error {
    fn from(err: protox::Error) -> Self {
        Error::Protos(Box::new(err))
    }
}
