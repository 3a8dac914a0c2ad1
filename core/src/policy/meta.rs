//! Implicit meta policies (`ANY Readers`, `ALL Writers`, `MAJORITY Admins`): the
//! channel-level policies that combine each organisation's own sub-policy of the
//! same name, as Fabric does for channel administration.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::parse::{quote, Fail, ParseRule, PolicyParseError};

/// How many organisations' sub-policies must be satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetaRule {
    /// At least one.
    Any,
    /// Every one (and there must be at least one).
    All,
    /// More than half: 1 of 1, 2 of 2, 2 of 3, 3 of 4.
    Majority,
}

impl MetaRule {
    pub fn as_str(self) -> &'static str {
        match self {
            MetaRule::Any => "ANY",
            MetaRule::All => "ALL",
            MetaRule::Majority => "MAJORITY",
        }
    }

    /// How many satisfied sub-policies are needed out of `defined`, or `None`
    /// when no organisation defines the sub-policy. Unlike Fabric, which treats
    /// an empty set as satisfied, such a policy is never satisfied here: a
    /// channel whose `Admins` nobody defines should be unmanageable, not open.
    pub fn threshold(self, defined: usize) -> Option<usize> {
        if defined == 0 {
            return None;
        }
        Some(match self {
            MetaRule::Any => 1,
            MetaRule::All => defined,
            MetaRule::Majority => defined / 2 + 1,
        })
    }
}

impl fmt::Display for MetaRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `RULE SubPolicy`: the rule applied to the sub-policy named `sub_policy` of
/// every organisation in the channel (or in its orderer / application group).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImplicitMetaPolicy {
    pub rule: MetaRule,
    pub sub_policy: String,
}

impl ImplicitMetaPolicy {
    /// Parses `ANY Readers`, `ALL Writers`, `MAJORITY Admins`. The rule is upper
    /// case as in Fabric; the sub-policy name is `[A-Za-z0-9_-]+`.
    pub fn parse(text: &str) -> Result<ImplicitMetaPolicy, PolicyParseError> {
        parse_meta(text).map_err(|f| f.into_error(text))
    }

    /// Whether the policy is satisfied, given for each organisation the result of
    /// its sub-policy: `Some(satisfied)`, or `None` when the organisation does not
    /// define that sub-policy. Organisations without it are not counted (as in
    /// Fabric); if none defines it the policy is not satisfied.
    pub fn evaluate(&self, sub_results: impl IntoIterator<Item = Option<bool>>) -> bool {
        let (mut defined, mut satisfied) = (0usize, 0usize);
        for result in sub_results.into_iter().flatten() {
            defined += 1;
            satisfied += usize::from(result);
        }
        self.rule
            .threshold(defined)
            .is_some_and(|needed| satisfied >= needed)
    }
}

/// Whether `text` has the shape of an implicit meta policy: two words and none
/// of the punctuation of the signature language.
pub(super) fn looks_like_meta(text: &str) -> bool {
    text.split_whitespace().count() == 2 && !text.contains(['(', ')', ',', '\'', '"'])
}

fn parse_meta(text: &str) -> Result<ImplicitMetaPolicy, Fail> {
    // Words with their byte offsets.
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                words.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }

    let Some(&(rule_at, rule_word)) = words.first() else {
        return Err(Fail::new(
            text.len(),
            ParseRule::UnexpectedToken,
            "ANY, ALL or MAJORITY and a sub-policy name, as in \"MAJORITY Admins\"",
            "end of input",
        ));
    };
    let rule = match rule_word {
        "ANY" => MetaRule::Any,
        "ALL" => MetaRule::All,
        "MAJORITY" => MetaRule::Majority,
        other => {
            let upper = other.to_ascii_uppercase();
            let expected = if matches!(upper.as_str(), "ANY" | "ALL" | "MAJORITY") {
                format!("{upper} in upper case (implicit meta rules are ANY, ALL or MAJORITY)")
            } else {
                "ANY, ALL or MAJORITY".to_string()
            };
            return Err(Fail::new(
                rule_at,
                ParseRule::UnknownMetaRule { rule: other.into() },
                expected,
                quote(other),
            ));
        }
    };
    let Some(&(name_at, name)) = words.get(1) else {
        return Err(Fail::new(
            text.len(),
            ParseRule::UnexpectedToken,
            format!("a sub-policy name after {rule}, as in \"{rule} Admins\""),
            "end of input",
        ));
    };
    if let Some((i, c)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(Fail::new(
            name_at + i,
            ParseRule::InvalidSubPolicyName { name: name.into() },
            "a sub-policy name of letters, digits, '_' and '-', like Admins",
            quote(&c.to_string()),
        ));
    }
    if let Some(&(extra_at, extra)) = words.get(2) {
        return Err(Fail::new(
            extra_at,
            ParseRule::TrailingInput,
            "end of input after the sub-policy name",
            quote(extra),
        ));
    }
    Ok(ImplicitMetaPolicy {
        rule,
        sub_policy: name.into(),
    })
}

impl fmt::Display for ImplicitMetaPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.rule, self.sub_policy)
    }
}

impl FromStr for ImplicitMetaPolicy {
    type Err = PolicyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImplicitMetaPolicy::parse(s)
    }
}

impl Serialize for ImplicitMetaPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImplicitMetaPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ImplicitMetaPolicy::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("policy {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(text: &str) -> ImplicitMetaPolicy {
        ImplicitMetaPolicy::parse(text).unwrap()
    }

    /// `n` organisations defining the sub-policy, the first `yes` satisfied.
    fn orgs(n: usize, yes: usize) -> Vec<Option<bool>> {
        (0..n).map(|i| Some(i < yes)).collect()
    }

    #[test]
    fn parses_the_three_rules() {
        assert_eq!(
            meta("ANY Readers"),
            ImplicitMetaPolicy {
                rule: MetaRule::Any,
                sub_policy: "Readers".into()
            }
        );
        assert_eq!(meta("ALL Writers").rule, MetaRule::All);
        assert_eq!(meta("  MAJORITY   Admins ").to_string(), "MAJORITY Admins");
    }

    #[test]
    fn majority_of_three_needs_two() {
        let p = meta("MAJORITY Admins");
        assert!(!p.evaluate(orgs(3, 1)));
        assert!(p.evaluate(orgs(3, 2)));
        assert!(p.evaluate(orgs(3, 3)));
    }

    #[test]
    fn majority_of_four_needs_three() {
        let p = meta("MAJORITY Admins");
        assert!(!p.evaluate(orgs(4, 2)));
        assert!(p.evaluate(orgs(4, 3)));
    }

    #[test]
    fn majority_of_one_needs_it() {
        let p = meta("MAJORITY Admins");
        assert!(!p.evaluate(orgs(1, 0)));
        assert!(p.evaluate(orgs(1, 1)));
    }

    #[test]
    fn any_needs_one_defined_sub_policy_satisfied() {
        let p = meta("ANY Readers");
        assert!(p.evaluate([None, Some(false), Some(true)]));
        assert!(!p.evaluate([None, Some(false), Some(false)]));
    }

    #[test]
    fn all_ignores_organisations_without_the_sub_policy() {
        let p = meta("ALL Writers");
        assert!(p.evaluate([Some(true), None, Some(true)]));
        assert!(!p.evaluate([Some(true), None, Some(false)]));
    }

    #[test]
    fn majority_counts_only_organisations_defining_the_sub_policy() {
        // Two of the three that define it: a majority, although 2 of 5 overall.
        let p = meta("MAJORITY Admins");
        assert!(p.evaluate([Some(true), None, Some(true), None, Some(false)]));
    }

    #[test]
    fn no_organisation_defining_the_sub_policy_satisfies_nothing() {
        for text in ["ANY Readers", "ALL Writers", "MAJORITY Admins"] {
            assert!(!meta(text).evaluate([None, None]), "{text}");
            assert!(!meta(text).evaluate([]), "{text}");
        }
    }

    #[test]
    fn rule_must_be_upper_case() {
        let e = ImplicitMetaPolicy::parse("Majority Admins").unwrap_err();
        assert_eq!(
            e.rule,
            ParseRule::UnknownMetaRule {
                rule: "Majority".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "at column 1: expected MAJORITY in upper case (implicit meta rules are ANY, ALL or MAJORITY), found \"Majority\""
        );
        let e = ImplicitMetaPolicy::parse("SOME Admins").unwrap_err();
        assert_eq!(e.expected, "ANY, ALL or MAJORITY");
    }

    #[test]
    fn malformed_meta_policies_are_located() {
        let e = ImplicitMetaPolicy::parse("ANY").unwrap_err();
        assert_eq!((e.rule, e.column), (ParseRule::UnexpectedToken, 4));
        let e = ImplicitMetaPolicy::parse("ANY Read/ers").unwrap_err();
        assert_eq!(
            (e.rule, e.column),
            (
                ParseRule::InvalidSubPolicyName {
                    name: "Read/ers".into()
                },
                9
            )
        );
        let e = ImplicitMetaPolicy::parse("ANY Readers now").unwrap_err();
        assert_eq!((e.rule, e.column), (ParseRule::TrailingInput, 13));
    }

    #[test]
    fn serde_is_the_text_form() {
        let p = meta("ALL Writers");
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""ALL Writers""#);
        assert_eq!(
            serde_json::from_str::<ImplicitMetaPolicy>(r#""ALL Writers""#).unwrap(),
            p
        );
        assert!(serde_json::from_str::<ImplicitMetaPolicy>(r#""all Writers""#).is_err());
    }
}
