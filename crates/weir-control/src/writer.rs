//! The group-commit writer: one task owns the write side of the store and
//! commits every command queued while the previous commit was flushing in
//! one transaction, each command in its own savepoint. Registrations name
//! what they will read when they queue, and the writer reads all of a
//! group's at once before running it (`StoreTx::prefetch_registrations`):
//! with the store holding their writes back to ride with the next
//! statement, a group of registrations costs PostgreSQL about four round
//! trips whatever its size, instead of two per command.
//!
//! The writer can be paused ([`Writer::pause`]): a process handing its
//! place to a successor (`weir serve --takeover`) must stop writing before
//! the successor starts, so no two writers of one SQLite database (or one
//! node's place in a PostgreSQL registry) ever overlap. A paused writer
//! commits nothing and answers every command "unavailable, nothing
//! written, try again", which a client retries against the successor.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot, watch};
use weir_store::{OwnedRegistrationQuery, RegistrationQuery, Store, StoreTx};

use crate::{ControlError, ControlResult};

/// The most commands committed together; bounds the latency one group adds.
pub const MAX_GROUP: usize = 512;

type Tx = Box<dyn StoreTx>;
type Deliver = Box<dyn FnOnce(ControlResult<()>) + Send>;
type JobFuture = Pin<Box<dyn Future<Output = (Tx, Deliver, bool)> + Send>>;

/// One queued command.
struct Job {
    /// What the command will read, when it is a registration: read for
    /// the whole group at once before any command runs.
    prefetch: Option<OwnedRegistrationQuery>,
    run: Box<dyn FnOnce(Tx) -> JobFuture + Send>,
    /// Answers the caller with the group's error when the command never
    /// ran (the transaction could not begin, or an earlier command's
    /// savepoint failed), so the caller learns why.
    not_run: Box<dyn FnOnce(ControlError) + Send>,
}

/// Whether the writer may commit, and the turn a commit holds.
#[derive(Default)]
struct Gate {
    paused: AtomicBool,
    /// Held by the writer task for each group, from the pause check to the
    /// commit's end: a pause that has taken it once knows no commit is
    /// under way and none will start.
    turn: tokio::sync::Mutex<()>,
}

/// Why a paused writer refused a command.
const PAUSED: &str = "writes are paused while this node hands over to its successor";

/// The sending side: queues commands for the writer task.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    revision: watch::Receiver<u64>,
    gate: Arc<Gate>,
}

/// A handle that does not keep the writer running: background tasks hold
/// it, so the writer still ends when the last [`Writer`] goes.
#[derive(Clone)]
pub struct WeakWriter {
    jobs: mpsc::WeakSender<Job>,
    revision: watch::Receiver<u64>,
    gate: Arc<Gate>,
}

impl WeakWriter {
    /// The writer, while it runs.
    pub fn upgrade(&self) -> Option<Writer> {
        Some(Writer {
            jobs: self.jobs.upgrade()?,
            revision: self.revision.clone(),
            gate: self.gate.clone(),
        })
    }
}

impl Writer {
    /// A handle that does not keep the writer running.
    pub fn downgrade(&self) -> WeakWriter {
        WeakWriter {
            jobs: self.jobs.downgrade(),
            revision: self.revision.clone(),
            gate: self.gate.clone(),
        }
    }

    /// Stops committing: returns once no transaction of this writer is
    /// open and none will begin until [`Self::resume`]; meanwhile every
    /// command is answered [`ControlError::StoreUnavailable`] (nothing
    /// written).
    pub async fn pause(&self) {
        self.gate.paused.store(true, Ordering::SeqCst);
        // A group that checked the flag before it was set is committing
        // under the turn; once we hold it, that group is done.
        drop(self.gate.turn.lock().await);
    }

    /// Commits again after [`Self::pause`] (a takeover that did not
    /// happen).
    pub fn resume(&self) {
        self.gate.paused.store(false, Ordering::SeqCst);
    }

    /// Starts the writer task on `store`, publishing each committed revision
    /// (starting from `revision`) on the returned handle's watch channel.
    pub fn spawn(store: Arc<dyn Store>, revision: u64) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_GROUP);
        let (rev_tx, rev_rx) = watch::channel(revision);
        let gate = Arc::new(Gate::default());
        tokio::spawn(run(store, rx, rev_tx, gate.clone()));
        Self {
            jobs,
            revision: rev_rx,
            gate,
        }
    }

    /// The latest committed revision, updated after every commit.
    pub fn revision(&self) -> watch::Receiver<u64> {
        self.revision.clone()
    }

    /// Runs `command` inside the next group transaction and returns its
    /// result once that transaction has committed. A command that returns
    /// an error leaves no trace: its savepoint is rolled back.
    pub async fn write<T, F, Fut>(&self, command: F) -> ControlResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Tx) -> Fut + Send + 'static,
        Fut: Future<Output = (Tx, ControlResult<T>)> + Send + 'static,
    {
        self.write_reading_ahead(None, command).await
    }

    /// [`Self::write`] for a registration that will ask
    /// `registration_reads` for `prefetch`: the writer reads it together
    /// with the rest of the group's ([`StoreTx::prefetch_registrations`]).
    pub async fn write_reading_ahead<T, F, Fut>(
        &self,
        prefetch: Option<OwnedRegistrationQuery>,
        command: F,
    ) -> ControlResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Tx) -> Fut + Send + 'static,
        Fut: Future<Output = (Tx, ControlResult<T>)> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        // Whichever of the two paths answers takes the sender.
        let reply = Arc::new(Mutex::new(Some(reply)));
        let unanswered = reply.clone();
        let job = Job {
            prefetch,
            run: Box::new(move |tx| {
                Box::pin(async move {
                    let (tx, result) = command(tx).await;
                    let ok = result.is_ok();
                    let deliver: Deliver = Box::new(move |committed| {
                        // The caller may have gone away; its answer is moot then.
                        if let Some(reply) = take(&reply) {
                            let _ = reply.send(committed.and(result));
                        }
                    });
                    (tx, deliver, ok)
                })
            }),
            not_run: Box::new(move |error| {
                if let Some(reply) = take(&unanswered) {
                    let _ = reply.send(Err(error));
                }
            }),
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| ControlError::Unavailable)?;
        answer.await.map_err(|_| ControlError::Unavailable)?
    }
}

/// The sender, if neither path has answered yet (a poisoned lock only means
/// a panicking command, whose group is already lost).
fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

async fn run(
    store: Arc<dyn Store>,
    mut jobs: mpsc::Receiver<Job>,
    revision: watch::Sender<u64>,
    gate: Arc<Gate>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while jobs.recv_many(&mut group, MAX_GROUP).await > 0 {
        let _turn = gate.turn.lock().await;
        if gate.paused.load(Ordering::SeqCst) {
            let error = ControlError::StoreUnavailable(PAUSED.to_owned());
            for job in group.drain(..) {
                (job.not_run)(error.clone());
            }
            continue;
        }
        let tx = match store.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                // Jobs that never ran still owe their callers an answer.
                let error = ControlError::from(e);
                tracing::error!(error = %error, commands = group.len(), "a write transaction could not begin");
                for job in group.drain(..) {
                    (job.not_run)(error.clone());
                }
                continue;
            }
        };
        // Commands queued while the transaction began join it: on a
        // registry shared by several nodes that is while another node
        // held the writer lock, so a group grows with the wait instead of
        // each command paying its own turn at the lock.
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // Each group runs in a task of its own so that a panic in one
        // command rolls back its group (the transaction is dropped, the
        // callers see Unavailable) instead of ending every later write.
        let mut batch = std::mem::replace(&mut group, Vec::with_capacity(MAX_GROUP));
        let ran = tokio::spawn(async move {
            let mut deliveries = Vec::with_capacity(batch.len());
            let outcome = commit_group(tx, &mut batch, &mut deliveries).await;
            (outcome, deliveries)
        })
        .await;
        let Ok((outcome, deliveries)) = ran else {
            tracing::error!("a command panicked; its group was rolled back");
            continue;
        };
        if let Ok(rev) = &outcome {
            revision.send_replace(*rev);
        } else if let Err(e) = &outcome {
            tracing::error!(error = %e, commands = deliveries.len(), "group commit failed");
        }
        let committed = outcome.map(drop);
        for deliver in deliveries {
            deliver(committed.clone());
        }
    }
}

/// Runs and commits one group in `tx`; on any store failure the whole
/// group fails and nothing of it is written.
async fn commit_group(
    mut tx: Tx,
    group: &mut Vec<Job>,
    deliveries: &mut Vec<Deliver>,
) -> ControlResult<u64> {
    let queries: Vec<RegistrationQuery<'_>> = group
        .iter()
        .filter_map(|job| job.prefetch.as_ref().map(OwnedRegistrationQuery::query))
        .collect();
    if !queries.is_empty() {
        if let Err(e) = tx.prefetch_registrations(&queries).await {
            let error = ControlError::from(e);
            for job in group.drain(..) {
                (job.not_run)(error.clone());
            }
            return Err(error);
        }
    }
    drop(queries);
    let mut failure: Option<ControlError> = None;
    for job in group.drain(..) {
        if let Some(error) = &failure {
            (job.not_run)(error.clone());
            continue;
        }
        if let Err(e) = tx.savepoint().await {
            let error = ControlError::from(e);
            (job.not_run)(error.clone());
            failure = Some(error);
            continue;
        }
        let (back, deliver, ok) = (job.run)(tx).await;
        tx = back;
        deliveries.push(deliver);
        let settled = if ok {
            tx.release_savepoint().await
        } else {
            tx.rollback_to_savepoint().await
        };
        if let Err(e) = settled {
            failure = Some(e.into());
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let rev = tx.revision_to_commit().await?;
    tx.commit().await?;
    Ok(rev)
}
