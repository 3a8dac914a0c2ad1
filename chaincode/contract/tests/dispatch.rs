//! `#[contract]` and `run` end to end through a small fake host: argument
//! binding, responses, errors, metadata, and the range loop's paging. (Contract
//! behaviour against the real simulator is tested in the harness and in the
//! test contracts.)

use std::collections::BTreeMap;

use cellchain_contract::abi::{Input, RangeResult};
use cellchain_contract::native::{with_host, NativeHost, Trap};
use cellchain_contract::{contract, Caller, Context, Contract, ContractError, LogLevel, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A host keeping state in a map, answering ranges in pages of `page` entries.
#[derive(Default)]
struct FakeHost {
    input: Vec<u8>,
    state: BTreeMap<String, Vec<u8>>,
    writes: Vec<(String, Option<Vec<u8>>)>,
    ranges: Vec<(String, String, u32)>,
    page: usize,
    response: Option<(u16, Vec<u8>)>,
}

impl FakeHost {
    fn new(function: &str, args: Value) -> FakeHost {
        let input = Input {
            function: function.into(),
            args: args.as_array().cloned().unwrap_or_default(),
            tx_id: "t1".into(),
            channel_id: "ch".into(),
            timestamp: Timestamp::new(10, 0),
            caller: Caller {
                msp_id: "Org1MSP".into(),
                role: "client".into(),
                ..Caller::default()
            },
            transient_keys: vec![],
        };
        FakeHost {
            input: serde_json::to_vec(&input).unwrap(),
            page: 1000,
            ..FakeHost::default()
        }
    }

    fn run<C: Contract>(&mut self) -> (u16, String) {
        assert_eq!(with_host(self, cellchain_contract::run::<C>), 0);
        let (status, body) = self.response.take().expect("no response set");
        (status, String::from_utf8(body).unwrap())
    }
}

impl NativeHost for FakeHost {
    fn input(&mut self) -> Result<Vec<u8>, Trap> {
        Ok(self.input.clone())
    }
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, Trap> {
        Ok(self.state.get(key).cloned())
    }
    fn get_state_of(&mut self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, Trap> {
        Ok(self.state.get(&format!("{ns}/{key}")).cloned())
    }
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), Trap> {
        if key.len() > 8 {
            return Err(Trap::new("key too long"));
        }
        self.writes.push((key.into(), Some(value.to_vec())));
        Ok(())
    }
    fn del_state(&mut self, key: &str) -> Result<(), Trap> {
        self.writes.push((key.into(), None));
        Ok(())
    }
    fn get_state_range(&mut self, start: &str, end: &str, limit: u32) -> Result<RangeResult, Trap> {
        self.ranges.push((start.into(), end.into(), limit));
        let cap = if limit == 0 {
            self.page
        } else {
            (limit as usize).min(self.page)
        };
        let mut entries: Vec<(String, Vec<u8>)> = self
            .state
            .range(start.to_string()..)
            .filter(|(k, _)| end.is_empty() || k.as_str() < end)
            .map(|(k, v)| (k.clone(), v.clone()))
            .take(cap + 1)
            .collect();
        let more = entries.len() > cap;
        entries.truncate(cap);
        Ok(RangeResult { entries, more })
    }
    fn get_private(&mut self, _: &str, _: &str) -> Result<Option<Vec<u8>>, Trap> {
        Ok(None)
    }
    fn get_private_hash(&mut self, _: &str, _: &str) -> Result<Option<[u8; 32]>, Trap> {
        Ok(None)
    }
    fn put_private(&mut self, _: &str, _: &str, _: &[u8]) -> Result<(), Trap> {
        Ok(())
    }
    fn del_private(&mut self, _: &str, _: &str) -> Result<(), Trap> {
        Ok(())
    }
    fn get_transient(&mut self, _: &str) -> Result<Option<Vec<u8>>, Trap> {
        Ok(None)
    }
    fn set_key_policy(&mut self, _: &str, _: &str) -> Result<(), Trap> {
        Ok(())
    }
    fn emit_event(&mut self, _: &str, _: &[u8]) -> Result<(), Trap> {
        Ok(())
    }
    fn sha256(&mut self, _: &[u8]) -> Result<[u8; 32], Trap> {
        Ok([7; 32])
    }
    fn verify_p256(&mut self, _: &[u8], _: &[u8], _: &[u8]) -> Result<bool, Trap> {
        Ok(false)
    }
    fn log(&mut self, _: LogLevel, _: &str) -> Result<(), Trap> {
        Ok(())
    }
    fn set_response(&mut self, status: u16, payload: &[u8]) -> Result<(), Trap> {
        self.response = Some((status, payload.to_vec()));
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug)]
enum DemoError {
    TooFar { distance: u32 },
}

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DemoError::TooFar { distance } => write!(f, "{distance} is too far"),
        }
    }
}

struct Demo;

#[contract]
impl Demo {
    /// Adds two numbers.
    ///
    /// Second line.
    #[transaction(evaluate)]
    fn add(_ctx: &Context, a: i64, b: i64) -> Result<i64, ContractError> {
        Ok(a + b)
    }

    #[transaction(name = "movePoint", transient = "secret, other")]
    fn move_point(ctx: &mut Context, p: Point, distance: u32) -> Result<Point, DemoError> {
        if distance > 10 {
            return Err(DemoError::TooFar { distance });
        }
        let moved = Point {
            x: p.x + distance as i32,
            y: p.y,
        };
        ctx.put_state_json("p", &moved).unwrap();
        Ok(moved)
    }

    #[transaction]
    fn long_key(ctx: &mut Context) -> cellchain_contract::Result<()> {
        ctx.put_state("much-too-long", b"x")?;
        unreachable!("the host trapped")
    }

    #[transaction(evaluate)]
    fn all(ctx: &Context) -> Result<Vec<String>, ContractError> {
        Ok(ctx
            .get_state_by_range("", "")?
            .into_iter()
            .map(|kv| kv.key)
            .collect())
    }

    #[transaction(evaluate)]
    fn page(ctx: &Context, size: u32, bookmark: Option<String>) -> Result<Value, ContractError> {
        let page = ctx.get_state_by_range_page("", "", size, bookmark.as_deref())?;
        let keys: Vec<String> = page.entries.into_iter().map(|kv| kv.key).collect();
        Ok(json!({"keys": keys, "bookmark": page.bookmark}))
    }

    #[transaction]
    fn boom(_ctx: &mut Context, r#type: String) -> Result<(), String> {
        panic!("exploded: {type}")
    }

    /// A helper without #[transaction]: not callable.
    #[allow(dead_code)]
    fn helper() -> u8 {
        1
    }
}

#[test]
fn positional_and_named_calls_return_json() {
    assert_eq!(
        FakeHost::new("add", json!([2, 3])).run::<Demo>(),
        (200, "5".into())
    );
    assert_eq!(
        FakeHost::new("add", json!([{"b": 3, "a": -2}])).run::<Demo>(),
        (200, "1".into())
    );
    let mut h = FakeHost::new("movePoint", json!([{"x": 1, "y": 2}, 3]));
    assert_eq!(h.run::<Demo>(), (200, r#"{"x":4,"y":2}"#.into()));
    assert_eq!(
        h.writes,
        [("p".to_string(), Some(br#"{"x":4,"y":2}"#.to_vec()))]
    );
}

#[test]
fn a_domain_error_is_a_400_with_its_display_text() {
    let mut h = FakeHost::new(
        "movePoint",
        json!([{"p": {"x": 1, "y": 2}, "distance": 11}]),
    );
    assert_eq!(h.run::<Demo>(), (400, "11 is too far".into()));
}

#[test]
fn unknown_functions_list_what_exists() {
    assert_eq!(
        FakeHost::new("move_point", json!([])).run::<Demo>(),
        (
            400,
            "unknown function move_point; this contract has: add, movePoint, long_key, all, \
             page, boom"
                .into()
        )
    );
}

#[test]
fn argument_errors_name_the_parameter_and_type() {
    assert_eq!(
        FakeHost::new("add", json!([1])).run::<Demo>(),
        (
            400,
            "add expects 2 arguments (a: i64, b: i64), got 1".into()
        )
    );
    let (status, msg) = FakeHost::new("add", json!([1, "2"])).run::<Demo>();
    assert_eq!(status, 400);
    assert!(
        msg.starts_with("add: argument `b` must be i64: invalid type: string"),
        "{msg}"
    );
    let (status, msg) = FakeHost::new("movePoint", json!([{"x": 1}, 1])).run::<Demo>();
    assert_eq!(status, 400);
    assert!(
        msg.starts_with("movePoint: argument `p` must be Point: missing field `y`"),
        "{msg}"
    );
    let (_, msg) = FakeHost::new("add", json!([{"a": 1, "c": 2}])).run::<Demo>();
    assert_eq!(
        msg,
        "add has no parameter named \"c\"; its parameters are (a: i64, b: i64)"
    );
    // With one parameter, an object is that parameter's value unless its only
    // key is the parameter's name.
    let (_, msg) = FakeHost::new("boom", json!([{"kind": "x"}])).run::<Demo>();
    assert_eq!(
        msg,
        "boom: argument `type` must be String: invalid type: map, expected a string"
    );
}

#[test]
fn a_host_trap_unwinds_out_of_the_contract() {
    let mut h = FakeHost::new("long_key", json!([]));
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_host(&mut h, cellchain_contract::run::<Demo>)
    }))
    .unwrap_err();
    assert_eq!(
        payload.downcast_ref::<Trap>(),
        Some(&Trap::new("key too long"))
    );
    assert!(h.response.is_none());
}

#[test]
fn a_panic_unwinds_with_its_message() {
    let mut h = FakeHost::new("boom", json!(["fuse"]));
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_host(&mut h, cellchain_contract::run::<Demo>)
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "exploded: fuse");
}

#[test]
fn full_ranges_page_through_the_host_after_the_last_key() {
    let mut h = FakeHost::new("all", json!([]));
    for k in ["a", "b", "c", "d", "e"] {
        h.state.insert(k.into(), b"1".to_vec());
    }
    h.state.insert("\u{0}comp\u{0}x\u{0}".into(), b"1".to_vec());
    h.page = 2;
    assert_eq!(h.run::<Demo>(), (200, r#"["a","b","c","d","e"]"#.into()));
    assert_eq!(
        h.ranges,
        [
            ("\u{1}".to_string(), String::new(), 0),
            ("b\u{0}".to_string(), String::new(), 0),
            ("d\u{0}".to_string(), String::new(), 0),
        ]
    );
}

#[test]
fn pages_hand_out_bookmarks_until_exhausted() {
    let state: BTreeMap<String, Vec<u8>> = ["a", "b", "c"]
        .iter()
        .map(|k| (k.to_string(), vec![]))
        .collect();
    let mut h = FakeHost::new("page", json!([2, null]));
    h.state = state.clone();
    assert_eq!(
        h.run::<Demo>(),
        (200, r#"{"bookmark":"b","keys":["a","b"]}"#.into())
    );
    let mut h = FakeHost::new("page", json!([2, "b"]));
    h.state = state;
    assert_eq!(
        h.run::<Demo>(),
        (200, r#"{"bookmark":null,"keys":["c"]}"#.into())
    );
    assert_eq!(h.ranges, [("b\u{0}".to_string(), String::new(), 2)]);
}

#[test]
fn metadata_lists_functions_params_and_flags() {
    let m = Demo::metadata();
    assert_eq!(m.name, "Demo");
    let names: Vec<&str> = m.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["add", "movePoint", "long_key", "all", "page", "boom"]
    );
    let add = m.function("add").unwrap();
    assert!(add.evaluate);
    assert_eq!(add.doc, "Adds two numbers.\n\nSecond line.");
    assert_eq!(add.returns, "i64");
    let mv = m.function("movePoint").unwrap();
    assert!(!mv.evaluate);
    assert_eq!(mv.transient, ["secret", "other"]);
    assert_eq!(mv.returns, "Point");
    let page = m.function("page").unwrap();
    let params: Vec<(&str, &str)> = page
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.ty.as_str()))
        .collect();
    assert_eq!(params, [("size", "u32"), ("bookmark", "Option<String>")]);
    assert_eq!(m.function("boom").unwrap().params[0].name, "type");
    assert_eq!(m.function("long_key").unwrap().returns, "()");
    // Serialisable for tools.
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["functions"][5]["params"][0]["type"], "String");
}

#[test]
fn no_host_installed_is_a_clear_panic() {
    let e = std::panic::catch_unwind(cellchain_contract::run::<Demo>).unwrap_err();
    let msg = e
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("no NativeHost installed"), "{msg}");
}
