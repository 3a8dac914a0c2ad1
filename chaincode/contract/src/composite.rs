//! Composite keys, encoded exactly as Fabric's shim does, so that keys, range
//! bounds and the habits of Fabric developers carry over.
//!
//! A composite key is `U+0000 objectType U+0000 attr1 U+0000 attr2 U+0000 ...`.
//! Because it starts with U+0000 it sorts before every simple key, and a range
//! over simple keys starts at U+0001 (Fabric's "empty key substitute") so it
//! never returns composite keys. All keys with a given prefix of attributes lie
//! in `[prefix, prefix + U+10FFFF)`, which is how a partial-key query works;
//! that is why attributes may contain neither U+0000 nor U+10FFFF.

use crate::error::ContractError;

/// The first character of every composite key (Fabric's `compositeKeyNamespace`).
pub const COMPOSITE_KEY_NAMESPACE: char = '\u{0}';
/// Separates the parts of a composite key (Fabric's `minUnicodeRuneValue`).
pub const MIN_UNICODE_RUNE: char = '\u{0}';
/// Appended to a prefix to bound a partial-key range (`maxUnicodeRuneValue`).
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';
/// The start of a range over simple keys when the caller gives "" (Fabric's
/// `emptyKeySubstitute`): it skips the composite keys, which start with U+0000.
pub const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";

/// Checks one part of a composite key, with Fabric's rule and a message saying
/// which character is refused and where.
fn validate_attribute(what: &str, value: &str) -> Result<(), ContractError> {
    for (index, c) in value.char_indices() {
        if c == MIN_UNICODE_RUNE || c == MAX_UNICODE_RUNE {
            return Err(ContractError::new(format!(
                "{what} {value:?} contains U+{:04X} at byte {index}: U+0000 and U+10FFFF are not \
                 allowed in the parts of a composite key",
                c as u32
            )));
        }
    }
    Ok(())
}

/// Builds the composite key of `object_type` and `attributes` (Fabric's
/// `CreateCompositeKey`).
pub fn create_composite_key(
    object_type: &str,
    attributes: &[&str],
) -> Result<String, ContractError> {
    validate_attribute("object type", object_type)?;
    let len = 2 + object_type.len() + attributes.iter().map(|a| a.len() + 1).sum::<usize>();
    let mut key = String::with_capacity(len);
    key.push(COMPOSITE_KEY_NAMESPACE);
    key.push_str(object_type);
    key.push(MIN_UNICODE_RUNE);
    for a in attributes {
        validate_attribute("attribute", a)?;
        key.push_str(a);
        key.push(MIN_UNICODE_RUNE);
    }
    Ok(key)
}

/// Splits a composite key into its object type and attributes (Fabric's
/// `SplitCompositeKey`). Stricter than Fabric, it refuses a key that is not a
/// composite key instead of returning garbage.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), ContractError> {
    let not_composite = || {
        ContractError::new(format!(
            "{key:?} is not a composite key (U+0000, object type, U+0000, then each attribute \
             followed by U+0000)"
        ))
    };
    let body = key
        .strip_prefix(COMPOSITE_KEY_NAMESPACE)
        .and_then(|k| k.strip_suffix(MIN_UNICODE_RUNE))
        .ok_or_else(not_composite)?;
    let mut parts = body.split(MIN_UNICODE_RUNE).map(str::to_string);
    let object_type = parts.next().ok_or_else(not_composite)?;
    Ok((object_type, parts.collect()))
}

/// True for keys made by [`create_composite_key`].
pub fn is_composite_key(key: &str) -> bool {
    key.starts_with(COMPOSITE_KEY_NAMESPACE)
}

/// The `[start, end)` range holding every composite key that begins with
/// `object_type` and `attributes` (Fabric's `GetStateByPartialCompositeKey`).
pub fn partial_composite_key_range(
    object_type: &str,
    attributes: &[&str],
) -> Result<(String, String), ContractError> {
    let start = create_composite_key(object_type, attributes)?;
    let mut end = start.clone();
    end.push(MAX_UNICODE_RUNE);
    Ok((start, end))
}

/// Fabric's `validateSimpleKeys` for range bounds: a simple-key range must not
/// reach into the composite-key space.
pub(crate) fn validate_simple_key_bound(what: &str, key: &str) -> Result<(), ContractError> {
    if is_composite_key(key) {
        return Err(ContractError::new(format!(
            "range {what} key {key:?} starts with U+0000, which is reserved for composite \
             keys: use get_state_by_partial_composite_key"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_fabrics_byte_for_byte() {
        // The same call in Fabric's Go shim,
        // stub.CreateCompositeKey("item", []string{"Org1MSP", "i1"}), yields
        // "\x00item\x00Org1MSP\x00i1\x00".
        let k = create_composite_key("item", &["Org1MSP", "i1"]).unwrap();
        assert_eq!(k.as_bytes(), b"\x00item\x00Org1MSP\x00i1\x00");
        assert_eq!(create_composite_key("item", &[]).unwrap(), "\u{0}item\u{0}");
        // Empty attributes are allowed, as in Fabric.
        assert_eq!(
            create_composite_key("t", &["", "x"]).unwrap(),
            "\u{0}t\u{0}\u{0}x\u{0}"
        );
        // Non-ASCII attributes are kept as UTF-8.
        assert_eq!(
            create_composite_key("ü", &["é"]).unwrap().as_bytes(),
            "\u{0}ü\u{0}é\u{0}".as_bytes()
        );
    }

    #[test]
    fn split_inverts_create() {
        for (t, attrs) in [
            ("item", vec!["Org1MSP", "i1"]),
            ("item", vec![]),
            ("t", vec!["", "x", ""]),
        ] {
            let k = create_composite_key(t, &attrs).unwrap();
            let (t2, a2) = split_composite_key(&k).unwrap();
            assert_eq!(t2, t);
            assert_eq!(a2, attrs);
        }
    }

    #[test]
    fn split_refuses_simple_keys() {
        for k in ["plain", "\u{0}no-terminator", "trailing\u{0}", ""] {
            let e = split_composite_key(k).unwrap_err();
            assert!(e.message().contains("is not a composite key"), "{e}");
        }
    }

    #[test]
    fn invalid_attributes_are_refused_with_position() {
        let e = create_composite_key("item", &["ok", "a\u{0}b"]).unwrap_err();
        assert!(e.message().contains("U+0000 at byte 1"), "{e}");
        assert_eq!(e.status(), 400);
        let e = create_composite_key("item", &["x\u{10FFFF}"]).unwrap_err();
        assert!(e.message().contains("U+10FFFF at byte 1"), "{e}");
        let e = create_composite_key("it\u{0}em", &[]).unwrap_err();
        assert!(e.message().starts_with("object type"), "{e}");
        assert!(partial_composite_key_range("item", &["\u{10FFFF}"]).is_err());
    }

    #[test]
    fn partial_key_range_covers_exactly_the_prefix() {
        let (start, end) = partial_composite_key_range("item", &["Org1MSP"]).unwrap();
        assert_eq!(start, "\u{0}item\u{0}Org1MSP\u{0}");
        assert_eq!(end, "\u{0}item\u{0}Org1MSP\u{0}\u{10FFFF}");
        let inside = create_composite_key("item", &["Org1MSP", "zzz\u{FFFF}"]).unwrap();
        let other_org = create_composite_key("item", &["Org1MSPX", "a"]).unwrap();
        let other_type = create_composite_key("items", &["Org1MSP", "a"]).unwrap();
        assert!(start.as_str() <= inside.as_str() && inside < end);
        assert!(!(start <= other_org && other_org < end));
        assert!(!(start <= other_type && other_type < end));
    }

    #[test]
    fn composite_keys_sort_before_the_simple_key_range() {
        let k = create_composite_key("a", &[]).unwrap();
        assert!(is_composite_key(&k));
        assert!(k.as_str() < EMPTY_KEY_SUBSTITUTE);
        assert!(EMPTY_KEY_SUBSTITUTE < "!");
        assert!(validate_simple_key_bound("start", &k).is_err());
        assert!(validate_simple_key_bound("start", "a").is_ok());
    }
}
