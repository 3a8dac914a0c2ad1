//! The on-disk form of the block files, shared by the store (which repairs a torn
//! tail) and by offline verification (which only reports it).
//!
//! A directory holds segment files `blocks_000000.dat`, `blocks_000001.dat`, ...
//! numbered from 0 without gaps. Each is a sequence of records:
//!
//! ```text
//! u32 magic | u64 block number | u32 length | u32 CRC-32 of the bytes | bytes
//! ```
//!
//! all integers big-endian, `bytes` the block's JSON. The magic doubles as the
//! format version. Blocks are numbered from 0 and stored in order, so the position
//! of a record fixes the number it must carry; a scan checks that and the CRC, and
//! builds the in-memory index of where each block lies.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use cellchain_core::protocol::{decode, Block};

use crate::StoreError;

/// `"CCB1"`: CellChain block record, format 1.
pub(crate) const MAGIC: u32 = u32::from_be_bytes(*b"CCB1");
/// magic (4) + number (8) + length (4) + CRC (4).
pub(crate) const HEADER_LEN: usize = 20;

/// Where one block's record lies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc {
    pub segment: u32,
    pub offset: u64,
    /// Length of the block bytes (without the record header).
    pub len: u32,
}

impl Loc {
    pub fn record_len(&self) -> u64 {
        HEADER_LEN as u64 + self.len as u64
    }
}

/// The last record of the last segment is damaged and no intact record follows it:
/// the mark of an append cut short by a crash. Opening the store cuts it away;
/// verification reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The block the damaged record would have held (the number of intact blocks).
    pub number: u64,
    pub file: PathBuf,
    /// Where the damaged record starts: the file's length once it is cut away.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub bytes: u64,
    /// What is wrong with the record, for the log.
    pub reason: String,
}

pub(crate) fn segment_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("blocks_{id:06}.dat"))
}

fn segment_id(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("blocks_")?.strip_suffix(".dat")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The record for block `number` with JSON `bytes`, as one buffer so that it is
/// written with a single `write`.
pub(crate) fn encode_record(number: u64, bytes: &[u8], len: u32) -> Vec<u8> {
    let mut r = Vec::with_capacity(HEADER_LEN + bytes.len());
    r.extend_from_slice(&MAGIC.to_be_bytes());
    r.extend_from_slice(&number.to_be_bytes());
    r.extend_from_slice(&len.to_be_bytes());
    r.extend_from_slice(&crc32fast::hash(bytes).to_be_bytes());
    r.extend_from_slice(bytes);
    r
}

struct Header {
    magic: u32,
    number: u64,
    len: u32,
    crc: u32,
}

fn parse_header(h: &[u8]) -> Header {
    let u32_at = |i: usize| u32::from_be_bytes(h[i..i + 4].try_into().expect("4 bytes"));
    Header {
        magic: u32_at(0),
        number: u64::from_be_bytes(h[4..12].try_into().expect("8 bytes")),
        len: u32_at(12),
        crc: u32_at(16),
    }
}

/// A record that a crash in the middle of an append could have left behind.
enum Damage {
    ShortHeader { available: u64 },
    BadMagic { found: u32 },
    ShortPayload { declared: u32, available: u64 },
    BadCrc { expected: u32, found: u32 },
}

impl Damage {
    fn describe(&self) -> String {
        match self {
            Damage::ShortHeader { available } => {
                format!("only {available} of the {HEADER_LEN} header bytes are present")
            }
            Damage::BadMagic { found } => {
                format!("found {found:#010x} where the record magic belongs")
            }
            Damage::ShortPayload {
                declared,
                available,
            } => format!("the header declares {declared} bytes but only {available} follow"),
            Damage::BadCrc { expected, found } => {
                format!("CRC-32 mismatch (stored {expected:#010x}, computed {found:#010x})")
            }
        }
    }

    fn into_error(self, number: u64, file: &Path, offset: u64) -> StoreError {
        let file = file.to_path_buf();
        match self {
            Damage::BadMagic { found } => StoreError::BadMagic {
                number,
                file,
                offset,
                found,
            },
            Damage::BadCrc { expected, found } => StoreError::BadCrc {
                number,
                file,
                offset,
                expected,
                found,
            },
            d @ (Damage::ShortHeader { .. } | Damage::ShortPayload { .. }) => {
                StoreError::TruncatedRecord {
                    number,
                    file,
                    offset,
                    reason: d.describe(),
                }
            }
        }
    }
}

/// The result of scanning a block directory, before any repair.
pub(crate) struct Scan {
    /// Segment files by id (index = id).
    pub segments: Vec<PathBuf>,
    /// Where each block lies, by number.
    pub index: Vec<Loc>,
    /// A damaged last record, if any (not in `index`).
    pub torn: Option<TornTail>,
}

/// Scans every segment of `dir` in order, checking each record's magic, number,
/// length and CRC. Damage before the last record of the last segment is an error;
/// damage there, with no intact record after it, is returned as `torn`.
pub(crate) fn scan(dir: &Path) -> Result<Scan, StoreError> {
    let mut ids = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::io("read directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("read directory", dir, e))?;
        // Other files (an operator's notes, a future index file) are not ours to judge.
        if let Some(id) = entry.file_name().to_str().and_then(segment_id) {
            ids.push(id);
        }
    }
    ids.sort_unstable();

    let mut scan = Scan {
        segments: Vec::with_capacity(ids.len()),
        index: Vec::new(),
        torn: None,
    };
    for (position, &id) in ids.iter().enumerate() {
        let expected_id = position as u32;
        if id != expected_id {
            return Err(StoreError::MissingSegment {
                number: scan.index.len() as u64,
                file: segment_path(dir, expected_id),
            });
        }
        let path = segment_path(dir, id);
        let is_last = position + 1 == ids.len();
        scan_segment(&path, id, is_last, &mut scan)?;
        scan.segments.push(path);
    }
    Ok(scan)
}

fn scan_segment(path: &Path, id: u32, is_last: bool, scan: &mut Scan) -> Result<(), StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
    let file_len = file
        .metadata()
        .map_err(|e| StoreError::io("stat", path, e))?
        .len();
    let read_err = |e| StoreError::io("read", path, e);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; HEADER_LEN];
    let mut bytes = Vec::new();
    let mut offset = 0u64;
    while offset < file_len {
        let number = scan.index.len() as u64;
        let available = file_len - offset;
        let damage = if available < HEADER_LEN as u64 {
            Some(Damage::ShortHeader { available })
        } else {
            reader.read_exact(&mut header).map_err(read_err)?;
            let h = parse_header(&header);
            let payload_available = available - HEADER_LEN as u64;
            if h.magic != MAGIC {
                Some(Damage::BadMagic { found: h.magic })
            } else if h.len as u64 > payload_available {
                Some(Damage::ShortPayload {
                    declared: h.len,
                    available: payload_available,
                })
            } else {
                bytes.resize(h.len as usize, 0);
                reader.read_exact(&mut bytes).map_err(read_err)?;
                let found = crc32fast::hash(&bytes);
                if found != h.crc {
                    Some(Damage::BadCrc {
                        expected: h.crc,
                        found,
                    })
                } else if h.number != number {
                    // An intact record with the wrong number is never a torn write:
                    // a crash leaves a prefix of the right record, not another one.
                    return Err(StoreError::OutOfSequence {
                        file: path.to_path_buf(),
                        offset,
                        expected: number,
                        found: h.number,
                    });
                } else {
                    scan.index.push(Loc {
                        segment: id,
                        offset,
                        len: h.len,
                    });
                    offset += HEADER_LEN as u64 + h.len as u64;
                    None
                }
            }
        };
        if let Some(damage) = damage {
            // Only the last write can be cut short by a crash, and a sealed segment
            // was complete before the next one was created. So damage is a torn
            // append only in the last segment and only if no intact record follows;
            // anything else is corruption of an acknowledged block and must stop us.
            if is_last && !intact_record_after(path, offset + 1)? {
                scan.torn = Some(TornTail {
                    number,
                    file: path.to_path_buf(),
                    offset,
                    bytes: file_len - offset,
                    reason: damage.describe(),
                });
                return Ok(());
            }
            return Err(damage.into_error(number, path, offset));
        }
    }
    Ok(())
}

/// Whether an intact record (magic, fitting length, matching CRC) starts anywhere at
/// or after `from`. Only called on damage in the last segment, so reading the rest
/// of that file into memory is bounded by the segment size.
fn intact_record_after(path: &Path, from: u64) -> Result<bool, StoreError> {
    let mut file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
    file.seek(SeekFrom::Start(from))
        .map_err(|e| StoreError::io("seek", path, e))?;
    let mut rest = Vec::new();
    file.read_to_end(&mut rest)
        .map_err(|e| StoreError::io("read", path, e))?;
    let magic = MAGIC.to_be_bytes();
    let mut i = 0;
    while i + HEADER_LEN <= rest.len() {
        if rest[i..i + 4] == magic {
            let h = parse_header(&rest[i..i + HEADER_LEN]);
            let start = i + HEADER_LEN;
            if let Some(end) = start.checked_add(h.len as usize) {
                if end <= rest.len() && crc32fast::hash(&rest[start..end]) == h.crc {
                    return Ok(true);
                }
            }
        }
        i += 1;
    }
    Ok(false)
}

/// Reads and checks the record of block `number` at `loc` from an open segment:
/// magic, number, length and CRC again (the disk may have rotted since the scan),
/// then the JSON and the number in the block's header.
pub(crate) fn read_block(
    file: &mut File,
    path: &Path,
    number: u64,
    loc: Loc,
) -> Result<Block, StoreError> {
    let mut record = vec![0u8; loc.record_len() as usize];
    file.seek(SeekFrom::Start(loc.offset))
        .map_err(|e| StoreError::io("seek", path, e))?;
    file.read_exact(&mut record).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            StoreError::TruncatedRecord {
                number,
                file: path.to_path_buf(),
                offset: loc.offset,
                reason: "the file now ends before the record does".into(),
            }
        } else {
            StoreError::io("read", path, e)
        }
    })?;
    let h = parse_header(&record[..HEADER_LEN]);
    let bytes = &record[HEADER_LEN..];
    let damage = if h.magic != MAGIC {
        Some(Damage::BadMagic { found: h.magic })
    } else if h.len != loc.len {
        Some(Damage::ShortPayload {
            declared: h.len,
            available: loc.len as u64,
        })
    } else {
        let found = crc32fast::hash(bytes);
        (found != h.crc).then_some(Damage::BadCrc {
            expected: h.crc,
            found,
        })
    };
    if let Some(damage) = damage {
        return Err(damage.into_error(number, path, loc.offset));
    }
    if h.number != number {
        return Err(StoreError::OutOfSequence {
            file: path.to_path_buf(),
            offset: loc.offset,
            expected: number,
            found: h.number,
        });
    }
    let block: Block = decode("block", bytes).map_err(|e| StoreError::Undecodable {
        number,
        file: path.to_path_buf(),
        offset: loc.offset,
        reason: e.to_string(),
    })?;
    if block.header.number != number {
        return Err(StoreError::NumberMismatch {
            number,
            file: path.to_path_buf(),
            offset: loc.offset,
            header_number: block.header.number,
        });
    }
    Ok(block)
}

/// Read access to the blocks of a scanned directory.
#[derive(Debug)]
pub(crate) struct BlockFiles {
    pub segments: Vec<PathBuf>,
    pub index: Vec<Loc>,
}

impl BlockFiles {
    pub fn height(&self) -> u64 {
        self.index.len() as u64
    }

    fn open_segment(&self, segment: u32) -> Result<File, StoreError> {
        let path = &self.segments[segment as usize];
        File::open(path).map_err(|e| StoreError::io("open", path, e))
    }

    pub fn get(&self, number: u64) -> Result<Option<Block>, StoreError> {
        let Some(&loc) = usize::try_from(number).ok().and_then(|n| self.index.get(n)) else {
            return Ok(None);
        };
        let mut file = self.open_segment(loc.segment)?;
        read_block(&mut file, &self.segments[loc.segment as usize], number, loc).map(Some)
    }

    /// Blocks `from..height` in order; stops after the first error.
    pub fn iter_from(&self, from: u64) -> BlockIter<'_> {
        BlockIter {
            files: self,
            next: from,
            open: None,
        }
    }
}

/// Iterates over stored blocks, keeping the current segment open.
pub(crate) struct BlockIter<'a> {
    files: &'a BlockFiles,
    next: u64,
    open: Option<(u32, File)>,
}

impl Iterator for BlockIter<'_> {
    type Item = Result<Block, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let number = self.next;
        let loc = *self.files.index.get(usize::try_from(number).ok()?)?;
        let result = (|| {
            let file = match &mut self.open {
                Some((segment, file)) if *segment == loc.segment => file,
                open => {
                    &mut open
                        .insert((loc.segment, self.files.open_segment(loc.segment)?))
                        .1
                }
            };
            read_block(
                file,
                &self.files.segments[loc.segment as usize],
                number,
                loc,
            )
        })();
        // After an error the blocks that follow cannot be trusted to chain: stop.
        self.next = if result.is_ok() { number + 1 } else { u64::MAX };
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_have_at_least_six_digits() {
        assert_eq!(segment_id("blocks_000000.dat"), Some(0));
        assert_eq!(segment_id("blocks_000042.dat"), Some(42));
        assert_eq!(segment_id("blocks_1234567.dat"), Some(1_234_567));
        assert_eq!(segment_id("blocks_42.dat"), None);
        assert_eq!(segment_id("blocks_00004x.dat"), None);
        assert_eq!(segment_id("blocks_000042.dat.tmp"), None);
        let p = segment_path(Path::new("d"), 7);
        assert_eq!(p, Path::new("d/blocks_000007.dat"));
    }

    #[test]
    fn record_header_round_trips() {
        let r = encode_record(9, b"{}", 2);
        assert_eq!(r.len(), HEADER_LEN + 2);
        let h = parse_header(&r[..HEADER_LEN]);
        assert_eq!((h.magic, h.number, h.len), (MAGIC, 9, 2));
        assert_eq!(h.crc, crc32fast::hash(b"{}"));
        assert_eq!(&r[..4], b"CCB1");
    }
}
