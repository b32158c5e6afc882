//! Conformance harness for grpc-sansio.
