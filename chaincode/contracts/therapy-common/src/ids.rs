//! Identifier formats checked on-chain: ISBT 128 chain-of-identity ids and
//! donation identification numbers, GS1 SSCC and GTIN, and case pseudonyms.
//! Each check returns `Err(reason)` with the reason in plain words.
