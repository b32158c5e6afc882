//! Conformance harness for grpc-sansio: a raw frame factory, a server driver that
//! answers requests like a minimal HTTP/2 application, and an in-memory client /
//! server pairs on virtual time for HTTP/2 ([`pair::Pair`]) and gRPC ([`grpc_pair`]).

pub mod factory;
pub mod grpc_pair;
pub mod pair;
pub mod server;
