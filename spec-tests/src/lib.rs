//! Conformance harness for grpc-sansio: a raw frame factory, a server driver that
//! answers requests like a minimal HTTP/2 application, and an in-memory client /
//! server [`pair::Pair`] on virtual time.

pub mod factory;
pub mod pair;
pub mod server;
