//! The SDK's choices of nodes and its error handling, against fake nodes (axum
//! in-process): fallback on unreachable or overloaded nodes, refusals named,
//! disagreeing endorsers, broadcast retries and refusals, commit status codes
//! and the optional retry on MVCC conflicts; the chaincode definition read from
//! the (fake) ledger and cached; install and commit readiness.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cellchain_core::bytes::sha256;
use cellchain_core::crypto::PublicKey;
use cellchain_core::lifecycle::SignedInstall;
use cellchain_core::protocol::{
    encode, ChaincodeRef, ChaincodeResponse, Endorsement, Envelope, PayloadData, Proposal,
    ProposalResponse, ProposalResponsePayload, Query, SignedProposal, SignedQuery, TxRwSet,
};
use cellchain_core::testing::{TestCa, TestMember};
use cellchain_core::Bytes;
use cellchain_sdk::{
    ChaincodeDefinition, ChaincodePackage, ConnectionProfile, EndorsementPolicy, Gateway,
    GatewayOptions, Identity, Readiness, SdkError, TxId, TxValidationCode,
};
use serde_json::json;

/// What a fake endorser does with a proposal.
#[derive(Clone)]
enum Endorse {
    /// Endorses, the chaincode returning these bytes.
    Result(&'static str),
    /// The chaincode fails with this status.
    Chaincode(u16),
    /// An HTTP error answer.
    Http(u16),
}

#[derive(Default)]
struct Log {
    /// `(node, request kind)` in arrival order.
    calls: Vec<(String, &'static str)>,
    /// Tx ids broadcast, in order.
    broadcast: Vec<TxId>,
}

#[derive(Clone)]
struct Node {
    name: String,
    /// The MSP id its endorsements carry.
    msp: String,
    log: Arc<Mutex<Log>>,
    /// The `_lifecycle` state of the fake ledger: the committed definitions.
    defs: Arc<Mutex<Vec<ChaincodeDefinition>>>,
    /// The client's key, which signs install requests.
    client_key: PublicKey,
    endorse: Endorse,
    height: u64,
    /// Orderer: answers to give before accepting (HTTP statuses).
    refusals: Arc<Mutex<Vec<u16>>>,
    /// Committer: the code of the n-th transaction broadcast (VALID when absent).
    codes: Arc<Mutex<Vec<TxValidationCode>>>,
}

fn err(status: u16, kind: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"error": kind, "message": message, "retryable": status == 503})),
    )
        .into_response()
}

/// A `_lifecycle` evaluation: answered from the fake ledger.
fn lifecycle(n: &Node, proposal: &Proposal) -> Response {
    n.log
        .lock()
        .unwrap()
        .calls
        .push((n.name.clone(), "lifecycle"));
    let defs = n.defs.lock().unwrap();
    let (status, payload) = match (proposal.function.as_str(), proposal.args.first()) {
        ("query_committed", Some(name)) => match defs.iter().find(|d| name == d.name.as_str()) {
            Some(d) => (200, serde_json::to_vec(d).unwrap()),
            None => (404, vec![]),
        },
        ("check_commit_readiness", Some(def)) => {
            let def: ChaincodeDefinition = serde_json::from_value(def.clone()).unwrap();
            let r = Readiness {
                chaincode: def.name,
                sequence: def.sequence,
                policy: "MAJORITY Endorsement".into(),
                ready: false,
                approved: vec!["Org1MSP".into()],
                differing: [(
                    "Org2MSP".to_string(),
                    vec!["version: approved 2.0, proposed 1.0".to_string()],
                )]
                .into(),
                missing: vec!["Org3MSP".into()],
            };
            (200, serde_json::to_vec(&r).unwrap())
        }
        _ => (400, vec![]),
    };
    Json(ProposalResponse {
        response: ChaincodeResponse {
            status,
            message: if status == 404 {
                "chaincode is not defined".into()
            } else {
                String::new()
            },
            payload: Bytes(payload),
        },
        payload: None,
        endorsement: None,
        ledger_height: n.height,
        key_policies: vec![],
    })
    .into_response()
}

async fn endorse(State(n): State<Node>, Json(signed): Json<SignedProposal>) -> Response {
    let proposal = signed.parse().unwrap();
    if proposal.chaincode == "_lifecycle" && !matches!(n.endorse, Endorse::Http(_)) {
        return lifecycle(&n, &proposal);
    }
    n.log
        .lock()
        .unwrap()
        .calls
        .push((n.name.clone(), "endorse"));
    let result = match n.endorse {
        Endorse::Http(s) => return err(s, "refused", &format!("{} says no", n.name)),
        Endorse::Chaincode(status) => {
            return Json(ProposalResponse {
                response: ChaincodeResponse {
                    status,
                    message: "asset not found".into(),
                    payload: Bytes::default(),
                },
                payload: None,
                endorsement: None,
                ledger_height: n.height,
                key_policies: vec![],
            })
            .into_response()
        }
        Endorse::Result(r) => r,
    };
    let response = ChaincodeResponse {
        status: 200,
        message: String::new(),
        payload: Bytes(result.as_bytes().to_vec()),
    };
    let payload = encode(&ProposalResponsePayload {
        proposal_hash: sha256(&signed.proposal),
        chaincode: ChaincodeRef {
            name: "cc".into(),
            version: "1".into(),
            // The endorsers run the definition on their ledger.
            sequence: n
                .defs
                .lock()
                .unwrap()
                .iter()
                .find(|d| d.name == "cc")
                .map_or(1, |d| d.sequence),
        },
        rwset: TxRwSet::default(),
        events: vec![],
        response: response.clone(),
    });
    Json(ProposalResponse {
        response,
        payload: Some(payload),
        endorsement: Some(Endorsement {
            endorser: cellchain_core::identity::SerializedIdentity {
                msp_id: n.msp.clone(),
                cert: n.name.clone(),
            },
            signature: Bytes(vec![1]),
        }),
        ledger_height: n.height,
        key_policies: vec![],
    })
    .into_response()
}

async fn status(State(n): State<Node>) -> Response {
    if let Endorse::Http(s) = n.endorse {
        return err(s, "down", "status unavailable");
    }
    Json(json!({"height": n.height})).into_response()
}

async fn broadcast(State(n): State<Node>, Json(envelope): Json<Envelope>) -> Response {
    let mut log = n.log.lock().unwrap();
    log.calls.push((n.name.clone(), "broadcast"));
    if let Some(s) = n.refusals.lock().unwrap().pop() {
        return err(s, "nope", &format!("{} refuses", n.name));
    }
    let payload = envelope.parse_payload().unwrap();
    assert!(matches!(payload.data, PayloadData::Endorser(_)));
    let tx_id = payload.header.tx_id;
    log.broadcast.push(tx_id);
    Json(json!({"status": "ORDERED", "tx_id": tx_id.to_string(), "block": 4})).into_response()
}

async fn query(State(n): State<Node>, Json(signed): Json<SignedQuery>) -> Response {
    let request = signed.parse().unwrap();
    let Query::TxStatus { tx_id } = request.query else {
        return err(400, "unsupported_query", "tx status only");
    };
    let log = n.log.lock().unwrap();
    let Some(i) = log.broadcast.iter().position(|t| *t == tx_id) else {
        return err(404, "not_found", "not committed (yet)");
    };
    let code = n
        .codes
        .lock()
        .unwrap()
        .get(i)
        .copied()
        .unwrap_or(TxValidationCode::Valid);
    Json(
        json!({"tx_id": tx_id.to_string(), "block": 4 + i as u64, "index": 0,
        "code": {"name": code.name(), "number": code.as_u8()}}),
    )
    .into_response()
}

/// A fake install: checks the admin's signature and answers as an endorser.
async fn install(State(n): State<Node>, Json(signed): Json<SignedInstall>) -> Response {
    n.log
        .lock()
        .unwrap()
        .calls
        .push((n.name.clone(), "install"));
    let request = signed.parse().unwrap();
    let verified = cellchain_core::crypto::default_provider().verify(
        &n.client_key,
        &signed.signed_message(),
        &signed.signature,
    );
    if request.creator.msp_id != "Org1MSP" || verified.is_err() {
        return err(
            401,
            "bad_signature",
            "the install request is not signed by the client",
        );
    }
    let package = ChaincodePackage::from_bytes(&request.package).unwrap();
    Json(json!({
        "package_id": package.package_id(),
        "label": package.label,
        "contract": package.contract,
        "contract_version": package.contract_version,
        "wasm_sha256": package.wasm_sha256,
        "already_installed": false,
    }))
    .into_response()
}

/// Serves a fake node; returns its address.
async fn serve(node: Node) -> String {
    let app = Router::new()
        .route("/v1/channels/{ch}/endorse", post(endorse))
        .route("/v1/channels/{ch}/evaluate", post(endorse))
        .route("/v1/channels/{ch}/status", get(status))
        .route("/v1/channels/{ch}/broadcast", post(broadcast))
        .route("/v1/channels/{ch}/query", post(query))
        .route("/v1/chaincode/install", post(install))
        .with_state(node);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

struct Fakes {
    log: Arc<Mutex<Log>>,
    defs: Arc<Mutex<Vec<ChaincodeDefinition>>>,
    refusals: Arc<Mutex<Vec<u16>>>,
    codes: Arc<Mutex<Vec<TxValidationCode>>>,
    client: TestMember,
}

impl Fakes {
    fn new() -> Fakes {
        Fakes {
            log: Default::default(),
            defs: Arc::new(Mutex::new(vec![definition(
                1,
                "AND('Org1MSP.peer', 'Org2MSP.peer')",
            )])),
            refusals: Default::default(),
            codes: Default::default(),
            client: TestCa::new("Org1MSP").member("Org1MSP", "app", "client"),
        }
    }

    async fn node(&self, name: &str, endorse: Endorse, height: u64) -> String {
        self.org_node(name, "fake", endorse, height).await
    }

    /// A node whose endorsements carry `msp`.
    async fn org_node(&self, name: &str, msp: &str, endorse: Endorse, height: u64) -> String {
        let addr = serve(Node {
            name: name.into(),
            msp: msp.into(),
            log: self.log.clone(),
            defs: self.defs.clone(),
            client_key: self.client.signer.public_key(),
            endorse,
            height,
            refusals: self.refusals.clone(),
            codes: self.codes.clone(),
        })
        .await;
        format!("{{name: {name}, address: '{addr}'}}")
    }

    /// A gateway over `org1` and `org2` endorsers (YAML lists), one orderer list
    /// and one committer of Org1.
    async fn gateway(&self, org1: &[String], org2: &[String], orderers: &[String]) -> Gateway {
        let committer = self.node("committer1", Endorse::Result(""), 0).await;
        let yaml = format!(
            "organizations:\n  - {{msp_id: Org1MSP, endorsers: [{}], committers: [{committer}]}}\n  - {{msp_id: Org2MSP, endorsers: [{}]}}\norderers: [{}]\n",
            org1.join(", "),
            org2.join(", "),
            orderers.join(", ")
        );
        let profile = ConnectionProfile::parse(&yaml, "test").unwrap();
        let identity = Identity::new(
            self.client.id.clone(),
            Arc::from(
                cellchain_core::crypto::signer_from_pkcs8_pem(
                    cellchain_core::crypto::default_provider(),
                    &self.client.key_pem,
                )
                .unwrap(),
            ),
        );
        let options = GatewayOptions {
            broadcast_timeout: Duration::from_secs(5),
            commit_timeout: Duration::from_secs(5),
            commit_poll: Duration::from_millis(10),
            consistency_wait: Duration::from_millis(300),
            ..GatewayOptions::default()
        };
        Gateway::connect_with(identity, profile, options).unwrap()
    }

    fn calls(&self, kind: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.calls
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Chaincode `cc`'s definition of `sequence` with a signature policy.
fn definition(sequence: u64, policy: &str) -> ChaincodeDefinition {
    ChaincodeDefinition {
        name: "cc".into(),
        version: format!("{sequence}.0"),
        sequence,
        wasm_hash: sha256(b"module"),
        endorsement_policy: EndorsementPolicy::Signature(policy.parse().unwrap()),
        collections: vec![],
    }
}

fn dead() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("{{name: dead, address: '127.0.0.1:{port}'}}")
}

#[tokio::test]
async fn evaluate_prefers_the_highest_own_endorser_and_steps_over_failures() {
    let f = Fakes::new();
    let low = f.node("low", Endorse::Result("\"low\""), 3).await;
    let high = f.node("high", Endorse::Result("\"high\""), 9).await;
    let busy = f.node("busy", Endorse::Http(503), 0).await;
    let other = f.node("other", Endorse::Result("\"other\""), 20).await;
    let g = f.gateway(&[low, dead(), high], &[other], &[]).await;
    let cc = g.network("ch").contract("cc");
    assert_eq!(
        cc.evaluate("get", vec![json!("k")]).await.unwrap(),
        b"\"high\""
    );

    // Org1's endorsers unreachable or overloaded: another organisation's serves.
    let g = f
        .gateway(
            &[dead(), busy.clone()],
            &[f.node("org2", Endorse::Result("2"), 1).await],
            &[],
        )
        .await;
    let cc = g.network("ch").contract("cc");
    assert_eq!(cc.evaluate("get", vec![]).await.unwrap(), b"2");
    assert!(f.calls("endorse").contains(&"busy".to_string()));

    // Nobody can serve: every attempt is listed.
    let g = f.gateway(&[dead(), busy], &[], &[]).await;
    let e = g
        .network("ch")
        .contract("cc")
        .evaluate("get", vec![])
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(
            e,
            SdkError::Unavailable {
                role: "endorser",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("dead: no answer") && text.contains("busy: 503 refused"),
        "{text}"
    );

    // A refusal is final, and names the endorser.
    let forbidden = f.node("strict", Endorse::Http(403), 5).await;
    let g = f.gateway(&[forbidden], &[], &[]).await;
    let e = g
        .network("ch")
        .contract("cc")
        .evaluate("get", vec![])
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "endorser strict refused the evaluation (403 refused): strict says no"
    );
}

#[tokio::test]
async fn submit_checks_agreement_and_chaincode_errors() {
    let f = Fakes::new();
    let o = f.node("orderer1", Endorse::Result(""), 0).await;
    let a = f.node("e1", Endorse::Result("1"), 1).await;
    let b = f.node("e2", Endorse::Result("2"), 1).await;
    let g = f
        .gateway(std::slice::from_ref(&a), &[b], std::slice::from_ref(&o))
        .await;
    match g.network("ch").contract("cc").submit("put", vec![]).await {
        Err(SdkError::NonDeterministic { endorsers }) => {
            let names: Vec<&str> = endorsers.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["e1", "e2"]);
            assert_ne!(endorsers[0].1, endorsers[1].1);
        }
        other => panic!("{other:?}"),
    }
    let failing = f.node("e3", Endorse::Chaincode(400), 1).await;
    let g = f.gateway(&[a], &[failing], &[o]).await;
    match g.network("ch").contract("cc").submit("put", vec![]).await {
        Err(SdkError::Chaincode {
            endorser,
            status,
            message,
        }) => assert_eq!(
            (endorser.as_str(), status, message.as_str()),
            ("e3", 400, "asset not found")
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        f.log.lock().unwrap().broadcast.is_empty(),
        "nothing was ordered"
    );
}

#[tokio::test]
async fn submit_retries_orderers_and_reports_commit_codes() {
    let f = Fakes::new();
    let e1 = f.node("e1", Endorse::Result("\"ok\""), 1).await;
    let e2 = f.node("e2", Endorse::Result("\"ok\""), 1).await;
    let o1 = f.node("o1", Endorse::Result(""), 0).await;
    let o2 = f.node("o2", Endorse::Result(""), 0).await;
    let g = f.gateway(&[e1, dead()], &[e2], &[dead(), o1, o2]).await;
    let cc = g.network("ch").contract("cc");

    // One 503 (popped last-first), then accepted: committed valid.
    f.refusals.lock().unwrap().push(503);
    let done = cc.submit("put", vec![json!("k")]).await.unwrap();
    assert_eq!(done.payload, b"\"ok\"");
    assert_eq!(done.block, 4);
    assert_eq!(f.log.lock().unwrap().broadcast, [done.tx_id]);

    // Read-your-writes: the endorsers' ledgers (height 1) lack block 4, so the
    // evaluation waits for them, then answers from the freshest.
    let asked = f.calls("endorse").len();
    let started = std::time::Instant::now();
    assert_eq!(cc.evaluate("get", vec![]).await.unwrap(), b"\"ok\"");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        f.calls("endorse").len() >= asked + 4,
        "both endorsers, asked again"
    );

    // An MVCC conflict is an error by default ...
    f.codes.lock().unwrap().extend([
        TxValidationCode::Valid,
        TxValidationCode::MvccReadConflict,
        TxValidationCode::MvccReadConflict,
    ]);
    match cc.submit("put", vec![]).await {
        Err(SdkError::Invalid { code, block, .. }) => {
            assert_eq!((code, block), (TxValidationCode::MvccReadConflict, 5))
        }
        other => panic!("{other:?}"),
    }
    // ... and re-run from scratch with `retry_on_mvcc`: a new tx id each time.
    let done = cc
        .clone()
        .retry_on_mvcc(3)
        .submit("put", vec![])
        .await
        .unwrap();
    let broadcast = f.log.lock().unwrap().broadcast.clone();
    assert_eq!(broadcast.len(), 4);
    assert_eq!(broadcast[3], done.tx_id);
    assert_ne!(broadcast[2], broadcast[3]);

    // A refusal is final and names the orderer.
    f.refusals.lock().unwrap().push(400);
    let e = cc.submit("put", vec![]).await.unwrap_err();
    match &e {
        SdkError::Broadcast {
            orderer, status, ..
        } => assert_eq!(*status, 400, "{orderer}"),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("refuses"), "{e}");

    // submit_async: the tx id at once, the status later.
    let commit = cc.submit_async("put", vec![]).await.unwrap();
    assert_eq!(commit.status().await.unwrap().tx_id, commit.tx_id());

    // Explicit organisations replace the policy; an unknown one is refused.
    let only_org1 = cc.clone().with_endorsing_orgs(["Org1MSP"]);
    assert_eq!(only_org1.plan().await.unwrap().msp_ids(), ["Org1MSP"]);
    let e = cc
        .clone()
        .with_endorsing_orgs(["Org7MSP"])
        .plan()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Org7MSP"), "{e}");
    let e = g.network("ch").contract("other").plan().await.unwrap_err();
    assert!(matches!(e, SdkError::NoPolicy { .. }), "{e}");
}

#[tokio::test]
async fn the_policy_comes_from_the_committed_definition_cached_until_it_changes() {
    let f = Fakes::new();
    *f.defs.lock().unwrap() = vec![definition(1, "OR('Org1MSP.peer', 'Org2MSP.peer')")];
    let e1 = f.org_node("e1", "Org1MSP", Endorse::Result("1"), 100).await;
    let e2 = f.org_node("e2", "Org2MSP", Endorse::Result("1"), 100).await;
    let o = f.node("o1", Endorse::Result(""), 0).await;
    let g = f.gateway(&[e1], &[e2], &[o]).await;
    let cc = g.network("ch").contract("cc");

    // Planned from the ledger's OR: the caller's organisation alone; the
    // definition is asked once and cached.
    assert_eq!(cc.plan().await.unwrap().msp_ids(), ["Org1MSP"]);
    let tx = cc.endorse("put", vec![]).await.unwrap();
    assert_eq!(tx.endorsers(), ["e1"]);
    tx.submit().await.unwrap().status().await.unwrap();
    assert_eq!(f.calls("lifecycle").len(), 1, "asked once, then cached");

    // An upgrade to AND (sequence 2) that this gateway did not see: the
    // endorsers report sequence 2, so the SDK reads the definition again and
    // asks Org2 as well before ordering.
    *f.defs.lock().unwrap() = vec![definition(2, "AND('Org1MSP.peer', 'Org2MSP.peer')")];
    let tx = cc.endorse("put", vec![]).await.unwrap();
    assert_eq!(tx.endorsers(), ["e1", "e2"]);
    assert_eq!(f.calls("lifecycle").len(), 2);
    tx.submit().await.unwrap().status().await.unwrap();
    assert_eq!(
        cc.plan().await.unwrap().msp_ids(),
        ["Org1MSP", "Org2MSP"],
        "the new policy is cached"
    );
    assert_eq!(f.calls("lifecycle").len(), 2);

    // A transaction committed as CHAINCODE_VERSION_CONFLICT drops the cached
    // definition: the next plan asks the ledger again.
    f.codes.lock().unwrap().extend([
        TxValidationCode::Valid,
        TxValidationCode::Valid,
        TxValidationCode::ChaincodeVersionConflict,
    ]);
    match cc.submit("put", vec![]).await {
        Err(SdkError::Invalid { code, .. }) => {
            assert_eq!(code, TxValidationCode::ChaincodeVersionConflict)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.calls("lifecycle").len(), 2);
    cc.plan().await.unwrap();
    assert_eq!(
        f.calls("lifecycle").len(),
        3,
        "asked again after the conflict"
    );

    // A channel policy: every organisation with endorsers.
    let mut def = definition(3, "'Org1MSP.peer'");
    def.endorsement_policy = EndorsementPolicy::Channel("Endorsement".into());
    *f.defs.lock().unwrap() = vec![def];
    let g = f
        .gateway(
            &[f.node("e3", Endorse::Result("1"), 1).await],
            &[f.node("e4", Endorse::Result("1"), 1).await],
            &[],
        )
        .await;
    let cc = g.network("ch").contract("cc");
    assert_eq!(cc.plan().await.unwrap().msp_ids(), ["Org1MSP", "Org2MSP"]);
    let e = g.network("ch").contract("none").plan().await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "chaincode none is not defined on channel ch (no committed definition): deploy it with \
         the lifecycle (install, approve, commit), or name the endorsing organisations with \
         `Contract::with_endorsing_orgs`"
    );
}

#[tokio::test]
async fn commit_is_refused_before_ordering_when_not_ready_and_install_signs() {
    let f = Fakes::new();
    let e1 = f.node("e1", Endorse::Result("1"), 1).await;
    let e1b = f.node("e1b", Endorse::Result("1"), 1).await;
    let e2 = f.node("e2", Endorse::Result("1"), 1).await;
    let o = f.node("o1", Endorse::Result(""), 0).await;
    let g = f.gateway(&[e1, e1b], &[e2], &[o]).await;
    let lifecycle = g.network("ch").lifecycle();
    let def = definition(1, "'Org1MSP.peer'");
    match lifecycle.commit(&def).await {
        Err(SdkError::NotReady(r)) => {
            assert!(!r.ready);
            assert_eq!(r.missing, ["Org3MSP"]);
            let text = SdkError::NotReady(r).to_string();
            assert!(text.contains("not approved by: Org3MSP"), "{text}");
            assert!(
                text.contains(
                    "Org2MSP approved a different definition (version: approved 2.0, proposed 1.0)"
                ),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        f.log.lock().unwrap().broadcast.is_empty(),
        "nothing ordered"
    );
    assert!(f.calls("endorse").is_empty(), "nothing endorsed");

    // Install: the package is checked, then sent signed to each endorser of
    // the caller's organisation (not Org2's).
    let package = ChaincodePackage::new(
        "kitchen_1",
        "kitchen-sink",
        "0.1.0",
        b"\0asm\x01\0\0\0".to_vec(),
    )
    .unwrap();
    let done = g.install(&package.to_bytes()).await.unwrap();
    assert_eq!(f.calls("install"), ["e1", "e1b"]);
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].package_id, package.package_id());
    assert!(!done[0].already_installed);
    let e = g.install(b"{}").await.unwrap_err().to_string();
    assert!(
        e.starts_with("the chaincode package cannot be installed: "),
        "{e}"
    );
    assert_eq!(f.calls("install").len(), 2, "a bad package is not sent");
}
