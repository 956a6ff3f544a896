//! [`AsyncStore`]: the [`Store`] for async callers (the agent loop). One thread owns
//! the calls and acknowledges each on a oneshot, so a durable write (an fsync with
//! `synchronous=FULL`) never blocks a runtime worker, and write-ahead still holds: the
//! caller awaits the acknowledgement before it acts on what was written.
//!
//! Why a thread and not `spawn_blocking` per write: the [`Store`] serialises calls on
//! one connection anyway, so one thread is all the writes can use; the thread keeps
//! them in submission order, and a burst of sessions cannot fill tokio's blocking pool
//! with threads that only wait on the connection's lock (as codex's session recorder).

use std::sync::mpsc;
use std::sync::Arc;

use hearth_protocol::{Message, ToolResult, Usage};
use tokio::sync::oneshot;

use crate::{Checkpoint, NewCheckpoint, ResumeContext, Store, StoreError};

/// One call for the store's thread; it answers on its own oneshot.
type Job = Box<dyn FnOnce(&Store) + Send>;

/// An async handle to a [`Store`]: each call runs on the store's own thread and is
/// awaited. Cheap to clone (every clone feeds the same thread); the thread ends when
/// the last clone is dropped. A call whose future is dropped still completes.
#[derive(Clone)]
pub struct AsyncStore {
    store: Arc<Store>,
    jobs: mpsc::Sender<Job>,
}

impl AsyncStore {
    /// Starts the thread that runs `store`'s calls for async callers. `store` stays
    /// usable synchronously (the CLI's `sessions` commands, the approval records).
    pub fn spawn(store: Arc<Store>) -> Result<AsyncStore, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let owned = Arc::clone(&store);
        std::thread::Builder::new()
            .name("hearth-store".into())
            .spawn(move || {
                for job in queue {
                    job(&owned);
                }
            })
            .map_err(|source| StoreError::StartThread {
                path: store.path().to_path_buf(),
                source,
            })?;
        Ok(AsyncStore { store, jobs })
    }

    /// The synchronous store behind this handle.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// [`Store::append`], awaited: returns once the row is durable.
    pub async fn append(&self, session_id: &str, message: &Message) -> Result<i64, StoreError> {
        let (session_id, message) = (session_id.to_string(), message.clone());
        self.call(move |store| store.append(&session_id, &message))
            .await
    }

    /// [`Store::append_with_usage`], awaited: returns once the row and usage are durable.
    pub async fn append_with_usage(
        &self,
        session_id: &str,
        message: &Message,
        model: &str,
        usage: &Usage,
        cost_usd: f64,
    ) -> Result<i64, StoreError> {
        let (session_id, message, model, usage) = (
            session_id.to_string(),
            message.clone(),
            model.to_string(),
            *usage,
        );
        self.call(move |store| {
            store.append_with_usage(&session_id, &message, &model, &usage, cost_usd)
        })
        .await
    }

    /// [`Store::record_call`], awaited: returns once the ledger row is durable.
    pub async fn record_call(
        &self,
        session_id: &str,
        model: &str,
        usage: &Usage,
        cost_usd: f64,
    ) -> Result<(), StoreError> {
        let (session_id, model, usage) = (session_id.to_string(), model.to_string(), *usage);
        self.call(move |store| store.record_call(&session_id, &model, &usage, cost_usd))
            .await
    }

    /// [`Store::session_cost_usd`], awaited.
    pub async fn session_cost_usd(&self, session_id: &str) -> Result<f64, StoreError> {
        let session_id = session_id.to_string();
        self.call(move |store| store.session_cost_usd(&session_id))
            .await
    }

    /// [`Store::family_cost_usd`], awaited.
    pub async fn family_cost_usd(&self, session_id: &str) -> Result<f64, StoreError> {
        let session_id = session_id.to_string();
        self.call(move |store| store.family_cost_usd(&session_id))
            .await
    }

    /// [`Store::create_child_session`], awaited.
    pub async fn create_child_session(
        &self,
        model: &str,
        workspace: &std::path::Path,
        parent_id: &str,
    ) -> Result<crate::SessionInfo, StoreError> {
        let (model, workspace, parent_id) = (
            model.to_string(),
            workspace.to_path_buf(),
            parent_id.to_string(),
        );
        self.call(move |store| store.create_child_session(&model, &workspace, &parent_id))
            .await
    }

    /// [`Store::today_cost_usd`], awaited.
    pub async fn today_cost_usd(&self) -> Result<f64, StoreError> {
        self.call(|store| store.today_cost_usd()).await
    }

    /// [`Store::messages`], awaited.
    pub async fn messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError> {
        let session_id = session_id.to_string();
        self.call(move |store| store.messages(&session_id)).await
    }

    /// [`Store::resume_context`], awaited.
    pub async fn resume_context(&self, session_id: &str) -> Result<ResumeContext, StoreError> {
        let session_id = session_id.to_string();
        self.call(move |store| store.resume_context(&session_id))
            .await
    }

    /// [`Store::add_checkpoint`], awaited: returns once the checkpoint is durable.
    pub async fn add_checkpoint(
        &self,
        session_id: &str,
        checkpoint: NewCheckpoint,
    ) -> Result<Checkpoint, StoreError> {
        let session_id = session_id.to_string();
        self.call(move |store| store.add_checkpoint(&session_id, &checkpoint))
            .await
    }

    /// [`Store::repair`], awaited.
    pub async fn repair(&self, session_id: &str) -> Result<Vec<ToolResult>, StoreError> {
        let session_id = session_id.to_string();
        self.call(move |store| store.repair(&session_id)).await
    }

    /// Runs `job` on the store's thread and waits (without blocking) for its answer.
    async fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            // The caller may have stopped waiting; the call has happened all the same.
            let _ = reply.send(job(store));
        });
        self.jobs.send(job).map_err(|_| self.thread_stopped())?;
        answer.await.map_err(|_| self.thread_stopped())?
    }

    fn thread_stopped(&self) -> StoreError {
        StoreError::ThreadStopped {
            path: self.store.path().to_path_buf(),
        }
    }
}
