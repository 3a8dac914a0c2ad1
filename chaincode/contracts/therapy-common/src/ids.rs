//! Identifier formats checked on-chain: ISBT 128 chain-of-identity ids and
//! donation identification numbers, GS1 SSCC and GTIN, and case pseudonyms.
//! Each check returns `Err(reason)` with the reason in plain words.
//!
//! All checks take the canonical written form: upper case, no spaces, no
//! leading `=` or `&` (the ISBT 128 data identifiers), no GS1 application
//! identifier in brackets. Scanners and clients strip those before calling.
//!
//! Formats:
//! - ISBT 128 Facility Identification Number (FIN): one letter `A`-`Z` and
//!   four digits (`A1234`), as in ICCBBA ST-001's `αpppp`.
//! - COI ([`validate_coi`]): `CH` + FIN + 2-digit year + 6 upper-case
//!   alphanumerics, e.g. `CHA123426000123`.
//! - DIN ([`validate_din`]): FIN + 2-digit year + 6-digit sequence (13
//!   characters), 2 flag digits, and the ISO 7064 mod 37-2 check character
//!   over the 13 characters, e.g. `G123498654321` + `00` + `H`.
//! - SSCC ([`validate_sscc`]) and GTIN-14 ([`validate_gtin`]): digits with the
//!   GS1 mod-10 check digit.
//! - Pseudonym ([`validate_pseudonym`]): 32 lower-case hex characters, i.e. 128
//!   random bits drawn by the treating site. Nothing else is accepted, so no
//!   name, record number or other personal data can reach the ledger as a
//!   "pseudonym".
//! - SHA-256 ([`validate_sha256_hex`]): 64 lower-case hex characters.

/// Length of a COI: `CH` + FIN (5) + year (2) + 6 alphanumerics.
pub const COI_LEN: usize = 15;
/// Length of a DIN with its flags and check character: 13 + 2 + 1.
pub const DIN_LEN: usize = 16;
/// Length of the DIN proper (FIN + year + sequence), the input of the check.
pub const DIN_BASE_LEN: usize = 13;
/// Length of an SSCC.
pub const SSCC_LEN: usize = 18;
/// Length of a GTIN-14.
pub const GTIN_LEN: usize = 14;
/// Length of a pseudonym: 128 bits in lower-case hex.
pub const PSEUDONYM_LEN: usize = 32;
/// Length of a SHA-256 digest in lower-case hex.
pub const SHA256_HEX_LEN: usize = 64;

fn check_fin(fin: &str) -> Result<(), String> {
    let b = fin.as_bytes();
    if !b[0].is_ascii_uppercase() {
        return Err(format!(
            "the facility number {fin:?} must start with a letter A-Z"
        ));
    }
    if !b[1..].iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "the facility number {fin:?} must be a letter followed by 4 digits"
        ));
    }
    Ok(())
}

fn check_no_space(kind: &str, id: &str) -> Result<(), String> {
    if id.chars().any(char::is_whitespace) {
        return Err(format!(
            "{kind} {id:?} contains spaces; write it without spaces"
        ));
    }
    Ok(())
}

fn check_len(kind: &str, id: &str, len: usize) -> Result<(), String> {
    if id.len() != len {
        return Err(format!(
            "{kind} {id:?} has {} characters; it must have exactly {len}",
            id.len()
        ));
    }
    Ok(())
}

/// An ISBT 128 chain-of-identity id: `CH` + FIN + year + 6 alphanumerics
/// (`CHA123426000123`).
pub fn validate_coi(coi: &str) -> Result<(), String> {
    check_no_space("the COI", coi)?;
    if !coi.is_ascii() {
        return Err(format!("the COI {coi:?} must be ASCII"));
    }
    check_len("the COI", coi, COI_LEN)?;
    if !coi.starts_with("CH") {
        return Err(format!("the COI {coi:?} must start with \"CH\""));
    }
    check_fin(&coi[2..7])?;
    if !coi[7..9].bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the COI {coi:?} must have a 2-digit year after the facility number"
        ));
    }
    if !coi[9..]
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return Err(format!(
            "the COI {coi:?} must end with 6 upper-case letters or digits"
        ));
    }
    Ok(())
}

/// The ISO 7064 value of an ISBT 128 character: `0`-`9` are 0-9, `A`-`Z` are
/// 10-35, `*` is 36.
fn iso7064_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        '*' => Some(36),
        _ => None,
    }
}

/// The ISO 7064 mod 37-2 check character of the 13-character DIN proper
/// (FIN + year + sequence, without flags), as ISBT 128 prints it eye-readable.
///
/// The algorithm (JPAC "Guidelines for the Blood Transfusion Services in the
/// UK", Red Book Annex 2, "ISBT 128 check character calculation",
/// <https://www.jpac.org.uk/guidelines/red-book/annex-2/>): each character's
/// value (0-9, A-Z = 10-35) is weighted by 2^n, n its position from the right
/// starting at 1; the sum S gives the checksum (38 - S mod 37) mod 37, printed
/// as 0-9, A-Z, or `*` for 36. The recursion below (p = 2(p + v) mod 37) is the
/// same sum computed without large numbers.
///
/// Characters other than `0`-`9` and `A`-`Z` have no ISO 7064 value: call
/// this on a string [`validate_din`] would accept (they count as 0 here).
pub fn din_check_character(din13: &str) -> char {
    let p = din13
        .chars()
        .fold(0u32, |p, c| ((p + iso7064_value(c).unwrap_or(0)) * 2) % 37);
    let check = (38 - p) % 37;
    match check {
        0..=9 => char::from(b'0' + check as u8),
        10..=35 => char::from(b'A' + (check - 10) as u8),
        _ => '*',
    }
}

/// An ISBT 128 DIN as written in full: FIN (5) + year (2) + sequence (6), two
/// flag digits, and the mod 37-2 check character (`G12349865432100H`).
pub fn validate_din(din: &str) -> Result<(), String> {
    check_no_space("the DIN", din)?;
    if !din.is_ascii() {
        return Err(format!("the DIN {din:?} must be ASCII"));
    }
    check_len("the DIN", din, DIN_LEN)?;
    check_fin(&din[..5])?;
    if !din[5..7].bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the DIN {din:?} must have a 2-digit year after the facility number"
        ));
    }
    if !din[7..13].bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the DIN {din:?} must have a 6-digit sequence number after the year"
        ));
    }
    if !din[13..15].bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the DIN {din:?} must have 2 flag digits after the sequence number"
        ));
    }
    let given = din[15..].chars().next().unwrap_or(' ');
    if iso7064_value(given).is_none() {
        return Err(format!(
            "the DIN {din:?} must end with a check character 0-9, A-Z or *"
        ));
    }
    let expected = din_check_character(&din[..DIN_BASE_LEN]);
    if given != expected {
        return Err(format!(
            "the DIN {din:?} has check character {given:?} but {:?} gives {expected:?}; \
             re-scan or re-type it",
            &din[..DIN_BASE_LEN]
        ));
    }
    Ok(())
}

/// The GS1 mod-10 check digit of `data` (all digits but the check digit):
/// weights 3, 1, 3, ... from the right.
pub fn gs1_check_digit(data: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, b) in data.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let weight = if i % 2 == 0 { 3 } else { 1 };
        sum += u32::from(b - b'0') * weight;
    }
    Some(((10 - sum % 10) % 10) as u8)
}

fn validate_gs1(kind: &str, id: &str, len: usize) -> Result<(), String> {
    check_no_space(kind, id)?;
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{kind} {id:?} must be digits only"));
    }
    check_len(kind, id, len)?;
    let expected = gs1_check_digit(&id[..len - 1]).unwrap_or(10);
    let given = id.as_bytes()[len - 1] - b'0';
    if given != expected {
        return Err(format!(
            "{kind} {id:?} has check digit {given} but its digits give {expected}; \
             re-scan or re-type it"
        ));
    }
    Ok(())
}

/// A GS1 Serial Shipping Container Code: 18 digits, the last the GS1 check digit.
pub fn validate_sscc(sscc: &str) -> Result<(), String> {
    validate_gs1("the SSCC", sscc, SSCC_LEN)
}

/// A GS1 GTIN-14: 14 digits, the last the GS1 check digit (shorter GTINs are
/// padded with leading zeros).
pub fn validate_gtin(gtin: &str) -> Result<(), String> {
    validate_gs1("the GTIN", gtin, GTIN_LEN)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A case pseudonym: exactly 32 lower-case hex characters (128 random bits).
/// Anything else is refused, so personal data cannot pass as a pseudonym.
pub fn validate_pseudonym(pseudonym: &str) -> Result<(), String> {
    if pseudonym.len() != PSEUDONYM_LEN || !is_lower_hex(pseudonym) {
        return Err(format!(
            "the pseudonym must be exactly {PSEUDONYM_LEN} lower-case hex characters \
             (128 random bits drawn by the site); got {} characters. Never put a name, \
             record number or a hash of them on the ledger",
            pseudonym.chars().count()
        ));
    }
    let first = pseudonym.as_bytes()[0];
    if pseudonym.bytes().all(|b| b == first) {
        return Err(
            "the pseudonym repeats one character: it is a placeholder, not 128 random bits"
                .to_string(),
        );
    }
    Ok(())
}

/// A SHA-256 digest: 64 lower-case hex characters.
pub fn validate_sha256_hex(hash: &str) -> Result<(), String> {
    if hash.len() != SHA256_HEX_LEN || !is_lower_hex(hash) {
        return Err(format!(
            "a SHA-256 digest must be {SHA256_HEX_LEN} lower-case hex characters; got {:?}",
            hash
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coi_examples() {
        validate_coi("CHA123426000123").unwrap();
        validate_coi("CHW000007AB12C9").unwrap();
        for (bad, reason) in [
            ("CHA1234 26 000123", "spaces"),
            ("CHA12342600012", "exactly 15"),
            ("CHA1234260001234", "exactly 15"),
            ("XXA123426000123", "start with \"CH\""),
            ("CH1123426000123", "start with a letter"),
            ("CHA12X426000123", "letter followed by 4 digits"),
            ("CHA1234Y6000123", "2-digit year"),
            ("CHA123426abc123", "upper-case letters or digits"),
            ("CHA123426-00123", "upper-case letters or digits"),
            ("CHA12342600012é", "ASCII"),
        ] {
            let e = validate_coi(bad).unwrap_err();
            assert!(e.contains(reason), "{bad}: {e}");
        }
    }

    #[test]
    fn din_check_character_matches_the_published_worked_example() {
        // JPAC Red Book Annex 2: G123 498 654 321 -> weighted sum 148354,
        // mod 37 = 21, 38 - 21 = 17, checksum 17 = 'H'.
        assert_eq!(din_check_character("G123498654321"), 'H');
        // Checksum values 0..=36 all occur and map to 0-9, A-Z, '*'.
        let mut seen = std::collections::BTreeSet::new();
        for seq in 0..2000 {
            seen.insert(din_check_character(&format!("A123426{seq:06}")));
        }
        assert_eq!(seen.len(), 37);
        assert!(seen.contains(&'*'));
    }

    #[test]
    fn din_examples() {
        validate_din("G12349865432100H").unwrap();
        let base = "A123426000123";
        let din = format!("{base}00{}", din_check_character(base));
        validate_din(&din).unwrap();
        let wrong = if din.ends_with('0') { '1' } else { '0' };
        let e = validate_din(&format!("{base}00{wrong}")).unwrap_err();
        assert!(e.contains("check character"), "{e}");
        for (bad, reason) in [
            ("G1234 98 654321 00 H", "spaces"),
            ("G123498654321H", "exactly 16"),
            ("1123498654321000", "start with a letter"),
            ("GA23498654321000", "4 digits"),
            ("G1234X8654321000", "2-digit year"),
            ("G12349865432A000", "6-digit sequence"),
            ("G1234986543210AH", "2 flag digits"),
            ("G12349865432100h", "check character 0-9"),
            ("G12349865432100I", "gives 'H'"),
        ] {
            let e = validate_din(bad).unwrap_err();
            assert!(e.contains(reason), "{bad}: {e}");
        }
    }

    #[test]
    fn gs1_examples() {
        // GS1 General Specifications' SSCC example (00) 0 0614141 123456789 0.
        validate_sscc("006141411234567890").unwrap();
        // EAN-13 4006381333931 as a GTIN-14 (check digit 1).
        assert_eq!(gs1_check_digit("400638133393"), Some(1));
        validate_gtin("04006381333931").unwrap();
        for (bad, reason) in [
            ("006141411234567891", "check digit 1 but its digits give 0"),
            ("00614141123456789", "exactly 18"),
            ("0061414112345678900", "exactly 18"),
            ("00614141123456789A", "digits only"),
            ("006141 411234567890", "spaces"),
        ] {
            let e = validate_sscc(bad).unwrap_err();
            assert!(e.contains(reason), "{bad}: {e}");
        }
        assert!(validate_gtin("04006381333932")
            .unwrap_err()
            .contains("check digit"));
        assert!(validate_gtin("4006381333931")
            .unwrap_err()
            .contains("exactly 14"));
    }

    #[test]
    fn pseudonyms_are_128_random_bits_only() {
        validate_pseudonym("3f2a9c1b7e4d60a58b9c0d1e2f3a4b5c").unwrap();
        for bad in [
            "",
            "3F2A9C1B7E4D60A58B9C0D1E2F3A4B5C",
            "3f2a9c1b7e4d60a58b9c0d1e2f3a4b5",
            "3f2a9c1b7e4d60a58b9c0d1e2f3a4b5c0",
            "jane.doe@hospital-a.example.org1",
            "MRN-0012345678-1970-01-01-SMITH",
            // a SHA-256 of a name is still personal data
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ] {
            let e = validate_pseudonym(bad).unwrap_err();
            assert!(e.contains("32 lower-case hex"), "{bad}: {e}");
        }
        assert!(validate_pseudonym(&"0".repeat(32))
            .unwrap_err()
            .contains("placeholder"));
    }

    #[test]
    fn sha256_hex() {
        validate_sha256_hex("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
            .unwrap();
        for bad in [
            "",
            "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0",
            "zf86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ] {
            assert!(validate_sha256_hex(bad).is_err(), "{bad}");
        }
    }
}
