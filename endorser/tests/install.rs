//! Installing chaincode packages through `POST /v1/chaincode/install`: an
//! admin of the endorser's organisation installs, the package is kept on disk
//! and loaded again by a restarted endorser; everyone else, forged or stale
//! requests, bad packages and oversized bodies get their typed error and
//! nothing is installed.

mod support;

use std::time::Duration;

use cellchain_core::bytes::{sha256, Bytes};
use cellchain_core::lifecycle::{ChaincodePackage, PACKAGE_FORMAT};
use cellchain_core::protocol::Timestamp;
use cellchain_endorser::endorse::now;
use cellchain_endorser::install::{PackageStore, INSTALL_BODY_LIMIT};
use serde_json::{json, Value};
use support::*;

fn ks_hex() -> String {
    sha256(&kitchen_sink_wasm()).to_hex()
}

async fn get_k(
    net: &Net,
    e: &std::sync::Arc<cellchain_endorser::endorse::Endorser>,
) -> (u16, Value) {
    let p = proposal(&net.client, KS, "get", vec![json!("k")]);
    post(e, CHANNEL, "evaluate", &sign(p, &net.client)).await
}

#[tokio::test]
async fn an_admin_installs_a_package_and_it_survives_a_restart() {
    let net = Net::new();
    let dir = net.fresh_dir("packages");
    let e = net.endorser_with(package_store(&dir, &[]), Duration::from_secs(300), true);
    // Defined (the seeded replica), not installed yet.
    let (status, body) = get_k(&net, &e).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("chaincode_not_installed")),
        "{body}"
    );

    let body_of = |who: &_| serde_json::to_vec(&signed_install(who, &ks_package(), now())).unwrap();
    let (status, body) = post_install(&e, body_of(&net.admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "package_id": format!("ks_1.2:{}", ks_hex()),
            "label": "ks_1.2",
            "contract": "kitchen-sink",
            "contract_version": "0.1.0",
            "wasm_sha256": ks_hex(),
            "already_installed": false,
        })
    );
    // The module runs at once.
    let (status, body) = get_k(&net, &e).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["status"], 200, "{body}");
    // Installing it again stores nothing new.
    let (status, body) = post_install(&e, body_of(&net.admin)).await;
    assert_eq!(
        (status, &body["already_installed"]),
        (200, &json!(true)),
        "{body}"
    );
    let (status, list) = call(&e, "GET", "/v1/chaincode/installed", vec![]).await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!([{
            "package_id": format!("ks_1.2:{}", ks_hex()),
            "label": "ks_1.2",
            "contract": "kitchen-sink",
            "contract_version": "0.1.0",
            "wasm_sha256": ks_hex(),
        }])
    );
    // On disk, under its module hash, exactly the package file.
    let file = dir.join(format!("{}.json", ks_hex()));
    assert_eq!(std::fs::read(&file).unwrap(), ks_package());
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1, "no temporary file is left");
    drop(e);

    // A restarted endorser (a new store on the same directory) loads it.
    let e = net.endorser_with(package_store(&dir, &[]), Duration::from_secs(300), true);
    let (_, again) = call(&e, "GET", "/v1/chaincode/installed", vec![]).await;
    assert_eq!(again, list);
    let (status, body) = get_k(&net, &e).await;
    assert_eq!(
        (status, &body["response"]["status"]),
        (200, &json!(200)),
        "{body}"
    );
}

#[tokio::test]
async fn a_damaged_package_file_stops_the_start_and_a_left_over_temporary_file_is_removed() {
    let net = Net::new();
    let dir = net.fresh_dir("packages");
    std::fs::write(dir.join("x.json.tmp"), b"half a package").unwrap();
    let store = PackageStore::open(&dir, runtime()).unwrap();
    assert!(store.list().is_empty());
    assert!(!dir.join("x.json.tmp").exists());
    drop(store);

    let file = dir.join(format!("{}.json", ks_hex()));
    std::fs::write(&file, b"{\"format\": \"nope\"}").unwrap();
    let err = PackageStore::open(&dir, runtime())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("install the package again"), "{err}");
    // A valid package under another module's name.
    std::fs::write(&file, hostile_package()).unwrap();
    let err = PackageStore::open(&dir, runtime())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not the one its name says"), "{err}");
}

/// Checks a refusal's status, kind and shape; returns the message.
fn refused((status, body): (u16, Value), want_status: u16, kind: &str) -> String {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], kind, "{body}");
    assert_eq!(body["retryable"], false, "{body}");
    body["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn everyone_but_an_admin_of_the_endorsers_organisation_is_refused() {
    let net = Net::new();
    let dir = net.fresh_dir("packages");
    let e = net.endorser_with(package_store(&dir, &[]), Duration::from_secs(300), true);
    let body_of = |who: &_| serde_json::to_vec(&signed_install(who, &ks_package(), now())).unwrap();

    // A client of Org1.
    let m = refused(
        post_install(&e, body_of(&net.client)).await,
        403,
        "not_an_admin",
    );
    assert!(m.contains("app@Org1MSP (role client)"), "{m}");
    assert!(m.contains("only an admin of Org1MSP"), "{m}");
    // Org2's admin: an admin, of another organisation.
    let m = refused(
        post_install(&e, body_of(&net.other_admin)).await,
        403,
        "not_an_admin",
    );
    assert!(m.contains("admin2@Org2MSP (role admin)"), "{m}");
    // A peer of Org1.
    refused(
        post_install(&e, body_of(&net.peer)).await,
        403,
        "not_an_admin",
    );
    // A certificate no channel trusts.
    refused(
        post_install(&e, body_of(&net.stranger)).await,
        401,
        "invalid_creator",
    );
    // The admin's request, signed by someone else's key.
    let mut forged = signed_install(&net.admin, &ks_package(), now());
    forged.signature = Bytes(net.client.signer.sign(&forged.signed_message()).unwrap());
    let m = refused(
        post_install(&e, serde_json::to_vec(&forged).unwrap()).await,
        401,
        "bad_signature",
    );
    assert!(m.contains("admin1@Org1MSP"), "{m}");
    // The admin's request, altered after signing.
    let mut altered = signed_install(&net.admin, &ks_package(), now());
    let other = signed_install(&net.admin, &hostile_package(), now());
    altered.request = other.request;
    refused(
        post_install(&e, serde_json::to_vec(&altered).unwrap()).await,
        401,
        "bad_signature",
    );
    // Too old.
    let old = Timestamp {
        seconds: now().seconds - 600,
        nanos: 0,
    };
    let stale = signed_install(&net.admin, &ks_package(), old);
    let m = refused(
        post_install(&e, serde_json::to_vec(&stale).unwrap()).await,
        400,
        "stale_timestamp",
    );
    assert!(m.contains("more than the accepted 300000 ms"), "{m}");

    let (_, list) = call(&e, "GET", "/v1/chaincode/installed", vec![]).await;
    assert_eq!(list, json!([]));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn bad_packages_malformed_and_oversized_requests_are_refused() {
    let net = Net::new();
    let dir = net.fresh_dir("packages");
    let e = net.endorser_with(package_store(&dir, &[]), Duration::from_secs(300), true);
    let install = |package: Vec<u8>| {
        let e = e.clone();
        let body = serde_json::to_vec(&signed_install(&net.admin, &package, now())).unwrap();
        async move { post_install(&e, body).await }
    };

    // Not a package file.
    let m = refused(install(b"hello".to_vec()).await, 400, "bad_package");
    assert!(m.contains("chaincode package"), "{m}");
    // A hash that is not the module's.
    let mut p = ChaincodePackage::new(
        "ks_1.2",
        "kitchen-sink",
        "0.1.0",
        kitchen_sink_wasm().to_vec(),
    )
    .unwrap();
    p.wasm_sha256 = sha256(b"something else");
    let m = refused(
        install(serde_json::to_vec(&p).unwrap()).await,
        400,
        "bad_package",
    );
    assert!(
        m.contains("wasm_sha256 is not the SHA-256 of the module"),
        "{m}"
    );
    // Another format.
    let mut p = serde_json::to_value(
        ChaincodePackage::new(
            "ks_1.2",
            "kitchen-sink",
            "0.1.0",
            kitchen_sink_wasm().to_vec(),
        )
        .unwrap(),
    )
    .unwrap();
    p["format"] = json!("zip");
    let m = refused(
        install(serde_json::to_vec(&p).unwrap()).await,
        400,
        "bad_package",
    );
    assert!(m.contains(PACKAGE_FORMAT), "{m}");
    // A well-formed package whose module the runtime refuses (no ABI exports).
    let empty =
        ChaincodePackage::new("empty_1", "empty", "1", b"\0asm\x01\0\0\0".to_vec()).unwrap();
    let m = refused(install(empty.to_bytes()).await, 400, "bad_package");
    assert!(m.contains("cannot be installed"), "{m}");
    assert!(m.contains("empty_1:"), "{m}");

    // Not a signed install request at all.
    let m = refused(
        post_install(&e, b"not json".to_vec()).await,
        400,
        "bad_request",
    );
    assert!(m.contains("not a signed install request"), "{m}");
    // Request bytes that are not an install request.
    let body = json!({"request": "aGVsbG8=", "signature": "aGVsbG8="});
    refused(
        post_install(&e, serde_json::to_vec(&body).unwrap()).await,
        400,
        "bad_request",
    );
    // Above the 8 MiB of the proposal routes but within 16 MiB: read, and
    // judged on its content.
    refused(
        post_install(&e, vec![b' '; 10 * 1024 * 1024]).await,
        400,
        "bad_request",
    );
    // Over the limit: 413 in the error shape.
    let m = refused(
        post_install(&e, vec![b' '; INSTALL_BODY_LIMIT + 1]).await,
        413,
        "too_large",
    );
    assert!(m.contains(&INSTALL_BODY_LIMIT.to_string()), "{m}");

    let (_, list) = call(&e, "GET", "/v1/chaincode/installed", vec![]).await;
    assert_eq!(list, json!([]));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing stored"
    );
}
