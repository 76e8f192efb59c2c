//! Shared helpers: run the real `terra-connect-proxy` binary on a loopback port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running proxy binary; killed on drop. Its logs (stderr) go to `log_path`.
pub struct ProxyProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where stderr (the tracing logs) is written.
    pub log_path: PathBuf,
}

impl ProxyProcess {
    /// Starts the binary with `env` on a free port (TERRA_CONNECT_ADDR=127.0.0.1:0).
    pub fn start(env: &[(&str, &str)]) -> ProxyProcess {
        let log_path = std::env::temp_dir().join(format!(
            "terra-connect-proxy-test-{}.log",
            uuid::Uuid::new_v4()
        ));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_terra-connect-proxy"));
        command
            .env_clear()
            .env("TERRA_CONNECT_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the proxy binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "proxy did not print its address: {line:?}"
        );
        ProxyProcess {
            child,
            url,
            log_path,
        }
    }

    /// What the proxy logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// An HTTP client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
