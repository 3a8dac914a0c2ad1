//! [`FileBlockStore`]: the block store over a directory of segment files.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use cellchain_core::protocol::{encode, Block};
use cellchain_core::Hash32;

use crate::segment::{self, BlockFiles, Loc, TornTail};
use crate::{check_next, BlockStore, StoreError};

/// Tuning of a [`FileBlockStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// A new segment file is started when the next record would take the current
    /// one past this size. A block larger than this gets a segment of its own.
    pub segment_size: u64,
}

impl Default for StoreOptions {
    /// 64 MiB segments: few enough files for years of blocks, small enough to copy
    /// or checksum one at a time.
    fn default() -> Self {
        StoreOptions {
            segment_size: 64 << 20,
        }
    }
}

/// What opening a store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Intact blocks in the store (its height).
    pub blocks: u64,
    /// Segment files.
    pub segments: usize,
    /// The damaged last record that was cut away, if the last append was torn by a
    /// crash. That block was never acknowledged: `append` returns only after fsync.
    pub truncated: Option<TornTail>,
}

impl OpenReport {
    /// Bytes cut from the end of the last segment (0 after a clean shutdown).
    pub fn truncated_bytes(&self) -> u64 {
        self.truncated.as_ref().map_or(0, |t| t.bytes)
    }
}

/// Append-only block files in one directory.
///
/// The directory holds segment files `blocks_000000.dat`, `blocks_000001.dat`, ...
/// (numbered from 0 without gaps; a new one starts when the next record would pass
/// [`StoreOptions::segment_size`]). Each is a sequence of records, integers
/// big-endian:
///
/// ```text
/// u32 magic "CCB1" (format 1) | u64 block number | u32 length | u32 CRC-32 of the bytes | bytes
/// ```
///
/// where `bytes` is the block's JSON ([`encode`]). Each record is written with one
/// `write` and fdatasync'ed before [`BlockStore::append`] returns; creating a segment
/// also fsyncs the directory. The index (block number to segment and offset) lives
/// in memory and is rebuilt by scanning on open: about 19 ms for 1,000 blocks of 500
/// envelopes (200 MB) with the files in the page cache.
///
/// One process owns the directory: the store takes no lock on it, so the node must
/// not open it twice.
#[derive(Debug)]
pub struct FileBlockStore {
    dir: PathBuf,
    options: StoreOptions,
    files: BlockFiles,
    /// The last segment, opened for appending.
    writer: File,
    writer_len: u64,
    last_hash: Option<Hash32>,
    /// Set when a write or fsync failed: after a failed fsync the kernel may have
    /// dropped the dirty pages and cleared the error, so retrying could report
    /// success for bytes that never reached the disk. Only a reopen (which scans and
    /// repairs) makes the store writable again.
    poisoned: Option<String>,
}

impl FileBlockStore {
    /// Opens the store in `dir`, creating the directory and the first segment if
    /// needed. Scans every segment to rebuild the index; a torn last record is cut
    /// away (and logged), any other damage is an error naming the block.
    pub fn open(
        dir: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<(FileBlockStore, OpenReport), StoreError> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::io("create directory", &dir, e))?;
            // The new directory's own name must survive a crash too.
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            sync_dir(parent.unwrap_or(Path::new(".")))?;
        }
        let scan = segment::scan(&dir)?;
        let mut files = BlockFiles {
            segments: scan.segments,
            index: scan.index,
        };
        if files.segments.is_empty() {
            let path = segment::segment_path(&dir, 0);
            create_segment(&dir, &path)?;
            files.segments.push(path);
        }
        let last = files.segments.last().expect("at least one segment").clone();
        if let Some(torn) = &scan.torn {
            tracing::warn!(
                file = %torn.file.display(),
                offset = torn.offset,
                bytes = torn.bytes,
                block = torn.number,
                reason = %torn.reason,
                "cutting a torn record from the end of the block store (an append interrupted by a crash; the block was never acknowledged)"
            );
            let f = OpenOptions::new()
                .write(true)
                .open(&torn.file)
                .map_err(|e| StoreError::io("open", &torn.file, e))?;
            f.set_len(torn.offset)
                .map_err(|e| StoreError::io("truncate", &torn.file, e))?;
            f.sync_all()
                .map_err(|e| StoreError::io("fsync", &torn.file, e))?;
        }
        let writer = OpenOptions::new()
            .append(true)
            .open(&last)
            .map_err(|e| StoreError::io("open", &last, e))?;
        let writer_len = writer
            .metadata()
            .map_err(|e| StoreError::io("stat", &last, e))?
            .len();
        let last_hash = match files.height() {
            0 => None,
            h => files.get(h - 1)?.map(|b| b.hash()),
        };
        let report = OpenReport {
            blocks: files.height(),
            segments: files.segments.len(),
            truncated: scan.torn,
        };
        let store = FileBlockStore {
            dir,
            options,
            files,
            writer,
            writer_len,
            last_hash,
            poisoned: None,
        };
        Ok((store, report))
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment files, in order.
    pub fn segments(&self) -> &[PathBuf] {
        &self.files.segments
    }

    /// Starts the next segment file and makes its creation durable.
    fn roll(&mut self) -> Result<(), StoreError> {
        let id = self.files.segments.len() as u32;
        let path = segment::segment_path(&self.dir, id);
        let writer = create_segment(&self.dir, &path)?;
        self.files.segments.push(path);
        self.writer = writer;
        self.writer_len = 0;
        Ok(())
    }

    fn write_record(&mut self, record: &[u8]) -> Result<(), StoreError> {
        let path = self.files.segments.last().expect("a segment");
        self.writer
            .write_all(record)
            .map_err(|e| StoreError::io("write", path, e))?;
        // fdatasync is enough: it also flushes the file size, which is the metadata
        // an append changes and the data needs to be found again.
        self.writer
            .sync_data()
            .map_err(|e| StoreError::io("fsync", path, e))
    }
}

impl BlockStore for FileBlockStore {
    fn append(&mut self, block: &Block) -> Result<(), StoreError> {
        if let Some(reason) = &self.poisoned {
            return Err(StoreError::Poisoned {
                reason: reason.clone(),
            });
        }
        check_next(self.height(), self.last_hash, block)?;
        let number = block.header.number;
        let bytes = encode(block).0;
        let len = u32::try_from(bytes.len()).map_err(|_| StoreError::TooLarge {
            number,
            bytes: bytes.len(),
        })?;
        let record = segment::encode_record(number, &bytes, len);
        if self.writer_len > 0 && self.writer_len + record.len() as u64 > self.options.segment_size
        {
            self.roll()
                .inspect_err(|e| self.poisoned = Some(e.to_string()))?;
        }
        let offset = self.writer_len;
        if let Err(e) = self.write_record(&record) {
            // Best effort: cut a partial record so that a later scan does not meet it.
            // Whether or not this works, the store stays poisoned until reopened.
            let _ = self.writer.set_len(offset);
            self.poisoned = Some(e.to_string());
            return Err(e);
        }
        self.files.index.push(Loc {
            segment: self.files.segments.len() as u32 - 1,
            offset,
            len,
        });
        self.writer_len += record.len() as u64;
        self.last_hash = Some(block.hash());
        Ok(())
    }

    fn height(&self) -> u64 {
        self.files.height()
    }

    fn get(&self, number: u64) -> Result<Option<Block>, StoreError> {
        self.files.get(number)
    }

    fn last_hash(&self) -> Option<Hash32> {
        self.last_hash
    }

    fn iter_from(&self, number: u64) -> Box<dyn Iterator<Item = Result<Block, StoreError>> + '_> {
        Box::new(self.files.iter_from(number))
    }
}

/// Creates an empty segment (refusing to overwrite one) and fsyncs the directory so
/// that the new file's name survives a crash along with the records written to it.
fn create_segment(dir: &Path, path: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(path)
        .map_err(|e| StoreError::io("create", path, e))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Makes a directory's entries (a new file's name) durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("fsync directory", dir, e))?;
    }
    // Elsewhere a directory cannot be opened as a file; NTFS journals the entry.
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
