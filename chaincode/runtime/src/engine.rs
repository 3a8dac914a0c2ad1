//! The [`Runtime`]: one wasmtime engine configured for determinism, its epoch
//! ticker, the linker with the host functions, and installation (validate,
//! compile or load from the cache, pre-instantiate).

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cellchain_core::bytes::{sha256, Hash32};
use wasmtime::wasmparser::WasmFeatures;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig,
};

use crate::cache::{Miss, ModuleCache};
use crate::config::RuntimeConfig;
use crate::error::{InstallError, RuntimeError};
use crate::host::{self, HostState};
use crate::invoke::InstalledChaincode;
use crate::validate::{allowed_features, validate};

/// Where an installed module's machine code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleOrigin {
    /// Compiled by this install (and written to the cache, if any).
    Compiled,
    /// Loaded from the on-disk cache: no compilation.
    LoadedFromCache,
}

/// The endorser's chaincode runtime. Create one per process and share it:
/// it owns the engine, the instance pool and the epoch ticker thread.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    config: Arc<RuntimeConfig>,
    cache: Option<ModuleCache>,
    ticker: Arc<Ticker>,
}

impl Runtime {
    /// Builds the engine, the instance pool and the ticker; `cache_dir` (made
    /// if missing) holds compiled modules across restarts.
    pub fn new(config: RuntimeConfig, cache_dir: Option<PathBuf>) -> Result<Runtime, RuntimeError> {
        config.check()?;
        let engine = Engine::new(&engine_config(&config)).map_err(|e| RuntimeError::Engine {
            reason: format!("{e:#}"),
        })?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker).map_err(|e| RuntimeError::Engine {
            reason: format!("linking the host functions: {e:#}"),
        })?;
        let cache = cache_dir
            .map(|dir| {
                ModuleCache::open(&dir, &engine).map_err(|e| RuntimeError::CacheDir {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let ticker = Arc::new(Ticker::start(
            &engine,
            Duration::from_millis(config.epoch_tick_ms),
        )?);
        Ok(Runtime {
            engine,
            linker,
            config: Arc::new(config),
            cache,
            ticker,
        })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Validates `wasm`, compiles it (or loads it from the cache) and prepares
    /// it for cheap instantiation. This is where compilation happens: call it
    /// when a chaincode is installed or at start-up, never per request.
    pub fn install(&self, wasm: &[u8]) -> Result<Arc<InstalledChaincode>, InstallError> {
        let started = Instant::now();
        validate(wasm, &self.config)?;
        let sha = sha256(wasm);
        let (module, origin) = self.load_or_compile(wasm, &sha)?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| InstallError::Link {
                reason: format!("{e:#}"),
            })?;
        let installed =
            InstalledChaincode::new(pre, sha, origin, self.config.clone(), self.ticker.clone());
        // One instantiation now, so that a module that cannot be instantiated
        // (data segments out of bounds, an instance too big for the pool) is
        // refused at install rather than failing every invocation.
        installed.trial_instantiate()?;
        tracing::info!(
            sha256 = %sha,
            ?origin,
            millis = started.elapsed().as_secs_f64() * 1e3,
            "chaincode module installed"
        );
        Ok(Arc::new(installed))
    }

    fn load_or_compile(
        &self,
        wasm: &[u8],
        sha: &Hash32,
    ) -> Result<(Module, ModuleOrigin), InstallError> {
        if let Some(cache) = &self.cache {
            let started = Instant::now();
            match cache.load(&self.engine, sha) {
                Ok(module) => {
                    tracing::info!(
                        sha256 = %sha,
                        micros = started.elapsed().as_micros() as u64,
                        "module cache hit"
                    );
                    return Ok((module, ModuleOrigin::LoadedFromCache));
                }
                Err(Miss::Absent) => tracing::debug!(sha256 = %sha, "module cache miss"),
                Err(Miss::Corrupt(reason)) => tracing::warn!(
                    sha256 = %sha,
                    path = %cache.path(sha).display(),
                    %reason,
                    "module cache file unusable; recompiling and replacing it"
                ),
            }
        }
        let started = Instant::now();
        let module = Module::new(&self.engine, wasm).map_err(|e| InstallError::Compile {
            reason: format!("{e:#}"),
        })?;
        tracing::info!(
            sha256 = %sha,
            millis = started.elapsed().as_secs_f64() * 1e3,
            "module compiled"
        );
        if let Some(cache) = &self.cache {
            // A cache that cannot be written costs a compilation at the next
            // start, nothing more: warn and go on.
            let written = module
                .serialize()
                .map_err(|e| e.to_string())
                .and_then(|artifact| cache.store(sha, &artifact).map_err(|e| e.to_string()));
            if let Err(reason) = written {
                tracing::warn!(sha256 = %sha, %reason, "could not write the module cache");
            }
        }
        Ok((module, ModuleOrigin::Compiled))
    }
}

/// The engine settings. Determinism first: fuel (the deterministic limit),
/// NaN canonicalisation (the only non-deterministic bits of scalar wasm), and
/// exactly the [`allowed_features`] (no threads, no SIMD, ...). Epochs are a
/// wall-clock backstop only.
fn engine_config(config: &RuntimeConfig) -> Config {
    let mut c = Config::new();
    c.consume_fuel(true)
        .epoch_interruption(true)
        .cranelift_nan_canonicalization(true)
        // Threads (shared memory) are compiled out: wasmtime's `threads`
        // feature is off; the feature mask below disables them too.
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .relaxed_simd_deterministic(true)
        .wasm_multi_memory(false)
        .wasm_memory64(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_wide_arithmetic(false)
        .wasm_custom_page_sizes(false)
        // Everything else wasmtime knows off, then exactly our set on: the
        // install-time validator uses the same set, so they cannot disagree.
        .wasm_features(WasmFeatures::all() & !allowed_features(), false)
        .wasm_features(allowed_features(), true)
        .max_wasm_stack(config.max_wasm_stack_bytes)
        // A few frames locate a trap; capturing more only costs time.
        .wasm_backtrace_max_frames(NonZeroUsize::new(8))
        .parallel_compilation(true);
    let n = config.max_concurrent_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(n)
        .total_memories(n)
        .total_tables(n)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .max_memory_size(config.memory_bytes as usize)
        .table_elements(config.max_table_elements as usize);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

/// The epoch ticker: advances the engine's epoch every tick so that stores'
/// epoch deadlines fire. Shared by the runtime and every installed chaincode,
/// so the backstop keeps working as long as any of them is alive; the thread
/// stops and is joined when the last one goes.
pub(crate) struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: &Engine, tick: Duration) -> Result<Ticker, RuntimeError> {
        let (stop, stopped) = mpsc::channel::<()>();
        // A weak handle: the ticker must not keep the engine alive by itself.
        let engine = engine.weak();
        let thread = std::thread::Builder::new()
            .name("cellchain-epoch".into())
            .spawn(move || loop {
                match stopped.recv_timeout(tick) {
                    Err(RecvTimeoutError::Timeout) => match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    },
                    // Stop requested, or the sender is gone.
                    _ => return,
                }
            })
            .map_err(|e| RuntimeError::Ticker {
                reason: e.to_string(),
            })?;
        Ok(Ticker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
