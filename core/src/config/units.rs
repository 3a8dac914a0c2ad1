//! Human-friendly sizes and durations in configuration files: `2 MB`, `10MiB`,
//! `500ms`, `2s`, or plain integers (bytes, milliseconds).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes; in YAML an integer or a string such as `512 KB`, `2 MB`, `1 MiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// A duration in milliseconds; in YAML an integer (ms) or a string such as `100ms`, `2s`, `1m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub u64);

fn split_number(s: &str) -> Option<(f64, String)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let n: f64 = num.parse().ok()?;
    Some((n, unit.trim().to_ascii_lowercase()))
}

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let (n, unit) = split_number(s)
            .ok_or_else(|| format!("invalid size {s:?}: expected e.g. 2 MB, 512 KB or 1048576"))?;
        let mult: f64 = match unit.as_str() {
            "" | "b" => 1.0,
            "kb" | "k" => 1e3,
            "mb" | "m" => 1e6,
            "gb" | "g" => 1e9,
            "kib" => 1024.0,
            "mib" => 1024.0 * 1024.0,
            "gib" => 1024.0 * 1024.0 * 1024.0,
            other => {
                return Err(format!(
                    "invalid size unit {other:?} in {s:?}: use B, KB, MB, GB, KiB, MiB or GiB"
                ))
            }
        };
        Ok(ByteSize((n * mult).round() as u64))
    }
}

impl Millis {
    pub fn parse(s: &str) -> Result<Millis, String> {
        let (n, unit) = split_number(s)
            .ok_or_else(|| format!("invalid duration {s:?}: expected e.g. 100ms, 2s or 1m"))?;
        let mult: f64 = match unit.as_str() {
            "" | "ms" => 1.0,
            "s" => 1e3,
            "m" | "min" => 60e3,
            other => {
                return Err(format!(
                    "invalid duration unit {other:?} in {s:?}: use ms, s or m"
                ))
            }
        };
        Ok(Millis((n * mult).round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * 1024;
        match self.0 {
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            n => write!(f, "{n} B"),
        }
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => Ok(ByteSize(n)),
            NumOrText::Text(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => Ok(Millis(n)),
            NumOrText::Text(s) => Millis::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

// On the wire (inside a genesis block) both are plain integers.
impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        assert_eq!(ByteSize::parse("2 MB").unwrap().0, 2_000_000);
        assert_eq!(ByteSize::parse("1MiB").unwrap().0, 1_048_576);
        assert_eq!(ByteSize::parse("512 KB").unwrap().0, 512_000);
        assert_eq!(ByteSize::parse("100").unwrap().0, 100);
        assert!(ByteSize::parse("2 parsecs").unwrap_err().contains("unit"));
        assert!(ByteSize::parse("lots").is_err());
    }

    #[test]
    fn sizes_display_in_the_largest_exact_binary_unit() {
        assert_eq!(ByteSize(2 * 1024 * 1024).to_string(), "2 MiB");
        assert_eq!(ByteSize(512 * 1024).to_string(), "512 KiB");
        assert_eq!(ByteSize(2_000_000).to_string(), "2000000 B");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(Millis::parse("100ms").unwrap().0, 100);
        assert_eq!(Millis::parse("2s").unwrap().0, 2000);
        assert_eq!(Millis::parse("0.5s").unwrap().0, 500);
        assert_eq!(Millis::parse("1m").unwrap().0, 60_000);
        assert!(Millis::parse("2 fortnights").is_err());
    }

    #[test]
    fn yaml_accepts_numbers_and_text() {
        let v: Vec<ByteSize> = serde_yaml::from_str("[1024, '2 MB']").unwrap();
        assert_eq!(v, vec![ByteSize(1024), ByteSize(2_000_000)]);
        let v: Vec<Millis> = serde_yaml::from_str("[250, 2s]").unwrap();
        assert_eq!(v, vec![Millis(250), Millis(2000)]);
    }
}
