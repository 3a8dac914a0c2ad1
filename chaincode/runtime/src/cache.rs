//! The on-disk cache of compiled modules, so that compilation (tens of ms)
//! happens once per module and engine, never on the request path.
//!
//! A file is named `<sha256 of the wasm>-<engine hash>.cwasm`, where the
//! engine hash is a SHA-256 of wasmtime's `precompile_compatibility_hash`
//! (wasmtime version, target, compiler flags, fuel/epoch/NaN settings): a
//! module compiled by a different engine is simply another file. Its content
//! is a header (`MAGIC`, SHA-256 of the artifact) and the artifact wasmtime
//! serialised. The digest is checked before loading because wasmtime checks
//! only the artifact's metadata, not its machine code: a flipped bit in the
//! code would load and run wrong (or unsafe) code. Files are written to a
//! temporary name, fsynced, then renamed, so a reader never sees half a file.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cellchain_core::bytes::{sha256, Hash32};
use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"CCWASM\x00\x01";
const HEADER: usize = MAGIC.len() + 32;

/// Why a cache file was not used.
#[derive(Debug)]
pub(crate) enum Miss {
    /// No file: the normal first install.
    Absent,
    /// A file that is truncated, altered or from an incompatible engine; it is
    /// recompiled and replaced.
    Corrupt(String),
}

pub(crate) struct ModuleCache {
    dir: PathBuf,
    engine_hash: String,
}

/// Feeds `Hash` output into SHA-256: unlike `DefaultHasher`, stable across
/// Rust releases and processes, so the file name is stable too.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        // Unused: the full digest is taken from the inner state.
        0
    }
}

/// A hex digest of the engine's compatibility hash.
pub(crate) fn engine_hash(engine: &Engine) -> String {
    let mut h = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex::encode(&h.0.finalize()[..16])
}

impl ModuleCache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> std::io::Result<ModuleCache> {
        fs::create_dir_all(dir)?;
        Ok(ModuleCache {
            dir: dir.to_path_buf(),
            engine_hash: engine_hash(engine),
        })
    }

    /// The file of a module: its name binds the wasm and the engine.
    pub(crate) fn path(&self, wasm_sha256: &Hash32) -> PathBuf {
        self.dir.join(format!(
            "{}-{}.cwasm",
            wasm_sha256.to_hex(),
            self.engine_hash
        ))
    }

    /// Loads the compiled module of `wasm_sha256`, if a sound file exists.
    pub(crate) fn load(&self, engine: &Engine, wasm_sha256: &Hash32) -> Result<Module, Miss> {
        let path = self.path(wasm_sha256);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Miss::Absent),
            Err(e) => return Err(Miss::Corrupt(format!("cannot read: {e}"))),
        };
        if bytes.len() < HEADER || &bytes[..MAGIC.len()] != MAGIC {
            return Err(Miss::Corrupt("not a CellChain module cache file".into()));
        }
        let artifact = &bytes[HEADER..];
        if sha256(artifact).0[..] != bytes[MAGIC.len()..HEADER] {
            return Err(Miss::Corrupt(
                "the artifact does not match its digest".into(),
            ));
        }
        // SAFETY: `Module::deserialize` trusts its input to be an artifact
        // wasmtime produced, because it maps it as executable code. These bytes
        // are exactly what `store` wrote: the file lives in the cache directory
        // the operator gave this runtime (only the endorser writes there), its
        // name binds the wasm's SHA-256 and this engine's compatibility hash,
        // and the artifact matches the SHA-256 recorded when it was written,
        // checked just above on the very bytes being loaded (not on a file
        // that could change between check and load). wasmtime additionally
        // checks the artifact's engine compatibility and refuses a mismatch.
        unsafe { Module::deserialize(engine, artifact) }
            .map_err(|e| Miss::Corrupt(format!("wasmtime refused it: {e}")))
    }

    /// Writes `artifact` (from `Module::serialize`) for `wasm_sha256`,
    /// atomically: temporary file, fsync, rename, fsync of the directory.
    pub(crate) fn store(&self, wasm_sha256: &Hash32, artifact: &[u8]) -> std::io::Result<()> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = self.path(wasm_sha256);
        let tmp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            wasm_sha256.to_hex(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&sha256(artifact).0)?;
            f.write_all(artifact)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        let result = write();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}
