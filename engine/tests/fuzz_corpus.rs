//! Replays every file of `fuzz/corpus/<target>/` through the fuzz target of that
//! name, so the seeds and every crash once found stay covered by `cargo test`
//! on a stable toolchain.
//!
//! The targets' bodies are `fuzz/src/lib.rs`, included here as a module: the
//! fuzz crate and this test run the same code, and the engine gains no
//! dependency.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod targets;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

/// Runs `target` on every file of its corpus folder and fails, naming each
/// file, if any of them panics.
fn replay(name: &str) {
    let (_, target) = targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    let dir = corpus_root().join(name);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no seed", dir.display());

    let mut failures = Vec::new();
    for path in &files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(payload) = panic::catch_unwind(|| target(&data)) {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)")
                .to_owned();
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {name} corpus files panic:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn frame_decode_corpus() {
    replay("frame_decode");
}

#[test]
fn hpack_decode_corpus() {
    replay("hpack_decode");
}

#[test]
fn server_conn_corpus() {
    replay("server_conn");
}

#[test]
fn client_conn_corpus() {
    replay("client_conn");
}

/// A corpus folder without a test here would never be replayed.
#[test]
fn every_corpus_folder_is_a_target() {
    for entry in fs::read_dir(corpus_root()).expect("fuzz/corpus exists") {
        let path = entry.expect("readable corpus entry").path();
        if !path.is_dir() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            targets::TARGETS.iter().any(|(n, _)| *n == name),
            "fuzz/corpus/{name} has no fuzz target"
        );
    }
    assert_eq!(
        targets::TARGETS.len(),
        4,
        "a new target needs its #[test] above"
    );
}
