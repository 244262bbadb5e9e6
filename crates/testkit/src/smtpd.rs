//! aiosmtpd, a real SMTP server, on loopback. Its `Mailbox` handler stores each message in a
//! Maildir; the subclass below also refuses two reserved recipients with real SMTP replies
//! (`unknown@…` 550, `busy@…` 451). Messages are read back with Python's `email` package, a
//! MIME parser that is not ours.

use crate::process::{free_port, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

const HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox

class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local == "unknown":
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if local == "busy":
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// Reads one stored message and prints what a mail client would see, as JSON.
const READ_MESSAGE: &str = r#"
import email, email.policy, json, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
parts = [
    {"type": p.get_content_type(), "charset": p.get_content_charset(), "content": p.get_content()}
    for p in msg.iter_parts()
]
headers = {k: str(v) for k, v in msg.items()}
print(json.dumps({"type": msg.get_content_type(), "headers": headers, "parts": parts}))
"#;

pub struct Smtpd {
    _server: Server,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Smtpd {
    pub fn start() -> Smtpd {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("latchkey_smtpd.py"), HANDLER).unwrap();
        let port = free_port();
        let mut command = Command::new("python3");
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "latchkey_smtpd.Handler"])
            .arg(dir.path().join("maildir"))
            .env("PYTHONPATH", dir.path());
        let server = Server::start(command, port, &dir.path().join("smtpd.log"));
        Smtpd {
            _server: server,
            dir,
            port,
        }
    }

    /// The Maildir messages are stored in (`new/` holds each as one file).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    pub fn delivered(&self) -> Vec<PathBuf> {
        let new = self.dir.path().join("maildir").join("new");
        match std::fs::read_dir(new) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

pub fn read_message(path: &Path) -> serde_json::Value {
    let output = Command::new("python3")
        .args(["-c", READ_MESSAGE])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
