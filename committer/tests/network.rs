//! Committers as real processes against three real orderers: validation codes
//! end to end, agreement of two organisations' committers, crash recovery, a
//! consenter that orders a replayed envelope, the feed's and queries' ACLs,
//! private data fetched at commit from an (in-process, mock) endorser, and
//! chaincode definitions deployed and upgraded through lifecycle transactions.
//!
//! One network serves every step (starting one takes seconds); each step is a
//! function named after the rule it checks.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use cellchain_core::crypto::default_provider;
use cellchain_core::protocol::{
    Block, Envelope, KvRead, KvWrite, NsRwSet, Query, RangeQueryInfo, TxId, TxRwSet,
    TxValidationCode as Code, Version,
};
use cellchain_core::Bytes;
use serde_json::Value;
use support::{cc_definition, definition, Net, CC, CHANNEL, PRIVATE};

fn rwset(reads: Vec<KvRead>, writes: Vec<(&str, &str)>) -> TxRwSet {
    TxRwSet {
        ns_rwsets: vec![NsRwSet {
            namespace: CC.into(),
            reads,
            writes: writes
                .into_iter()
                .map(|(k, v)| KvWrite {
                    key: k.into(),
                    is_delete: false,
                    value: Bytes(v.as_bytes().to_vec()),
                })
                .collect(),
            ..NsRwSet::default()
        }],
    }
}

fn version(v: &Value) -> Version {
    serde_json::from_value(v.clone()).unwrap()
}

fn code(status: &Value) -> String {
    status["code"]["name"].as_str().unwrap().to_string()
}

/// Commits a blind write of `key` and returns its version.
async fn put(net: &Net, key: &str, value: &str) -> Version {
    let (tx_id, e) = net.tx(
        CHANNEL,
        rwset(vec![], vec![(key, value)]),
        &[&net.peer1, &net.peer2],
    );
    net.broadcast(CHANNEL, &e).await;
    let s = net.wait_tx(0, CHANNEL, tx_id).await;
    assert_eq!(code(&s), "VALID", "{s}");
    Version {
        block: s["block"].as_u64().unwrap(),
        tx: s["index"].as_u64().unwrap() as u32,
    }
}

/// Each test starts its own network; they run one at a time so that the
/// networks do not compete for the machine's cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Three orderers and the committers of Org1 and Org2, started, with `cc`
/// deployed on both channels and committed by both committers.
async fn network() -> (tokio::sync::MutexGuard<'static, ()>, Net) {
    let guard = SERIAL.lock().await;
    let mut net = Net::new();
    net.start_orderers();
    let c1 = net.add_committer("committer1", "Org1MSP", &[CHANNEL, PRIVATE], &[]);
    let c2 = net.add_committer("committer2", "Org2MSP", &[CHANNEL, PRIVATE], &[]);
    net.wait_leader(CHANNEL).await;
    net.wait_leader(PRIVATE).await;
    net.start_committer(c1);
    net.start_committer(c2);
    net.wait_committed(c1, CHANNEL, 1).await;
    net.wait_committed(c1, PRIVATE, 1).await;
    let (shared_def, private_def) = (cc_definition(CHANNEL), cc_definition(PRIVATE));
    let (shared, private) = tokio::join!(
        net.deploy(c1, CHANNEL, &shared_def),
        net.deploy(c1, PRIVATE, &private_def),
    );
    net.wait_committed(c2, CHANNEL, shared + 1).await;
    net.wait_committed(c2, PRIVATE, private + 1).await;
    (guard, net)
}

fn show_logs(net: &Net) {
    if std::env::var_os("SHOW_LOGS").is_some() {
        for c in &net.committers {
            eprintln!(
                "=== {}\n{}",
                c.name,
                std::fs::read_to_string(&c.log).unwrap()
            );
        }
    }
}

macro_rules! network_test {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (_serial, mut net) = network().await;
            scenarios::$name(&mut net).await;
            show_logs(&net);
        }
    )*};
}

/// An in-process endorser on a loopback port serving
/// `POST /v1/channels/{ch}/private` with whatever `data` holds when asked.
async fn mock_endorser(
    data: Arc<std::sync::Mutex<cellchain_core::protocol::PrivateData>>,
) -> String {
    let app = axum::Router::new().route(
        "/v1/channels/{channel}/private",
        axum::routing::post(move |Path(_c): Path<String>, body: axum::body::Bytes| {
            let data = data.clone();
            async move {
                let signed: cellchain_core::protocol::SignedQuery =
                    serde_json::from_slice(&body).unwrap();
                let request = signed.parse().unwrap();
                assert!(matches!(request.query, Query::PrivateWrites { .. }));
                assert_eq!(request.creator.msp_id, "Org1MSP");
                let answer = data.lock().unwrap().clone();
                axum::Json(answer)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Org1's committer fetches the values of Org1's collection from an endorser
/// at commit: a matching offer is stored and served to members only, a forged
/// one is refused, and a block whose values cannot be had is committed after
/// `private_data_timeout` with the hashes only. Org2's committer, not a member,
/// needs nothing. No value reaches the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_data_is_fetched_at_commit_and_served_to_members() {
    use cellchain_core::bytes::sha256;
    use cellchain_core::protocol::{
        CollectionHashedRwSet, CollectionPrivateData, KvWriteHash, PrivateData, PrivateKv,
        TxPrivateData,
    };
    let _serial = SERIAL.lock().await;
    let offered = Arc::new(std::sync::Mutex::new(PrivateData::default()));
    let endorser = mock_endorser(offered.clone()).await;
    let mut net = Net::new();
    net.start_orderers();
    let c1 = net.add_committer("committer1", "Org1MSP", &[CHANNEL], &[]);
    let c2 = net.add_committer("committer2", "Org2MSP", &[CHANNEL], &[]);
    net.configure_committer(
        c1,
        &format!("private_data_sources: [{endorser}]\nprivate_data_timeout: 1s\n"),
    );
    net.wait_leader(CHANNEL).await;
    net.start_committer(c1);
    net.start_committer(c2);
    net.wait_committed(c1, CHANNEL, 1).await;
    net.deploy(c1, CHANNEL, &cc_definition(CHANNEL)).await;

    let private_tx = |key: &str, value: &str| {
        let set = TxRwSet {
            ns_rwsets: vec![NsRwSet {
                namespace: CC.into(),
                collections: vec![CollectionHashedRwSet {
                    collection: "secret".into(),
                    hashed_reads: vec![],
                    hashed_writes: vec![KvWriteHash {
                        key_hash: sha256(key.as_bytes()),
                        is_delete: false,
                        value_hash: Some(sha256(value.as_bytes())),
                    }],
                    pvt_rwset_hash: cellchain_core::Hash32::ZERO,
                }],
                ..NsRwSet::default()
            }],
        };
        net.tx(CHANNEL, set, &[&net.peer1, &net.peer2])
    };
    let offer = |tx_id: TxId, key: &str, value: &str| TxPrivateData {
        tx_id,
        namespace: CC.into(),
        collections: vec![CollectionPrivateData {
            collection: "secret".into(),
            writes: vec![PrivateKv {
                key: key.into(),
                value: Some(Bytes(value.as_bytes().to_vec())),
            }],
        }],
    };
    // k: offered as written; f: offered forged; m: offered by nobody.
    let (tx_k, e_k) = private_tx("k", "top-secret-k");
    let (tx_f, e_f) = private_tx("f", "top-secret-f");
    let (tx_m, e_m) = private_tx("m", "top-secret-m");
    *offered.lock().unwrap() = PrivateData {
        txs: vec![
            offer(tx_k, "k", "top-secret-k"),
            offer(tx_f, "f", "forged-value"),
        ],
    };
    for e in [&e_k, &e_f, &e_m] {
        net.broadcast(CHANNEL, e).await;
    }
    let mut block_k = 0;
    for tx_id in [tx_k, tx_f, tx_m] {
        let s = net.wait_tx(c1, CHANNEL, tx_id).await;
        assert_eq!(code(&s), "VALID", "{s}");
        if tx_id == tx_k {
            block_k = s["block"].as_u64().unwrap();
        }
        let s = net.wait_tx(c2, CHANNEL, tx_id).await;
        assert_eq!(code(&s), "VALID", "{s}");
    }
    let get = |key: &str| Query::PrivateGet {
        namespace: CC.into(),
        collection: "secret".into(),
        key: key.into(),
    };
    let b64 = |v: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(v)
    };
    // The member reads k's value; a non-member its hash only.
    let (status, k) = net.query(c1, CHANNEL, &net.client1, get("k")).await;
    assert_eq!(status, 200, "{k}");
    assert_eq!(
        (k["member"].clone(), k["value"].clone()),
        (true.into(), b64("top-secret-k").into())
    );
    let (status, k2) = net.query(c1, CHANNEL, &net.client2, get("k")).await;
    assert_eq!(status, 200, "{k2}");
    assert_eq!(
        (k2["member"].clone(), k2["value"].clone()),
        (false.into(), Value::Null)
    );
    assert_eq!(k2["value_hash"], k["value_hash"]);
    // Org2's committer keeps the hash only.
    let (status, k_org2) = net.query(c2, CHANNEL, &net.client1, get("k")).await;
    assert_eq!(status, 200, "{k_org2}");
    assert_eq!(k_org2["value"], Value::Null);
    assert_eq!(k_org2["value_hash"], k["value_hash"]);
    // The forged and the unavailable values were not stored.
    for key in ["f", "m"] {
        let (status, v) = net.query(c1, CHANNEL, &net.client1, get(key)).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            (v["value"].clone(), v["missing"].clone()),
            (Value::Null, true.into()),
            "{v}"
        );
    }
    let (status, data) = net
        .query(
            c1,
            CHANNEL,
            &net.client1,
            Query::BlockPrivateData { block: block_k },
        )
        .await;
    assert_eq!(status, 200, "{data}");
    let data: PrivateData = serde_json::from_value(data).unwrap();
    assert!(data.txs.iter().any(|t| t.tx_id == tx_k));
    assert!(data.txs.iter().all(|t| t.tx_id == tx_k));
    let metrics = net.metrics(c1).await;
    let metric = |name: &str| -> u64 {
        let line = format!("{name}{{channel=\"{CHANNEL}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or_else(|| panic!("{name} in\n{metrics}"))
            .parse()
            .unwrap()
    };
    assert_eq!(metric("cellchain_committer_private_values_stored_total"), 1);
    assert_eq!(metric("cellchain_committer_private_data_missing_total"), 2);
    assert!(metric("cellchain_committer_private_data_mismatches_total") >= 1);
    let log = std::fs::read_to_string(&net.committers[c1].log).unwrap();
    assert!(log.contains("private data missing"), "{log}");
    assert!(log.contains("does not match the block's hashes"), "{log}");
    for secret in ["top-secret", "forged-value"] {
        assert!(!log.contains(secret) && !log.contains(&b64(secret)[..8]));
    }
    show_logs(&net);
}

network_test!(
    mvcc_conflict_within_block,
    too_few_endorsements_fail_the_policy,
    write_set_tampered_after_endorsement_fails,
    phantom_read_is_detected,
    feed_and_queries_serve_members_only,
    committer_killed_mid_load_recovers_to_the_same_commit_hash,
    replayed_envelope_ordered_by_a_consenter_is_a_duplicate,
    a_chaincode_is_invalid_until_its_definition_is_committed,
    an_upgrade_makes_endorsements_under_the_old_sequence_a_version_conflict,
    a_commit_endorsed_by_one_organisation_fails_and_changes_nothing,
    a_restarted_committer_still_knows_the_definitions,
);

mod scenarios {
    use super::*;
    use cellchain_core::lifecycle::{definition_key, ChaincodeDefinition, LIFECYCLE};
    use cellchain_core::protocol::ChaincodeRef;

    /// A transaction of chaincode `name` endorsed under `version`/`sequence` by
    /// both organisations' peers, writing `key` in its namespace.
    fn cc_tx(net: &Net, name: &str, version: &str, sequence: u64, key: &str) -> (TxId, Envelope) {
        let mut set = rwset(vec![], vec![(key, "x")]);
        set.ns_rwsets[0].namespace = name.into();
        let chaincode = ChaincodeRef {
            name: name.into(),
            version: version.into(),
            sequence,
        };
        net.tx_as(CHANNEL, chaincode, set, &[&net.peer1, &net.peer2])
    }

    /// The line each committer logs when `def` comes into force.
    fn in_force_line(def: &ChaincodeDefinition) -> String {
        format!(
            "chaincode {} sequence {} is now in force on channel {CHANNEL} (version {}, wasm {})",
            def.name, def.sequence, def.version, def.wasm_hash
        )
    }

    fn log(net: &Net, i: usize) -> String {
        std::fs::read_to_string(&net.committers[i].log).unwrap()
    }

    /// (a) Before its definition is committed a chaincode's transactions are
    /// INVALID_CHAINCODE; from the block after the commit they are valid, on
    /// both organisations' committers.
    pub async fn a_chaincode_is_invalid_until_its_definition_is_committed(net: &mut Net) {
        let def = definition("cc2", "1.0", 1);
        let early = net
            .submit(
                0,
                CHANNEL,
                cc_tx(net, "cc2", "1.0", 1, "early"),
                "INVALID_CHAINCODE",
            )
            .await;
        let commit = net.deploy(0, CHANNEL, &def).await;
        assert!(commit > early);
        let (tx_id, e) = cc_tx(net, "cc2", "1.0", 1, "late");
        let block = net.submit(0, CHANNEL, (tx_id, e), "VALID").await;
        assert!(block > commit);
        let s = net.wait_tx(1, CHANNEL, tx_id).await;
        assert_eq!(code(&s), "VALID", "{s}");
        // Only the valid transaction wrote.
        assert!(net
            .committed_version(0, CHANNEL, "cc2", "early")
            .await
            .is_none());
        assert!(net
            .committed_version(1, CHANNEL, "cc2", "late")
            .await
            .is_some());
        // The committed definition is in the ledger, and its coming into force logged.
        let stored = net
            .committed_version(0, CHANNEL, LIFECYCLE, &definition_key("cc2"))
            .await
            .expect("definition/cc2 is committed");
        assert_eq!(stored.block, commit);
        for i in [0, 1] {
            let log = log(net, i);
            assert!(log.contains(&in_force_line(&def)), "{log}");
        }
    }

    /// (b) An upgrade (sequence 2, a new version): from the next block a
    /// transaction endorsed under sequence 1 is CHAINCODE_VERSION_CONFLICT and
    /// one endorsed under sequence 2 is valid.
    pub async fn an_upgrade_makes_endorsements_under_the_old_sequence_a_version_conflict(
        net: &mut Net,
    ) {
        let v1 = definition("cc3", "1.0", 1);
        net.deploy(0, CHANNEL, &v1).await;
        net.submit(0, CHANNEL, cc_tx(net, "cc3", "1.0", 1, "a"), "VALID")
            .await;
        // Endorsed under sequence 1 before the upgrade, ordered after it.
        let stale = cc_tx(net, "cc3", "1.0", 1, "stale");
        let v2 = definition("cc3", "2.0", 2);
        let upgrade = net.deploy(0, CHANNEL, &v2).await;
        let stale_block = net
            .submit(0, CHANNEL, stale, "CHAINCODE_VERSION_CONFLICT")
            .await;
        assert!(stale_block > upgrade);
        let (tx_id, e) = cc_tx(net, "cc3", "2.0", 2, "current");
        net.submit(0, CHANNEL, (tx_id, e), "VALID").await;
        // Org2's committer judges the same.
        let s = net.wait_tx(1, CHANNEL, tx_id).await;
        assert_eq!(code(&s), "VALID", "{s}");
        assert!(net
            .committed_version(0, CHANNEL, "cc3", "stale")
            .await
            .is_none());
        let log = log(net, 1);
        assert!(log.contains(&in_force_line(&v2)), "{log}");
    }

    /// (c) A commit endorsed by one organisation fails the channel's
    /// LifecycleEndorsement policy and changes nothing: no definition is
    /// stored and the chaincode stays undefined.
    pub async fn a_commit_endorsed_by_one_organisation_fails_and_changes_nothing(net: &mut Net) {
        let def = definition("cc4", "1.0", 1);
        for org in ["Org1MSP", "Org2MSP"] {
            let approval = net.approval(0, CHANNEL, org, &def).await;
            net.submit(0, CHANNEL, approval, "VALID").await;
        }
        let commit = net.commit_definition(0, CHANNEL, &def, &["Org1MSP"]).await;
        net.submit(0, CHANNEL, commit, "ENDORSEMENT_POLICY_FAILURE")
            .await;
        assert!(net
            .committed_version(0, CHANNEL, LIFECYCLE, &definition_key("cc4"))
            .await
            .is_none());
        net.submit(
            0,
            CHANNEL,
            cc_tx(net, "cc4", "1.0", 1, "k"),
            "INVALID_CHAINCODE",
        )
        .await;
        assert!(!log(net, 0).contains("chaincode cc4 sequence"));
        // The same commit endorsed by both organisations is valid.
        let commit = net
            .commit_definition(0, CHANNEL, &def, &["Org1MSP", "Org2MSP"])
            .await;
        net.submit(0, CHANNEL, commit, "VALID").await;
        net.submit(0, CHANNEL, cc_tx(net, "cc4", "1.0", 1, "k"), "VALID")
            .await;
    }

    /// (d) A restarted committer loads the definitions from its state: the
    /// upgraded definition is the one in force after the restart.
    pub async fn a_restarted_committer_still_knows_the_definitions(net: &mut Net) {
        net.deploy(0, CHANNEL, &definition("cc5", "1.0", 1)).await;
        let upgrade = net.deploy(0, CHANNEL, &definition("cc5", "2.0", 2)).await;
        net.wait_committed(1, CHANNEL, upgrade + 1).await;
        for i in [0, 1] {
            net.stop_committer(i);
        }
        // Ordered while both committers are down: validated after the restart.
        let (stale, stale_e) = cc_tx(net, "cc5", "1.0", 1, "stale");
        let (current, current_e) = cc_tx(net, "cc5", "2.0", 2, "current");
        let (plain, plain_e) = net.tx(
            CHANNEL,
            rwset(vec![], vec![("after-restart", "x")]),
            &[&net.peer1, &net.peer2],
        );
        for e in [&stale_e, &current_e, &plain_e] {
            net.broadcast(CHANNEL, e).await;
        }
        let height = net.orderer_height(0, CHANNEL).await;
        for i in [0, 1] {
            net.start_committer(i);
        }
        for i in [0, 1] {
            net.wait_committed(i, CHANNEL, height).await;
            let s = net.wait_tx(i, CHANNEL, stale).await;
            assert_eq!(code(&s), "CHAINCODE_VERSION_CONFLICT", "{s}");
            let s = net.wait_tx(i, CHANNEL, current).await;
            assert_eq!(code(&s), "VALID", "{s}");
            let s = net.wait_tx(i, CHANNEL, plain).await;
            assert_eq!(code(&s), "VALID", "{s}");
            let log = log(net, i);
            assert!(
                log.contains("chaincode definitions loaded from the ledger")
                    && log.contains("cc5 2.0 (sequence 2)"),
                "{log}"
            );
        }
    }

    /// Two transactions in one block read and write the same key: the first is
    /// valid, the second reads a version the first changed.
    pub async fn mvcc_conflict_within_block(net: &mut Net) {
        let v = put(net, "k1", "v0").await;
        for attempt in 0..3 {
            let current = match attempt {
                0 => v,
                _ => {
                    let (_, got) = net
                        .query(
                            0,
                            CHANNEL,
                            &net.client1,
                            Query::Get {
                                namespace: CC.into(),
                                key: "k1".into(),
                            },
                        )
                        .await;
                    version(&got["version"])
                }
            };
            let read = || {
                vec![KvRead {
                    key: "k1".into(),
                    version: Some(current),
                }]
            };
            let (a, ea) = net.tx(
                CHANNEL,
                rwset(read(), vec![("k1", "a")]),
                &[&net.peer1, &net.peer2],
            );
            let (b, eb) = net.tx(
                CHANNEL,
                rwset(read(), vec![("k1", "b")]),
                &[&net.peer1, &net.peer2],
            );
            let (ba, bb) = tokio::join!(net.broadcast(CHANNEL, &ea), net.broadcast(CHANNEL, &eb));
            if ba != bb {
                eprintln!(
                    "attempt {attempt}: the two transactions landed in blocks {ba} and {bb}; again"
                );
                continue;
            }
            let sa = net.wait_tx(0, CHANNEL, a).await;
            let sb = net.wait_tx(0, CHANNEL, b).await;
            assert_eq!(sa["block"], sb["block"], "same block");
            let (first, second) = if sa["index"].as_u64() < sb["index"].as_u64() {
                (sa, sb)
            } else {
                (sb, sa)
            };
            assert_eq!(code(&first), "VALID", "{first}");
            assert_eq!(code(&second), "MVCC_READ_CONFLICT", "{second}");
            assert_eq!(second["code"]["number"], 11);
            return;
        }
        panic!("two concurrent transactions never landed in one block");
    }

    pub async fn too_few_endorsements_fail_the_policy(net: &mut Net) {
        let (tx_id, e) = net.tx(CHANNEL, rwset(vec![], vec![("k2", "x")]), &[&net.peer1]);
        net.broadcast(CHANNEL, &e).await;
        let s = net.wait_tx(0, CHANNEL, tx_id).await;
        assert_eq!(code(&s), "ENDORSEMENT_POLICY_FAILURE", "{s}");
        let (status, _) = net
            .query(
                0,
                CHANNEL,
                &net.client1,
                Query::Get {
                    namespace: CC.into(),
                    key: "k2".into(),
                },
            )
            .await;
        assert_eq!(status, 404, "an invalid transaction writes nothing");
    }

    pub async fn write_set_tampered_after_endorsement_fails(net: &mut Net) {
        let (tx_id, e) = net.tx_with(
            CHANNEL,
            rwset(vec![], vec![("k3", "endorsed")]),
            &[&net.peer1, &net.peer2],
            |r| r.rwset.ns_rwsets[0].writes[0].value = Bytes(b"tampered".to_vec()),
        );
        net.broadcast(CHANNEL, &e).await;
        let s = net.wait_tx(0, CHANNEL, tx_id).await;
        assert_eq!(code(&s), "ENDORSEMENT_POLICY_FAILURE", "{s}");
        let (status, _) = net
            .query(
                0,
                CHANNEL,
                &net.client1,
                Query::Get {
                    namespace: CC.into(),
                    key: "k3".into(),
                },
            )
            .await;
        assert_eq!(status, 404);
    }

    /// A range read whose result changed before commit: a key was inserted into it.
    pub async fn phantom_read_is_detected(net: &mut Net) {
        put(net, "r/1", "one").await;
        let range = Query::Range {
            namespace: CC.into(),
            start: "r/".into(),
            end: "r0".into(),
            page_size: 0,
            bookmark: None,
        };
        let (_, page) = net.query(0, CHANNEL, &net.client1, range.clone()).await;
        let items = page["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 1, "{page}");
        let simulated = RangeQueryInfo {
            start_key: "r/".into(),
            end_key: "r0".into(),
            itr_exhausted: true,
            reads: vec![KvRead {
                key: "r/1".into(),
                version: Some(version(&items[0]["version"])),
            }],
        };
        // Committed between simulation and ordering.
        put(net, "r/2", "two").await;
        let mut set = rwset(vec![], vec![("r-count", "1")]);
        set.ns_rwsets[0].range_queries = vec![simulated];
        let (tx_id, e) = net.tx(CHANNEL, set, &[&net.peer1, &net.peer2]);
        net.broadcast(CHANNEL, &e).await;
        let s = net.wait_tx(0, CHANNEL, tx_id).await;
        assert_eq!(code(&s), "PHANTOM_READ_CONFLICT", "{s}");
        let (_, page) = net.query(0, CHANNEL, &net.client1, range).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
    }

    pub async fn feed_and_queries_serve_members_only(net: &mut Net) {
        // Two blocks on the shared channel to read: key k1 written twice.
        put(net, "k1", "1").await;
        put(net, "k1", "2").await;
        // Org3 is not a member of the private channel: 403 and no data.
        let (status, blocks) = net.feed(0, PRIVATE, &net.outsider, 0, 0).await;
        assert_eq!(status, 403);
        assert!(blocks.is_empty());
        let (status, body) = net.query(0, PRIVATE, &net.outsider, Query::Info).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"], "forbidden");
        // Members are served, with the committer's metadata (the genesis block,
        // then the approvals and the commit of cc).
        let (status, info) = net.query(0, PRIVATE, &net.client1, Query::Info).await;
        assert_eq!(status, 200, "{info}");
        let height = info["height"].as_u64().unwrap();
        assert!(height >= 3, "{info}");
        let (status, blocks) = net.feed(1, PRIVATE, &net.client2, 0, height - 1).await;
        assert_eq!(status, 200);
        assert_eq!(blocks.len() as u64, height);
        assert_eq!(blocks[0].metadata.validation_codes, vec![Code::Valid]);
        assert!(blocks.iter().all(|b| b.metadata.commit_hash.is_some()
            && b.metadata
                .validation_codes
                .iter()
                .all(|c| *c == Code::Valid)));
        assert_eq!(
            info["last_block_hash"],
            serde_json::json!(blocks.last().unwrap().hash())
        );
        // Org3 reads the shared channel; unknown channels are 404.
        let (status, blocks) = net.feed(0, CHANNEL, &net.outsider, 1, 2).await;
        assert_eq!(status, 200);
        assert_eq!(blocks.len(), 2);
        assert!(blocks
            .iter()
            .all(|b| b.metadata.validation_codes.len() == b.data.envelopes.len()));
        let (status, _) = net.feed(0, "nope", &net.client1, 0, 0).await;
        assert_eq!(status, 404);
        // Unknown tx ids are 404; history of a key is served.
        let (status, _) = net
            .query(
                0,
                CHANNEL,
                &net.client1,
                Query::TxStatus {
                    tx_id: TxId(cellchain_core::Hash32([7; 32])),
                },
            )
            .await;
        assert_eq!(status, 404);
        let (status, history) = net
            .query(
                0,
                CHANNEL,
                &net.outsider,
                Query::History {
                    namespace: CC.into(),
                    key: "k1".into(),
                    page_size: 1,
                    bookmark: None,
                },
            )
            .await;
        assert_eq!(status, 200, "{history}");
        assert_eq!(history["items"].as_array().unwrap().len(), 1);
        assert!(
            history["bookmark"].is_string(),
            "k1 was written twice: {history}"
        );
    }

    /// The feed of both committers, block by block: same codes and commit hashes.
    async fn assert_committers_agree(net: &Net, a: usize, b: usize, height: u64) {
        let (_, blocks_a) = net.feed(a, CHANNEL, &net.client1, 0, height - 1).await;
        let (_, blocks_b) = net.feed(b, CHANNEL, &net.client1, 0, height - 1).await;
        assert_eq!(blocks_a.len() as u64, height);
        assert_eq!(blocks_b.len() as u64, height);
        for (x, y) in blocks_a.iter().zip(&blocks_b) {
            assert_eq!(x.hash(), y.hash());
            assert!(x.metadata.commit_hash.is_some());
            assert_eq!(
                x.metadata.commit_hash, y.metadata.commit_hash,
                "block {}",
                x.header.number
            );
            assert_eq!(x.metadata.validation_codes, y.metadata.validation_codes);
        }
    }

    pub async fn committer_killed_mid_load_recovers_to_the_same_commit_hash(net: &mut Net) {
        let start = net.orderer_height(0, CHANNEL).await;
        // Load: 4 writers of 15 transactions each, all also writing one shared key.
        let envelopes: Vec<Vec<Envelope>> = (0..4)
            .map(|w| {
                (0..15)
                    .map(|i| {
                        let key = format!("load/{w}/{i}");
                        let writes = vec![(key.as_str(), "x"), ("hot", "y")];
                        net.tx(CHANNEL, rwset(vec![], writes), &[&net.peer1, &net.peer2])
                            .1
                    })
                    .collect()
            })
            .collect();
        let shared = Arc::new(envelopes);
        let http = net.http.clone();
        let ports: Vec<u16> = net.orderers.iter().map(|o| o.port).collect();
        let load = tokio::spawn(async move {
            let mut tasks = Vec::new();
            for w in 0..4 {
                let (shared, http, ports) = (shared.clone(), http.clone(), ports.clone());
                tasks.push(tokio::spawn(async move {
                    for (i, e) in shared[w].iter().enumerate() {
                        loop {
                            let url = format!(
                                "http://127.0.0.1:{}/v1/channels/{CHANNEL}/broadcast",
                                ports[(w + i) % 3]
                            );
                            match http.post(url).json(e).send().await {
                                Ok(r) if r.status().is_success() => break,
                                _ => tokio::time::sleep(Duration::from_millis(100)).await,
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        // SIGKILL committer2 once it has committed some of the load.
        net.wait_committed(1, CHANNEL, start + 2).await;
        net.kill_committer(1);
        load.await.unwrap();
        let height = net.orderer_height(0, CHANNEL).await;
        net.start_committer(1);
        net.wait_committed(1, CHANNEL, height).await;
        net.wait_committed(0, CHANNEL, height).await;
        let log = std::fs::read_to_string(&net.committers[1].log).unwrap();
        assert!(log.contains("ledger open"), "{log}");
        assert_committers_agree(net, 0, 1, height).await;
        let s0 = net.committer_status(0, CHANNEL).await.unwrap();
        let s1 = net.committer_status(1, CHANNEL).await.unwrap();
        assert_eq!(s0["commit_hash"], s1["commit_hash"]);
        let metrics = net.metrics(1).await;
        assert!(
            metrics.contains(&format!(
                "cellchain_committer_block_height{{channel=\"{CHANNEL}\"}} {height}"
            )),
            "{metrics}"
        );
        assert!(
            metrics.contains(
                "cellchain_committer_transactions_total{channel=\"testchannel\",code=\"VALID\"}"
            ),
            "{metrics}"
        );

        // The killed committer's block files verify offline; a flipped byte is named.
        net.stop_committer(1);
        let dir = net.blocks_dir(1, CHANNEL);
        let report = cellchain_storage::verify_ledger(&dir, default_provider()).unwrap();
        assert_eq!(report.blocks, height);
        let copy = tempfile::tempdir().unwrap();
        let segment = dir.join("blocks_000000.dat");
        let mut bytes = std::fs::read(&segment).unwrap();
        let (offset, len) = record_of(&bytes, 2);
        bytes[offset + len / 2] ^= 0x01;
        std::fs::write(copy.path().join("blocks_000000.dat"), &bytes).unwrap();
        let e = cellchain_storage::verify_ledger(copy.path(), default_provider()).unwrap_err();
        assert_eq!(e.block(), Some(2), "{e}");
        assert!(e.to_string().contains("block 2"), "{e}");

        // State is derived: without it, the committer rebuilds it from its block
        // files alone and reaches the same commit hash.
        std::fs::remove_dir_all(net.committers[1].data.join(CHANNEL).join("state")).unwrap();
        net.start_committer(1);
        net.wait_committed(1, CHANNEL, height).await;
        let log = std::fs::read_to_string(&net.committers[1].log).unwrap();
        assert!(
            log.contains(&format!(
                "channel=testchannel height={height} replayed={height}"
            )),
            "{log}"
        );
        assert_eq!(
            net.committer_status(1, CHANNEL).await.unwrap()["commit_hash"],
            s0["commit_hash"]
        );
    }

    /// Offset and length of block `n`'s bytes in a segment:
    /// records are `magic(4) | number(8) | length(4) | crc(4) | bytes`.
    fn record_of(segment: &[u8], n: u64) -> (usize, usize) {
        let mut at = 0;
        loop {
            let number = u64::from_be_bytes(segment[at + 4..at + 12].try_into().unwrap());
            let len = u32::from_be_bytes(segment[at + 12..at + 16].try_into().unwrap()) as usize;
            if number == n {
                return (at + 20, len);
            }
            at += 20 + len;
        }
    }

    /// Honest orderers never order a tx id twice, so a consenter that does is
    /// played by the test: it serves the real chain plus a block, signed with a
    /// consenter's key, that replays an envelope committed earlier and carries a new
    /// envelope twice.
    pub async fn replayed_envelope_ordered_by_a_consenter_is_a_duplicate(net: &mut Net) {
        // An envelope already in the chain, to replay.
        let original = put(net, "original", "1").await;
        let height = net.orderer_height(0, CHANNEL).await;
        let mut blocks = net
            .orderer_blocks(0, CHANNEL, &net.client1, 0, height - 1)
            .await;
        let old = blocks[original.block as usize].data.envelopes[original.tx as usize].clone();
        let (fresh_id, fresh) = net.tx(
            CHANNEL,
            rwset(vec![], vec![("dup", "1")]),
            &[&net.peer1, &net.peer2],
        );
        let last = blocks.last().unwrap().hash();
        let mut forged = Block::new(height, last, vec![old.clone(), fresh.clone(), fresh], 0);
        let consenter = &net.orderer_ids[0];
        forged
            .sign(consenter.id.clone(), consenter.signer.as_ref())
            .unwrap();
        blocks.push(forged);

        let blocks = Arc::new(blocks);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let serve = blocks.clone();
        let app = axum::Router::new().route(
            "/v1/channels/{channel}/deliver",
            axum::routing::post(move |Path(_c): Path<String>, body: axum::body::Bytes| {
                let blocks = serve.clone();
                async move {
                    let signed: cellchain_core::protocol::SignedDeliverRequest =
                        serde_json::from_slice(&body).unwrap();
                    let start = signed.parse().unwrap().start as usize;
                    let mut out = String::new();
                    for b in blocks.iter().skip(start) {
                        out += &serde_json::to_string(b).unwrap();
                        out.push('\n');
                    }
                    out
                }
            }),
        );
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let c3 = net.add_committer(
            "committer3",
            "Org1MSP",
            &[CHANNEL],
            &[format!("127.0.0.1:{port}")],
        );
        net.start_committer(c3);
        net.wait_committed(c3, CHANNEL, height + 1).await;
        let (_, fed) = net.feed(c3, CHANNEL, &net.client1, height, height).await;
        assert_eq!(
            fed[0].metadata.validation_codes,
            vec![Code::DuplicateTxid, Code::Valid, Code::DuplicateTxid]
        );
        let s = net.wait_tx(c3, CHANNEL, fresh_id).await;
        assert_eq!((code(&s).as_str(), s["index"].as_u64()), ("VALID", Some(1)));
        // Up to the forged block it agrees with the honest committers.
        assert_committers_agree(net, 0, c3, height).await;
        server.abort();
        let _ = old;
    }
}
