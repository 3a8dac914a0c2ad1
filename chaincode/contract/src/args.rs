//! Binding a call's JSON arguments to a function's parameters.
//!
//! A client passes `args` as a JSON array. Two forms are accepted:
//!
//! - **positional**: one element per parameter, in order:
//!   `["i1", "Org2MSP"]` for `transfer(ctx, item: String, to: String)`;
//! - **named**: a single JSON object whose keys are parameter names:
//!   `[{"item": "i1", "to": "Org2MSP"}]`. A missing key is decoded from `null`,
//!   so `Option<T>` parameters may be left out; an unknown key is refused.
//!
//! The named form is chosen when `args` is exactly one JSON object and either
//! the function does not take exactly one parameter, or it does and the
//! object's only key is that parameter's name. Otherwise the form is
//! positional. (So for `register(ctx, req: Request)` the client may send the
//! request itself, `[{"id": ..}]`, or name it, `[{"req": {"id": ..}}]`; the one
//! ambiguous case, a `Request` whose only field is called `req`, is read as
//! named.)
//!
//! Errors name the function, the parameter and its Rust type, and are domain
//! errors (400): the client sent the wrong thing.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ContractError;

/// A parameter as the dispatch code knows it: its name and its Rust type, as
/// text for messages and metadata.
pub type Param = (&'static str, &'static str);

/// The arguments of one call, bound to the function's parameters.
#[derive(Debug)]
pub struct Args {
    function: &'static str,
    params: &'static [Param],
    values: Vec<Option<Value>>,
}

impl Args {
    /// Binds `args` to `params` (positional or named, see the module docs).
    pub fn bind(
        function: &'static str,
        params: &'static [Param],
        args: Vec<Value>,
    ) -> Result<Args, ContractError> {
        let named = match args.as_slice() {
            [Value::Object(m)] => {
                params.len() != 1 || (m.len() == 1 && m.contains_key(params[0].0))
            }
            _ => false,
        };
        let values = if named {
            let Some(Value::Object(map)) = args.into_iter().next() else {
                unreachable!("checked above: one object")
            };
            Self::by_name(function, params, map)?
        } else {
            if args.len() != params.len() {
                return Err(ContractError::new(format!(
                    "{function} expects {} argument{} ({}), got {}",
                    params.len(),
                    if params.len() == 1 { "" } else { "s" },
                    signature(params),
                    args.len()
                )));
            }
            args.into_iter().map(Some).collect()
        };
        Ok(Args {
            function,
            params,
            values,
        })
    }

    fn by_name(
        function: &str,
        params: &[Param],
        mut map: Map<String, Value>,
    ) -> Result<Vec<Option<Value>>, ContractError> {
        let values = params
            .iter()
            .map(|(name, _)| Some(map.remove(*name).unwrap_or(Value::Null)))
            .collect();
        if let Some(unknown) = map.keys().next() {
            return Err(ContractError::new(format!(
                "{function} has no parameter named {unknown:?}; its parameters are ({})",
                signature(params)
            )));
        }
        Ok(values)
    }

    /// Decodes the argument of parameter `index` (each is taken once).
    pub fn take<T: DeserializeOwned>(&mut self, index: usize) -> Result<T, ContractError> {
        let (name, ty) = self.params[index];
        let value = self.values[index]
            .take()
            .unwrap_or_else(|| panic!("argument {index} of {} taken twice", self.function));
        let missing = value.is_null();
        serde_json::from_value(value).map_err(|e| {
            if missing {
                ContractError::new(format!(
                    "{}: missing argument `{name}` (expected {ty})",
                    self.function
                ))
            } else {
                ContractError::new(format!(
                    "{}: argument `{name}` must be {ty}: {e}",
                    self.function
                ))
            }
        })
    }
}

/// `a: A, b: B`, for messages.
fn signature(params: &[Param]) -> String {
    params
        .iter()
        .map(|(n, t)| format!("{n}: {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message for a function name the contract does not have.
pub fn unknown_function(function: &str, known: &[&str]) -> ContractError {
    ContractError::new(format!(
        "unknown function {function}; this contract has: {}",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TRANSFER: &[Param] = &[
        ("item", "String"),
        ("to", "String"),
        ("note", "Option<String>"),
    ];

    fn args(v: Value) -> Vec<Value> {
        match v {
            Value::Array(a) => a,
            other => panic!("test args must be an array, got {other}"),
        }
    }

    #[test]
    fn positional_arguments_bind_in_order() {
        let mut a = Args::bind("transfer", TRANSFER, args(json!(["i1", "Org2MSP", null]))).unwrap();
        assert_eq!(a.take::<String>(0).unwrap(), "i1");
        assert_eq!(a.take::<String>(1).unwrap(), "Org2MSP");
        assert_eq!(a.take::<Option<String>>(2).unwrap(), None);
    }

    #[test]
    fn named_arguments_bind_by_name_and_may_omit_options() {
        let mut a = Args::bind(
            "transfer",
            TRANSFER,
            args(json!([{"to": "Org2MSP", "item": "i1"}])),
        )
        .unwrap();
        assert_eq!(a.take::<String>(0).unwrap(), "i1");
        assert_eq!(a.take::<String>(1).unwrap(), "Org2MSP");
        assert_eq!(a.take::<Option<String>>(2).unwrap(), None);
    }

    #[test]
    fn a_missing_required_named_argument_is_named() {
        let mut a = Args::bind("transfer", TRANSFER, args(json!([{"item": "i1"}]))).unwrap();
        a.take::<String>(0).unwrap();
        let e = a.take::<String>(1).unwrap_err();
        assert_eq!(
            e.message(),
            "transfer: missing argument `to` (expected String)"
        );
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn unknown_named_arguments_are_refused() {
        let e = Args::bind(
            "transfer",
            TRANSFER,
            args(json!([{"item": "i1", "to": "x", "colour": "red"}])),
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            "transfer has no parameter named \"colour\"; its parameters are \
             (item: String, to: String, note: Option<String>)"
        );
    }

    #[test]
    fn wrong_count_names_the_signature() {
        let e = Args::bind("transfer", TRANSFER, args(json!(["i1"]))).unwrap_err();
        assert_eq!(
            e.message(),
            "transfer expects 3 arguments (item: String, to: String, note: Option<String>), got 1"
        );
        let e = Args::bind("get", &[("id", "String")], vec![]).unwrap_err();
        assert_eq!(e.message(), "get expects 1 argument (id: String), got 0");
        let e = Args::bind("ping", &[], args(json!([1]))).unwrap_err();
        assert_eq!(e.message(), "ping expects 0 arguments (), got 1");
    }

    #[test]
    fn wrong_type_names_parameter_and_type() {
        let mut a = Args::bind("add", &[("amount", "u64")], args(json!(["ten"]))).unwrap();
        let e = a.take::<u64>(0).unwrap_err();
        assert!(
            e.message()
                .starts_with("add: argument `amount` must be u64: invalid type: string \"ten\""),
            "{e}"
        );
        let mut a = Args::bind("add", &[("amount", "u64")], args(json!([-1]))).unwrap();
        assert!(a.take::<u64>(0).is_err());
    }

    #[test]
    fn a_single_struct_parameter_takes_the_object_itself_or_by_name() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Req {
            id: String,
            n: u32,
        }
        const P: &[Param] = &[("req", "Req")];
        let mut a = Args::bind("f", P, args(json!([{"id": "x", "n": 1}]))).unwrap();
        assert_eq!(
            a.take::<Req>(0).unwrap(),
            Req {
                id: "x".into(),
                n: 1
            }
        );
        let mut a = Args::bind("f", P, args(json!([{"req": {"id": "y", "n": 2}}]))).unwrap();
        assert_eq!(a.take::<Req>(0).unwrap().id, "y");
    }

    #[test]
    fn zero_parameters_accept_an_empty_array_or_object() {
        Args::bind("ping", &[], vec![]).unwrap();
        Args::bind("ping", &[], args(json!([{}]))).unwrap();
        assert!(Args::bind("ping", &[], args(json!([{"x": 1}]))).is_err());
    }

    #[test]
    fn unknown_function_lists_the_functions() {
        let e = unknown_function("transfr", &["register", "transfer"]);
        assert_eq!(
            e.message(),
            "unknown function transfr; this contract has: register, transfer"
        );
    }
}
