//! One channel's Raft group on this orderer: the ready loop, block proposals on the
//! leader, and applying committed blocks to the block store.
//!
//! The loop runs on its own OS thread (fsync and Raft's bookkeeping are blocking
//! work); HTTP handlers talk to it through its mailbox and read what it publishes
//! in [`ChannelShared`].
//!
//! **What broadcast guarantees.** A broadcast call answers 200 only after the block
//! holding its envelope is committed by Raft (on a quorum's disks) and appended to
//! this node's block store: an acknowledged envelope is never lost, whichever
//! minority of orderers crashes afterwards. When the envelope cannot be ordered
//! for sure (no leader, the leader changed or became unreachable, or the wait timed
//! out) the call answers 503, retryable. Resubmitting the same envelope is always
//! safe: the leader never orders a transaction id twice (it filters ids already in
//! the chain or in flight when it proposes a block), and a node answers a resubmit
//! of an ordered envelope with its block number. So a client that resubmits on 503
//! gets every envelope into the chain exactly once.
//!
//! **How blocks are made.** The leader cuts batches ([`crate::cutter`]) and
//! proposes each as one Raft entry holding an unsigned block whose number and
//! previous hash continue its chain, with a bounded number of blocks in flight. A
//! new leader proposes nothing until it has applied every entry of earlier terms
//! (its term's first entry is applied), so its chain continues the committed one.
//! Every node applies committed entries in order: a block that extends its store is
//! signed by this node and appended (fsynced) before anyone is told; a block it
//! already has (a restart re-applying entries) is skipped after checking its hash;
//! a block that does not chain (proposed by a deposed leader) is skipped by every
//! node alike.
//!
//! **Restart and catch-up.** The block store is the truth of what was applied. The
//! Raft log records an applied index that may lag it (it is written after the
//! block), which only makes a restart re-apply blocks it then skips. Once the
//! Raft log's entries pass the channel's snapshot interval, it is compacted at the
//! applied index; the snapshot carries only the block height and last hash. A node
//! that receives such a snapshot pulls the missing blocks from the other
//! consenters, checking hash chain and orderer signature of each.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use cellchain_core::bytes::Hash32;
use cellchain_core::config::ChannelConfig;
use cellchain_core::crypto::Signer;
use cellchain_core::identity::SerializedIdentity;
use cellchain_core::protocol::{Block, TxId};
use cellchain_storage::{check_next, BlockStore, FileBlockStore, StoreOptions};
use raft::eraftpb::{Entry, EntryType, Message, Snapshot};
use raft::{RawNode, SnapshotStatus, StateRole};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

use crate::admission::{Admitted, ChannelTrust};
use crate::cluster::{self, ConsenterSet, Outgoing, PullRequest, Transport};
use crate::cutter::{BlockCutter, CutRules};
use crate::raft_log::RaftLog;

/// What a broadcast waiter learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The envelope is in block `block`, committed by Raft and stored here.
    Ordered { block: u64 },
    /// Not ordered for sure; resubmitting is safe.
    Retry { reason: String },
}

/// Input to a channel's loop.
pub enum NodeInput {
    /// A Raft message from another consenter.
    Raft(Message),
    /// Admitted envelopes, from a local broadcast or forwarded by a follower.
    Envelopes(Vec<Admitted>),
    /// Outcome of sending a snapshot to raft node `to`.
    SnapshotSent { to: u64, ok: bool },
    /// Stop the loop (shutdown).
    Stop,
}

/// Counters and gauges of a channel, for /metrics and /healthz.
#[derive(Debug, Default)]
pub struct ChannelStatus {
    pub term: AtomicU64,
    /// Raft id of the leader, 0 when there is none.
    pub leader: AtomicU64,
    pub commit_index: AtomicU64,
    pub applied_index: AtomicU64,
    /// 1 when this node is the leader.
    pub is_leader: AtomicU64,
    pub blocks_proposed: AtomicU64,
    pub last_batch_size: AtomicU64,
    pub envelopes_ordered: AtomicU64,
    pub duplicates_dropped: AtomicU64,
    pub snapshots_taken: AtomicU64,
    pub blocks_pulled: AtomicU64,
    /// Unix seconds of the last block appended.
    pub last_block_at: AtomicI64,
}

/// What a channel's loop shares with the HTTP handlers.
pub struct ChannelShared {
    pub channel: String,
    pub node_name: String,
    pub my_id: u64,
    pub trust: Arc<ChannelTrust>,
    pub consenters: Arc<ConsenterSet>,
    pub store: RwLock<FileBlockStore>,
    /// The block height, for deliver streams waiting for new blocks.
    pub height: watch::Sender<u64>,
    pub status: ChannelStatus,
    /// Admission refusals by kind.
    pub rejects: Mutex<BTreeMap<&'static str, u64>>,
    /// Every transaction id in the chain, with its block.
    ordered: Mutex<HashMap<TxId, u64>>,
    waiters: Mutex<HashMap<TxId, Vec<oneshot::Sender<WaitOutcome>>>>,
    mailbox: Mutex<Sender<NodeInput>>,
}

impl ChannelShared {
    /// The block holding `tx_id`, if it is in the chain.
    pub fn ordered_in(&self, tx_id: &TxId) -> Option<u64> {
        self.ordered
            .lock()
            .expect("ordered lock")
            .get(tx_id)
            .copied()
    }

    /// Registers interest in `tx_id` being ordered. Register before routing the
    /// envelope, so the outcome cannot slip past.
    pub fn wait_for(&self, tx_id: TxId) -> oneshot::Receiver<WaitOutcome> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .expect("waiters lock")
            .entry(tx_id)
            .or_default()
            .push(tx);
        rx
    }

    /// Tells the waiters of `tx_id`.
    pub fn resolve(&self, tx_id: &TxId, outcome: WaitOutcome) {
        let waiting = self.waiters.lock().expect("waiters lock").remove(tx_id);
        for w in waiting.into_iter().flatten() {
            let _ = w.send(outcome.clone());
        }
    }

    /// Tells every waiter to retry.
    fn resolve_all_retry(&self, reason: &str) {
        let all: Vec<_> = self.waiters.lock().expect("waiters lock").drain().collect();
        for (_, ws) in all {
            for w in ws {
                let _ = w.send(WaitOutcome::Retry {
                    reason: reason.to_string(),
                });
            }
        }
    }

    /// Forgets the waiters of `tx_id` (a caller that gave up).
    pub fn forget(&self, tx_id: &TxId) {
        let mut w = self.waiters.lock().expect("waiters lock");
        if let Some(list) = w.get_mut(tx_id) {
            list.retain(|s| !s.is_closed());
            if list.is_empty() {
                w.remove(tx_id);
            }
        }
    }

    /// Sends input to the loop; false when it has stopped.
    pub fn send(&self, input: NodeInput) -> bool {
        self.mailbox
            .lock()
            .expect("mailbox lock")
            .send(input)
            .is_ok()
    }

    pub fn leader(&self) -> Option<u64> {
        match self.status.leader.load(Ordering::Relaxed) {
            0 => None,
            id => Some(id),
        }
    }

    pub fn count_reject(&self, kind: &'static str) {
        *self
            .rejects
            .lock()
            .expect("rejects lock")
            .entry(kind)
            .or_default() += 1;
    }

    pub fn block_height(&self) -> u64 {
        *self.height.borrow()
    }
}

/// What a compaction snapshot carries: where the block store stood.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotData {
    height: u64,
    last_hash: Hash32,
}

/// Everything needed to start a channel.
pub struct ChannelSetup {
    pub genesis: Block,
    pub config: ChannelConfig,
    pub trust: Arc<ChannelTrust>,
    pub consenters: Arc<ConsenterSet>,
    pub node_name: String,
    pub my_id: u64,
    pub data_dir: PathBuf,
    pub signer: Arc<dyn Signer>,
    pub identity: SerializedIdentity,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("block store of channel {channel}: {source}")]
    Store {
        channel: String,
        source: cellchain_storage::StoreError,
    },
    #[error("the block store in {dir} holds another channel's genesis block ({found}, expected {expected}); point data_dir elsewhere")]
    WrongGenesis {
        dir: PathBuf,
        found: Hash32,
        expected: Hash32,
    },
    #[error("raft log of channel {channel}: {reason}")]
    RaftLog { channel: String, reason: String },
    #[error("raft of channel {channel}: {reason}")]
    Raft { channel: String, reason: String },
    #[error("channel {channel}: committed block {number} differs from the stored one (stored {stored}, committed {committed}): the ledger has diverged, stop and investigate")]
    Diverged {
        channel: String,
        number: u64,
        stored: Hash32,
        committed: Hash32,
    },
    #[error("channel {channel}: cannot sign block {number}: {reason}")]
    Sign {
        channel: String,
        number: u64,
        reason: String,
    },
}

/// Opens the channel's block store (writing the genesis block into a new one) and
/// its Raft log, and returns the shared state and the loop, ready to run.
pub fn open_channel(
    setup: ChannelSetup,
    transport: Arc<Transport>,
    runtime: tokio::runtime::Handle,
) -> Result<(Arc<ChannelShared>, ChannelLoop), NodeError> {
    let channel = setup.config.channel_id.clone();
    let store_err = |source| NodeError::Store {
        channel: channel.clone(),
        source,
    };
    let dir = setup.data_dir.join(&channel);
    let blocks_dir = dir.join("blocks");
    let (mut store, report) =
        FileBlockStore::open(&blocks_dir, StoreOptions::default()).map_err(store_err)?;
    if report.truncated_bytes() > 0 {
        tracing::warn!(%channel, bytes = report.truncated_bytes(), "cut a torn block record left by a crash");
    }
    if store.height() == 0 {
        store.append(&setup.genesis).map_err(store_err)?;
        tracing::info!(%channel, "block store created with the genesis block");
    } else {
        let stored = store
            .get(0)
            .map_err(store_err)?
            .expect("height > 0 has block 0");
        if stored.hash() != setup.genesis.hash() {
            return Err(NodeError::WrongGenesis {
                dir: blocks_dir,
                found: stored.hash(),
                expected: setup.genesis.hash(),
            });
        }
    }
    // Every transaction id in the chain, for duplicate detection.
    let mut ordered = HashMap::new();
    for block in store.iter_from(1) {
        let block = block.map_err(store_err)?;
        for e in &block.data.envelopes {
            if let Ok(p) = e.parse_payload() {
                ordered.insert(p.header.tx_id, block.header.number);
            }
        }
    }
    let height = store.height();
    tracing::info!(%channel, height, transactions = ordered.len(), "block store open");

    let voters: Vec<u64> = setup.consenters.peers.iter().map(|p| p.id).collect();
    let raft_log = RaftLog::open(&dir.join("raft"), &voters).map_err(|e| NodeError::RaftLog {
        channel: channel.clone(),
        reason: e.to_string(),
    })?;
    let snapshot_index = raft_log.snapshot_now().get_metadata().index;
    let applied = raft_log.applied().max(snapshot_index);
    let rc = &setup.config.orderer.raft;
    let config = raft::Config {
        id: setup.my_id,
        election_tick: rc.election_tick as usize,
        heartbeat_tick: rc.heartbeat_tick as usize,
        applied,
        pre_vote: true,
        check_quorum: true,
        max_size_per_msg: 8 * 1024 * 1024,
        max_inflight_msgs: 256,
        ..Default::default()
    };
    let raft_err = |e: raft::Error| NodeError::Raft {
        channel: channel.clone(),
        reason: e.to_string(),
    };
    config.validate().map_err(raft_err)?;
    let logger = slog::Logger::root(
        TracingDrain,
        slog::o!("channel" => channel.clone(), "node" => setup.node_name.clone()),
    );
    let raw = RawNode::new(&config, raft_log, &logger).map_err(raft_err)?;

    let (tx, rx) = std::sync::mpsc::channel();
    let (height_tx, _) = watch::channel(height);
    let shared = Arc::new(ChannelShared {
        channel: channel.clone(),
        node_name: setup.node_name.clone(),
        my_id: setup.my_id,
        trust: setup.trust.clone(),
        consenters: setup.consenters.clone(),
        store: RwLock::new(store),
        height: height_tx,
        status: ChannelStatus::default(),
        rejects: Mutex::new(BTreeMap::new()),
        ordered: Mutex::new(ordered),
        waiters: Mutex::new(HashMap::new()),
        mailbox: Mutex::new(tx),
    });
    shared
        .status
        .applied_index
        .store(applied, Ordering::Relaxed);
    let batch = &setup.config.orderer.batch;
    let node = ChannelLoop {
        shared: shared.clone(),
        raw,
        inbox: rx,
        transport,
        runtime,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client"),
        signer: setup.signer,
        identity: setup.identity,
        cutter: BlockCutter::new(CutRules::from(batch)),
        cut_queue: VecDeque::new(),
        leader: None,
        max_inflight: (rc.max_inflight_blocks as usize).max(1),
        snapshot_interval: rc.snapshot_interval_size.0.max(1),
        tick: Duration::from_millis(rc.tick_interval.0.max(1)),
        epoch: Instant::now(),
        dir,
    };
    Ok((shared, node))
}

/// The leader's bookkeeping, dropped when it steps down.
struct LeaderState {
    /// Index of this term's first entry: nothing is proposed before it is applied.
    term_start: u64,
    /// Number and previous hash of the next block to propose, once known.
    next: Option<(u64, Hash32)>,
    /// Blocks proposed and not yet applied, by number, with their tx ids.
    inflight: BTreeMap<u64, Vec<TxId>>,
    inflight_txs: HashSet<TxId>,
}

/// A channel's Raft loop. Run it with [`ChannelLoop::run`] on its own thread.
pub struct ChannelLoop {
    shared: Arc<ChannelShared>,
    raw: RawNode<RaftLog>,
    inbox: Receiver<NodeInput>,
    transport: Arc<Transport>,
    runtime: tokio::runtime::Handle,
    http: reqwest::Client,
    signer: Arc<dyn Signer>,
    identity: SerializedIdentity,
    cutter: BlockCutter<Admitted>,
    /// Batches cut and not yet proposed.
    cut_queue: VecDeque<Vec<Admitted>>,
    leader: Option<LeaderState>,
    max_inflight: usize,
    snapshot_interval: u64,
    tick: Duration,
    epoch: Instant,
    dir: PathBuf,
}

impl ChannelLoop {
    /// Runs until [`NodeInput::Stop`] or a fatal error (a failed fsync, a diverged
    /// ledger): the caller must then stop the process, whose restart recovers.
    pub fn run(mut self) -> Result<(), NodeError> {
        let span = tracing::info_span!("channel", channel = %self.shared.channel, node = %self.shared.node_name);
        let _guard = span.enter();
        tracing::info!(id = self.shared.my_id, dir = %self.dir.display(), "raft node started");
        let mut next_tick = Instant::now() + self.tick;
        loop {
            let now = Instant::now();
            let mut wake = next_tick;
            if let Some(d) = self.cutter.deadline_ms() {
                wake = wake.min(self.epoch + Duration::from_millis(d));
            }
            match self.inbox.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(NodeInput::Stop) => break,
                Ok(input) => self.handle(input)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Take whatever else is waiting, so one ready round covers it all.
            for _ in 0..4096 {
                match self.inbox.try_recv() {
                    Ok(NodeInput::Stop) => return Ok(()),
                    Ok(input) => self.handle(input)?,
                    Err(_) => break,
                }
            }
            if Instant::now() >= next_tick {
                self.raw.tick();
                next_tick += self.tick;
                if next_tick < Instant::now() {
                    next_tick = Instant::now() + self.tick;
                }
            }
            if let Some(batch) = self.cutter.on_timer(self.now_ms()) {
                self.cut_queue.push_back(batch);
            }
            self.propose_batches()?;
            self.on_ready()?;
        }
        tracing::info!("raft node stopped");
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn handle(&mut self, input: NodeInput) -> Result<(), NodeError> {
        match input {
            NodeInput::Raft(m) => {
                if let Err(e) = self.raw.step(m) {
                    tracing::debug!(error = %e, "raft message ignored");
                }
            }
            NodeInput::Envelopes(envelopes) => {
                if self.leader.is_none() {
                    // Leadership moved since the envelope was routed here.
                    for a in &envelopes {
                        self.shared.resolve(
                            &a.tx_id,
                            WaitOutcome::Retry {
                                reason: "this orderer is no longer the leader".into(),
                            },
                        );
                    }
                    return Ok(());
                }
                let now = self.now_ms();
                for a in envelopes {
                    let size = a.size;
                    let batches = self.cutter.ordered(a, size, now);
                    self.cut_queue.extend(batches);
                }
            }
            NodeInput::SnapshotSent { to, ok } => {
                let status = if ok {
                    SnapshotStatus::Finish
                } else {
                    SnapshotStatus::Failure
                };
                self.raw.report_snapshot(to, status);
            }
            NodeInput::Stop => {}
        }
        Ok(())
    }

    /// Proposes cut batches as blocks, once this leader may (see the module doc),
    /// keeping at most `max_inflight` blocks in flight.
    fn propose_batches(&mut self) -> Result<(), NodeError> {
        let applied = self.raw.raft.raft_log.applied;
        let Some(leader) = self.leader.as_mut() else {
            return Ok(());
        };
        if applied < leader.term_start {
            return Ok(());
        }
        while leader.inflight.len() < self.max_inflight {
            let Some(batch) = self.cut_queue.pop_front() else {
                break;
            };
            let (number, previous) = match leader.next {
                Some(n) => n,
                None => {
                    let store = self.shared.store.read().expect("store lock");
                    (store.height(), store.last_hash().unwrap_or(Hash32::ZERO))
                }
            };
            // Never order a transaction id twice: not if it is in the chain, in a
            // block in flight, or earlier in this batch.
            let mut envelopes = Vec::with_capacity(batch.len());
            let mut tx_ids = Vec::with_capacity(batch.len());
            let mut seen = HashSet::new();
            for a in batch {
                let dup = leader.inflight_txs.contains(&a.tx_id) || !seen.insert(a.tx_id);
                if dup {
                    self.shared
                        .status
                        .duplicates_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(block) = self.shared.ordered_in(&a.tx_id) {
                    self.shared
                        .status
                        .duplicates_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    self.shared
                        .resolve(&a.tx_id, WaitOutcome::Ordered { block });
                    continue;
                }
                tx_ids.push(a.tx_id);
                envelopes.push(a.envelope);
            }
            if envelopes.is_empty() {
                continue;
            }
            let block = Block::new(number, previous, envelopes, 0);
            let data = serde_json::to_vec(&block).expect("blocks encode");
            if let Err(e) = self.raw.propose(vec![], data) {
                // Not the leader any more (the step-down clears the rest).
                tracing::warn!(number, error = %e, "block proposal refused");
                for t in &tx_ids {
                    self.shared.resolve(
                        t,
                        WaitOutcome::Retry {
                            reason: format!("the block proposal was refused: {e}"),
                        },
                    );
                }
                break;
            }
            tracing::debug!(number, envelopes = tx_ids.len(), "block proposed");
            self.shared
                .status
                .blocks_proposed
                .fetch_add(1, Ordering::Relaxed);
            self.shared
                .status
                .last_batch_size
                .store(tx_ids.len() as u64, Ordering::Relaxed);
            leader.next = Some((number + 1, block.hash()));
            leader.inflight_txs.extend(tx_ids.iter().copied());
            leader.inflight.insert(number, tx_ids);
        }
        Ok(())
    }

    /// One round of raft-rs's `Ready` handling, in the order its documentation
    /// gives.
    fn on_ready(&mut self) -> Result<(), NodeError> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut ready = self.raw.ready();
        let soft = ready.ss().map(|ss| (ss.leader_id, ss.raft_state));

        // 1. Messages that need nothing persisted first (a leader's appends and
        //    heartbeats) go out now, overlapping the network with our own fsync.
        self.send(ready.take_messages());

        // 2. A snapshot from the leader: this node was too far behind for the log.
        //    Pull the blocks it stands for before recording it.
        if !ready.snapshot().is_empty() {
            self.apply_snapshot(ready.snapshot().clone())?;
        }

        // 3. New entries and the hard state (term, vote, commit), atomically and
        //    durably, before any message that promises them (votes, append acks)
        //    and before applying: a restart never finds applied > committed.
        if !ready.entries().is_empty() || ready.hs().is_some() {
            let hs = ready.hs().cloned();
            self.raw
                .mut_store()
                .persist(ready.entries(), hs.as_ref())
                .map_err(|e| self.raft_log_err(e))?;
        }

        // 4. Messages that may only leave once step 3 is durable.
        self.send(ready.take_persisted_messages());

        // 5. Apply committed entries (raft-rs hands out only persisted ones):
        //    blocks go to the block store, fsynced, before any waiter hears of them.
        self.apply(ready.take_committed_entries())?;

        // Leadership changes are acted on once the round's writes are done.
        if let Some((leader_id, role)) = soft {
            self.on_leadership(leader_id, role);
        }

        // 6. Advance: the commit index learnt in this round is persisted before its
        //    entries are applied, so a restart never finds applied > committed.
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.raw
                .mut_store()
                .set_commit(commit)
                .map_err(|e| self.raft_log_err(e))?;
        }
        self.send(light.take_messages());
        self.apply(light.take_committed_entries())?;
        self.raw.advance_apply();

        let hs = self.raw.raft.hard_state();
        self.shared.status.term.store(hs.term, Ordering::Relaxed);
        self.shared
            .status
            .commit_index
            .store(hs.commit, Ordering::Relaxed);
        self.maybe_compact()?;
        Ok(())
    }

    fn raft_log_err(&self, e: impl std::fmt::Display) -> NodeError {
        NodeError::RaftLog {
            channel: self.shared.channel.clone(),
            reason: e.to_string(),
        }
    }

    fn send(&self, messages: Vec<Message>) {
        for message in messages {
            let Some(peer) = self.shared.consenters.by_id(message.to) else {
                continue;
            };
            let to = message.to;
            let is_snapshot = message.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot;
            let item = Outgoing::Raft {
                channel: self.shared.channel.clone(),
                message,
            };
            if !self.transport.send(&peer.name, item) && is_snapshot {
                // Dropped before it left: tell raft at once.
                self.shared.send(NodeInput::SnapshotSent { to, ok: false });
            }
        }
    }

    fn on_leadership(&mut self, leader_id: u64, role: StateRole) {
        let before = self.shared.status.leader.swap(leader_id, Ordering::Relaxed);
        let term = self.raw.raft.term;
        let leading = role == StateRole::Leader;
        self.shared
            .status
            .is_leader
            .store(leading as u64, Ordering::Relaxed);
        if before != leader_id {
            if leader_id == 0 {
                tracing::warn!(term, "no leader");
            } else {
                let name = self
                    .shared
                    .consenters
                    .by_id(leader_id)
                    .map_or("?", |p| p.name.as_str());
                tracing::info!(
                    term,
                    leader = leader_id,
                    leader_name = name,
                    "leader elected"
                );
            }
            // Envelopes routed to the old leader may or may not be ordered: their
            // callers resubmit, and duplicates are recognised.
            self.shared.resolve_all_retry(&format!(
                "the channel's leader changed (term {term}); resubmit the envelope"
            ));
        }
        if leading && self.leader.is_none() {
            let term_start = self.raw.raft.raft_log.last_index();
            tracing::info!(
                term,
                term_start,
                "this node leads; proposing once earlier entries are applied"
            );
            self.leader = Some(LeaderState {
                term_start,
                next: None,
                inflight: BTreeMap::new(),
                inflight_txs: HashSet::new(),
            });
        } else if !leading && self.leader.is_some() {
            self.leader = None;
            let pending =
                self.cutter.cut().len() + self.cut_queue.drain(..).map(|b| b.len()).sum::<usize>();
            if pending > 0 {
                tracing::warn!(
                    pending,
                    "stepped down: pending envelopes dropped, their callers retry"
                );
            }
        }
    }

    fn apply(&mut self, entries: Vec<Entry>) -> Result<(), NodeError> {
        let Some(last) = entries.last().map(|e| e.index) else {
            return Ok(());
        };
        for entry in entries {
            if entry.get_entry_type() == EntryType::EntryNormal && !entry.data.is_empty() {
                match serde_json::from_slice::<Block>(&entry.data) {
                    Ok(block) => self.apply_block(block)?,
                    Err(e) => {
                        tracing::error!(index = entry.index, error = %e, "committed entry is not a block; skipped")
                    }
                }
            }
        }
        self.raw
            .mut_store()
            .set_applied(last)
            .map_err(|e| self.raft_log_err(e))?;
        self.shared
            .status
            .applied_index
            .store(last, Ordering::Relaxed);
        Ok(())
    }

    fn apply_block(&mut self, mut block: Block) -> Result<(), NodeError> {
        let number = block.header.number;
        let (height, last_hash) = {
            let store = self.shared.store.read().expect("store lock");
            (store.height(), store.last_hash())
        };
        if number < height {
            // Re-applied after a restart: it must be the block we have.
            let stored = self
                .shared
                .store
                .read()
                .expect("store lock")
                .get(number)
                .map_err(|source| NodeError::Store {
                    channel: self.shared.channel.clone(),
                    source,
                })?
                .expect("below height");
            if stored.hash() != block.hash() {
                return Err(NodeError::Diverged {
                    channel: self.shared.channel.clone(),
                    number,
                    stored: stored.hash(),
                    committed: block.hash(),
                });
            }
            return Ok(());
        }
        if let Err(e) = check_next(height, last_hash, &block) {
            // Proposed by a deposed leader on a chain that did not survive. Every
            // node skips it alike; its envelopes' callers resubmit.
            tracing::warn!(number, reason = %e, "committed block does not extend the chain; skipped");
            for e in &block.data.envelopes {
                if let Ok(p) = e.parse_payload() {
                    self.shared.resolve(
                        &p.header.tx_id,
                        WaitOutcome::Retry {
                            reason: "the block holding the envelope was superseded".into(),
                        },
                    );
                }
            }
            if let Some(l) = self.leader.as_mut() {
                l.next = None;
                l.inflight.clear();
                l.inflight_txs.clear();
            }
            return Ok(());
        }
        block.metadata.signatures.clear();
        block
            .sign(self.identity.clone(), self.signer.as_ref())
            .map_err(|e| NodeError::Sign {
                channel: self.shared.channel.clone(),
                number,
                reason: e.to_string(),
            })?;
        self.append(&block)?;
        if let Some(l) = self.leader.as_mut() {
            if let Some(txs) = l.inflight.remove(&number) {
                for t in txs {
                    l.inflight_txs.remove(&t);
                }
            }
        }
        Ok(())
    }

    /// Appends a checked, signed block and tells everyone who waits for it.
    fn append(&self, block: &Block) -> Result<(), NodeError> {
        let number = block.header.number;
        self.shared
            .store
            .write()
            .expect("store lock")
            .append(block)
            .map_err(|source| NodeError::Store {
                channel: self.shared.channel.clone(),
                source,
            })?;
        let mut tx_ids = Vec::with_capacity(block.data.envelopes.len());
        for e in &block.data.envelopes {
            if let Ok(p) = e.parse_payload() {
                tx_ids.push(p.header.tx_id);
            }
        }
        {
            let mut ordered = self.shared.ordered.lock().expect("ordered lock");
            for t in &tx_ids {
                ordered.insert(*t, number);
            }
        }
        for t in &tx_ids {
            self.shared
                .resolve(t, WaitOutcome::Ordered { block: number });
        }
        let status = &self.shared.status;
        status
            .envelopes_ordered
            .fetch_add(tx_ids.len() as u64, Ordering::Relaxed);
        status
            .last_block_at
            .store(cluster::now_ms() as i64 / 1000, Ordering::Relaxed);
        self.shared.height.send_replace(number + 1);
        tracing::debug!(number, envelopes = tx_ids.len(), "block appended");
        Ok(())
    }

    /// Compacts the Raft log at the applied index once its entries pass the
    /// channel's snapshot interval: those blocks are durable in the block store.
    fn maybe_compact(&mut self) -> Result<(), NodeError> {
        if self.raw.store().entries_bytes() < self.snapshot_interval {
            return Ok(());
        }
        let applied = self.raw.raft.raft_log.applied;
        let (height, last_hash) = {
            let store = self.shared.store.read().expect("store lock");
            (store.height(), store.last_hash().unwrap_or(Hash32::ZERO))
        };
        let data = serde_json::to_vec(&SnapshotData { height, last_hash }).expect("encodes");
        self.raw
            .mut_store()
            .compact(applied, data)
            .map_err(|e| self.raft_log_err(e))?;
        self.shared
            .status
            .snapshots_taken
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(applied, height, "raft log compacted");
        Ok(())
    }

    /// A snapshot from the leader: pull the blocks up to its height from the
    /// other consenters, then record it in the Raft log.
    fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<(), NodeError> {
        let meta = snapshot.get_metadata();
        let data: SnapshotData = match serde_json::from_slice(&snapshot.data) {
            Ok(d) => d,
            Err(e) => {
                return Err(NodeError::Raft {
                    channel: self.shared.channel.clone(),
                    reason: format!("snapshot at index {} is malformed: {e}", meta.index),
                })
            }
        };
        tracing::info!(
            index = meta.index,
            height = data.height,
            "snapshot received; catching up by pulling blocks"
        );
        self.catch_up(data.height)?;
        let index = meta.index;
        self.raw
            .mut_store()
            .apply_snapshot(snapshot)
            .map_err(|e| self.raft_log_err(e))?;
        self.raw
            .mut_store()
            .set_applied(index)
            .map_err(|e| self.raft_log_err(e))?;
        self.shared
            .status
            .applied_index
            .store(index, Ordering::Relaxed);
        Ok(())
    }

    /// Pulls blocks until the store reaches `target`, trying each other consenter
    /// in turn, checking each block's chain link, data hash and orderer signature.
    /// Keeps trying (with a pause) while no consenter can serve them.
    fn catch_up(&mut self, target: u64) -> Result<(), NodeError> {
        let peers: Vec<_> = self
            .shared
            .consenters
            .peers
            .iter()
            .filter(|p| p.id != self.shared.my_id)
            .cloned()
            .collect();
        let mut round = 0u32;
        loop {
            let height = self.shared.block_height();
            if height >= target {
                return Ok(());
            }
            let mut progressed = false;
            for peer in &peers {
                let height = self.shared.block_height();
                if height >= target {
                    return Ok(());
                }
                let request = PullRequest {
                    from_node: self.shared.node_name.clone(),
                    channel: self.shared.channel.clone(),
                    from: height,
                    to: target.min(height + 200),
                    sent_at_ms: cluster::now_ms(),
                };
                let pulled = self.runtime.block_on(cluster::pull_blocks(
                    &self.http,
                    &peer.endpoint,
                    &request,
                    self.signer.as_ref(),
                ));
                match pulled {
                    Ok(blocks) => {
                        for mut block in blocks {
                            if let Err(reason) = self.check_pulled(&block) {
                                tracing::warn!(peer = %peer.name, number = block.header.number, %reason, "pulled block refused");
                                break;
                            }
                            block.metadata.signatures.clear();
                            block
                                .sign(self.identity.clone(), self.signer.as_ref())
                                .map_err(|e| NodeError::Sign {
                                    channel: self.shared.channel.clone(),
                                    number: block.header.number,
                                    reason: e.to_string(),
                                })?;
                            self.append(&block)?;
                            self.shared
                                .status
                                .blocks_pulled
                                .fetch_add(1, Ordering::Relaxed);
                            progressed = true;
                        }
                        tracing::info!(peer = %peer.name, height = self.shared.block_height(), target, "catching up");
                    }
                    Err(reason) => {
                        tracing::warn!(peer = %peer.name, %reason, "cannot pull blocks")
                    }
                }
            }
            if !progressed {
                round += 1;
                std::thread::sleep(Duration::from_millis(200 * round.min(10) as u64));
            }
        }
    }

    /// A pulled block must extend our chain and carry a valid signature of one of
    /// the channel's consenters.
    fn check_pulled(&self, block: &Block) -> Result<(), String> {
        let (height, last) = {
            let store = self.shared.store.read().expect("store lock");
            (store.height(), store.last_hash())
        };
        check_next(height, last, block).map_err(|e| e.to_string())?;
        let message = block.signed_message();
        let provider = self.shared.trust.provider();
        let now = (cluster::now_ms() / 1000) as i64;
        let signed = block.metadata.signatures.iter().any(|s| {
            let Ok(id) = self.shared.trust.msps().validate(&s.signer, now) else {
                return false;
            };
            self.shared.consenters.peers.iter().any(|p| {
                id.public_key.as_bytes() == p.key.as_bytes()
                    && provider.verify(&p.key, &message, &s.signature).is_ok()
            })
        });
        if !signed {
            return Err("no valid consenter signature".into());
        }
        Ok(())
    }
}

/// Forwards raft-rs's slog records to tracing (target `raft`).
struct TracingDrain;

impl slog::Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &slog::Record, values: &slog::OwnedKVList) -> Result<(), slog::Never> {
        let mut kv = KvText(String::new());
        let _ = slog::KV::serialize(&record.kv(), record, &mut kv);
        let _ = slog::KV::serialize(values, record, &mut kv);
        let text = format!("{}{}", record.msg(), kv.0);
        match record.level() {
            slog::Level::Critical | slog::Level::Error => tracing::error!(target: "raft", "{text}"),
            slog::Level::Warning => tracing::warn!(target: "raft", "{text}"),
            slog::Level::Info => tracing::info!(target: "raft", "{text}"),
            slog::Level::Debug => tracing::debug!(target: "raft", "{text}"),
            slog::Level::Trace => tracing::trace!(target: "raft", "{text}"),
        }
        Ok(())
    }
}

struct KvText(String);

impl slog::Serializer for KvText {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments) -> slog::Result {
        let _ = write!(self.0, ", {key}: {val}");
        Ok(())
    }
}

/// The data directory of a channel.
pub fn channel_dir(data_dir: &Path, channel: &str) -> PathBuf {
    data_dir.join(channel)
}
