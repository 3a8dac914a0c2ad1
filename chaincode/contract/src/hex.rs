//! Lower-case hex, the way CellChain shows hashes (`Hash32` in the node
//! crates), without pulling a dependency into every contract module.

use crate::error::ContractError;

/// Lower-case hex of `bytes`.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bytes = bytes.as_ref();
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Bytes of a hex string (either case); a domain error names the problem.
pub fn decode(text: &str) -> Result<Vec<u8>, ContractError> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if text.len() % 2 != 0 {
        return Err(ContractError::new(format!(
            "hex text has an odd length ({})",
            text.len()
        )));
    }
    text.as_bytes()
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(ContractError::new(format!(
                "invalid hex digit at position {} of {text:?}",
                2 * i + usize::from(nibble(pair[0]).is_some())
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_text() {
        assert_eq!(encode([0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(decode("00AB7f").unwrap(), [0x00, 0xab, 0x7f]);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
        assert!(decode("abc").unwrap_err().message().contains("odd length"));
        assert!(decode("0g").unwrap_err().message().contains("position 1"));
        assert!(decode("x0").unwrap_err().message().contains("position 0"));
    }
}
