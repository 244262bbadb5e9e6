//! A webhook receiver on loopback that checks every message with the `standardwebhooks`
//! Python package (the reference verifier of the Standard Webhooks specification, not our
//! code), records what it got, and answers `500` while told to fail. The secret it verifies
//! with and the failures to come are files in its folder, so a test sets them after it
//! learns the secret; a message that arrives before the secret waits for it.

use crate::process::{free_port, Server};
use std::path::Path;
use std::process::Command;

const RECEIVER: &str = r#"
import json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from standardwebhooks.webhooks import Webhook

DIR, PORT = sys.argv[1], int(sys.argv[2])
lock = threading.Lock()

def read(name):
    try:
        with open(os.path.join(DIR, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        # The endpoint's own "created" event can arrive before the test has learnt the secret
        # from the registration's answer and handed it over: wait for it (up to 10 s).
        for _ in range(200):
            if read("secret"):
                break
            time.sleep(0.05)
        with lock:
            secret = read("secret")
            fail = int(read("fail") or "0")
            if fail > 0:
                with open(os.path.join(DIR, "fail"), "w") as f:
                    f.write(str(fail - 1))
        record = {"path": self.path, "raw": body.decode("utf-8", "replace"),
                  "headers": {k: headers.get(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")}}
        try:
            record["payload"] = Webhook(secret).verify(body, headers)
            record["verified"] = True
        except Exception as e:
            record["verified"] = False
            record["error"] = "%s: %s" % (type(e).__name__, e)
        status = 500 if fail > 0 else 204
        record["answered"] = status
        with lock:
            with open(os.path.join(DIR, "received.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"#;

pub struct Hookd {
    _server: Server,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Hookd {
    pub fn start() -> Hookd {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("latchkey_hookd.py");
        std::fs::write(&script, RECEIVER).unwrap();
        let port = free_port();
        let mut command = Command::new("python3");
        command.arg(&script).arg(dir.path()).arg(port.to_string());
        let server = Server::start(command, port, &dir.path().join("hookd.log"));
        Hookd {
            _server: server,
            dir,
            port,
        }
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The secret (`whsec_…`) messages are verified with from now on.
    pub fn set_secret(&self, secret: &str) {
        write(self.dir.path(), "secret", secret);
    }

    /// Answers the next `n` messages with `500`.
    pub fn fail_next(&self, n: u32) {
        write(self.dir.path(), "fail", &n.to_string());
    }

    /// Every message received so far, in order: `verified` (by the reference verifier),
    /// `payload` (the verified JSON), `headers`, `raw`, `answered`, and `error` when the
    /// verification failed.
    pub fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn write(dir: &Path, name: &str, value: &str) {
    // Written aside and renamed, so the receiver never reads half a file.
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, value).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}
