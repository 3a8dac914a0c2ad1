//! Block cutting: which pending envelopes go into the next block, and when. The
//! same rules as Fabric's block cutter, as a pure state machine: the caller passes
//! the time in (milliseconds on any monotonic clock) and runs the timer.
//!
//! A batch is cut
//! - when `max_message_count` envelopes are pending;
//! - before an envelope that would take the pending bytes past
//!   `preferred_max_bytes` (that envelope starts the next batch);
//! - around an envelope that alone is larger than `preferred_max_bytes`: the
//!   pending batch is cut, then that envelope goes alone in its own batch;
//! - when `batch_timeout` has passed since the first pending envelope arrived.
//!
//! Envelopes above `absolute_max_bytes` never get here: admission refuses them.

use cellchain_core::config::BatchConfig;

/// The cutting rules of one channel, from its genesis block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutRules {
    pub max_message_count: usize,
    pub preferred_max_bytes: usize,
    pub batch_timeout_ms: u64,
}

impl From<&BatchConfig> for CutRules {
    fn from(b: &BatchConfig) -> Self {
        CutRules {
            max_message_count: (b.max_message_count as usize).max(1),
            preferred_max_bytes: b.preferred_max_bytes.0 as usize,
            batch_timeout_ms: b.batch_timeout.0,
        }
    }
}

/// Pending envelopes (any item with a size) and the rules to cut them.
#[derive(Debug)]
pub struct BlockCutter<T> {
    rules: CutRules,
    pending: Vec<T>,
    pending_bytes: usize,
    /// When the first pending envelope arrived.
    since_ms: Option<u64>,
}

impl<T> BlockCutter<T> {
    pub fn new(rules: CutRules) -> Self {
        BlockCutter {
            rules,
            pending: Vec::new(),
            pending_bytes: 0,
            since_ms: None,
        }
    }

    /// Adds one envelope of `size` bytes at time `now_ms` and returns the batches
    /// to cut now, in order: none, one, or two (when an oversized envelope
    /// follows pending ones).
    pub fn ordered(&mut self, item: T, size: usize, now_ms: u64) -> Vec<Vec<T>> {
        let mut batches = Vec::new();
        if size > self.rules.preferred_max_bytes {
            // Alone in its own block, after whatever was waiting.
            if !self.pending.is_empty() {
                batches.push(self.cut());
            }
            batches.push(vec![item]);
            return batches;
        }
        if self.pending_bytes + size > self.rules.preferred_max_bytes {
            batches.push(self.cut());
        }
        if self.pending.is_empty() {
            self.since_ms = Some(now_ms);
        }
        self.pending.push(item);
        self.pending_bytes += size;
        if self.pending.len() >= self.rules.max_message_count {
            batches.push(self.cut());
        }
        batches
    }

    /// When the batch timeout fires for the pending envelopes, if any are pending.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.since_ms.map(|t| t + self.rules.batch_timeout_ms)
    }

    /// The pending batch if its timeout has passed at `now_ms`.
    pub fn on_timer(&mut self, now_ms: u64) -> Option<Vec<T>> {
        match self.deadline_ms() {
            Some(d) if now_ms >= d => Some(self.cut()),
            _ => None,
        }
    }

    /// Cuts whatever is pending (possibly nothing).
    pub fn cut(&mut self) -> Vec<T> {
        self.pending_bytes = 0;
        self.since_ms = None;
        std::mem::take(&mut self.pending)
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// The pending envelopes, oldest first.
    pub fn pending(&self) -> &[T] {
        &self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cutter(count: usize, bytes: usize, timeout: u64) -> BlockCutter<u32> {
        BlockCutter::new(CutRules {
            max_message_count: count,
            preferred_max_bytes: bytes,
            batch_timeout_ms: timeout,
        })
    }

    #[test]
    fn cuts_at_max_message_count() {
        let mut c = cutter(3, 1000, 100);
        assert!(c.ordered(1, 10, 0).is_empty());
        assert!(c.ordered(2, 10, 0).is_empty());
        assert_eq!(c.ordered(3, 10, 0), vec![vec![1, 2, 3]]);
        assert_eq!(c.pending_len(), 0);
        assert_eq!(c.deadline_ms(), None);
    }

    #[test]
    fn cuts_before_an_envelope_that_would_pass_preferred_bytes() {
        let mut c = cutter(100, 100, 1000);
        assert!(c.ordered(1, 60, 0).is_empty());
        assert_eq!(c.ordered(2, 50, 5), vec![vec![1]]);
        assert_eq!(c.pending(), &[2]);
        assert_eq!(c.pending_bytes(), 50);
        // The timer restarts with the envelope that begins the new batch.
        assert_eq!(c.deadline_ms(), Some(1005));
    }

    #[test]
    fn exactly_preferred_bytes_stays_in_one_batch() {
        let mut c = cutter(100, 100, 1000);
        assert!(c.ordered(1, 60, 0).is_empty());
        assert!(c.ordered(2, 40, 0).is_empty());
        assert_eq!(c.pending_bytes(), 100);
    }

    #[test]
    fn an_oversized_envelope_goes_alone_after_the_pending_batch() {
        let mut c = cutter(100, 100, 1000);
        assert!(c.ordered(1, 10, 0).is_empty());
        assert_eq!(c.ordered(2, 150, 0), vec![vec![1], vec![2]]);
        assert_eq!(c.pending_len(), 0);
        let mut empty = cutter(100, 100, 1000);
        assert_eq!(empty.ordered(7, 150, 0), vec![vec![7]]);
    }

    #[test]
    fn timeout_cuts_from_the_first_pending_envelope() {
        let mut c = cutter(100, 1000, 250);
        assert_eq!(c.on_timer(1_000), None);
        c.ordered(1, 10, 1_000);
        c.ordered(2, 10, 1_200);
        assert_eq!(c.deadline_ms(), Some(1_250));
        assert_eq!(c.on_timer(1_249), None);
        assert_eq!(c.on_timer(1_250), Some(vec![1, 2]));
        assert_eq!(c.on_timer(5_000), None);
    }

    #[test]
    fn a_count_of_zero_is_treated_as_one() {
        let batch = BatchConfig {
            max_message_count: 0,
            ..Default::default()
        };
        let mut c: BlockCutter<u32> = BlockCutter::new(CutRules::from(&batch));
        assert_eq!(c.ordered(1, 1, 0), vec![vec![1]]);
    }
}
