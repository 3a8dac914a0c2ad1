//! The registry's transactions: register an item, transfer it between
//! organisations, and query items by id or by owner.

use cellchain_contract::{contract, Context};

use crate::error::RegistryError;
use crate::msg::{ItemEvent, RegisterItem, TransferItem};
use crate::state::{item_key, owner_index_key, Item, INDEX_MARKER, OWNER_INDEX};

/// The longest item id accepted.
pub const MAX_ID_LEN: usize = 64;
/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 256;

/// The contract. It holds no data: everything lives in the ledger and is
/// reached through the `Context` each transaction receives.
pub struct SampleRegistry;

#[contract]
impl SampleRegistry {
    /// Registers a new item, owned by the caller's organisation.
    #[transaction]
    pub fn register(ctx: &mut Context, req: RegisterItem) -> Result<Item, RegistryError> {
        validate_id(&req.id)?;
        let len = req.description.chars().count();
        if len > MAX_DESCRIPTION_LEN {
            return Err(RegistryError::DescriptionTooLong {
                len,
                max: MAX_DESCRIPTION_LEN,
            });
        }
        // Reading the key even though we expect nothing there records "absent"
        // in the read set: if another transaction registers the same id in the
        // same block, the committer invalidates the later one (MVCC).
        let key = item_key(&req.id)?;
        if let Some(existing) = ctx.get_state_json::<Item>(&key)? {
            return Err(RegistryError::AlreadyRegistered {
                id: req.id,
                owner: existing.owner,
            });
        }
        let caller = ctx.caller();
        let item = Item {
            id: req.id,
            description: req.description,
            owner: caller.msp_id.clone(),
            registered_by: format!("{}@{}", caller.common_name, caller.msp_id),
            registered_at: ctx.timestamp(),
            updated_at: ctx.timestamp(),
        };
        ctx.put_state_json(&key, &item)?;
        ctx.put_state(&owner_index_key(&item.owner, &item.id)?, INDEX_MARKER)?;
        ctx.set_event_json(
            "ItemRegistered",
            &ItemEvent {
                id: item.id.clone(),
                from: None,
                to: item.owner.clone(),
            },
        )?;
        Ok(item)
    }

    /// Transfers an item to another organisation. Only a member of the owning
    /// organisation may do this.
    #[transaction]
    pub fn transfer(ctx: &mut Context, req: TransferItem) -> Result<Item, RegistryError> {
        if req.new_owner.is_empty() {
            return Err(RegistryError::EmptyOwner);
        }
        let mut item = load(ctx, &req.id)?;
        let caller = &ctx.caller().msp_id;
        if *caller != item.owner {
            return Err(RegistryError::NotOwner {
                id: item.id,
                owner: item.owner,
                caller: caller.clone(),
            });
        }
        if req.new_owner == item.owner {
            return Err(RegistryError::SameOwner {
                id: item.id,
                owner: item.owner,
            });
        }
        // The index moves with the owner: delete the old entry, write the new.
        ctx.del_state(&owner_index_key(&item.owner, &item.id)?)?;
        ctx.put_state(&owner_index_key(&req.new_owner, &item.id)?, INDEX_MARKER)?;
        let from = std::mem::replace(&mut item.owner, req.new_owner);
        item.updated_at = ctx.timestamp();
        ctx.put_state_json(&item_key(&item.id)?, &item)?;
        ctx.set_event_json(
            "ItemTransferred",
            &ItemEvent {
                id: item.id.clone(),
                from: Some(from),
                to: item.owner.clone(),
            },
        )?;
        Ok(item)
    }

    /// One item by id.
    #[transaction(evaluate)]
    pub fn get_item(ctx: &Context, id: String) -> Result<Item, RegistryError> {
        load(ctx, &id)
    }

    /// Every item an organisation owns, in id order.
    #[transaction(evaluate)]
    pub fn items_by_owner(ctx: &Context, owner: String) -> Result<Vec<Item>, RegistryError> {
        let mut items = Vec::new();
        for entry in ctx.get_state_by_partial_composite_key(OWNER_INDEX, &[&owner])? {
            let (_, attributes) = ctx.split_composite_key(&entry.key)?;
            // Index keys are `owner~item / owner / id`: the id is the second.
            items.push(load(ctx, &attributes[1])?);
        }
        Ok(items)
    }
}

fn load(ctx: &Context, id: &str) -> Result<Item, RegistryError> {
    ctx.get_state_json(&item_key(id)?)?
        .ok_or_else(|| RegistryError::NotFound { id: id.to_string() })
}

fn validate_id(id: &str) -> Result<(), RegistryError> {
    let invalid = |reason| {
        Err(RegistryError::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return invalid("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return invalid("it is longer than 64 characters");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return invalid("use letters, digits, '-', '_' and '.' only");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Every transaction and every refusal, each scenario run twice by
    //! `both!`: natively (`<name>::native`, the quick loop, debuggable like
    //! any Rust) and as the built .wasm in the endorser's runtime with its
    //! production limits (`<name>::wasm`), so what native code cannot show
    //! (fuel, memory, size caps, wasm features) shows in `cargo test` too.

    use cellchain_chaincode_harness::{
        both, caller, Harness, KvRead, NativeHarness, Version, WasmHarness,
    };
    use serde_json::json;

    use super::*;
    use crate::state::ITEM;

    const NS: &str = "registry";

    /// A channel with the registry deployed natively and a member of Org1
    /// calling.
    fn native() -> NativeHarness {
        let mut h = NativeHarness::new();
        h.deploy::<SampleRegistry>(NS);
        h.set_caller(caller("Org1MSP").common_name("alice"));
        h
    }

    /// The same with this crate built to .wasm (once per test run).
    fn wasm() -> WasmHarness {
        let mut h = WasmHarness::new();
        h.deploy_crate(NS, env!("CARGO_MANIFEST_DIR"));
        h.set_caller(caller("Org1MSP").common_name("alice"));
        h
    }

    both!(
        register_stores_the_item_and_its_owner_index,
        positional_and_named_requests_are_both_accepted,
        an_id_is_registered_once,
        malformed_requests_are_refused,
        the_owner_transfers_and_the_index_follows,
        only_the_owning_organisation_may_transfer,
        transfers_need_an_item_a_new_owner_and_a_change,
        queries_read_without_writing,
    );

    fn register(h: &mut impl Harness, id: &str) -> Item {
        h.submit(
            NS,
            "register",
            json!([{"id": id, "description": "infusion pump"}]),
        )
        .json()
    }

    fn register_stores_the_item_and_its_owner_index(h: &mut impl Harness) {
        let out = h.submit(
            NS,
            "register",
            json!([{"id": "pump-7", "description": "infusion pump"}]),
        );
        let item: Item = out.json();
        assert_eq!(item.owner, "Org1MSP");
        assert_eq!(item.registered_by, "alice@Org1MSP");
        assert_eq!(item.registered_at, h.timestamp());

        let rw = out.ns(NS).unwrap();
        let key = item_key("pump-7").unwrap();
        // The existence check is a read of an absent key (version None).
        assert_eq!(
            rw.reads,
            [KvRead {
                key: key.clone(),
                version: None
            }]
        );
        let written: Vec<&str> = rw.writes.iter().map(|w| w.key.as_str()).collect();
        // Keys are sorted: "\0item\0.." < "\0owner~item\0..".
        assert_eq!(
            written,
            [
                key.as_str(),
                owner_index_key("Org1MSP", "pump-7").unwrap().as_str()
            ]
        );
        assert_eq!(rw.writes[1].value.0, INDEX_MARKER);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].name, "ItemRegistered");
        let event: ItemEvent = serde_json::from_slice(&out.events[0].payload).unwrap();
        assert_eq!(
            event,
            ItemEvent {
                id: "pump-7".into(),
                from: None,
                to: "Org1MSP".into()
            }
        );
        assert_eq!(h.get_state_json::<Item>(NS, &key), Some(item));
    }

    fn positional_and_named_requests_are_both_accepted(h: &mut impl Harness) {
        h.submit(
            NS,
            "register",
            json!([{"req": {"id": "a", "description": ""}}]),
        )
        .assert_ok();
        h.submit(NS, "get_item", json!(["a"])).assert_ok();
        h.submit(NS, "get_item", json!({"id": "a"})).assert_ok();
    }

    fn an_id_is_registered_once(h: &mut impl Harness) {
        register(h, "pump-7");
        h.set_caller(caller("Org2MSP"));
        h.submit(
            NS,
            "register",
            json!([{"id": "pump-7", "description": "mine now"}]),
        )
        .assert_error(400, "item pump-7 is already registered (owned by Org1MSP)");
    }

    fn malformed_requests_are_refused(h: &mut impl Harness) {
        for (id, reason) in [
            ("", "it is empty"),
            ("has space", "letters, digits"),
            (&"x".repeat(65), "longer than 64"),
        ] {
            let out = h.submit(NS, "register", json!([{"id": id, "description": ""}]));
            out.assert_error(400, reason);
            assert!(out.rwset.is_read_only(), "nothing written for {id:?}");
        }
        h.submit(
            NS,
            "register",
            json!([{"id": "a", "description": "d".repeat(257)}]),
        )
        .assert_error(400, "the description has 257 characters; at most 256");
        h.submit(NS, "register", json!([{"id": "a"}])).assert_error(
            400,
            "argument `req` must be RegisterItem: missing field `description`",
        );
        assert_eq!(h.height(), 0, "no failed call was committed");
    }

    fn the_owner_transfers_and_the_index_follows(h: &mut impl Harness) {
        register(h, "pump-7");
        let registered_at = h.version(NS, &item_key("pump-7").unwrap()).unwrap();
        h.advance_time(60);
        let out = h.submit(
            NS,
            "transfer",
            json!([{"id": "pump-7", "new_owner": "Org2MSP"}]),
        );
        let item: Item = out.json();
        assert_eq!(item.owner, "Org2MSP");
        assert_eq!(item.updated_at.seconds, item.registered_at.seconds + 60);

        let rw = out.ns(NS).unwrap();
        // The item was read at the version its registration committed.
        assert_eq!(
            rw.reads,
            [KvRead {
                key: item_key("pump-7").unwrap(),
                version: Some(registered_at)
            }]
        );
        let old = owner_index_key("Org1MSP", "pump-7").unwrap();
        let new = owner_index_key("Org2MSP", "pump-7").unwrap();
        let deleted: Vec<&str> = rw
            .writes
            .iter()
            .filter(|w| w.is_delete)
            .map(|w| w.key.as_str())
            .collect();
        assert_eq!(deleted, [old.as_str()]);
        assert!(rw.writes.iter().any(|w| w.key == new && !w.is_delete));
        assert_eq!(out.events[0].name, "ItemTransferred");
        assert_eq!(out.committed, Some(Version { block: 2, tx: 0 }));

        // Queries see the committed transfer.
        let org2: Vec<Item> = h.evaluate(NS, "items_by_owner", json!(["Org2MSP"])).json();
        assert_eq!(org2, [item]);
        let org1: Vec<Item> = h.evaluate(NS, "items_by_owner", json!(["Org1MSP"])).json();
        assert!(org1.is_empty());
    }

    fn only_the_owning_organisation_may_transfer(h: &mut impl Harness) {
        register(h, "pump-7");
        h.set_caller(caller("Org2MSP").common_name("mallory"));
        let out = h.submit(
            NS,
            "transfer",
            json!([{"id": "pump-7", "new_owner": "Org2MSP"}]),
        );
        out.assert_error(
            400,
            "item pump-7 is owned by Org1MSP; Org2MSP cannot transfer it",
        );
        assert!(out.events.is_empty());
        assert_eq!(
            h.get_state_json::<Item>(NS, &item_key("pump-7").unwrap())
                .unwrap()
                .owner,
            "Org1MSP"
        );
    }

    fn transfers_need_an_item_a_new_owner_and_a_change(h: &mut impl Harness) {
        register(h, "pump-7");
        h.submit(
            NS,
            "transfer",
            json!([{"id": "nope", "new_owner": "Org2MSP"}]),
        )
        .assert_error(400, "item nope is not registered");
        h.submit(NS, "transfer", json!([{"id": "pump-7", "new_owner": ""}]))
            .assert_error(400, "must be an organisation's MSP id");
        h.submit(
            NS,
            "transfer",
            json!([{"id": "pump-7", "new_owner": "Org1MSP"}]),
        )
        .assert_error(400, "item pump-7 is already owned by Org1MSP");
    }

    fn queries_read_without_writing(h: &mut impl Harness) {
        register(h, "b");
        register(h, "a");
        h.set_caller(caller("Org2MSP"));
        register(h, "c");

        let out = h.evaluate(NS, "get_item", json!(["a"]));
        assert_eq!(out.json::<Item>().id, "a");
        assert!(out.rwset.is_read_only());
        h.evaluate(NS, "get_item", json!(["zz"]))
            .assert_error(400, "item zz is not registered");

        let out = h.evaluate(NS, "items_by_owner", json!(["Org1MSP"]));
        let ids: Vec<String> = out.json::<Vec<Item>>().into_iter().map(|i| i.id).collect();
        assert_eq!(ids, ["a", "b"]);
        // The range over the owner's index entries is recorded for the
        // committer's phantom check, with the entries it returned.
        let rw = out.ns(NS).unwrap();
        assert_eq!(rw.range_queries.len(), 1);
        let range = &rw.range_queries[0];
        assert_eq!(range.start_key, "\u{0}owner~item\u{0}Org1MSP\u{0}");
        assert_eq!(range.end_key, "\u{0}owner~item\u{0}Org1MSP\u{0}\u{10FFFF}");
        assert!(range.itr_exhausted);
        assert_eq!(range.reads.len(), 2);
        assert!(rw
            .reads
            .iter()
            .all(|r| r.key.starts_with(&format!("\u{0}{ITEM}\u{0}"))));
        let height = h.height();
        h.submit(NS, "items_by_owner", json!(["Org1MSP"]))
            .assert_ok();
        assert_eq!(
            h.height(),
            height + 1,
            "a submitted query commits an empty write set"
        );
    }

    #[test]
    fn metadata_marks_queries() {
        let m = native().metadata(NS);
        let flags: Vec<(&str, bool)> = m
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.evaluate))
            .collect();
        assert_eq!(
            flags,
            [
                ("register", false),
                ("transfer", false),
                ("get_item", true),
                ("items_by_owner", true)
            ]
        );
        assert_eq!(m.function("register").unwrap().params[0].ty, "RegisterItem");
    }
}
