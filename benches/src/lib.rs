//! Benchmarks live in `benches/`; this library holds nothing.
