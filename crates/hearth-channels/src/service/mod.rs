//! `ChannelService`: one channel's receive loop and router. Every batch is stored (with
//! its cursor) before the next wait acknowledges it; each chat's messages are handled in
//! order by a worker of its own; strangers get a pairing code and never reach the model;
//! `/new` and `/stop`; replies go through the outbox, retried and recorded.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hearth_store::{InboxMessage, NewInboxMessage, Store, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::channel::{Channel, ChatRef, Incoming, Received};
use crate::pairing;

mod delivery;
use crate::runner::{RunnerEvent, StartError, TurnRunner};

/// How a channel's router behaves beyond its wire protocol.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Sender ids always admitted (`allowed_users`).
    pub allowed_users: Vec<String>,
    /// Where received files are saved (`workspace/inbox`).
    pub inbox_dir: PathBuf,
    /// Largest received file saved; a larger one is answered with the limit.
    pub max_file_bytes: u64,
    /// How long a pairing code stays valid.
    pub pairing_ttl: Duration,
    /// At most one pairing reply per sender per this long.
    pub pairing_rate_limit: Duration,
    /// How often "typing…" is renewed while a turn runs.
    pub typing_interval: Duration,
    /// The first and the longest wait before reconnecting or resending.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Tries per reply chunk before it is recorded as failed.
    pub send_attempts: u32,
}

impl ServiceSettings {
    pub fn new(inbox_dir: PathBuf) -> Self {
        Self {
            allowed_users: Vec::new(),
            inbox_dir,
            max_file_bytes: 20 * 1024 * 1024,
            pairing_ttl: Duration::from_secs(3600),
            pairing_rate_limit: Duration::from_secs(3600),
            typing_interval: Duration::from_secs(4),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            send_attempts: 5,
        }
    }
}

/// One channel wired to the store and a turn runner.
pub struct ChannelService {
    channel: Arc<dyn Channel>,
    runner: Arc<dyn TurnRunner>,
    store: Arc<Store>,
    settings: ServiceSettings,
    /// Approval questions asked in a chat and not answered yet, by id.
    approvals: Mutex<HashMap<String, ChatRef>>,
    /// Each chat's worker queue.
    workers: Mutex<HashMap<ChatRef, mpsc::UnboundedSender<InboxMessage>>>,
    /// Outbox rows being sent right now (not to be resent meanwhile).
    in_flight: Mutex<HashSet<i64>>,
    shutdown: CancellationToken,
}

impl ChannelService {
    pub fn new(
        channel: Arc<dyn Channel>,
        runner: Arc<dyn TurnRunner>,
        store: Arc<Store>,
        settings: ServiceSettings,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            channel,
            runner,
            store,
            settings,
            approvals: Mutex::new(HashMap::new()),
            workers: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            shutdown,
        })
    }

    pub fn name(&self) -> &str {
        self.channel.name()
    }

    /// Runs until the shutdown token: resends queued replies, handles what a previous
    /// run left unanswered, then receives, stores and dispatches.
    pub async fn run(self: Arc<Self>) {
        self.set_connection("connecting", "").await;
        self.resend_pending().await;
        let name = self.channel.name().to_string();
        match self
            .with_store(move |store| store.channel_unanswered(&name))
            .await
        {
            Ok(messages) => {
                for message in messages {
                    self.dispatch(message);
                }
            }
            Err(err) => tracing::warn!("{}: cannot read the inbox: {err}", self.name()),
        }
        self.receive_loop().await;
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.set_connection("stopped", "").await;
    }

    async fn receive_loop(self: &Arc<Self>) {
        let mut backoff = self.settings.backoff_initial;
        let mut outage = false;
        loop {
            let name = self.channel.name().to_string();
            let cursor = match self
                .with_store(move |store| store.channel_cursor(&name))
                .await
            {
                Ok(cursor) => cursor,
                Err(err) => {
                    tracing::error!("{}: cannot read the cursor: {err}", self.name());
                    if self.pause(backoff).await {
                        return;
                    }
                    continue;
                }
            };
            let batch = tokio::select! {
                () = self.shutdown.cancelled() => return,
                batch = self.channel.receive(cursor.as_deref()) => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(err) => {
                    if !outage {
                        outage = true;
                        tracing::warn!(
                            "{}: the server is unreachable ({err}); reconnecting with backoff",
                            self.name()
                        );
                        self.set_connection("reconnecting", &err.message).await;
                    }
                    if self.pause(backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(self.settings.backoff_max);
                    continue;
                }
            };
            if outage {
                tracing::info!("{}: reconnected", self.name());
                self.resend_pending().await;
            }
            if outage || cursor.is_none() {
                self.set_connection("connected", "").await;
            }
            outage = false;
            backoff = self.settings.backoff_initial;
            if batch.items.is_empty() && batch.cursor.is_none() {
                continue;
            }
            let stored = match self.store_batch(&batch.items, batch.cursor.clone()).await {
                Ok(stored) => stored,
                Err(err) => {
                    // Not stored, so not acknowledged: the server sends it again.
                    tracing::error!("{}: cannot store received messages: {err}", self.name());
                    if self.pause(backoff).await {
                        return;
                    }
                    continue;
                }
            };
            for message in stored {
                self.dispatch(message);
            }
        }
    }

    /// Sends, each in a task of its own, the queued replies not yet delivered.
    async fn resend_pending(self: &Arc<Self>) {
        let name = self.channel.name().to_string();
        match self
            .with_store(move |store| store.pending_replies(&name))
            .await
        {
            Ok(replies) => {
                for reply in replies {
                    let service = self.clone();
                    let to = ChatRef {
                        chat: reply.chat.clone(),
                        thread: reply.thread.clone(),
                    };
                    tokio::spawn(async move {
                        let _ = service.deliver(&to, reply.id, &reply.body).await;
                    });
                }
            }
            Err(err) => tracing::warn!("{}: cannot read queued replies: {err}", self.name()),
        }
    }

    /// Sleeps `wait`; `true` when shutting down.
    async fn pause(&self, wait: Duration) -> bool {
        tokio::select! {
            () = self.shutdown.cancelled() => true,
            () = tokio::time::sleep(wait) => false,
        }
    }

    /// Stores the batch and its cursor in one transaction; returns the new messages.
    async fn store_batch(
        &self,
        items: &[Received],
        cursor: Option<String>,
    ) -> Result<Vec<InboxMessage>, String> {
        let mut rows = Vec::with_capacity(items.len());
        for item in items {
            let body = serde_json::to_string(&item.incoming).unwrap_or_default();
            rows.push(NewInboxMessage {
                external_id: item.external_id.clone(),
                chat: item.to.chat.clone(),
                thread: item.to.thread.clone(),
                sender: item.sender.clone(),
                body,
            });
        }
        let name = self.channel.name().to_string();
        let inserted = rows.clone();
        let ids = self
            .with_store(move |store| store.channel_receive(&name, &inserted, cursor.as_deref()))
            .await?;
        let name = self.channel.name().to_string();
        Ok(rows
            .into_iter()
            .zip(ids)
            .filter_map(|(row, id)| {
                id.map(|id| InboxMessage {
                    id,
                    channel: name.clone(),
                    external_id: row.external_id,
                    chat: row.chat,
                    thread: row.thread,
                    sender: row.sender,
                    body: row.body,
                    state: "received".into(),
                })
            })
            .collect())
    }

    /// Button presses and `/stop` are handled at once (a turn may be waiting on them);
    /// everything else queues behind the chat's running turn.
    fn dispatch(self: &Arc<Self>, message: InboxMessage) {
        let immediate = match serde_json::from_str::<Incoming>(&message.body) {
            Ok(Incoming::Button { .. }) => true,
            Ok(Incoming::Message { text, .. }) => {
                is_command(&text, "/stop")
                    || self
                        .text_answer(&message.chat, &message.thread, &text)
                        .is_some()
            }
            Err(_) => true,
        };
        if immediate {
            let service = self.clone();
            tokio::spawn(async move { service.handle(message).await });
            return;
        }
        let to = ChatRef {
            chat: message.chat.clone(),
            thread: message.thread.clone(),
        };
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = workers.entry(to).or_insert_with(|| {
            let (queue, mut messages) = mpsc::unbounded_channel::<InboxMessage>();
            let service = self.clone();
            tokio::spawn(async move {
                while let Some(message) = messages.recv().await {
                    service.handle(message).await;
                }
            });
            queue
        });
        // The worker lives as long as its sender in the map.
        let _ = queue.send(message);
    }

    async fn handle(self: &Arc<Self>, message: InboxMessage) {
        let to = ChatRef {
            chat: message.chat.clone(),
            thread: message.thread.clone(),
        };
        let incoming = match serde_json::from_str::<Incoming>(&message.body) {
            Ok(incoming) => incoming,
            Err(err) => {
                tracing::warn!(
                    "{}: inbox message {} is unreadable: {err}",
                    self.name(),
                    message.id
                );
                self.set_state(message.id, "failed").await;
                return;
            }
        };
        let admitted = self.is_admitted(&message.sender).await;
        match incoming {
            Incoming::Button {
                data,
                press_ref,
                message_ref,
            } => {
                let answer = self.answer_button(&to, &message.sender, admitted, &data);
                self.channel
                    .answer_button(&to, &press_ref, &message_ref, answer)
                    .await;
                self.set_state(message.id, "answered").await;
            }
            Incoming::Message {
                text,
                attachments,
                sender_name,
                ..
            } => {
                if !admitted {
                    self.refuse_stranger(&message, &to, &sender_name).await;
                    return;
                }
                if let Some((id, approve)) = self.text_answer(&to.chat, &to.thread, &text) {
                    let answer = self.answer_approval(&to, &message.sender, &id, approve);
                    return self.reply_logged(&to, Some(message.id), answer).await;
                }
                let mut text = text;
                for attachment in &attachments {
                    match self.save_attachment(message.id, attachment).await {
                        Ok(note) => {
                            text.push_str(if text.is_empty() { "" } else { "\n\n" });
                            text.push_str(&note);
                        }
                        Err(why) => self.reply_logged(&to, None, &why).await,
                    }
                }
                self.handle_text(&message, &to, &text).await;
            }
        }
    }

    /// What a button press does; the text shown to the presser.
    fn answer_button(
        &self,
        to: &ChatRef,
        sender: &str,
        admitted: bool,
        data: &str,
    ) -> &'static str {
        if !admitted {
            return "Only an admitted sender can answer this.";
        }
        let (approve, id) = match data.split_once(':') {
            Some(("approve", id)) => (true, id),
            Some(("deny", id)) => (false, id),
            _ => return "Unknown button.",
        };
        self.answer_approval(to, sender, id, approve)
    }

    /// Answers approval `id` if it was asked in `to` and still waits (the sender is
    /// admitted); the text to show.
    fn answer_approval(&self, to: &ChatRef, sender: &str, id: &str, approve: bool) -> &'static str {
        let asked_here = {
            let approvals = self
                .approvals
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            approvals.get(id) == Some(to)
        };
        if !asked_here || !self.runner.answer_approval(id, approve) {
            return "This question is no longer waiting.";
        }
        self.approvals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        tracing::info!("{}: approval {id} answered by {sender}", self.name());
        if approve {
            "Approved."
        } else {
            "Denied."
        }
    }

    /// The approval a reply of `approve` or `deny` answers: the one waiting in this
    /// chat (channels without buttons, such as email, answer this way).
    fn text_answer(&self, chat: &str, thread: &str, text: &str) -> Option<(String, bool)> {
        let approve = match text
            .trim()
            .trim_start_matches('/')
            .to_ascii_lowercase()
            .as_str()
        {
            "approve" => true,
            "deny" => false,
            _ => return None,
        };
        let approvals = self
            .approvals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        approvals
            .iter()
            .find(|(_, asked)| asked.chat == chat && asked.thread == thread)
            .map(|(id, _)| (id.clone(), approve))
    }

    /// A stranger's message: never to the model; one pairing reply per rate window.
    async fn refuse_stranger(&self, message: &InboxMessage, to: &ChatRef, sender_name: &str) {
        self.offer_pairing(message, to, sender_name).await;
        // Marked last, so `refused` means the stranger's one reply (if due) went out.
        self.set_state(message.id, "refused").await;
    }

    async fn offer_pairing(&self, message: &InboxMessage, to: &ChatRef, sender_name: &str) {
        let (name, sender, chat) = (
            self.channel.name().to_string(),
            message.sender.clone(),
            message.chat.clone(),
        );
        let display = sender_name.to_string();
        let fresh = match pairing::new_code() {
            Ok(code) => code,
            Err(err) => {
                tracing::error!("{}: cannot make a pairing code: {err}", self.name());
                return;
            }
        };
        let (ttl, rate) = (
            self.settings.pairing_ttl.as_secs() as i64,
            self.settings.pairing_rate_limit.as_secs() as i64,
        );
        let offer = self
            .with_store(move |store| {
                store.pairing_offer(
                    &name,
                    &sender,
                    &chat,
                    &display,
                    &fresh,
                    pairing::unix_now(),
                    ttl,
                    rate,
                )
            })
            .await;
        match offer {
            Ok(hearth_store::PairingOffer::Send { code }) => {
                self.reply_logged(
                    to,
                    None,
                    &pairing::message(&code, self.settings.pairing_ttl),
                )
                .await;
            }
            Ok(hearth_store::PairingOffer::Quiet) => {}
            Err(err) => tracing::error!("{}: cannot record a pairing code: {err}", self.name()),
        }
    }

    async fn handle_text(self: &Arc<Self>, message: &InboxMessage, to: &ChatRef, text: &str) {
        let inbox = Some(message.id);
        if is_command(text, "/new") {
            let reply = match self.new_session(to).await {
                Ok(_) => "Started a new session.".to_string(),
                Err(err) => format!("Could not start a new session: {err}"),
            };
            return self.reply_logged(to, inbox, &reply).await;
        }
        if is_command(text, "/stop") {
            let running = match self.session_of(to).await {
                Ok(Some(session)) => self.runner.cancel(&session).await,
                _ => false,
            };
            let reply = if running {
                "Stopped."
            } else {
                "Nothing is running."
            };
            return self.reply_logged(to, inbox, reply).await;
        }
        if is_command(text, "/start") {
            return self
                .reply_logged(to, inbox, "Hello. Send a message to talk to the agent; /new starts a fresh session, /stop cancels a running turn.")
                .await;
        }
        if text.trim().is_empty() {
            return self.set_state(message.id, "answered").await;
        }
        let session = match self.session_of(to).await {
            Ok(Some(session)) => session,
            Ok(None) => match self.new_session(to).await {
                Ok(session) => session,
                Err(err) => {
                    return self
                        .reply_logged(to, inbox, &format!("Could not start a session: {err}"))
                        .await
                }
            },
            Err(err) => {
                return self
                    .reply_logged(to, inbox, &format!("Could not find the session: {err}"))
                    .await
            }
        };
        self.set_state(message.id, "started").await;
        let mut events = match self.runner.start_turn(&session, text).await {
            Ok(events) => events,
            Err(StartError::Busy) => {
                return self
                    .reply_logged(to, inbox, &StartError::Busy.to_string())
                    .await;
            }
            Err(err) => {
                return self
                    .reply_logged(to, inbox, &format!("The turn could not start: {err}"))
                    .await
            }
        };
        let typing = self.keep_typing(to.clone());
        let mut answer = None;
        let mut interrupted = false;
        while let Some(event) = events.recv().await {
            match event {
                RunnerEvent::ApprovalRequested {
                    id,
                    command,
                    reason,
                } => {
                    self.ask_approval(to, &id, &command, &reason).await;
                }
                RunnerEvent::Final { text } => answer = Some(text),
                RunnerEvent::Error { message } => {
                    answer = Some(format!("The turn failed: {message}"))
                }
                RunnerEvent::Interrupted => interrupted = true,
            }
        }
        typing.cancel();
        if interrupted || (answer.is_none() && self.shutdown.is_cancelled()) {
            // Cut short by shutdown: left `started`, so the next start runs it again.
            return;
        }
        let answer = answer.unwrap_or_default();
        self.reply_logged(to, inbox, &answer).await;
    }

    /// [`reply`](Self::reply) where a failure is only logged (and recorded).
    async fn reply_logged(&self, to: &ChatRef, inbox: Option<i64>, text: &str) {
        if let Err(err) = self.reply(to, inbox, text).await {
            tracing::debug!("{}: {err}", self.name());
        }
    }

    /// Whether the agent may write to `chat` unasked: the chat of an allowed or
    /// admitted sender (a private chat's id is the user's), or a chat with a session.
    pub async fn may_send_to(&self, chat: &str) -> bool {
        if self.is_admitted(chat).await {
            return true;
        }
        let to = ChatRef {
            chat: chat.to_string(),
            thread: String::new(),
        };
        matches!(self.session_of(&to).await, Ok(Some(_)))
    }

    /// Sends `text` to `chat` without an incoming message (queued, retried, recorded);
    /// the caller checked [`may_send_to`](Self::may_send_to). How many messages it took.
    pub async fn send_to(&self, chat: &str, text: &str) -> Result<usize, String> {
        let to = ChatRef {
            chat: chat.to_string(),
            thread: String::new(),
        };
        self.reply(&to, None, text).await
    }

    async fn is_admitted(&self, sender: &str) -> bool {
        if self
            .settings
            .allowed_users
            .iter()
            .any(|allowed| allowed == sender)
        {
            return true;
        }
        let (name, sender) = (self.channel.name().to_string(), sender.to_string());
        self.with_store(move |store| store.is_admitted(&name, &sender))
            .await
            .unwrap_or(false)
    }

    async fn session_of(&self, to: &ChatRef) -> Result<Option<String>, String> {
        let (name, to) = (self.channel.name().to_string(), to.clone());
        self.with_store(move |store| store.channel_session(&name, &to.chat, &to.thread))
            .await
    }

    async fn new_session(&self, to: &ChatRef) -> Result<String, String> {
        let title = format!("{} chat {}", self.channel.name(), to.chat);
        let session = self.runner.create_session(&title).await?;
        let (name, target, id) = (self.channel.name().to_string(), to.clone(), session.clone());
        self.with_store(move |store| {
            store.set_channel_session(&name, &target.chat, &target.thread, &id)
        })
        .await?;
        Ok(session)
    }

    async fn set_state(&self, id: i64, state: &'static str) {
        if let Err(err) = self
            .with_store(move |store| store.set_inbox_state(id, state))
            .await
        {
            tracing::error!("{}: cannot update inbox message {id}: {err}", self.name());
        }
    }

    async fn set_connection(&self, state: &'static str, detail: &str) {
        let (name, detail) = (self.channel.name().to_string(), detail.to_string());
        if let Err(err) = self
            .with_store(move |store| store.set_channel_connection(&name, state, &detail))
            .await
        {
            tracing::error!("{}: cannot record the connection state: {err}", self.name());
        }
    }

    /// Runs `call` on a blocking thread, so SQLite never holds up a worker.
    async fn with_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || call(&store)).await {
            Ok(result) => result.map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        }
    }
}

/// Whether `text` is the command `name` (also Telegram's `/name@bot` form).
fn is_command(text: &str, name: &str) -> bool {
    let word = text.split_whitespace().next().unwrap_or("");
    word == name
        || word
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('@'))
}
