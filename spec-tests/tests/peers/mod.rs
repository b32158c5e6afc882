//! Peer processes the interop tests start: our `interop-server` and the
//! grpcio (Python) server, each announcing `listening on 127.0.0.1:P`.
//!
//! Each test that says `mod peers;` compiles its own copy and may use only
//! part of it, hence `dead_code`; `unreachable_pub` as in `tonic_peer`.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a peer may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("spec-tests sits in the workspace")
        .to_path_buf()
}

/// The Python of the grpcio peer: `INTEROP_PYTHON`, or the virtual
/// environment `setup.sh` makes (or checks, in a fraction of a second) here.
/// Missing Python fails loudly.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("INTEROP_PYTHON") {
        return python.into();
    }
    let setup = python_script("setup.sh");
    let status = Command::new("bash").arg(&setup).status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "the grpcio peer needs Python 3 with pip: `bash {}` failed ({status:?}); \
         or point INTEROP_PYTHON at a Python with grpcio and grpcio-tools",
        setup.display()
    );
    workspace_root().join("target/interop-venv/bin/python")
}

pub fn python_script(name: &str) -> PathBuf {
    workspace_root()
        .join("spec-tests/interop/python")
        .join(name)
}

/// A server process that printed `listening on 127.0.0.1:P`.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    pub name: String,
}

impl ServerProcess {
    pub fn spawn(name: &str, mut command: Command) -> ServerProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(START_TIMEOUT)
            .unwrap_or_else(|_| panic!("{name}: no `listening on` line"));
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("{name}: unexpected first line {line:?}"));
        ServerProcess {
            child,
            addr,
            name: name.to_owned(),
        }
    }

    /// SIGTERM, then the process must exit 0 on its own.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "{}: kill failed",
            self.name
        );
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "{}: exit status {status} after SIGTERM",
                    self.name
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("{}: still running 10 s after SIGTERM", self.name);
    }
}

pub fn grpcio_server(python: &Path) -> ServerProcess {
    let mut command = Command::new(python);
    command
        .arg(python_script("interop_server.py"))
        .args(["--port", "0"]);
    ServerProcess::spawn("grpcio", command)
}
