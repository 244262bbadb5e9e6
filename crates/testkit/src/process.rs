//! Child-process servers for tests: a free loopback port, a check that a Python module is
//! installed (failing under CI, skipping elsewhere), and a server killed when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now (the OS picked it; we let go of it at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `python3` can import `module`. Missing under `CI` is a failure, never a silent
/// skip: CI installs it with `.ci/test-deps.sh`. On a workstation the test is skipped with
/// a note saying how to get it.
pub fn python_module_or_skip(module: &str) -> bool {
    let present = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("python3 module `{module}` is missing in CI: run .ci/test-deps.sh");
    }
    eprintln!(
        "note: skipping, python3 module `{module}` is not installed (bash .ci/test-deps.sh installs it)"
    );
    false
}

/// A child process killed (and reaped) when dropped, so a failing assertion does not leave
/// a server running.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `command` and waits until it accepts connections on `port`.
    pub fn start(mut command: Command, port: u16, log: &Path) -> Server {
        let log_file = std::fs::File::create(log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("start server");
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)).is_ok() {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                let output = std::fs::read_to_string(log).unwrap_or_default();
                panic!("server exited with {status} before listening:\n{output}");
            }
            assert!(
                Instant::now() < deadline,
                "server did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
