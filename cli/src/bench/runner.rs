//! Load generation and measurement of one round.
//!
//! Workers are tokio tasks; each signs as one identity (the key-value rounds
//! give worker `w` the client user of writing organisation `w mod n`, so the
//! endorsement load of a one-of-any policy spreads over the organisations).
//! The rate controller ([`RoundCtx::gate`]) hands out transaction slots: with
//! `max_in_flight` a slot is a semaphore permit held from the first
//! endorsement request until the commit is seen (or the transaction fails);
//! with `fixed_tps` slot `i` is also not handed out before `start + i / tps`.
//!
//! Each transaction is endorsed ([`Contract::endorse`]) then broadcast
//! ([`Transaction::submit`], which returns once the orderers have ordered
//! it); nobody polls its commit status. ONE task follows the channel's
//! validated block feed ([`Network::block_events`]) from the height at the
//! start of the round and matches every envelope (by its signature, unique per
//! envelope) against the transactions in flight: it records the validation
//! code and the commit time. Latency = commit seen − start of the endorsement.
//!
//! Query rounds evaluate instead: latency is the evaluation's round trip and
//! an answered evaluation counts as committed.
//!
//! [`Transaction::submit`]: cellchain_sdk::Transaction::submit
//! [`Network::block_events`]: cellchain_sdk::Network

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cellchain_sdk::{Contract, Gateway, SdkError};
use serde_json::{json, Value};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;

use super::env::Env;
use super::procstat::ProcWatch;
use super::report::RoundReport;
use super::workload::{Round, Work};

/// How a transaction ended, as the block feed saw it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub valid: bool,
    pub block: u64,
}

/// Keys free for a read-modify-write (a key is in flight at most once).
pub struct KeyPool(Mutex<VecDeque<String>>);

impl KeyPool {
    fn take(&self) -> Option<String> {
        self.0.lock().expect("key pool").pop_front()
    }

    fn put(&self, key: String) {
        self.0.lock().expect("key pool").push_back(key);
    }
}

/// A transaction's claim on the rate controller: released (key returned,
/// permit freed, in-flight count lowered) when dropped.
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    key: Option<(Arc<KeyPool>, String)>,
    in_flight: Arc<AtomicU64>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((pool, key)) = self.key.take() {
            pool.put(key);
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Pending {
    start: Instant,
    _slot: Slot,
    waiter: Option<oneshot::Sender<Outcome>>,
}

/// What the round recorded.
#[derive(Default)]
pub struct Stats {
    pub first_submit: Option<Instant>,
    pub last_commit: Option<Instant>,
    /// (commit time in seconds since the round's start, latency in ms) of
    /// each committed valid transaction (or answered query).
    pub samples: Vec<(f64, f64)>,
    /// Failures by validation code or `endorse: <kind>` / `broadcast: <kind>`.
    pub failed: BTreeMap<String, u64>,
    /// The first message of each failure kind, for the report.
    pub examples: BTreeMap<String, String>,
}

/// The shared state of a running round.
pub struct RoundCtx {
    pub t0: Instant,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub fixed_tps: Option<f64>,
    sem: Arc<Semaphore>,
    next: AtomicU64,
    stopping: AtomicBool,
    pub submitted: AtomicU64,
    pub committed: AtomicU64,
    pub failed: AtomicU64,
    pub in_flight: Arc<AtomicU64>,
    pending: Mutex<HashMap<Vec<u8>, Pending>>,
    pub stats: Mutex<Stats>,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl RoundCtx {
    fn new(round: &Round) -> RoundCtx {
        RoundCtx {
            t0: Instant::now(),
            count: round.tx_count,
            duration: round.duration(),
            fixed_tps: round.rate.fixed_tps,
            sem: Arc::new(Semaphore::new(round.rate.in_flight_bound() as usize)),
            next: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            submitted: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            in_flight: Arc::new(AtomicU64::new(0)),
            pending: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
            tasks: Mutex::new(Vec::new()),
        }
    }

    fn over(&self, i: u64) -> bool {
        self.stopping.load(Ordering::SeqCst)
            || self.count.is_some_and(|c| i >= c)
            || self.duration.is_some_and(|d| self.t0.elapsed() >= d)
    }

    /// The next transaction slot, or `None` once the round has issued all it
    /// should. Counts the transaction as submitted.
    pub async fn gate(&self, key: Option<Arc<KeyPool>>) -> Option<(Slot, Instant, u64)> {
        let permit = self.sem.clone().acquire_owned().await.ok()?;
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        if self.over(i) {
            return None;
        }
        if let Some(tps) = self.fixed_tps {
            let due = self.t0 + Duration::from_secs_f64(i as f64 / tps);
            tokio::time::sleep_until(due.into()).await;
            if self.over(i) {
                return None;
            }
        }
        let key = match key {
            Some(pool) => {
                let k = pool.take()?;
                Some((pool, k))
            }
            None => None,
        };
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.submitted.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        let mut st = self.stats.lock().expect("stats");
        if st.first_submit.is_none() {
            st.first_submit = Some(now);
        }
        Some((
            Slot {
                _permit: Some(permit),
                key,
                in_flight: self.in_flight.clone(),
            },
            now,
            i,
        ))
    }

    pub fn fail(&self, kind: String, message: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut st = self.stats.lock().expect("stats");
        *st.failed.entry(kind.clone()).or_default() += 1;
        st.examples.entry(kind).or_insert(message);
    }

    fn done(&self, start: Instant) {
        let now = Instant::now();
        self.committed.fetch_add(1, Ordering::SeqCst);
        let mut st = self.stats.lock().expect("stats");
        st.samples.push((
            now.duration_since(self.t0).as_secs_f64(),
            now.duration_since(start).as_secs_f64() * 1000.0,
        ));
        st.last_commit = Some(now);
    }

    /// Registers an endorsed transaction before it is broadcast.
    fn register(
        &self,
        signature: Vec<u8>,
        start: Instant,
        slot: Slot,
        waiter: Option<oneshot::Sender<Outcome>>,
    ) {
        self.pending.lock().expect("pending").insert(
            signature,
            Pending {
                start,
                _slot: slot,
                waiter,
            },
        );
    }

    /// Takes a transaction out of the pending set after a failed broadcast;
    /// false when its block was seen meanwhile.
    fn unregister(&self, signature: &[u8]) -> bool {
        self.pending
            .lock()
            .expect("pending")
            .remove(signature)
            .is_some()
    }

    /// Matches a validated block's envelopes against the pending set.
    fn on_block(&self, block: &cellchain_sdk::Block) {
        let mut matched = Vec::new();
        {
            let mut pending = self.pending.lock().expect("pending");
            if pending.is_empty() {
                return;
            }
            for (i, env) in block.data.envelopes.iter().enumerate() {
                if let Some(p) = pending.remove(&env.signature.0[..]) {
                    let code = block.metadata.validation_codes.get(i).copied();
                    matched.push((p, code));
                }
            }
        }
        for (mut p, code) in matched {
            let valid = code.is_some_and(|c| c.is_valid());
            if valid {
                self.done(p.start);
            } else {
                let name = code.map_or("NO_VALIDATION_CODE".into(), |c| c.to_string());
                self.fail(
                    name.clone(),
                    format!("committed in block {} as {name}", block.header.number),
                );
            }
            if let Some(w) = p.waiter.take() {
                let _ = w.send(Outcome {
                    valid,
                    block: block.header.number,
                });
            }
        }
    }

    fn track(&self, h: AbortHandle) {
        self.tasks.lock().expect("tasks").push(h);
    }
}

/// The kind of an SDK failure, for the report.
pub fn error_kind(stage: &str, e: &SdkError) -> String {
    let k = match e {
        SdkError::Chaincode { status, .. } => format!("chaincode {status}"),
        SdkError::Unavailable { .. } => "unavailable".into(),
        SdkError::Rejected { status, kind, .. } => format!("rejected {status} {kind}"),
        SdkError::Broadcast { status, kind, .. } => format!("refused {status} {kind}"),
        SdkError::NonDeterministic { .. } => "endorsers disagree".into(),
        SdkError::Plan { .. } | SdkError::NoPolicy { .. } => "no plan".into(),
        SdkError::BadAnswer { .. } => "bad answer".into(),
        SdkError::Invalid { code, .. } => code.to_string(),
        SdkError::CommitTimeout { .. } => "commit timeout".into(),
        _ => "other".into(),
    };
    format!("{stage}: {k}")
}

/// Endorses then broadcasts one transaction; its commit is seen by the feed.
/// With `waiter`, the outcome is sent there too.
pub async fn endorse_and_submit(
    rc: &RoundCtx,
    contract: &Contract,
    function: &str,
    args: Vec<Value>,
    slot: Slot,
    start: Instant,
    waiter: Option<oneshot::Sender<Outcome>>,
) -> Result<Vec<u8>, ()> {
    let tx = match contract.endorse(function, args).await {
        Ok(tx) => tx,
        Err(e) => {
            rc.fail(error_kind("endorse", &e), e.to_string());
            return Err(());
        }
    };
    let signature = tx.envelope().signature.0.clone();
    let result = tx.result().to_vec();
    rc.register(signature.clone(), start, slot, waiter);
    if let Err(e) = tx.submit().await {
        if rc.unregister(&signature) {
            rc.fail(error_kind("broadcast", &e), e.to_string());
            return Err(());
        }
    }
    Ok(result)
}

/// A value of `size` bytes (printable ASCII) that starts with `tag`.
pub fn value(tag: u64, size: usize) -> String {
    let mut v = format!("{tag:x}-");
    while v.len() < size {
        v.push(char::from(b'a' + (v.len() % 26) as u8));
    }
    v.truncate(size);
    v
}

/// A cheap well-mixed number from `i` (query key choice).
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// What a key-value round's transactions need, prepared before it.
pub enum Prepared {
    BlindWrite {
        prefix: String,
        value_size: usize,
    },
    Rmw {
        pool: Arc<KeyPool>,
        value_size: usize,
    },
    Query {
        prefix: String,
        keys: u64,
        range: u64,
    },
    Patient(Arc<super::patient::Patients>),
}

/// Runs one round: prepares it (outside the measurement), then measures.
pub async fn run_round(env: &Env, index: usize, round: &Round) -> anyhow::Result<RoundReport> {
    let prepared = prepare(env, index, round).await?;
    let start_height = env.height().await?;
    let mut watch = ProcWatch::start(&env.processes());
    let rc = Arc::new(RoundCtx::new(round));

    // The block feed: one stream for the whole round, followed on a thread
    // of its own (the feed is not `Sync`, so not a multi-threaded task).
    let feed_rc = rc.clone();
    let identity = env.watcher_gateway().identity().clone();
    let profile = env.profile.clone();
    let channel = env.channel.clone();
    let (feed_stop, mut feed_stop_rx) = tokio::sync::watch::channel(false);
    let feed_thread = std::thread::spawn(move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let gateway = Gateway::connect_with(identity, profile, Env::gateway_options())?;
        let mut feed = gateway.network(&channel).block_events(start_height);
        rt.block_on(async move {
            let mut last_error = None;
            loop {
                tokio::select! {
                    next = feed.next() => match next {
                        Some(Ok(block)) => feed_rc.on_block(&block),
                        Some(Err(e)) => {
                            // At most one line every 5 s while it fails.
                            if last_error.is_none_or(|t: Instant| t.elapsed() > Duration::from_secs(5)) {
                                eprintln!("  (block feed: {e}; reconnecting)");
                                last_error = Some(Instant::now());
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        None => tokio::time::sleep(Duration::from_millis(200)).await,
                    },
                    _ = feed_stop_rx.changed() => break,
                }
            }
        });
        Ok(())
    });

    // Progress, once a second.
    let progress_rc = rc.clone();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let progress = tokio::spawn(async move {
        let mut last = 0u64;
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(1),
            Duration::from_secs(1),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop_rx.changed() => break,
            }
            let c = progress_rc.committed.load(Ordering::SeqCst);
            let f = progress_rc.failed.load(Ordering::SeqCst);
            println!(
                "  [{:>4.0}s] submitted {:>7}  committed {:>7}  failed {:>5}  tps {:>6}  in flight {:>5}",
                progress_rc.t0.elapsed().as_secs_f64(),
                progress_rc.submitted.load(Ordering::SeqCst),
                c,
                f,
                c - last,
                progress_rc.in_flight.load(Ordering::SeqCst)
            );
            last = c;
        }
    });
    let (mem_stop_tx, mem_stop_rx) = oneshot::channel::<()>();
    let mem = tokio::spawn(async move {
        let mut stop = mem_stop_rx;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => watch.sample(),
                _ = &mut stop => break,
            }
        }
        watch
    });

    // The workers.
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..round.workers {
        let rc = rc.clone();
        match &prepared {
            Prepared::Patient(p) => {
                let p = p.clone();
                workers.spawn(async move { p.worker(w, rc).await });
            }
            _ => {
                let contract = env.kv_contract(w);
                let job = Job::from(&prepared);
                workers.spawn(async move { kv_worker(rc, contract, job).await });
            }
        }
    }
    while workers.join_next().await.is_some() {}
    let issued_at = rc.t0.elapsed();

    // Drain: every submitted transaction committed, or the timeout.
    let deadline = Instant::now() + round.drain_timeout();
    while rc.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rc.stopping.store(true, Ordering::SeqCst);
    let _ = stop_tx.send(true);
    let _ = progress.await;
    let _ = mem_stop_tx.send(());
    let mut watch = mem.await.unwrap_or_else(|_| ProcWatch::start(&[]));
    let nodes = watch.finish();
    let _ = feed_stop.send(true);
    let _ = tokio::task::spawn_blocking(move || feed_thread.join()).await;
    for h in rc.tasks.lock().expect("tasks").drain(..) {
        h.abort();
    }
    let timed_out = rc.in_flight.load(Ordering::SeqCst);
    rc.pending.lock().expect("pending").clear();
    if let Prepared::Patient(p) = &prepared {
        p.stop();
    }
    Ok(RoundReport::new(round, &rc, timed_out, issued_at, nodes))
}

/// What a key-value worker does per transaction.
#[derive(Clone)]
enum Job {
    BlindWrite {
        prefix: String,
        value_size: usize,
    },
    Rmw {
        pool: Arc<KeyPool>,
        value_size: usize,
    },
    Query {
        prefix: String,
        keys: u64,
        range: u64,
    },
}

impl Job {
    fn from(p: &Prepared) -> Job {
        match p {
            Prepared::BlindWrite { prefix, value_size } => Job::BlindWrite {
                prefix: prefix.clone(),
                value_size: *value_size,
            },
            Prepared::Rmw { pool, value_size } => Job::Rmw {
                pool: pool.clone(),
                value_size: *value_size,
            },
            Prepared::Query {
                prefix,
                keys,
                range,
            } => Job::Query {
                prefix: prefix.clone(),
                keys: *keys,
                range: *range,
            },
            Prepared::Patient(_) => unreachable!("patient rounds have their own workers"),
        }
    }
}

async fn kv_worker(rc: Arc<RoundCtx>, contract: Contract, job: Job) {
    let pool = match &job {
        Job::Rmw { pool, .. } => Some(pool.clone()),
        _ => None,
    };
    while let Some((slot, start, seq)) = rc.gate(pool.clone()).await {
        let rc2 = rc.clone();
        let contract = contract.clone();
        let job = job.clone();
        let h = tokio::spawn(async move {
            match job {
                Job::BlindWrite { prefix, value_size } => {
                    let key = format!("{prefix}{seq}");
                    let args = vec![json!(key), json!(value(seq, value_size))];
                    let _ =
                        endorse_and_submit(&rc2, &contract, "put", args, slot, start, None).await;
                }
                Job::Rmw { value_size, .. } => {
                    let key = slot
                        .key
                        .as_ref()
                        .map(|(_, k)| k.clone())
                        .unwrap_or_default();
                    let args = vec![json!(key), json!(value(seq, value_size))];
                    let _ = endorse_and_submit(&rc2, &contract, "update", args, slot, start, None)
                        .await;
                }
                Job::Query {
                    prefix,
                    keys,
                    range,
                } => {
                    let (function, args) = if range == 0 {
                        let i = mix(seq) % keys;
                        ("get", vec![json!(seed_key(&prefix, i))])
                    } else {
                        let s = mix(seq) % (keys - range + 1);
                        (
                            "range",
                            vec![
                                json!(seed_key(&prefix, s)),
                                json!(seed_key(&prefix, s + range)),
                            ],
                        )
                    };
                    match contract.evaluate(function, args).await {
                        Ok(_) => rc2.done(start),
                        Err(e) => rc2.fail(error_kind("evaluate", &e), e.to_string()),
                    }
                    drop(slot);
                }
            }
        });
        rc.track(h.abort_handle());
    }
}

/// The key `seed` wrote for index `i` (as bench-kv's `seed_key`).
pub fn seed_key(prefix: &str, i: u64) -> String {
    format!("{prefix}{i:08}")
}

/// Prepares a round outside the measurement: seeds keys, or sets up the
/// patient-batch product and specification.
async fn prepare(env: &Env, index: usize, round: &Round) -> anyhow::Result<Prepared> {
    let tag = format!("{}-r{index}-", env.run_id);
    Ok(match &round.workload {
        Work::BlindWrite { value_size } => Prepared::BlindWrite {
            prefix: format!("bw-{tag}"),
            value_size: *value_size,
        },
        Work::ReadModifyWrite { value_size, keys } => {
            let bound = round
                .rate
                .in_flight_bound()
                .min(round.tx_count.unwrap_or(u64::MAX))
                .min(round.workers as u64 * 10_000);
            let keys = keys.unwrap_or((2 * bound).clamp(1, 5000));
            let prefix = format!("rmw-{tag}");
            env.seed(&prefix, keys, *value_size).await?;
            let pool = (0..keys).map(|i| seed_key(&prefix, i)).collect();
            Prepared::Rmw {
                pool: Arc::new(KeyPool(Mutex::new(pool))),
                value_size: *value_size,
            }
        }
        Work::Query {
            keys,
            value_size,
            range,
        } => {
            let prefix = format!("q-{tag}");
            env.seed(&prefix, *keys, *value_size).await?;
            Prepared::Query {
                prefix,
                keys: *keys,
                range: *range,
            }
        }
        Work::PatientBatch {} => {
            Prepared::Patient(Arc::new(super::patient::Patients::setup(env).await?))
        }
    })
}
