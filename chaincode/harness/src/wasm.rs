//! Running contracts through the endorser's wasm runtime: [`WasmHarness`].
//!
//! The harness runs the built `.wasm` module of a contract crate in
//! `cellchain_chaincode_runtime` with the production [`RuntimeConfig`] (its
//! `Default`), against the same kind of [`Channel`] as [`crate::NativeHarness`]:
//! the same tx ids, versions and commit rule. A scenario that passes natively
//! and fails here has found something native code hides: a wasm feature or an
//! import the runtime refuses, the fuel limit, the memory limit, a size cap of
//! the host, a float behaving differently.
//!
//! Everything expensive happens once per test process and is shared by every
//! harness in it (tests run on many threads):
//!
//! - building a crate ([`build_once`]): `cargo build --profile contract` once
//!   per crate directory, even when many tests deploy it at the same time;
//! - the [`Runtime`]: one per distinct configuration (normally just the
//!   production one), each with its engine, instance pool and epoch thread;
//! - installing a module: once per configuration and module, with compiled
//!   code kept on disk in [`cache_dir`] (`<target>/chaincode-cache`), so the
//!   next `cargo test` loads it instead of compiling it.
//!
//! Failures of the contract (a trap, a panic, out of fuel, a limit) are
//! outcomes with status 500 and the runtime's message
//! ([`InvokeError::to_response`]), as the endorser answers them, never a
//! crash of the test. Mistakes of the test itself (an undeployed contract, a
//! crate that does not build, a tx id that is not 64 hex characters) panic
//! with the reason.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

use cellchain_chaincode_build::{build_contract, BuiltContract};
use cellchain_chaincode_runtime::{
    CallerInfo, InstallError, InstalledChaincode, Invocation as RuntimeInvocation, InvokeError,
    Runtime, RuntimeConfig,
};
use cellchain_contract::LogLevel;
use cellchain_core::bytes::{Bytes, Hash32};
use cellchain_core::identity::Role;
use cellchain_core::protocol::{Timestamp as ProtocolTimestamp, TxId, TxRwSet};
use cellchain_simulator::SimulationOutput;

use crate::{Backend, Channel, Harness, Invocation, LogLine, Outcome, Proposal};

/// A deployed module.
#[derive(Clone)]
struct Deployed {
    wasm: Arc<Vec<u8>>,
    sha256: Hash32,
}

/// An in-memory channel running contracts as `.wasm` in the real runtime. See
/// the module docs; its scenario methods are those of [`Harness`] (import
/// the trait).
pub struct WasmHarness {
    channel: Channel,
    contracts: BTreeMap<String, Deployed>,
    /// The configuration, except `limits`, which come from the channel (so
    /// that [`Harness::set_limits`] means the same on both harnesses).
    config: RuntimeConfig,
    fuel_used: Option<u64>,
}

impl Default for WasmHarness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness for WasmHarness {
    fn backend(&self) -> Backend {
        Backend::Wasm
    }

    fn channel(&self) -> &Channel {
        &self.channel
    }

    fn channel_mut(&mut self) -> &mut Channel {
        &mut self.channel
    }

    fn invoke_with(&mut self, invocation: Invocation) -> Outcome {
        self.run(invocation).0
    }

    fn submit_with(&mut self, invocation: Invocation) -> Outcome {
        let (mut outcome, output) = self.run(invocation);
        if let (true, Some(output)) = (outcome.is_ok(), output) {
            outcome.committed = Some(self.channel.commit(&output));
        }
        outcome
    }
}

impl WasmHarness {
    /// An empty channel like [`crate::NativeHarness::new`]'s, running
    /// contracts with the production configuration, `RuntimeConfig::default()`.
    pub fn new() -> Self {
        let config = RuntimeConfig::default();
        let mut channel = Channel::new();
        channel.limits = config.limits;
        WasmHarness {
            channel,
            contracts: BTreeMap::new(),
            config,
            fuel_used: None,
        }
    }

    /// Builds the contract crate in `crate_dir` (once per process, see
    /// [`build_once`]) and deploys its module under the chaincode name `name`.
    /// In a contract's own tests: `deploy_crate("name", env!("CARGO_MANIFEST_DIR"))`.
    ///
    /// Panics if the crate does not build or the runtime refuses the module.
    #[track_caller]
    pub fn deploy_crate(&mut self, name: &str, crate_dir: impl AsRef<Path>) -> &mut Self {
        let built = build_once(crate_dir.as_ref());
        self.deploy_wasm(name, &built.wasm)
    }

    /// [`WasmHarness::deploy_crate`], returning the runtime's refusal of the
    /// module instead of panicking (a build failure still panics).
    pub fn try_deploy_crate(
        &mut self,
        name: &str,
        crate_dir: impl AsRef<Path>,
    ) -> Result<&mut Self, InstallError> {
        let built = build_once(crate_dir.as_ref());
        self.try_deploy_wasm(name, &built.wasm)
    }

    /// Deploys a module under the chaincode name `name` (replacing what was
    /// there, as an upgrade would; the state stays). Panics if the runtime
    /// refuses it.
    #[track_caller]
    pub fn deploy_wasm(&mut self, name: &str, wasm: &[u8]) -> &mut Self {
        if let Err(e) = self.try_deploy_wasm(name, wasm) {
            panic!("the runtime refuses the module deployed as {name:?}: {e}");
        }
        self
    }

    /// [`WasmHarness::deploy_wasm`], returning the runtime's refusal instead
    /// of panicking. The module is installed now, so that a refusal shows
    /// here rather than at the first invocation.
    pub fn try_deploy_wasm(&mut self, name: &str, wasm: &[u8]) -> Result<&mut Self, InstallError> {
        let deployed = Deployed {
            wasm: Arc::new(wasm.to_vec()),
            sha256: cellchain_core::bytes::sha256(wasm),
        };
        install(&self.config(), &deployed)?;
        self.contracts.insert(name.to_string(), deployed);
        Ok(self)
    }

    /// The SHA-256 of a deployed module: the chaincode's identity.
    pub fn module_sha256(&self, contract: &str) -> Hash32 {
        self.deployed(contract).sha256
    }

    /// Runs the following invocations with `config` instead of the
    /// production one (a lower fuel limit, say). Its `limits` replace those
    /// of [`Harness::set_limits`]. A configuration other than the default
    /// gets a runtime of its own, shared by every harness using it.
    pub fn set_config(&mut self, config: RuntimeConfig) -> &mut Self {
        self.channel.limits = config.limits;
        self.config = config;
        self
    }

    /// The configuration the next invocation runs with.
    pub fn config(&self) -> RuntimeConfig {
        RuntimeConfig {
            limits: self.channel.limits(),
            ..self.config.clone()
        }
    }

    /// Fuel the last invocation used, host calls included (what the endorser
    /// reports and every endorser agrees on). `None` before the first
    /// invocation and after a failed one (500): the runtime reports fuel only
    /// for invocations that completed.
    pub fn fuel_used(&self) -> Option<u64> {
        self.fuel_used
    }

    #[track_caller]
    fn deployed(&self, contract: &str) -> &Deployed {
        self.contracts.get(contract).unwrap_or_else(|| {
            panic!(
                "no contract deployed as {contract:?}; deployed: {:?}",
                self.contracts.keys().collect::<Vec<_>>()
            )
        })
    }

    /// Runs one invocation; the simulation output comes back only for an
    /// invocation that completed (200 or 400), for `submit` to commit.
    #[track_caller]
    fn run(&mut self, inv: Invocation) -> (Outcome, Option<SimulationOutput>) {
        let deployed = self.deployed(&inv.contract).clone();
        let config = self.config();
        // Deploying installed the module under the configuration of that
        // time; a later set_config or set_limits may need another install.
        let installed = install(&config, &deployed).unwrap_or_else(|e| {
            panic!(
                "the runtime refuses the module deployed as {:?} under the current configuration: {e}",
                inv.contract
            )
        });
        let invocation = runtime_invocation(self.channel.propose(inv));
        match installed.invoke(&invocation, self.channel.state()) {
            Ok(o) => {
                self.fuel_used = Some(o.fuel_used);
                let outcome = Outcome {
                    response: o.response,
                    rwset: o.output.tx_rwset(),
                    private_writes: o.output.private_writes.clone(),
                    events: o.output.events.clone(),
                    logs: o
                        .logs
                        .into_iter()
                        .map(|l| LogLine {
                            level: LogLevel::from_i32(l.level.into()),
                            message: l.message,
                        })
                        .collect(),
                    committed: None,
                };
                (outcome, Some(o.output))
            }
            Err(e) => {
                self.fuel_used = None;
                (failed(&e), None)
            }
        }
    }
}

/// The outcome of a failed invocation, as the endorser answers it: status
/// 500 with the runtime's message. The runtime discards the simulation, so
/// there is no read/write set, no event and no log.
fn failed(e: &InvokeError) -> Outcome {
    Outcome {
        response: e.to_response(),
        rwset: TxRwSet::default(),
        private_writes: Default::default(),
        events: Vec::new(),
        logs: Vec::new(),
        committed: None,
    }
}

/// The runtime's invocation for a proposal. The runtime takes typed values
/// (a `TxId`, a `Role`, a `Hash32`) where the guest API has text, so values a
/// real proposal could not carry are a mistake of the test.
#[track_caller]
fn runtime_invocation(p: Proposal) -> RuntimeInvocation {
    let tx_id = lower_hex_32(&p.tx_id).unwrap_or_else(|| {
        panic!(
            "tx id {:?}: the runtime takes 64 lower-case hex characters, as real tx ids are",
            p.tx_id
        )
    });
    let c = p.caller;
    let role: Role = c.role.parse().unwrap_or_else(|_| {
        panic!(
            "caller role {:?}: the runtime knows the node roles client, peer, admin and orderer",
            c.role
        )
    });
    let cert_hash = lower_hex_32(&c.cert_hash).unwrap_or_else(|| {
        panic!(
            "caller cert_hash {:?}: the runtime takes 64 lower-case hex characters (a SHA-256)",
            c.cert_hash
        )
    });
    RuntimeInvocation {
        chaincode: p.contract,
        function: p.function,
        args: p.args,
        tx_id: TxId(tx_id),
        channel_id: p.channel_id,
        timestamp: ProtocolTimestamp {
            seconds: p.timestamp.seconds,
            nanos: p.timestamp.nanos,
        },
        caller: CallerInfo {
            msp_id: c.msp_id,
            role,
            attributes: c.attributes,
            common_name: c.common_name,
            subject: c.subject,
            cert_hash,
        },
        transient: p
            .transient
            .into_iter()
            .map(|(k, v)| (k, Bytes(v)))
            .collect(),
    }
}

/// `s` as a hash if it is exactly 64 lower-case hex characters: upper case
/// would decode too, but the guest would then see other text than natively.
fn lower_hex_32(s: &str) -> Option<Hash32> {
    let lower = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    lower.then(|| Hash32::from_hex(s).ok()).flatten()
}

// ---- what is shared by the whole test process ---------------------------------

/// A map of values computed once per key: the lock is held only to find the
/// key's cell, so computing one key (a cargo build, a compilation) does not
/// hold up the others, while callers of the same key wait for the one
/// computation.
type Memo<K, V> = Mutex<HashMap<K, Arc<OnceLock<V>>>>;

fn memo<K: Eq + Hash, V: Clone>(map: &Memo<K, V>, key: K, init: impl FnOnce() -> V) -> V {
    let cell = map
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default()
        .clone();
    cell.get_or_init(init).clone()
}

/// Builds the contract crate in `crate_dir` with
/// `cellchain_chaincode_build::build_contract`, once per process and crate
/// directory: every later call (from any thread) returns the same module.
/// Panics with the build error, which is remembered too, so that a crate that
/// does not build fails each test quickly with the same message.
#[track_caller]
pub fn build_once(crate_dir: &Path) -> Arc<BuiltContract> {
    static BUILDS: LazyLock<Memo<PathBuf, Result<Arc<BuiltContract>, String>>> =
        LazyLock::new(Default::default);
    // One entry per crate however the test spells its path.
    let key = std::fs::canonicalize(crate_dir).unwrap_or_else(|_| crate_dir.to_path_buf());
    let built = memo(&BUILDS, key.clone(), || {
        build_contract(&key)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    });
    built.unwrap_or_else(|e| panic!("building the contract in {}: {e}", crate_dir.display()))
}

/// Where the shared runtimes cache compiled modules: `chaincode-cache` in the
/// Cargo target directory of the running test binary, which is where
/// `build_once` puts the modules too. It is found from the test executable
/// (the target directory is the ancestor holding Cargo's `CACHEDIR.TAG`), not
/// from a built module, because the runtime is created by whichever harness
/// comes first, possibly one given bytes rather than a crate. `None` (no disk
/// cache: each process compiles) if there is no such directory.
pub fn cache_dir() -> Option<PathBuf> {
    static DIR: LazyLock<Option<PathBuf>> = LazyLock::new(|| {
        let exe = std::env::current_exe().ok()?;
        exe.ancestors()
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
            .map(|target| target.join("chaincode-cache"))
    });
    DIR.clone()
}

/// The process's runtime for `config`. Keyed by the configuration's JSON:
/// `RuntimeConfig` is `Eq` but not `Hash`, and its JSON is canonical (a
/// struct of plain fields).
fn config_key(config: &RuntimeConfig) -> String {
    serde_json::to_string(config).expect("RuntimeConfig serialises")
}

/// Instance slots of the runtimes for configurations other than the
/// production one. See [`runtime`].
const TEST_POOL_SLOTS: u32 = 64;

/// The process's runtime for `config`, created at first use and kept for the
/// whole process.
///
/// The production configuration runs exactly as configured. A runtime's
/// instance pool reserves address space for every slot (about 4 GiB each: the
/// production pool of 1,000 slots reserves over 4 TiB of the 128 TiB a
/// process has), and these runtimes are never dropped, so the runtime of any
/// other configuration gets at most [`TEST_POOL_SLOTS`] slots. The pool size
/// only bounds how many invocations run at once (one per test thread here);
/// it changes nothing an invocation does.
fn runtime(config: &RuntimeConfig) -> Arc<Runtime> {
    static RUNTIMES: LazyLock<Memo<String, Arc<Runtime>>> = LazyLock::new(Default::default);
    memo(&RUNTIMES, config_key(config), || {
        let mut config = config.clone();
        if config != RuntimeConfig::default() {
            config.max_concurrent_instances = config.max_concurrent_instances.min(TEST_POOL_SLOTS);
        }
        let runtime = Runtime::new(config, cache_dir())
            .unwrap_or_else(|e| panic!("the wasm harness cannot start a runtime: {e}"));
        Arc::new(runtime)
    })
}

/// `deployed` installed in the runtime of `config`, once per process.
fn install(
    config: &RuntimeConfig,
    deployed: &Deployed,
) -> Result<Arc<InstalledChaincode>, InstallError> {
    type Installs = Memo<(String, Hash32), Result<Arc<InstalledChaincode>, InstallError>>;
    static INSTALLS: LazyLock<Installs> = LazyLock::new(Default::default);
    memo(&INSTALLS, (config_key(config), deployed.sha256), || {
        runtime(config).install(&deployed.wasm)
    })
}
