//! The channel tests' shared harness: the real gateway in-process with its channels
//! started from a `config.toml`, over a temp `HEARTH_HOME` that outlives restarts, with
//! the scripted model server as the model. Each channel's harness (`telegram.rs`,
//! `matrix.rs`, `email.rs`) wraps one and adds its own peers.

use std::time::Duration;

use hearth_gateway::{AppState, GatewaySettings, GatewayToken, RunningChannels};
use hearth_runtime::Overrides;
use hearth_testkit::{Script, ScriptedServer, Step};
use tokio::sync::oneshot;

use crate::common::{scripted_model_env, TOKEN};

/// A running gateway and its channels.
pub(crate) struct Running {
    pub(crate) state: AppState,
    pub(crate) channels: RunningChannels,
    shutdown: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The gateway with one channel configured; it can be stopped and started again on the
/// same home.
pub(crate) struct ChannelGateway {
    pub(crate) home: tempfile::TempDir,
    pub(crate) model: ScriptedServer,
    channel: &'static str,
    overrides: Overrides,
    pub(crate) running: Option<Running>,
}

/// What the gateway is started with: the channel's name, its `config.toml` and the
/// secret its config names (`secret:NAME`).
pub(crate) struct ChannelConfig<'a> {
    pub(crate) channel: &'static str,
    pub(crate) config_toml: String,
    pub(crate) secret: (&'a str, &'a str),
}

impl ChannelGateway {
    /// Writes the config and the secret into a fresh home, starts the model server
    /// with `steps`, then the gateway.
    pub(crate) async fn start(
        config: ChannelConfig<'_>,
        steps: Vec<Step>,
        overrides: Overrides,
    ) -> Self {
        let home = tempfile::tempdir().unwrap();
        let model = ScriptedServer::start(Script::new(steps)).await.unwrap();
        std::fs::write(home.path().join("config.toml"), config.config_toml).unwrap();
        let (secret_name, secret_value) = config.secret;
        hearth_secrets::SecretStore::new(&home.path().join("secrets.json"))
            .set(secret_name, secret_value)
            .unwrap();
        let mut gateway = Self {
            home,
            model,
            channel: config.channel,
            overrides,
            running: None,
        };
        gateway.start_gateway().await;
        gateway
    }

    /// Starts the gateway and its channels (again, after [`stop_gateway`](Self::stop_gateway)).
    pub(crate) async fn start_gateway(&mut self) {
        let env = scripted_model_env(self.home.path(), &self.model);
        let runtime = hearth_runtime::resolve(&self.overrides, env).unwrap();
        let store = runtime.open_store().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let settings = GatewaySettings::new(listener.local_addr().unwrap());
        let state = AppState::new(
            runtime,
            store.clone(),
            GatewayToken::from_value(TOKEN),
            settings,
        );
        let channels = hearth_gateway::start_channels(&state, store).unwrap();
        assert_eq!(channels.names, vec![self.channel.to_string()]);
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = tokio::spawn(hearth_gateway::serve(listener, state.clone(), async {
            let _ = stop.await;
        }));
        self.running = Some(Running {
            state,
            channels,
            shutdown,
            served,
        });
    }

    /// Shuts the gateway down and waits for it and its channels to stop; the home stays.
    pub(crate) async fn stop_gateway(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        let _ = running.shutdown.send(());
        tokio::time::timeout(Duration::from_secs(30), running.served)
            .await
            .expect("the gateway stopped")
            .unwrap()
            .unwrap();
        running.channels.wait(Duration::from_secs(10)).await;
        drop(running.state);
    }

    /// The home's state database, opened anew.
    pub(crate) fn store(&self) -> hearth_store::Store {
        hearth_store::Store::open(&self.home.path().join("state.db")).unwrap()
    }

    /// The last user message of every model request, in order.
    pub(crate) fn model_inputs(&self) -> Vec<String> {
        self.model
            .requests()
            .iter()
            .filter_map(|request| {
                request.body["messages"]
                    .as_array()?
                    .iter()
                    .rev()
                    .find(|message| message["role"] == "user")
                    .and_then(|message| message["content"].as_str().map(str::to_string))
            })
            .collect()
    }

    /// The first line of each of [`model_inputs`](Self::model_inputs): for a one-line
    /// message, the person's words without the `[now: …]` line after them.
    pub(crate) fn model_inputs_first_lines(&self) -> Vec<String> {
        self.model_inputs()
            .iter()
            .map(|input| input.lines().next().unwrap_or("").to_string())
            .collect()
    }

    /// Every request body the model was sent, concatenated.
    pub(crate) fn all_model_bytes(&self) -> String {
        self.model
            .requests()
            .iter()
            .map(|request| request.body.to_string())
            .collect()
    }

    /// Stops the gateway; the model server saw only well-formed histories.
    pub(crate) async fn stop(mut self) {
        self.stop_gateway().await;
        assert_eq!(self.model.take_violations(), Vec::<String>::new());
    }
}
