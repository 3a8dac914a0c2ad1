//! Cross-contract scenario: the kitchen sink reads items of the sample
//! registry deployed beside it on the same channel, decoding them with the
//! registry's own record type. Natively and with both contracts built to
//! .wasm in one runtime.

use cellchain_chaincode_harness::{both, caller, Harness, KvRead, NativeHarness, WasmHarness};
use contract_template::state::{item_key, Item};
use contract_template::SampleRegistry;
use serde_json::json;
use test_kitchen_sink::KitchenSink;

fn native() -> NativeHarness {
    let mut h = NativeHarness::new();
    h.deploy::<SampleRegistry>("registry")
        .deploy::<KitchenSink>("sink");
    h
}

fn wasm() -> WasmHarness {
    let mut h = WasmHarness::new();
    h.deploy_crate(
        "registry",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../template"),
    )
    .deploy_crate("sink", env!("CARGO_MANIFEST_DIR"));
    h
}

both!(
    reads_of_another_contract_carry_its_versions,
    a_contract_cannot_write_into_another_namespace,
);

fn reads_of_another_contract_carry_its_versions(h: &mut impl Harness) {
    h.set_caller(caller("Org1MSP"));
    let registered = h
        .submit(
            "registry",
            "register",
            json!([{"id": "pump-7", "description": "infusion pump"}]),
        )
        .committed
        .expect("registered");
    let key = item_key("pump-7").unwrap();

    let out = h.evaluate("sink", "read_other_json", json!(["registry", key]));
    let item: Item = out.json();
    assert_eq!(item.owner, "Org1MSP");
    // The read is in the registry's namespace, so the committer invalidates
    // this transaction if the item changes before it commits.
    assert_eq!(
        out.ns("registry").unwrap().reads,
        [KvRead {
            key: key.clone(),
            version: Some(registered)
        }]
    );
    let namespaces: Vec<&str> = out
        .rwset
        .ns_rwsets
        .iter()
        .map(|ns| ns.namespace.as_str())
        .collect();
    assert_eq!(namespaces, ["registry", "sink"]);

    let transferred = h
        .submit(
            "registry",
            "transfer",
            json!([{"id": "pump-7", "new_owner": "Org2MSP"}]),
        )
        .committed
        .expect("transferred");
    let out = h.evaluate("sink", "read_other_json", json!(["registry", key]));
    assert_eq!(out.json::<Item>().owner, "Org2MSP");
    assert_eq!(
        out.ns("registry").unwrap().reads[0].version,
        Some(transferred)
    );
}

fn a_contract_cannot_write_into_another_namespace(h: &mut impl Harness) {
    // `put` writes the caller's own namespace, whatever the key looks like.
    let key = item_key("pump-7").unwrap();
    let out = h.submit("sink", "put", json!([key, "forged"]));
    assert_eq!(out.rwset.ns_rwsets.len(), 1);
    assert_eq!(out.rwset.ns_rwsets[0].namespace, "sink");
    h.evaluate("registry", "get_item", json!(["pump-7"]))
        .assert_error(400, "item pump-7 is not registered");
}
