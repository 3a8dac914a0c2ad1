//! [`NetLedger`]: the story's [`Ledger`] over a running network, through the
//! client SDK. Every person has a gateway with their user's identity; the
//! inspector's also follows the channel's block feed from the height at the
//! start, which gives each transaction's events and the validation code of
//! every transaction committed during the run.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use cellchain_sdk::{
    chaincode_events, Block, BlockEvents, Bytes, ConnectionProfile, Gateway, Identity, SdkError,
};
use serde_json::Value;
use therapy_common::RELEASE;
use tokio::runtime::Runtime;
use vein_to_vein_example::{Committed, Failure, Ledger, Person, INSPECTOR};

use super::people::Cast;
use crate::network::http::get_json;

/// The organisations the release contract's key-level policy
/// `AND('CdmoMSP.peer', 'SponsorMSP.peer')` needs on batch keys: the SDK only
/// knows chaincode policies, so release calls name them.
const RELEASE_ENDORSERS: [&str; 2] = ["CdmoMSP", "SponsorMSP"];
/// How long to wait for a block on the feed, and for endorsers to catch up.
const FEED_WAIT: Duration = Duration::from_secs(60);
const CATCH_UP_WAIT: Duration = Duration::from_secs(10);

pub struct NetLedger {
    rt: Runtime,
    channel: String,
    gateways: HashMap<&'static str, (Gateway, String)>,
    feed: BlockEvents,
    /// The next block the feed hands out.
    next_block: u64,
    /// Every endorser's address, to wait until each has a committed block.
    endorsers: Vec<String>,
    /// Validation code name -> transactions, over the blocks of the run.
    pub codes: BTreeMap<String, u64>,
    /// Blocks read from the feed, and the transactions submitted by the demo.
    pub blocks: u64,
    pub submitted: u64,
    pub start_height: u64,
}

impl NetLedger {
    pub fn connect(
        profile: &ConnectionProfile,
        channel: &str,
        cast: &[Cast],
    ) -> anyhow::Result<NetLedger> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let mut gateways = HashMap::new();
        for c in cast {
            let id = Identity::from_files(c.person.msp, c.cert(), c.key())?;
            let gw = Gateway::connect(id, profile.clone())?;
            gateways.insert(
                c.person.name,
                (
                    gw,
                    format!(
                        "{} ({}@{}, {})",
                        c.person.name, c.user, c.person.msp, c.person.role
                    ),
                ),
            );
        }
        let endorsers: Vec<String> = profile
            .organizations
            .iter()
            .flat_map(|o| o.endorsers.iter().map(|e| e.address.clone()))
            .collect();
        // The feed starts at the height of the committers now.
        let committers: Vec<String> = profile
            .organizations
            .iter()
            .flat_map(|o| o.committers.iter().map(|e| e.address.clone()))
            .collect();
        let start_height = committers
            .iter()
            .filter_map(|a| height(a, channel))
            .max()
            .with_context(|| format!("no committer answers for channel {channel}"))?;
        let inspector = &gateways
            .get(INSPECTOR.name)
            .context("the inspector has no gateway")?
            .0;
        let feed = inspector.network(channel).block_events(start_height);
        Ok(NetLedger {
            rt,
            channel: channel.to_string(),
            gateways,
            feed,
            next_block: start_height,
            endorsers,
            codes: BTreeMap::new(),
            blocks: 0,
            submitted: 0,
            start_height,
        })
    }

    fn gateway(&self, who: &Person) -> Result<&Gateway, Failure> {
        self.gateways
            .get(who.name)
            .map(|(g, _)| g)
            .ok_or_else(|| Failure::Error(format!("{} has no identity", who.name)))
    }

    /// Reads the feed up to and including block `number`; returns it.
    fn block(&mut self, number: u64) -> Result<Block, Failure> {
        loop {
            let next = self
                .rt
                .block_on(async { tokio::time::timeout(FEED_WAIT, self.feed.next()).await });
            let block = match next {
                Err(_) => {
                    return Err(Failure::Error(format!(
                        "block {number} did not arrive on the block feed within {}s",
                        FEED_WAIT.as_secs()
                    )))
                }
                Ok(None) => return Err(Failure::Error("the block feed ended".into())),
                Ok(Some(Err(e))) => return Err(Failure::Error(format!("block feed: {e}"))),
                Ok(Some(Ok(b))) => b,
            };
            self.next_block = block.header.number + 1;
            self.blocks += 1;
            for code in &block.metadata.validation_codes {
                *self.codes.entry(code.to_string()).or_default() += 1;
            }
            if block.header.number >= number {
                return Ok(block);
            }
        }
    }

    /// Waits (up to 10 s) until every endorser's ledger has `height` blocks,
    /// so that the next step is simulated on the state this one left.
    fn catch_up(&self, height: u64) {
        let deadline = Instant::now() + CATCH_UP_WAIT;
        for e in &self.endorsers {
            while height_of(e, &self.channel) < height && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The channel's height now: the highest a committer reports.
    pub fn height_now(&self, profile: &ConnectionProfile) -> u64 {
        profile
            .organizations
            .iter()
            .flat_map(|o| o.committers.iter())
            .filter_map(|c| height(&c.address, &self.channel))
            .max()
            .unwrap_or(self.next_block)
    }
}

fn height(address: &str, channel: &str) -> Option<u64> {
    match get_json(
        address,
        &format!("/v1/channels/{channel}/status"),
        Duration::from_secs(2),
    ) {
        Ok((200, v)) => v["height"].as_u64(),
        _ => None,
    }
}

fn height_of(address: &str, channel: &str) -> u64 {
    height(address, channel).unwrap_or(u64::MAX)
}

fn failure(e: SdkError) -> Failure {
    match e {
        SdkError::Chaincode {
            status, message, ..
        } => Failure::Refused { status, message },
        other => Failure::Error(other.to_string()),
    }
}

fn json(bytes: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        Failure::Error(format!(
            "the answer is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        ))
    })
}

impl Ledger for NetLedger {
    fn submit(
        &mut self,
        who: &Person,
        contract: &str,
        function: &str,
        args: Value,
        transient: Option<(&str, &str)>,
    ) -> Result<Committed, Failure> {
        let mut c = self.gateway(who)?.network(&self.channel).contract(contract);
        if contract == RELEASE {
            c = c.with_endorsing_orgs(RELEASE_ENDORSERS);
        }
        let args = match args {
            Value::Array(a) => a,
            other => vec![other],
        };
        let transient: BTreeMap<String, Bytes> = transient
            .map(|(k, v)| (k.to_string(), Bytes(v.as_bytes().to_vec())))
            .into_iter()
            .collect();
        let has_private = !transient.is_empty();
        let done = self
            .rt
            .block_on(c.submit_with(transient, function, args))
            .map_err(failure)?;
        self.submitted += 1;
        let block = self.block(done.block)?;
        self.catch_up(done.block + 1);
        let events = chaincode_events(&block, contract)
            .into_iter()
            .filter(|e| e.tx_id == done.tx_id)
            .map(|e| {
                let payload = serde_json::from_slice(&e.event.payload.0).unwrap_or(Value::Null);
                (e.event.name, payload)
            })
            .collect();
        Ok(Committed {
            value: json(&done.payload)?,
            events,
            tx: Some((done.tx_id.to_string(), done.block)),
            on_ledger: has_private.then(|| serde_json::to_string(&block).unwrap_or_default()),
        })
    }

    fn evaluate(
        &mut self,
        who: &Person,
        contract: &str,
        function: &str,
        args: Value,
    ) -> Result<Value, Failure> {
        let c = self.gateway(who)?.network(&self.channel).contract(contract);
        let args = match args {
            Value::Array(a) => a,
            other => vec![other],
        };
        let bytes = self
            .rt
            .block_on(c.evaluate(function, args))
            .map_err(failure)?;
        json(&bytes)
    }

    /// The network's clock is the wall clock: the story's days do not pass.
    fn wait(&mut self, _seconds: i64) {}

    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn describe(&self, who: &Person) -> String {
        self.gateways
            .get(who.name)
            .map_or_else(|| who.name.to_string(), |(_, l)| l.clone())
    }
}
