use super::*;

fn v(block: u64, tx: u32) -> Version {
    Version { block, tx }
}

fn state() -> MemoryState {
    let mut s = MemoryState::new();
    s.put("cc", "a", b"1", v(1, 0));
    s.put("cc", "b", b"2", v(2, 3));
    s.put("cc", "c", b"3", v(2, 4));
    s.put("other", "a", b"x", v(1, 1));
    s.put_private("cc", "hospital", "link", b"MRN-1", v(3, 0));
    s
}

#[test]
fn reads_record_committed_versions_and_do_not_see_own_writes() {
    let s = state();
    let mut sim = TxSimulator::new(&s, "cc", Limits::default());
    assert_eq!(sim.get_state("a").unwrap(), Some(b"1".to_vec()));
    sim.put_state("a", b"9").unwrap();
    // Fabric semantics: the committed value, not our own write.
    assert_eq!(sim.get_state("a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(sim.get_state("missing").unwrap(), None);
    let out = sim.finish();
    assert_eq!(
        out.rwset.reads,
        vec![
            KvRead {
                key: "a".into(),
                version: Some(v(1, 0))
            },
            KvRead {
                key: "missing".into(),
                version: None
            },
        ]
    );
    assert_eq!(
        out.rwset.writes,
        vec![KvWrite {
            key: "a".into(),
            is_delete: false,
            value: Bytes(b"9".to_vec())
        }]
    );
}

#[test]
fn namespaces_are_separate() {
    let s = state();
    let mut sim = TxSimulator::new(&s, "other", Limits::default());
    assert_eq!(sim.get_state("a").unwrap(), Some(b"x".to_vec()));
    assert_eq!(sim.get_state("b").unwrap(), None);
}

#[test]
fn last_write_wins_and_delete_is_a_write_and_output_is_sorted() {
    let s = state();
    let mut sim = TxSimulator::new(&s, "cc", Limits::default());
    sim.put_state("z", b"1").unwrap();
    sim.put_state("m", b"1").unwrap();
    sim.put_state("z", b"2").unwrap();
    sim.del_state("b").unwrap();
    let out = sim.finish();
    let keys: Vec<_> = out
        .rwset
        .writes
        .iter()
        .map(|w| (w.key.as_str(), w.is_delete, w.value.0.clone()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("b", true, vec![]),
            ("m", false, b"1".to_vec()),
            ("z", false, b"2".to_vec())
        ]
    );
}

#[test]
fn range_scan_is_recorded_for_phantom_checks() {
    let s = state();
    let mut sim = TxSimulator::new(&s, "cc", Limits::default());
    let (rows, more) = sim.get_state_range("a", "c", 0).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(!more);
    let (rows, more) = sim.get_state_range("", "", 2).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(more, "three keys exist, two were asked for");
    let out = sim.finish();
    assert_eq!(out.rwset.range_queries.len(), 2);
    assert!(out.rwset.range_queries[0].itr_exhausted);
    assert!(!out.rwset.range_queries[1].itr_exhausted);
    assert_eq!(
        out.rwset.range_queries[0].reads[1],
        KvRead {
            key: "b".into(),
            version: Some(v(2, 3))
        }
    );
}

#[test]
fn range_results_are_capped() {
    let mut s = MemoryState::new();
    for i in 0..50 {
        s.put("cc", &format!("k{i:03}"), b"v", v(1, i));
    }
    let limits = Limits {
        max_range_results: 10,
        ..Limits::default()
    };
    let mut sim = TxSimulator::new(&s, "cc", limits);
    let (rows, more) = sim.get_state_range("", "", 1000).unwrap();
    assert_eq!(rows.len(), 10);
    assert!(more);
}

#[test]
fn private_values_stay_out_of_the_rwset() {
    let s = state();
    let mut sim = TxSimulator::new(&s, "cc", Limits::default());
    assert_eq!(
        sim.get_private("hospital", "link").unwrap(),
        Some(b"MRN-1".to_vec())
    );
    sim.put_private("hospital", "link2", b"MRN-2").unwrap();
    let hash = sim.get_private_hash("hospital", "link").unwrap().unwrap();
    assert_eq!(hash, sha256(b"MRN-1"));
    let out = sim.finish();
    let coll = &out.rwset.collections[0];
    assert_eq!(coll.collection, "hospital");
    assert_eq!(coll.hashed_writes[0].key_hash, sha256(b"link2"));
    assert_eq!(coll.hashed_writes[0].value_hash, Some(sha256(b"MRN-2")));
    assert_eq!(coll.hashed_reads[0].version, Some(v(3, 0)));
    assert_eq!(
        coll.pvt_rwset_hash,
        private_writes_hash(&out.private_writes["hospital"])
    );
    let encoded = cellchain_core::protocol::encode(&out.rwset);
    let text = String::from_utf8_lossy(&encoded);
    assert!(!text.contains("MRN") && !text.contains("link2"), "{text}");
}

#[test]
fn limits_are_typed_errors() {
    let s = state();
    let limits = Limits {
        max_key_bytes: 4,
        max_value_bytes: 8,
        max_write_bytes: 19,
        max_events: 1,
        max_event_bytes: 4,
        ..Limits::default()
    };
    let mut sim = TxSimulator::new(&s, "cc", limits);
    assert_eq!(sim.put_state("", b"x"), Err(SimError::EmptyKey));
    assert_eq!(
        sim.put_state("12345", b"x"),
        Err(SimError::KeyTooLarge { len: 5, max: 4 })
    );
    assert_eq!(
        sim.put_state("k", &[0; 9]),
        Err(SimError::ValueTooLarge {
            key: "k".into(),
            len: 9,
            max: 8
        })
    );
    sim.put_state("k1", &[0; 8]).unwrap();
    assert_eq!(
        sim.put_state("k2", &[0; 8]),
        Err(SimError::WriteSetTooLarge { max: 19 })
    );
    assert!(matches!(
        sim.emit_event("e", b"12345"),
        Err(SimError::EventTooLarge { .. })
    ));
    sim.emit_event("e", b"1").unwrap();
    assert_eq!(
        sim.emit_event("e", b"2"),
        Err(SimError::TooManyEvents { max: 1 })
    );
    assert_eq!(
        sim.put_private("", "k", b"v"),
        Err(SimError::EmptyCollection)
    );
}

#[test]
fn key_level_policy_is_parsed_and_recorded_as_metadata() {
    let s = state();
    let mut sim = TxSimulator::new(&s, "cc", Limits::default());
    sim.set_key_policy("release~B1", "AND('CdmoMSP.peer', 'SponsorMSP.peer')")
        .unwrap();
    sim.set_key_policy("old", "").unwrap();
    assert!(matches!(
        sim.set_key_policy("x", "AND('A.peer'"),
        Err(SimError::BadKeyPolicy { .. })
    ));
    let out = sim.finish();
    assert_eq!(out.rwset.metadata_writes.len(), 2);
    let m = &out.rwset.metadata_writes[1];
    assert_eq!(m.key, "release~B1");
    assert_eq!(
        m.entries[VALIDATION_PARAMETER].0,
        b"AND('CdmoMSP.peer', 'SponsorMSP.peer')".to_vec()
    );
    assert!(
        out.rwset.metadata_writes[0].entries.is_empty(),
        "empty policy removes metadata"
    );
}

#[test]
fn same_accesses_in_another_order_give_identical_bytes() {
    let s = state();
    let run = |order: &[&str]| {
        let mut sim = TxSimulator::new(&s, "cc", Limits::default());
        for k in order {
            sim.get_state(k).unwrap();
            sim.put_state(&format!("w{k}"), k.as_bytes()).unwrap();
        }
        cellchain_core::protocol::encode(&sim.finish().rwset)
    };
    assert_eq!(run(&["a", "b", "c"]), run(&["c", "a", "b"]));
}

#[test]
fn applying_writes_makes_them_visible_with_the_new_version() {
    let mut s = state();
    let out = {
        let mut sim = TxSimulator::new(&s, "cc", Limits::default());
        sim.put_state("a", b"new").unwrap();
        sim.del_state("b").unwrap();
        sim.finish()
    };
    s.apply(&out, v(7, 2));
    assert_eq!(
        s.get("cc", "a").unwrap(),
        Some(VersionedValue {
            value: b"new".to_vec(),
            version: v(7, 2)
        })
    );
    assert_eq!(s.get("cc", "b").unwrap(), None);
}

#[test]
fn cross_contract_reads_are_recorded_in_the_other_namespace() {
    let s = state();
    let mut sim = TxSimulator::new(&s, "cc", Limits::default());
    assert_eq!(sim.get_state_of("other", "a").unwrap(), Some(b"x".to_vec()));
    assert_eq!(sim.get_state_of("cc", "a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(sim.get_state_of("", "a"), Err(SimError::EmptyNamespace));
    sim.put_state("w", b"1").unwrap();
    let out = sim.finish();
    let tx = out.tx_rwset();
    assert_eq!(
        tx.ns_rwsets
            .iter()
            .map(|n| n.namespace.as_str())
            .collect::<Vec<_>>(),
        ["cc", "other"]
    );
    assert_eq!(
        tx.ns_rwsets[1].reads,
        vec![KvRead {
            key: "a".into(),
            version: Some(v(1, 1))
        }]
    );
    assert!(tx.ns_rwsets[1].writes.is_empty());
    assert_eq!(tx.ns_rwsets[0].reads.len(), 1);
}
