//! The harness: a gateway on a free loopback port over a temp HEARTH_HOME and the
//! scripted model server; helpers for SSE bodies and a minimal WebSocket client.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hearth_gateway::{AppState, GatewaySettings, GatewayToken};
use hearth_runtime::{Environment, Overrides};
use hearth_sandbox::SandboxMode;
use hearth_testkit::{Script, ScriptedServer, Step};
use hearth_tools::ApprovalPolicy;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// The environment of a gateway over `home` whose model is the scripted `server`.
pub fn scripted_model_env(home: &Path, server: &ScriptedServer) -> Environment {
    let vars: Vec<(&str, OsString)> = vec![
        ("HEARTH_HOME", home.into()),
        ("HOME", home.into()),
        ("HEARTH_MODEL", "openai:scripted-model".into()),
        ("OPENAI_BASE_URL", server.openai_base_url().into()),
        ("OPENAI_API_KEY", "sk-test".into()),
    ];
    Environment::from_vars(|name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.clone())
    })
}

/// Every command asks first (`untrusted`), and an approved one runs unsandboxed.
pub fn untrusted() -> Overrides {
    Overrides {
        approval: Some(ApprovalPolicy::Untrusted),
        sandbox: Some(SandboxMode::FullAccess),
        ..Overrides::default()
    }
}

/// The model runs `command` with `exec`, then answers `answer`.
pub fn exec_then_answer(command: &str, answer: &str) -> Vec<Step> {
    let arguments = serde_json::json!({ "command": command }).to_string();
    vec![
        Step::tool_call("call_1", "exec", arguments),
        Step::text(answer),
    ]
}

pub struct Harness {
    pub home: tempfile::TempDir,
    pub server: ScriptedServer,
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Harness {
    pub async fn start(steps: Vec<Step>) -> Harness {
        Self::start_with(steps, Overrides::default(), |_| {}).await
    }

    pub async fn start_with(
        steps: Vec<Step>,
        overrides: Overrides,
        configure: impl FnOnce(&mut GatewaySettings),
    ) -> Harness {
        let home = tempfile::tempdir().unwrap();
        let server = ScriptedServer::start(Script::new(steps)).await.unwrap();
        let env = scripted_model_env(home.path(), &server);
        let runtime = hearth_runtime::resolve(&overrides, env).unwrap();
        let store = runtime.open_store().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut settings = GatewaySettings::new(addr);
        configure(&mut settings);
        let state = AppState::new(runtime, store, GatewayToken::from_value(TOKEN), settings);
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = tokio::spawn(hearth_gateway::serve(listener, state.clone(), async {
            let _ = stop.await;
        }));
        Harness {
            home,
            server,
            base: format!("http://{addr}"),
            addr,
            client: reqwest::Client::new(),
            state,
            shutdown: Some(shutdown),
            served: Some(served),
        }
    }

    pub fn workspace(&self) -> PathBuf {
        self.home.path().join("workspace")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(TOKEN)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(TOKEN)
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(TOKEN)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(TOKEN)
    }

    /// A GET without the token.
    pub fn get_without_token(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// The JSON a GET with the token answers.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).send().await.unwrap().json().await.unwrap()
    }

    /// The response to `body` POSTed as JSON with the token.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post(path).json(body).send().await.unwrap()
    }

    /// A new session's id.
    pub async fn new_session(&self) -> String {
        let response = self.post("/api/sessions").send().await.unwrap();
        assert_eq!(response.status(), 201);
        let session: Value = response.json().await.unwrap();
        session["id"].as_str().unwrap().to_string()
    }

    /// Sends `text` to the session and returns the response (an SSE stream when 200).
    pub async fn send(&self, session: &str, text: &str) -> reqwest::Response {
        self.post(&format!("/api/sessions/{session}/messages"))
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .unwrap()
    }

    /// The session's stored transcript.
    pub async fn transcript(&self, session: &str) -> Value {
        let response = self
            .get(&format!("/api/sessions/{session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Waits (bounded) until the session runs no turn.
    pub async fn wait_idle(&self) {
        for _ in 0..400 {
            if self.state.sessions.running_turns() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("a turn never finished");
    }

    /// Like [`stop`](Self::stop), returning the temp home so it outlives the gateway.
    pub async fn stop_keeping_home(mut self) -> tempfile::TempDir {
        let home = std::mem::replace(&mut self.home, tempfile::tempdir().unwrap());
        self.stop().await;
        home
    }

    /// Shuts the gateway down and waits for it to stop; the model server saw only
    /// well-formed histories.
    pub async fn stop(mut self) {
        assert_eq!(self.server.take_violations(), Vec::<String>::new());
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(served) = self.served.take() {
            tokio::time::timeout(Duration::from_secs(30), served)
                .await
                .expect("the gateway stopped")
                .unwrap()
                .unwrap();
        }
    }
}

/// The JSON events of an SSE body, in order.
pub fn sse_events(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str(data.trim()).unwrap())
        .collect()
}

/// A minimal WebSocket client: the handshake, then server text frames.
pub struct RawWebSocket {
    stream: TcpStream,
    pub status: u16,
    pub response_head: String,
}

impl RawWebSocket {
    /// Opens `/api/events` with these extra header lines (each ending "\r\n").
    pub async fn open(addr: std::net::SocketAddr, headers: &str) -> RawWebSocket {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let read = stream.read(&mut byte).await.unwrap();
            assert_eq!(read, 1, "connection closed in the response head");
            head.push(byte[0]);
        }
        let response_head = String::from_utf8_lossy(&head).into_owned();
        let status = response_head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap();
        RawWebSocket {
            stream,
            status,
            response_head,
        }
    }

    /// The next text frame's JSON (server frames are not masked).
    pub async fn next_json(&mut self) -> Value {
        loop {
            let mut header = [0u8; 2];
            self.stream.read_exact(&mut header).await.unwrap();
            let opcode = header[0] & 0x0f;
            let length = match header[1] & 0x7f {
                126 => u64::from(self.stream.read_u16().await.unwrap()),
                127 => self.stream.read_u64().await.unwrap(),
                short => u64::from(short),
            };
            let mut payload = vec![0u8; usize::try_from(length).unwrap()];
            self.stream.read_exact(&mut payload).await.unwrap();
            assert_ne!(opcode, 0x8, "the socket was closed");
            if opcode == 0x1 {
                return serde_json::from_slice(&payload).unwrap();
            }
        }
    }

    /// Sends a masked text frame (as clients must).
    pub async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x81, 0x80 | u8::try_from(text.len()).unwrap()];
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await
    }

    /// Reads frames until a close frame; returns its code (None: the connection ended).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let mut header = [0u8; 2];
            self.stream.read_exact(&mut header).await.ok()?;
            let length = usize::from(header[1] & 0x7f);
            let mut payload = vec![0u8; length];
            self.stream.read_exact(&mut payload).await.ok()?;
            if header[0] & 0x0f == 0x8 {
                return Some(u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
    }
}

/// The complete JSON events of a partly received SSE body.
pub fn sse_events_partial(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}
