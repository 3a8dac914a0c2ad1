use super::*;

use raft::{Config, RawNode, StateRole};
use tempfile::TempDir;

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: format!("entry {index} term {term}").into_bytes().into(),
        ..Default::default()
    }
}

fn entries(indexes: std::ops::RangeInclusive<u64>, term: u64) -> Vec<Entry> {
    indexes.map(|i| entry(i, term)).collect()
}

fn hard_state(term: u64, vote: u64, commit: u64) -> HardState {
    HardState {
        term,
        vote,
        commit,
        ..Default::default()
    }
}

fn ctx() -> GetEntriesContext {
    GetEntriesContext::empty(false)
}

fn all_entries(log: &RaftLog) -> Vec<Entry> {
    let first = log.first_index().unwrap();
    let last = log.last_index().unwrap();
    log.entries(first, last + 1, None, ctx()).unwrap()
}

fn snapshot(index: u64, term: u64, voters: &[u64], data: &[u8]) -> Snapshot {
    let mut snap = Snapshot {
        data: data.to_vec().into(),
        ..Default::default()
    };
    let meta = snap.mut_metadata();
    meta.index = index;
    meta.term = term;
    meta.set_conf_state(ConfState {
        voters: voters.to_vec(),
        ..Default::default()
    });
    snap
}

fn store_err<T: std::fmt::Debug>(r: raft::Result<T>) -> StorageError {
    match r {
        Err(raft::Error::Store(e)) => e,
        other => panic!("expected a storage error, got {other:?}"),
    }
}

#[test]
fn errors_are_send_sync_and_log_is_send() {
    fn check<T: Send + Sync + 'static>() {}
    fn send<T: Send>() {}
    check::<RaftLogError>();
    send::<RaftLog>();
}

#[test]
fn new_log_starts_with_the_given_voters_and_is_empty() {
    let dir = TempDir::new().unwrap();
    let log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
    assert_eq!(log.conf_state().voters, vec![1, 2, 3]);
    assert_eq!(log.hard_state(), HardState::default());
    assert_eq!(log.first_index().unwrap(), 1);
    assert_eq!(log.last_index().unwrap(), 0);
    assert_eq!(log.term(0).unwrap(), 0);
    assert_eq!(log.entries(1, 1, None, ctx()).unwrap(), vec![]);
    assert_eq!(log.applied(), 0);
    assert_eq!(log.entries_bytes(), 0);
    assert_eq!(log.snapshot_now(), Snapshot::default());
    let state = log.initial_state().unwrap();
    assert!(state.initialized());
    assert_eq!(state.conf_state.voters, vec![1, 2, 3]);
}

#[test]
fn existing_log_keeps_its_own_conf_state_whatever_the_voters() {
    let dir = TempDir::new().unwrap();
    drop(RaftLog::open(dir.path(), &[1, 2, 3]).unwrap());
    let log = RaftLog::open(dir.path(), &[7]).unwrap();
    assert_eq!(log.conf_state().voters, vec![1, 2, 3]);
}

#[test]
fn persist_then_reopen_returns_same_entries_hard_state_and_conf_state() {
    let dir = TempDir::new().unwrap();
    let written = entries(1..=5, 1);
    let hs = hard_state(1, 1, 3);
    let bytes;
    {
        let mut log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
        log.persist(&written, Some(&hs)).unwrap();
        let mut cs = log.conf_state();
        cs.learners = vec![4];
        log.set_conf_state(cs).unwrap();
        bytes = log.entries_bytes();
        assert_eq!(
            bytes,
            written
                .iter()
                .map(|e| e.write_to_bytes().unwrap().len() as u64)
                .sum::<u64>()
        );
    }
    let log = RaftLog::open(dir.path(), &[9]).unwrap();
    assert_eq!(all_entries(&log), written);
    assert_eq!(log.first_index().unwrap(), 1);
    assert_eq!(log.last_index().unwrap(), 5);
    assert_eq!(log.hard_state(), hs);
    assert_eq!(log.conf_state().voters, vec![1, 2, 3]);
    assert_eq!(log.conf_state().learners, vec![4]);
    assert_eq!(log.entries_bytes(), bytes);
    let state = log.initial_state().unwrap();
    assert_eq!(state.hard_state, hs);
    assert_eq!(state.conf_state, log.conf_state());
}

#[test]
fn conflicting_append_truncates_the_suffix_also_after_reopen() {
    let dir = TempDir::new().unwrap();
    {
        let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
        log.persist(&entries(1..=5, 1), None).unwrap();
        // A new leader at term 2 overwrites from index 3: 4 and 5 must go.
        log.persist(&[entry(3, 2)], None).unwrap();
        let mut expected = entries(1..=2, 1);
        expected.push(entry(3, 2));
        assert_eq!(all_entries(&log), expected);
        assert_eq!(log.last_index().unwrap(), 3);
        assert_eq!(
            store_err(log.term(4)),
            StorageError::Unavailable,
            "entry 4 was truncated"
        );
        assert_eq!(
            log.entries_bytes(),
            expected
                .iter()
                .map(|e| u64::from(e.compute_size()))
                .sum::<u64>()
        );
    }
    let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
    let mut expected = entries(1..=2, 1);
    expected.push(entry(3, 2));
    assert_eq!(all_entries(&log), expected);
    assert_eq!(log.last_index().unwrap(), 3);
    // Appending after the truncation continues at 4.
    log.persist(&[entry(4, 2)], None).unwrap();
    assert_eq!(log.term(4).unwrap(), 2);
}

#[test]
fn persist_refuses_gaps_compacted_indexes_and_commits_beyond_the_log() {
    let dir = TempDir::new().unwrap();
    let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
    log.persist(&entries(1..=3, 1), Some(&hard_state(1, 1, 3)))
        .unwrap();
    assert!(matches!(
        log.persist(&[entry(5, 1)], None),
        Err(RaftLogError::AppendGap {
            index: 5,
            last_index: 3,
            ..
        })
    ));
    assert!(matches!(
        log.persist(&[entry(4, 1), entry(6, 1)], None),
        Err(RaftLogError::AppendNotContiguous {
            expected: 5,
            found: 6,
            ..
        })
    ));
    assert!(matches!(
        log.persist(&[], Some(&hard_state(1, 1, 4))),
        Err(RaftLogError::CommitBeyondLog {
            commit: 4,
            last_index: 3,
            ..
        })
    ));
    log.compact(2, b"state at 2".to_vec()).unwrap();
    assert!(matches!(
        log.persist(&[entry(2, 2)], None),
        Err(RaftLogError::AppendCompacted {
            index: 2,
            first_index: 3,
            ..
        })
    ));
    // Nothing above changed the log.
    assert_eq!(all_entries(&log), entries(3..=3, 1));
    let err = log.persist(&[entry(9, 1)], None).unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}

#[test]
fn entries_honours_max_size_and_returns_compacted_or_unavailable() {
    let dir = TempDir::new().unwrap();
    let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
    let written = entries(1..=6, 1);
    log.persist(&written, Some(&hard_state(1, 1, 6))).unwrap();
    let size = u64::from(written[0].compute_size());
    assert!(written.iter().all(|e| u64::from(e.compute_size()) == size));

    assert_eq!(log.entries(2, 5, None, ctx()).unwrap(), written[1..4]);
    assert_eq!(
        log.entries(2, 5, raft::util::NO_LIMIT, ctx()).unwrap(),
        written[1..4]
    );
    // Room for exactly two entries.
    assert_eq!(
        log.entries(2, 6, size * 2, ctx()).unwrap(),
        written[1..3],
        "max_size is honoured"
    );
    assert_eq!(
        log.entries(2, 6, size * 2 + size / 2, ctx()).unwrap().len(),
        2
    );
    // Always at least one entry.
    assert_eq!(log.entries(2, 6, 0, ctx()).unwrap(), written[1..2]);
    assert_eq!(log.entries(3, 3, None, ctx()).unwrap(), vec![]);
    // Beyond the last index.
    assert_eq!(
        store_err(log.entries(5, 8, None, ctx())),
        StorageError::Unavailable
    );

    log.compact(3, Vec::new()).unwrap();
    assert_eq!(
        store_err(log.entries(3, 5, None, ctx())),
        StorageError::Compacted
    );
    assert_eq!(
        store_err(log.entries(1, 2, None, ctx())),
        StorageError::Compacted
    );
    assert_eq!(log.entries(4, 7, None, ctx()).unwrap(), written[3..6]);
    assert_eq!(store_err(log.term(2)), StorageError::Compacted);
    assert_eq!(store_err(log.term(7)), StorageError::Unavailable);
}

#[test]
fn term_of_the_snapshot_index_works_after_compaction() {
    let dir = TempDir::new().unwrap();
    let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
    let mut written = entries(1..=3, 1);
    written.extend(entries(4..=6, 2));
    log.persist(&written, Some(&hard_state(2, 1, 6))).unwrap();
    log.compact(4, b"four".to_vec()).unwrap();
    assert_eq!(log.first_index().unwrap(), 5);
    assert_eq!(log.term(4).unwrap(), 2, "term of the snapshot index");
    assert_eq!(store_err(log.term(3)), StorageError::Compacted);
    assert_eq!(log.term(5).unwrap(), 2);

    // Compacting everything: the log is empty but last_index/term still answer.
    log.compact(6, b"six".to_vec()).unwrap();
    assert_eq!(log.first_index().unwrap(), 7);
    assert_eq!(log.last_index().unwrap(), 6);
    assert_eq!(log.term(6).unwrap(), 2);
    assert_eq!(log.entries_bytes(), 0);
    assert_eq!(log.entries(7, 7, None, ctx()).unwrap(), vec![]);
}

#[test]
fn compact_then_reopen_keeps_first_index_and_the_snapshot_data() {
    let dir = TempDir::new().unwrap();
    {
        let mut log = RaftLog::open(dir.path(), &[1, 2]).unwrap();
        log.persist(&entries(1..=10, 3), Some(&hard_state(3, 1, 8)))
            .unwrap();
        log.compact(7, b"height 7".to_vec()).unwrap();
        assert_eq!(
            log.entries_bytes(),
            entries(8..=10, 3)
                .iter()
                .map(|e| u64::from(e.compute_size()))
                .sum::<u64>(),
            "only the entries kept are counted"
        );
        // Stale and uncommitted compactions.
        log.compact(5, b"ignored".to_vec()).unwrap();
        log.compact(7, b"ignored".to_vec()).unwrap();
        assert!(matches!(
            log.compact(9, Vec::new()),
            Err(RaftLogError::CompactUncommitted {
                applied: 9,
                commit: 8,
                ..
            })
        ));
    }
    let log = RaftLog::open(dir.path(), &[1, 2]).unwrap();
    assert_eq!(log.first_index().unwrap(), 8);
    assert_eq!(log.last_index().unwrap(), 10);
    assert_eq!(all_entries(&log), entries(8..=10, 3));
    assert_eq!(log.term(7).unwrap(), 3);
    assert!(log.applied() >= 7, "compaction records the applied index");
    let snap = log.snapshot_now();
    assert_eq!(snap.get_metadata().index, 7);
    assert_eq!(snap.get_metadata().term, 3);
    assert_eq!(snap.get_metadata().get_conf_state().voters, vec![1, 2]);
    assert_eq!(&snap.data[..], b"height 7");
    // Storage::snapshot serves it to a lagging follower.
    assert_eq!(log.snapshot(0, 2).unwrap(), snap);
    assert_eq!(log.snapshot(7, 2).unwrap(), snap);
    assert_eq!(
        store_err(log.snapshot(8, 2)),
        StorageError::SnapshotTemporarilyUnavailable
    );
}

#[test]
fn snapshot_is_temporarily_unavailable_before_any_snapshot() {
    let dir = TempDir::new().unwrap();
    let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
    log.persist(&entries(1..=2, 1), Some(&hard_state(1, 1, 2)))
        .unwrap();
    assert_eq!(
        store_err(log.snapshot(0, 2)),
        StorageError::SnapshotTemporarilyUnavailable
    );
}

#[test]
fn apply_snapshot_on_a_follower_replaces_the_log_and_survives_reopen() {
    let dir = TempDir::new().unwrap();
    {
        let mut log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
        log.persist(&entries(1..=4, 1), Some(&hard_state(1, 2, 2)))
            .unwrap();
        log.apply_snapshot(snapshot(20, 4, &[1, 2, 3, 4], b"leader state at 20"))
            .unwrap();
        assert_eq!(log.first_index().unwrap(), 21);
        assert_eq!(log.last_index().unwrap(), 20);
        assert_eq!(log.entries_bytes(), 0);
        assert_eq!(store_err(log.term(4)), StorageError::Compacted);
        // Entries after the snapshot follow on.
        log.persist(&entries(21..=22, 4), Some(&hard_state(4, 2, 21)))
            .unwrap();
    }
    let log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
    assert_eq!(log.first_index().unwrap(), 21);
    assert_eq!(log.last_index().unwrap(), 22);
    assert_eq!(log.term(20).unwrap(), 4);
    assert_eq!(all_entries(&log), entries(21..=22, 4));
    assert_eq!(log.hard_state(), hard_state(4, 2, 21));
    assert_eq!(log.conf_state().voters, vec![1, 2, 3, 4]);
    let snap = log.snapshot_now();
    assert_eq!(snap, snapshot(20, 4, &[1, 2, 3, 4], b"leader state at 20"));
}

#[test]
fn apply_snapshot_raises_hard_state_term_and_commit() {
    let dir = TempDir::new().unwrap();
    let mut log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
    log.persist(&entries(1..=4, 1), Some(&hard_state(6, 3, 2)))
        .unwrap();
    log.apply_snapshot(snapshot(9, 5, &[1, 2, 3], b"nine"))
        .unwrap();
    // The term stays at the higher 6 (and the vote with it); commit rises to 9.
    assert_eq!(log.hard_state(), hard_state(6, 3, 9));
}

#[test]
fn an_old_snapshot_is_refused() {
    let dir = TempDir::new().unwrap();
    let mut log = RaftLog::open(dir.path(), &[1, 2, 3]).unwrap();
    log.persist(&entries(1..=12, 1), Some(&hard_state(1, 1, 12)))
        .unwrap();
    log.compact(10, b"ten".to_vec()).unwrap();

    assert!(matches!(
        log.apply_snapshot(snapshot(5, 1, &[1, 2, 3], b"old")),
        Err(RaftLogError::SnapshotOutOfDate {
            index: 5,
            snapshot_index: 10,
            ..
        })
    ));
    assert!(matches!(
        log.apply_snapshot(snapshot(11, 1, &[1, 2, 3], b"below commit")),
        Err(RaftLogError::SnapshotBelowCommit {
            index: 11,
            commit: 12,
            ..
        })
    ));
    assert!(matches!(
        log.apply_snapshot(Snapshot::default()),
        Err(RaftLogError::EmptySnapshot { .. })
    ));
    // Nothing changed.
    assert_eq!(log.first_index().unwrap(), 11);
    assert_eq!(all_entries(&log), entries(11..=12, 1));
    assert_eq!(&log.snapshot_now().data[..], b"ten");
    let msg = log
        .apply_snapshot(snapshot(5, 1, &[1], b""))
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
}

#[test]
fn set_applied_survives_reopen() {
    let dir = TempDir::new().unwrap();
    {
        let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
        log.persist(&entries(1..=3, 1), Some(&hard_state(1, 1, 3)))
            .unwrap();
        log.set_applied(2).unwrap();
        assert_eq!(log.applied(), 2);
    }
    let log = RaftLog::open(dir.path(), &[1]).unwrap();
    assert_eq!(log.applied(), 2);
}

#[test]
fn set_commit_survives_reopen_and_refuses_beyond_the_log() {
    let dir = TempDir::new().unwrap();
    {
        let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
        log.persist(&entries(1..=3, 1), Some(&hard_state(1, 1, 1)))
            .unwrap();
        log.set_commit(3).unwrap();
        assert!(matches!(
            log.set_commit(4),
            Err(RaftLogError::CommitBeyondLog { commit: 4, .. })
        ));
    }
    let log = RaftLog::open(dir.path(), &[1]).unwrap();
    assert_eq!(log.hard_state(), hard_state(1, 1, 3));
}

#[test]
fn a_corrupt_entry_is_a_typed_error_naming_the_directory_and_index() {
    let dir = TempDir::new().unwrap();
    {
        let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
        log.persist(&entries(1..=3, 1), None).unwrap();
    }
    {
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree(TREE).unwrap();
        // Field 4 (data), length-delimited, 5 bytes announced, none present.
        tree.insert(&entry_key(2)[..], &[0x22u8, 0x05][..]).unwrap();
        tree.flush().unwrap();
    }
    let err = RaftLog::open(dir.path(), &[1]).unwrap_err();
    assert!(
        matches!(err, RaftLogError::CorruptEntry { index: 2, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("entry 2"), "{msg}");
}

#[test]
fn a_missing_entry_is_a_typed_error() {
    let dir = TempDir::new().unwrap();
    {
        let mut log = RaftLog::open(dir.path(), &[1]).unwrap();
        log.persist(&entries(1..=3, 1), None).unwrap();
    }
    {
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree(TREE).unwrap();
        tree.remove(&entry_key(2)[..]).unwrap();
        tree.flush().unwrap();
    }
    let err = RaftLog::open(dir.path(), &[1]).unwrap_err();
    assert!(
        matches!(
            err,
            RaftLogError::MissingEntry {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A minimal ready loop for a single voter, persisting through the `RaftLog` API.
/// Returns the committed entries applied, in order.
fn drive(node: &mut RawNode<RaftLog>) -> Vec<Entry> {
    let mut applied = Vec::new();
    for _ in 0..100 {
        if !node.has_ready() {
            return applied;
        }
        let mut ready = node.ready();
        assert!(ready.messages().is_empty(), "a single voter sends nothing");
        if !ready.snapshot().is_empty() {
            node.mut_store()
                .apply_snapshot(ready.snapshot().clone())
                .unwrap();
        }
        applied.extend(ready.take_committed_entries());
        node.mut_store()
            .persist(ready.entries(), ready.hs())
            .unwrap();
        assert!(ready.persisted_messages().is_empty());
        let mut light = node.advance(ready);
        if let Some(commit) = light.commit_index() {
            node.mut_store().set_commit(commit).unwrap();
        }
        applied.extend(light.take_committed_entries());
        node.advance_apply();
        if let Some(last) = applied.last() {
            node.mut_store().set_applied(last.index).unwrap();
        }
    }
    panic!("the ready loop does not settle");
}

fn raft_config(applied: u64) -> Config {
    let config = Config {
        id: 1,
        election_tick: 10,
        heartbeat_tick: 3,
        applied,
        ..Default::default()
    };
    config.validate().unwrap();
    config
}

#[test]
fn raw_node_on_a_reopened_log_campaigns_proposes_commits_and_sees_the_entry_after_reopen() {
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let dir = TempDir::new().unwrap();
    drop(RaftLog::open(dir.path(), &[1]).unwrap());

    let block_index;
    {
        let log = RaftLog::open(dir.path(), &[1]).unwrap();
        let mut node = RawNode::new(&raft_config(log.applied()), log, &logger).unwrap();
        node.campaign().unwrap();
        drive(&mut node);
        assert_eq!(node.raft.state, StateRole::Leader);

        node.propose(vec![], b"block 1".to_vec()).unwrap();
        let applied = drive(&mut node);
        let block = applied
            .iter()
            .find(|e| &e.data[..] == b"block 1")
            .expect("the proposal is committed and applied");
        block_index = block.index;
        assert_eq!(node.store().hard_state().commit, block_index);
        assert_eq!(node.store().applied(), block_index);
    }

    let log = RaftLog::open(dir.path(), &[1]).unwrap();
    assert_eq!(log.hard_state().commit, block_index);
    assert_eq!(log.hard_state().vote, 1);
    assert_eq!(log.applied(), block_index);
    let stored = log
        .entries(block_index, block_index + 1, None, ctx())
        .unwrap();
    assert_eq!(&stored[0].data[..], b"block 1");

    // A node restarted from scratch (applied 0) replays the committed entry.
    let mut node = RawNode::new(&raft_config(0), log, &logger).unwrap();
    assert_eq!(node.raft.raft_log.committed, block_index);
    assert!(node.has_ready());
    let replayed = drive(&mut node);
    assert!(replayed.iter().any(|e| &e.data[..] == b"block 1"));

    // And it still works: campaign again, propose again, commit.
    node.campaign().unwrap();
    drive(&mut node);
    assert_eq!(node.raft.state, StateRole::Leader);
    node.propose(vec![], b"block 2".to_vec()).unwrap();
    let applied = drive(&mut node);
    assert!(applied.iter().any(|e| &e.data[..] == b"block 2"));
}

#[test]
fn raw_node_restarts_from_a_compacted_log() {
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let dir = TempDir::new().unwrap();
    {
        let log = RaftLog::open(dir.path(), &[1]).unwrap();
        let mut node = RawNode::new(&raft_config(0), log, &logger).unwrap();
        node.campaign().unwrap();
        drive(&mut node);
        for i in 0..5 {
            node.propose(vec![], format!("block {i}").into_bytes())
                .unwrap();
            drive(&mut node);
        }
        let applied = node.store().applied();
        node.mut_store()
            .compact(applied - 1, b"app state".to_vec())
            .unwrap();
    }
    let log = RaftLog::open(dir.path(), &[1]).unwrap();
    let first = log.first_index().unwrap();
    assert!(first > 1);
    let applied = log.applied().max(first - 1);
    let mut node = RawNode::new(&raft_config(applied), log, &logger).unwrap();
    node.campaign().unwrap();
    drive(&mut node);
    assert_eq!(node.raft.state, StateRole::Leader);
    node.propose(vec![], b"after compaction".to_vec()).unwrap();
    let applied = drive(&mut node);
    assert!(applied.iter().any(|e| &e.data[..] == b"after compaction"));
}
