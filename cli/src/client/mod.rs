//! What the client commands (`invoke`, `query`, `tx show`, `block show`,
//! `events`) share: finding the network started by `cellchain network up`
//! (DIR/connection.yaml, DIR/network.json, DIR/crypto/<MSP>/users/<user>), the
//! identity and channel to use, the SDK gateway, the few committer calls the
//! SDK does not expose (tx status, channel info, one block of the validated
//! feed), rendering transactions, and errors as one line plus a hint (exit 1).

pub mod render;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use cellchain_core::config::NetworkConfig;
use cellchain_core::identity::Role;
use cellchain_core::protocol::{
    Block, DeliverRequest, Query, QueryRequest, SignedDeliverRequest, SignedQuery, Timestamp, TxId,
};
use cellchain_core::Hash32;
use cellchain_sdk::{ConnectionProfile, Endpoint, Gateway, Identity, Network, SdkError};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::network::state::{State, STATE_FILE};

/// The network directory when `--dir` is not given.
pub const DEFAULT_DIR: &str = ".cellchain";

/// Flags every client command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientArgs {
    /// The network directory written by `cellchain network up` (connection.yaml,
    /// network.json, crypto/).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// The identity to act as, MSP/USER: its certificate and key are
    /// DIR/crypto/<MSP>/users/<USER>/{cert.pem,key.pem}. Default: the first
    /// user with role client of the first writing (not read-only) organisation
    /// of the channel, in topology order.
    #[arg(long, value_name = "MSP/USER")]
    pub user: Option<String>,
    /// The channel. Default: the first channel of the network's topology.
    #[arg(long, value_name = "CH")]
    pub channel: Option<String>,
}

/// An error as the client commands print it: one line, then a hint.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// A [`Failure`] with a hint.
pub fn fail(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    Failure {
        message: message.into(),
        hint: Some(hint.into()),
    }
    .into()
}

/// An SDK error, prefixed with what was being done, and a hint chosen by its kind.
pub fn sdk(doing: &str, e: SdkError, dir: &Path) -> anyhow::Error {
    let d = dir.display();
    let hint = match &e {
        SdkError::File { path, .. } => format!("check that {} exists and is readable", path.display()),
        SdkError::Key { .. } => "the key must be a PKCS#8 P-256 PEM key, as `cellchain crypto generate` writes".into(),
        SdkError::Profile { .. } | SdkError::Config { .. } => format!(
            "{d}/connection.yaml is written by `cellchain network up --dir {d}`; run it again to rewrite it"
        ),
        SdkError::Unavailable { .. } => format!(
            "is the network running? `cellchain network status --dir {d}` shows each node; \
             `cellchain network up --dir {d}` starts the missing ones"
        ),
        SdkError::Chaincode { .. } => "the contract refused the call or failed: check the function name and its \
             arguments (each a JSON value, e.g. '\"k\"' for a string)".into(),
        SdkError::Rejected { status: 403, .. } => "the identity is not allowed there: check --user and --channel".into(),
        SdkError::Rejected { kind, .. } if kind == "chaincode_not_installed" => format!(
            "each organisation's admin installs the package on its endorsers: \
             `cellchain chaincode install PACKAGE_FILE --dir {d} --user MSP/admin`"
        ),
        SdkError::Rejected { kind, .. } if matches!(kind.as_str(), "chaincode_not_defined" | "unknown_chaincode") => format!(
            "`cellchain chaincode query-committed --dir {d}` lists the chaincodes defined on the channel"
        ),
        SdkError::Rejected { kind, .. } if kind == "unknown_channel" => "pick a channel the node serves with --channel".into(),
        SdkError::Rejected { .. } | SdkError::BadAnswer { .. } => format!(
            "see the node's log under {d} (`cellchain network status --dir {d}` lists the nodes)"
        ),
        SdkError::NonDeterministic { .. } => "the contract must compute the same result on every endorser (no clock, randomness or map-order dependence)".into(),
        SdkError::NoPolicy { .. } | SdkError::Plan { .. } => "name the endorsing organisations with --endorsing-orgs A,B".into(),
        SdkError::Broadcast { .. } => "the orderer refused the transaction; see its log".into(),
        SdkError::Invalid { code, .. } if e.is_read_conflict() => format!(
            "{code}: another transaction changed what this one read; run it again"
        ),
        SdkError::Invalid { .. } => format!(
            "its writes were not applied; `cellchain tx show TXID --dir {d}` shows the transaction"
        ),
        SdkError::CommitTimeout { tx_id, .. } => format!(
            "it may still commit: `cellchain tx show {tx_id} --dir {d}`"
        ),
        SdkError::Events { .. } => "check the checkpoint file and the committers".into(),
        SdkError::Sign { .. } => "check the user's key".into(),
        SdkError::NotReady(_) => NOT_READY_HINT.into(),
    };
    fail(format!("{doing}: {e}"), hint)
}

/// The hint of a commit refused because the approvals do not satisfy the
/// channel's `LifecycleEndorsement` policy.
pub const NOT_READY_HINT: &str =
    "each organisation's admin runs `cellchain chaincode approve` with \
     the same definition (`cellchain chaincode check-commit-readiness` shows who approved what)";

/// Prints an error as `error: ...` (causes joined on the same line) and its
/// hint, and returns exit code 1.
pub fn report(e: &anyhow::Error) -> ExitCode {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !line.contains(&c) {
            line = format!("{line}: {c}");
        }
    }
    eprintln!("error: {line}");
    if let Some(hint) = e
        .chain()
        .find_map(|c| c.downcast_ref::<Failure>())
        .and_then(|f| f.hint.as_deref())
    {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(1)
}

/// Runs an async command body on a small runtime; errors are reported (exit 1).
pub fn block_on<F>(body: F) -> anyhow::Result<ExitCode>
where
    F: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(match runtime.block_on(body) {
        Ok(code) => code,
        Err(e) => report(&e),
    })
}

/// A connected client: identity, profile, channel.
pub struct Session {
    pub dir: PathBuf,
    /// `MSP/USER`.
    pub user: String,
    pub identity: Identity,
    pub profile: ConnectionProfile,
    pub channel: String,
    /// The topology, when its file could be read.
    pub topology: Option<NetworkConfig>,
    pub gateway: Gateway,
    http: reqwest::Client,
}

impl Session {
    /// Loads the network of `args.dir`, the user and the channel.
    pub fn open(args: &ClientArgs) -> anyhow::Result<Session> {
        Self::open_as(args, Role::Client)
    }

    /// As [`Session::open`]; without `--user`, the first user with role `role`
    /// of the first writing organisation of the channel.
    pub fn open_as(args: &ClientArgs, role: Role) -> anyhow::Result<Session> {
        let dir = args.dir.clone();
        let d = dir.display();
        let profile_path = dir.join("connection.yaml");
        if !profile_path.is_file() {
            return Err(fail(
                format!("no network in {d} (connection.yaml missing)"),
                format!(
                    "start one with `cellchain network up --dir {d}`, or point --dir at the \
                     directory it used"
                ),
            ));
        }
        let profile = ConnectionProfile::from_file(&profile_path)
            .map_err(|e| sdk("reading the connection profile", e, &dir))?;
        let state = State::load(&dir).map_err(|e| {
            fail(
                format!("{e:#}"),
                format!("`cellchain network up --dir {d}` rewrites {STATE_FILE}"),
            )
        })?;
        let topology = state.as_ref().and_then(|s| {
            let text = std::fs::read_to_string(&s.topology).ok()?;
            NetworkConfig::from_yaml(&text).ok()
        });
        let channel = match &args.channel {
            Some(c) => c.clone(),
            None => default_channel(topology.as_ref(), state.as_ref()).ok_or_else(|| {
                fail(
                    format!("cannot tell the channel of the network in {d}"),
                    "give it with --channel CH",
                )
            })?,
        };
        let user = match &args.user {
            Some(u) => u.clone(),
            None => default_user(topology.as_ref(), &channel, role).ok_or_else(|| {
                fail(
                    format!(
                        "no default user: the topology of the network in {d} has no user with \
                         role {} in a writing organisation of channel {channel}",
                        role.as_str()
                    ),
                    format!(
                        "give one with --user MSP/USER (the users are the directories \
                         {d}/crypto/<MSP>/users/<USER>)"
                    ),
                )
            })?,
        };
        let identity = load_identity(&dir, &user)?;
        let gateway = Gateway::connect(identity.clone(), profile.clone())
            .map_err(|e| sdk("connecting", e, &dir))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(Session {
            dir,
            user,
            identity,
            profile,
            channel,
            topology,
            gateway,
            http,
        })
    }

    pub fn network(&self) -> Network {
        self.gateway.network(&self.channel)
    }

    pub fn msp_id(&self) -> &str {
        self.identity.msp_id()
    }

    /// The writing organisations of the channel that have endorsers in the
    /// profile (those `--endorsing-orgs` may name).
    pub fn writer_orgs(&self) -> Vec<String> {
        let member = |msp: &str| match &self.topology {
            Some(t) => {
                t.channel(&self.channel)
                    .is_none_or(|c| c.organizations.iter().any(|o| o == msp))
                    && t.organization(msp).is_none_or(|o| !o.read_only)
            }
            None => true,
        };
        self.profile
            .organizations
            .iter()
            .filter(|o| !o.endorsers.is_empty() && member(&o.msp_id))
            .map(|o| o.msp_id.clone())
            .collect()
    }

    /// The committers: the user's organisation's first.
    fn committers(&self) -> Vec<Endpoint> {
        let orgs = &self.profile.organizations;
        let own = self.msp_id();
        orgs.iter()
            .filter(|o| o.msp_id == own)
            .chain(orgs.iter().filter(|o| o.msp_id != own))
            .flat_map(|o| o.committers.iter().cloned())
            .collect()
    }

    /// Sends a signed ledger query to the committers in turn (the next on no
    /// answer or a retryable error) and decodes the answer.
    pub async fn query<T: DeserializeOwned>(&self, query: Query, what: &str) -> anyhow::Result<T> {
        let path = format!("/v1/channels/{}/query", self.channel);
        let mut tried = Vec::new();
        for node in self.committers() {
            let request = QueryRequest {
                channel_id: self.channel.clone(),
                creator: self.identity.serialized().clone(),
                timestamp: now(),
                query: query.clone(),
            };
            let signed = SignedQuery::sign(&request, self.identity.signer())?;
            let sent = self
                .http
                .post(node.url(&path))
                .json(&signed)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            match answer(sent).await {
                Ok(v) => {
                    return serde_json::from_value(v).map_err(|e| {
                        anyhow::anyhow!("committer {node} sent a bad answer to the {what}: {e}")
                    })
                }
                Err(Answer::Retry(reason)) => tried.push(format!("{node}: {reason}")),
                Err(Answer::Refused(e)) => return Err(self.refused("committer", &node, what, e)),
            }
        }
        Err(self.unreachable(what, &tried))
    }

    /// Block `n` of the channel from the validated block feed of the user's
    /// organisation's committer (another on no answer), asked for `start = n,
    /// stop = n`. Fails when the channel is not that high yet.
    pub async fn block(&self, n: u64) -> anyhow::Result<Block> {
        let info: ChannelInfo = self.query(Query::Info, "channel info query").await?;
        if n >= info.height {
            return Err(fail(
                format!(
                    "block {n} does not exist on channel {}: its height is {} (blocks 0 to {})",
                    self.channel,
                    info.height,
                    info.height.saturating_sub(1)
                ),
                "give a lower block number; `cellchain events` follows new blocks",
            ));
        }
        let path = format!("/v1/channels/{}/blocks", self.channel);
        let mut tried = Vec::new();
        for node in self.committers() {
            let request = DeliverRequest {
                channel_id: self.channel.clone(),
                start: n,
                stop: Some(n),
                creator: self.identity.serialized().clone(),
                timestamp: now(),
            };
            let signed = SignedDeliverRequest::sign(&request, self.identity.signer())?;
            let sent = self
                .http
                .post(node.url(&path))
                .json(&signed)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    tried.push(format!("{node}: {}", describe(&e)));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let body = match response.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    tried.push(format!("{node}: {}", describe(&e)));
                    continue;
                }
            };
            if status != 200 {
                match node_error(status, &body) {
                    Answer::Retry(reason) => {
                        tried.push(format!("{node}: {reason}"));
                        continue;
                    }
                    Answer::Refused(e) => {
                        return Err(self.refused("committer", &node, "block request", e))
                    }
                }
            }
            let line = body.split(|b| *b == b'\n').find(|l| !l.is_empty());
            let Some(line) = line else {
                tried.push(format!("{node}: the feed ended without block {n}"));
                continue;
            };
            let block: Block = serde_json::from_slice(line).map_err(|e| {
                anyhow::anyhow!("committer {node} sent a line that is not a block: {e}")
            })?;
            if block.header.number != n {
                anyhow::bail!(
                    "committer {node} sent block {} where block {n} was asked",
                    block.header.number
                );
            }
            return Ok(block);
        }
        Err(self.unreachable("block request", &tried))
    }

    /// The channel's height (the next block's number) from a committer.
    pub async fn height(&self) -> anyhow::Result<u64> {
        let info: ChannelInfo = self.query(Query::Info, "channel info query").await?;
        Ok(info.height)
    }

    fn refused(&self, role: &str, node: &Endpoint, what: &str, e: NodeError) -> anyhow::Error {
        let d = self.dir.display();
        let hint = match (e.status, e.kind.as_str()) {
            (403, _) => format!("{} may not read channel {}: check --user and --channel", self.user, self.channel),
            (_, "unknown_channel") => "pick one of the channels it serves with --channel".into(),
            (404, "not_found") => format!(
                "check the id and the channel (--channel); `cellchain events --dir {d}` shows transactions as they commit"
            ),
            _ => format!("see the node's log under {d}"),
        };
        fail(
            format!(
                "{role} {node} refused the {what} ({} {}): {}",
                e.status, e.kind, e.message
            ),
            hint,
        )
    }

    fn unreachable(&self, what: &str, tried: &[String]) -> anyhow::Error {
        let d = self.dir.display();
        let tried = if tried.is_empty() {
            "the connection profile lists none".to_string()
        } else {
            format!("tried {}", tried.join("; "))
        };
        fail(
            format!(
                "no committer of channel {} could serve the {what}; {tried}",
                self.channel
            ),
            format!(
                "is the network running? `cellchain network status --dir {d}` shows each node; \
                 `cellchain network up --dir {d}` starts the missing ones"
            ),
        )
    }
}

/// The committer's answer to `Query::Info`.
#[derive(Debug, Deserialize)]
pub struct ChannelInfo {
    pub height: u64,
}

/// The committer's answer to `Query::TxStatus`.
#[derive(Debug, Deserialize)]
pub struct TxStatus {
    pub block: u64,
    pub index: u32,
    pub code: CodeName,
}

#[derive(Debug, Deserialize)]
pub struct CodeName {
    pub name: String,
}

/// A node's error answer (`{"error", "message", "retryable"}`).
#[derive(Debug)]
struct NodeError {
    status: u16,
    kind: String,
    message: String,
}

enum Answer {
    /// No answer, or one another node (or a later try) may do better on.
    Retry(String),
    Refused(NodeError),
}

fn node_error(status: u16, body: &[u8]) -> Answer {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = NodeError {
        status,
        kind: v["error"].as_str().unwrap_or("http_error").to_string(),
        message: match v["message"].as_str() {
            Some(m) => m.to_string(),
            None => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        },
    };
    if v["retryable"].as_bool().unwrap_or(status == 503) {
        Answer::Retry(format!("{} {}: {}", e.status, e.kind, e.message))
    } else {
        Answer::Refused(e)
    }
}

async fn answer(sent: reqwest::Result<reqwest::Response>) -> Result<Value, Answer> {
    let response = sent.map_err(|e| Answer::Retry(describe(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| Answer::Retry(describe(&e)))?;
    if status == 200 {
        return serde_json::from_slice(&body)
            .map_err(|e| Answer::Retry(format!("a bad answer: {e}")));
    }
    Err(node_error(status, &body))
}

/// reqwest's error with its causes (its own text omits "connection refused").
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text = format!("{text}: {s_text}");
        }
        source = s.source();
    }
    text
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos(),
    }
}

/// The first channel of the topology, else the first the contracts run on,
/// else the first a node serves.
fn default_channel(topology: Option<&NetworkConfig>, state: Option<&State>) -> Option<String> {
    if let Some(c) = topology.and_then(|t| t.channels.first()) {
        return Some(c.name.clone());
    }
    let state = state?;
    state
        .contract_channels
        .first()
        .or_else(|| state.nodes.iter().find_map(|n| n.channels.first()))
        .cloned()
}

/// `MSP/USER` of the first user with role `role` of the first writing
/// organisation of `channel` (topology order).
fn default_user(topology: Option<&NetworkConfig>, channel: &str, role: Role) -> Option<String> {
    let t = topology?;
    let members = t.channel(channel).map(|c| &c.organizations);
    t.organizations
        .iter()
        .filter(|o| !o.read_only && members.is_none_or(|m| m.contains(&o.msp_id)))
        .find_map(|o| {
            let u = o.users.iter().find(|u| u.role == role)?;
            Some(format!("{}/{}", o.msp_id, u.name))
        })
}

/// The identity `MSP/USER` from DIR/crypto/<MSP>/users/<USER>/.
pub fn load_identity(dir: &Path, user: &str) -> anyhow::Result<Identity> {
    let Some((msp, name)) = user.split_once('/').filter(|(m, u)| {
        !m.is_empty() && !u.is_empty() && !u.contains('/') && *m != ".." && *u != ".."
    }) else {
        return Err(fail(
            format!("--user {user:?} is not MSP/USER"),
            "name the user as its organisation's MSP id and its name, e.g. --user Org1MSP/app1",
        ));
    };
    let crypto = dir.join("crypto");
    let home = crypto.join(msp).join("users").join(name);
    if !home.is_dir() {
        let users = list_dirs(&crypto.join(msp).join("users"));
        let hint = if users.is_empty() {
            let orgs = list_dirs(&crypto);
            format!(
                "no organisation {msp} in {} (it has: {})",
                crypto.display(),
                if orgs.is_empty() {
                    "none".into()
                } else {
                    orgs.join(", ")
                }
            )
        } else {
            format!(
                "the users of {msp} are: {}",
                users
                    .iter()
                    .map(|u| format!("{msp}/{u}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(fail(
            format!(
                "no user {user}: {} does not exist (it would hold cert.pem and key.pem)",
                home.display()
            ),
            hint,
        ));
    }
    Identity::from_files(msp, home.join("cert.pem"), home.join("key.pem"))
        .map_err(|e| sdk(&format!("loading user {user}"), e, dir))
}

fn list_dirs(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    names.sort();
    names
}

/// Parses a transaction id (64 hex digits).
pub fn parse_tx_id(text: &str) -> anyhow::Result<TxId> {
    Hash32::from_hex(text.trim()).map(TxId).map_err(|e| {
        fail(
            format!("{text:?} is not a transaction id: {e}"),
            "a transaction id is 64 hex digits, as `cellchain invoke` prints it",
        )
    })
}

/// Parses each argument as a JSON value.
pub fn parse_args(args: &[String]) -> anyhow::Result<Vec<Value>> {
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            serde_json::from_str(a).map_err(|e| {
                fail(
                    format!("argument {} ({a}) is not JSON: {e}", i + 1),
                    "each argument is a JSON value: quote strings for the shell, e.g. '\"k\"'",
                )
            })
        })
        .collect()
}

/// Parses `NAME=VALUE` transient inputs (the value's UTF-8 bytes).
pub fn parse_transient(
    items: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, cellchain_core::Bytes>> {
    let mut out = std::collections::BTreeMap::new();
    for item in items {
        let Some((name, value)) = item.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(fail(
                format!("--transient {item:?} is not NAME=VALUE"),
                "e.g. --transient value=secret",
            ));
        };
        out.insert(
            name.to_string(),
            cellchain_core::Bytes(value.as_bytes().to_vec()),
        );
    }
    Ok(out)
}
