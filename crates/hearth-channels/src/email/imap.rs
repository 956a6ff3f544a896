//! Reading the mailbox: one IMAP connection kept open (reconnected after any error),
//! new mail found by UID past the cursor (or, with no cursor or a new UIDVALIDITY, the
//! unseen mail), fetched with `BODY.PEEK[]` (nothing is flagged by reading), then IDLE
//! or a pause until more arrives. Mail handed out is flagged `\Seen` when a cursor past
//! it comes back: the router stored it first.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_imap::types::Fetch;
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::net::TcpStream;

use super::stream::{self, ImapStream};
use super::{parse, EmailSettings, EmailTls, ThreadHeaders};
use crate::channel::{Batch, ChannelError, FetchError};

/// At most this many mails per batch.
const BATCH: usize = 25;
/// The longest any one exchange with the server may take (IDLE aside).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// What one receive gives: the batch and the thread headers learnt from it.
pub(super) type Received = (Batch, Vec<(String, ThreadHeaders)>);

struct Connection {
    session: Session<ImapStream>,
    uid_validity: u32,
    uid_next: Option<u32>,
    idle: bool,
    /// Unseen mail at or below the cursor (handed out before a crash) flagged already.
    caught_up: bool,
}

/// The IMAP side of the email channel.
pub(super) struct ImapReader {
    settings: EmailSettings,
    connection: tokio::sync::Mutex<Option<Connection>>,
    /// (UIDVALIDITY, UID) of mail handed out and not yet flagged `\Seen`.
    unacknowledged: Mutex<Vec<(u32, u32)>>,
}

fn imap_error(what: &str, err: impl std::fmt::Display) -> ChannelError {
    ChannelError::retryable(format!("imap {what}: {err}"))
}

/// `fut`, or a retryable error once `EXCHANGE_TIMEOUT` passed.
async fn within<T>(
    what: &str,
    fut: impl Future<Output = Result<T, ChannelError>>,
) -> Result<T, ChannelError> {
    tokio::time::timeout(EXCHANGE_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(imap_error(what, "the server did not answer in time")))
}

/// `UIDVALIDITY:UID`.
fn parse_cursor(cursor: &str) -> Option<(u32, u32)> {
    let (validity, uid) = cursor.split_once(':')?;
    Some((validity.parse().ok()?, uid.parse().ok()?))
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl ImapReader {
    pub(super) fn new(settings: EmailSettings) -> Self {
        Self {
            settings,
            connection: tokio::sync::Mutex::new(None),
            unacknowledged: Mutex::new(Vec::new()),
        }
    }

    /// Flags what `cursor` covers, then returns new mail, waiting (IDLE or a pause)
    /// once if there is none. Any error drops the connection.
    pub(super) async fn receive(&self, cursor: Option<&str>) -> Result<Received, ChannelError> {
        let cursor = cursor.and_then(parse_cursor);
        let mut connection = self.connection.lock().await;
        let result = self.receive_on(&mut connection, cursor).await;
        if result.is_err() {
            *connection = None;
        }
        result
    }

    async fn receive_on(
        &self,
        slot: &mut Option<Connection>,
        cursor: Option<(u32, u32)>,
    ) -> Result<Received, ChannelError> {
        if slot.is_none() {
            *slot = Some(within("connect", self.connect()).await?);
        }
        for round in 0..2 {
            let connection = slot
                .as_mut()
                .ok_or_else(|| imap_error("session", "not connected"))?;
            if round == 0 {
                within("store", self.acknowledge(connection, cursor)).await?;
            }
            let (uids, next) = within("search", new_uids(connection, cursor)).await?;
            if !uids.is_empty() || next.is_some() {
                let validity = connection.uid_validity;
                let fetched = within("fetch", self.fetch_batch(connection, &uids)).await?;
                self.unacknowledged
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(uids.iter().map(|uid| (validity, *uid)));
                let mut items = Vec::new();
                let mut threads = Vec::new();
                for (received, thread, headers) in fetched {
                    threads.push((thread, headers));
                    items.push(received);
                }
                return Ok((
                    Batch {
                        items,
                        cursor: next,
                    },
                    threads,
                ));
            }
            if round == 0 {
                self.wait(slot).await?;
            }
        }
        Ok((Batch::default(), Vec::new()))
    }

    async fn connect(&self) -> Result<Connection, ChannelError> {
        let settings = &self.settings;
        let host = settings.imap_host.as_str();
        let tcp = TcpStream::connect((host, settings.imap_port))
            .await
            .map_err(|err| imap_error("connect", err))?;
        let stream = match settings.tls {
            EmailTls::Tls => stream::tls(tcp, host)
                .await
                .map_err(|err| imap_error("tls", err))?,
            EmailTls::StartTls | EmailTls::None => ImapStream::Plain(tcp),
        };
        let mut client = Client::new(stream);
        client
            .read_response()
            .await
            .map_err(|err| imap_error("greeting", err))?
            .ok_or_else(|| imap_error("greeting", "the server closed the connection"))?;
        if settings.tls == EmailTls::StartTls {
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|err| imap_error("starttls", err))?;
            let ImapStream::Plain(tcp) = client.into_inner() else {
                return Err(imap_error(
                    "starttls",
                    "the connection is already encrypted",
                ));
            };
            let upgraded = stream::tls(tcp, host)
                .await
                .map_err(|err| imap_error("tls", err))?;
            client = Client::new(upgraded);
        }
        let mut session = client
            .login(&settings.username, &settings.password)
            .await
            .map_err(|(err, _)| imap_error("login", err))?;
        let idle = session
            .capabilities()
            .await
            .map_err(|err| imap_error("capability", err))?
            .has_str("IDLE");
        let mailbox = session
            .select(&settings.mailbox)
            .await
            .map_err(|err| imap_error("select", err))?;
        Ok(Connection {
            session,
            uid_validity: mailbox.uid_validity.unwrap_or(0),
            uid_next: mailbox.uid_next,
            idle,
            caught_up: false,
        })
    }

    /// Flags `\Seen` the mail handed out at or below `cursor` (the router stored it).
    async fn acknowledge(
        &self,
        connection: &mut Connection,
        cursor: Option<(u32, u32)>,
    ) -> Result<(), ChannelError> {
        let Some((validity, last)) = cursor else {
            return Ok(());
        };
        if validity != connection.uid_validity {
            return Ok(());
        }
        let mut due: Vec<u32> = {
            let mut pending = self
                .unacknowledged
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (due, keep): (Vec<_>, Vec<_>) = pending
                .drain(..)
                .partition(|(v, uid)| *v == validity && *uid <= last);
            *pending = keep;
            due.into_iter().map(|(_, uid)| uid).collect()
        };
        if !connection.caught_up && last > 0 {
            // Taken before a restart or a lost connection, never flagged.
            let stale = connection
                .session
                .uid_search(format!("UNSEEN UID 1:{last}"))
                .await
                .map_err(|err| imap_error("search", err))?;
            due.extend(stale);
            connection.caught_up = true;
        }
        if due.is_empty() {
            return Ok(());
        }
        due.sort_unstable();
        due.dedup();
        let updates = connection
            .session
            .uid_store(uid_set(&due), "+FLAGS.SILENT (\\Seen)")
            .await
            .map_err(|err| imap_error("store", err))?;
        let _: Vec<Fetch> = updates
            .try_collect()
            .await
            .map_err(|err| imap_error("store", err))?;
        Ok(())
    }

    /// Fetches and parses `uids`: whole when small enough, headers only otherwise.
    async fn fetch_batch(
        &self,
        connection: &mut Connection,
        uids: &[u32],
    ) -> Result<Vec<(crate::Received, String, ThreadHeaders)>, ChannelError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let session = &mut connection.session;
        let validity = connection.uid_validity;
        let sizes: Vec<Fetch> = session
            .uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
            .await
            .map_err(|err| imap_error("fetch", err))?
            .try_collect()
            .await
            .map_err(|err| imap_error("fetch", err))?;
        let sizes: HashMap<u32, u64> = sizes
            .iter()
            .filter_map(|fetch| Some((fetch.uid?, u64::from(fetch.size.unwrap_or(0)))))
            .collect();
        let limit = self.settings.max_message_bytes;
        let (small, large): (Vec<u32>, Vec<u32>) = uids
            .iter()
            .filter(|uid| sizes.contains_key(uid))
            .partition(|uid| sizes[uid] <= limit);
        let mut parsed = Vec::new();
        for (set, query, whole) in [
            (small, "(UID BODY.PEEK[])", true),
            (large, "(UID BODY.PEEK[HEADER])", false),
        ] {
            if set.is_empty() {
                continue;
            }
            let fetches: Vec<Fetch> = session
                .uid_fetch(uid_set(&set), query)
                .await
                .map_err(|err| imap_error("fetch", err))?
                .try_collect()
                .await
                .map_err(|err| imap_error("fetch", err))?;
            for fetch in &fetches {
                let Some(uid) = fetch.uid else { continue };
                let raw = if whole { fetch.body() } else { fetch.header() };
                let Some(raw) = raw else { continue };
                let cut = (!whole).then(|| sizes.get(&uid).copied().unwrap_or(0));
                let mail = parse::MailRef {
                    uid_validity: validity,
                    uid,
                    truncated_size: cut,
                };
                if let Some(found) = parse::parse_mail(raw, mail, &self.settings) {
                    parsed.push((uid, found));
                }
            }
        }
        parsed.sort_by_key(|(uid, _)| *uid);
        Ok(parsed.into_iter().map(|(_, found)| found).collect())
    }

    /// Waits for new mail: IDLE up to `wait` where the server has it, else a pause.
    async fn wait(&self, slot: &mut Option<Connection>) -> Result<(), ChannelError> {
        let Some(connection) = slot.take() else {
            return Ok(());
        };
        let Connection {
            session,
            uid_validity,
            uid_next,
            idle,
            caught_up,
        } = connection;
        let session = if idle {
            let mut handle = session.idle();
            within("idle", async {
                handle.init().await.map_err(|err| imap_error("idle", err))
            })
            .await?;
            {
                let (woken, _stop) = handle.wait_with_timeout(self.settings.wait);
                woken.await.map_err(|err| imap_error("idle", err))?;
            }
            within("idle", async {
                handle.done().await.map_err(|err| imap_error("idle", err))
            })
            .await?
        } else {
            tokio::time::sleep(self.settings.wait).await;
            let mut session = session;
            within("noop", async {
                session.noop().await.map_err(|err| imap_error("noop", err))
            })
            .await?;
            session
        };
        *slot = Some(Connection {
            session,
            uid_validity,
            uid_next,
            idle,
            caught_up,
        });
        Ok(())
    }

    /// Fetches attachment `handle` (`UIDVALIDITY:UID:INDEX`) on a connection of its own.
    pub(super) async fn fetch_attachment(
        &self,
        handle: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let mut parts = handle.splitn(3, ':');
        let (Some(validity), Some(uid), Some(index)) = (
            parts.next().and_then(|v| v.parse::<u32>().ok()),
            parts.next().and_then(|v| v.parse::<u32>().ok()),
            parts.next().and_then(|v| v.parse::<u32>().ok()),
        ) else {
            return Err(
                ChannelError::fatal(format!("email: bad attachment handle {handle:?}")).into(),
            );
        };
        let mut connection = within("connect", self.connect()).await?;
        if connection.uid_validity != validity {
            return Err(
                ChannelError::fatal("email: the mailbox was reset; the mail is gone").into(),
            );
        }
        let raw = within("fetch", async {
            let fetches: Vec<Fetch> = connection
                .session
                .uid_fetch(uid.to_string(), "(UID RFC822.SIZE BODY.PEEK[])")
                .await
                .map_err(|err| imap_error("fetch", err))?
                .try_collect()
                .await
                .map_err(|err| imap_error("fetch", err))?;
            Ok(fetches
                .into_iter()
                .find(|fetch| fetch.uid == Some(uid))
                .and_then(|fetch| fetch.body().map(<[u8]>::to_vec)))
        })
        .await?;
        let _ = connection.session.logout().await;
        let raw = raw.ok_or_else(|| ChannelError::fatal("email: the mail is gone"))?;
        let bytes = parse::attachment(&raw, index)
            .ok_or_else(|| ChannelError::fatal("email: the attachment is gone"))?;
        let size = bytes.len() as u64;
        if size > max_bytes {
            return Err(FetchError::TooLarge {
                size,
                limit: max_bytes,
            });
        }
        Ok(bytes)
    }
}

/// The UIDs to take next (at most `BATCH`, ascending) and the cursor past them: past
/// the cursor's UID when its UIDVALIDITY holds, else the unseen mail (a first start or
/// a reset mailbox), with a cursor even when there is none.
async fn new_uids(
    connection: &mut Connection,
    cursor: Option<(u32, u32)>,
) -> Result<(Vec<u32>, Option<String>), ChannelError> {
    let validity = connection.uid_validity;
    match cursor {
        Some((cursor_validity, last)) if cursor_validity == validity => {
            let found = connection
                .session
                .uid_search(format!("UID {}:*", last.saturating_add(1)))
                .await
                .map_err(|err| imap_error("search", err))?;
            let mut found: Vec<u32> = found.into_iter().filter(|uid| *uid > last).collect();
            found.sort_unstable();
            found.truncate(BATCH);
            let next = found.last().map(|uid| format!("{validity}:{uid}"));
            Ok((found, next))
        }
        _ => {
            let found = connection
                .session
                .uid_search("UNSEEN")
                .await
                .map_err(|err| imap_error("search", err))?;
            let mut found: Vec<u32> = found.into_iter().collect();
            found.sort_unstable();
            let all = found.len();
            found.truncate(BATCH);
            let taken = found.last().copied().unwrap_or(0);
            let top = if found.len() < all {
                taken
            } else {
                taken.max(connection.uid_next.unwrap_or(1).saturating_sub(1))
            };
            Ok((found, Some(format!("{validity}:{top}"))))
        }
    }
}
