//! The signature policy tree, its canonical text and its serde form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::parse::{self, PolicyParseError};
use super::PolicyError;
use crate::identity::Role;

/// What a principal asks of a signer's role. `Member` is any identity of the
/// organisation; the others only that exact node role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalRole {
    Member,
    Admin,
    Client,
    Peer,
    Orderer,
}

impl PrincipalRole {
    pub const ALL: [PrincipalRole; 5] = [
        PrincipalRole::Member,
        PrincipalRole::Admin,
        PrincipalRole::Client,
        PrincipalRole::Peer,
        PrincipalRole::Orderer,
    ];

    /// The name used in policy text (`member`, `admin`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalRole::Member => "member",
            PrincipalRole::Admin => "admin",
            PrincipalRole::Client => "client",
            PrincipalRole::Peer => "peer",
            PrincipalRole::Orderer => "orderer",
        }
    }

    /// The role named exactly `name` (lower case, as in Fabric).
    pub fn from_name(name: &str) -> Option<PrincipalRole> {
        PrincipalRole::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether a signer in node role `role` satisfies this principal role.
    pub fn admits(self, role: Role) -> bool {
        match self {
            PrincipalRole::Member => true,
            PrincipalRole::Admin => role == Role::Admin,
            PrincipalRole::Client => role == Role::Client,
            PrincipalRole::Peer => role == Role::Peer,
            PrincipalRole::Orderer => role == Role::Orderer,
        }
    }
}

impl From<Role> for PrincipalRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Client => PrincipalRole::Client,
            Role::Peer => PrincipalRole::Peer,
            Role::Admin => PrincipalRole::Admin,
            Role::Orderer => PrincipalRole::Orderer,
        }
    }
}

impl fmt::Display for PrincipalRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One organisation and role, `Org1MSP.peer` in policy text.
///
/// Parsed principals have an MSP id of `[A-Za-z0-9.-]+`; one built by hand with
/// other characters has no text form, and serialising a policy holding it fails.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    pub msp_id: String,
    pub role: PrincipalRole,
}

impl Principal {
    pub fn new(msp_id: impl Into<String>, role: PrincipalRole) -> Principal {
        Principal {
            msp_id: msp_id.into(),
            role,
        }
    }

    /// Whether a signer of organisation `msp_id` in node role `role` satisfies it.
    pub fn admits(&self, msp_id: &str, role: Role) -> bool {
        self.msp_id == msp_id && self.role.admits(role)
    }
}

/// `Org1MSP.peer`, unquoted.
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.msp_id, self.role)
    }
}

/// Parses `Org1MSP.peer` (unquoted); the role is after the last dot.
impl FromStr for Principal {
    type Err = PolicyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse::parse_principal(s, 0).map_err(|e| e.into_error(s))
    }
}

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("principal {text:?}: {e}")))
    }
}

/// A signature policy in Fabric's language: a tree of thresholds over principals.
///
/// `AND(a, b, ..)` is `NOutOf { n: len }`, `OR(..)` is `NOutOf { n: 1 }`, and
/// `OutOf(n, ..)` is itself. Text, [`Display`](fmt::Display) and serde all use the
/// canonical text, and `parse(p.to_string()) == p` for every policy that parses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SignaturePolicy {
    /// A signature by an identity matching the principal.
    SignedBy(Principal),
    /// At least `n` of the sub-policies, with each signer counted once overall.
    NOutOf {
        n: usize,
        rules: Vec<SignaturePolicy>,
    },
}

impl SignaturePolicy {
    /// Parses policy text such as `OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')`.
    ///
    /// Grammar (Fabric's policydsl): `AND`, `OR`, `OutOf` (any case) with
    /// parenthesised, comma-separated arguments; principals quoted with `'` or `"`
    /// as `MSPID.role` where the role follows the last dot. Refused, besides syntax
    /// errors: `OutOf(0, ..)`, a threshold above the number of sub-policies, empty
    /// `AND()`/`OR()`, nesting deeper than [`MAX_DEPTH`](super::MAX_DEPTH), more than
    /// [`MAX_PRINCIPALS`](super::MAX_PRINCIPALS) principals and text over
    /// [`MAX_POLICY_LEN`](super::MAX_POLICY_LEN) bytes.
    pub fn parse(text: &str) -> Result<SignaturePolicy, PolicyParseError> {
        parse::parse_signature_policy(text)
    }

    /// A signature by `msp_id` in `role`.
    pub fn signed_by(msp_id: impl Into<String>, role: PrincipalRole) -> SignaturePolicy {
        SignaturePolicy::SignedBy(Principal::new(msp_id, role))
    }

    /// All of `rules`.
    pub fn and(rules: Vec<SignaturePolicy>) -> SignaturePolicy {
        SignaturePolicy::NOutOf {
            n: rules.len(),
            rules,
        }
    }

    /// Any one of `rules`.
    pub fn or(rules: Vec<SignaturePolicy>) -> SignaturePolicy {
        SignaturePolicy::NOutOf { n: 1, rules }
    }

    /// At least `n` of `rules`.
    pub fn out_of(n: usize, rules: Vec<SignaturePolicy>) -> SignaturePolicy {
        SignaturePolicy::NOutOf { n, rules }
    }

    /// The principals, left to right as written (duplicates included).
    pub fn principals(&self) -> Principals<'_> {
        Principals { stack: vec![self] }
    }

    /// Refuses a policy that names an organisation for which `known` is false,
    /// naming the first such organisation. Use it when a policy enters the
    /// channel configuration: such a principal could never be satisfied.
    pub fn check_organizations(&self, known: impl Fn(&str) -> bool) -> Result<(), PolicyError> {
        match self.principals().find(|p| !known(&p.msp_id)) {
            Some(p) => Err(PolicyError::UnknownOrganization {
                msp_id: p.msp_id.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// Iterator over a policy's principals in text order; see [`SignaturePolicy::principals`].
#[derive(Debug, Clone)]
pub struct Principals<'a> {
    stack: Vec<&'a SignaturePolicy>,
}

impl<'a> Iterator for Principals<'a> {
    type Item = &'a Principal;
    fn next(&mut self) -> Option<&'a Principal> {
        while let Some(node) = self.stack.pop() {
            match node {
                SignaturePolicy::SignedBy(p) => return Some(p),
                SignaturePolicy::NOutOf { rules, .. } => self.stack.extend(rules.iter().rev()),
            }
        }
        None
    }
}

/// The canonical text: `AND(..)` when every sub-policy is needed (and there are
/// several), `OR(..)` when one is enough (of several), `OutOf(n, ..)` otherwise,
/// principals as `'Org1MSP.peer'`.
impl fmt::Display for SignaturePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignaturePolicy::SignedBy(p) => write!(f, "'{p}'"),
            SignaturePolicy::NOutOf { n, rules } => {
                let len = rules.len();
                if *n == len && len > 1 {
                    f.write_str("AND(")?;
                } else if *n == 1 && len > 1 {
                    f.write_str("OR(")?;
                } else {
                    write!(f, "OutOf({n}")?;
                    if len > 0 {
                        f.write_str(", ")?;
                    }
                }
                for (i, rule) in rules.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    rule.fmt(f)?;
                }
                f.write_str(")")
            }
        }
    }
}

impl FromStr for SignaturePolicy {
    type Err = PolicyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignaturePolicy::parse(s)
    }
}

/// Serialises as the canonical text. A policy built by hand that the parser would
/// refuse (`OutOf(0, ..)`, a bad MSP id, ...) fails to serialise instead of
/// producing text nobody can read back.
impl Serialize for SignaturePolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.to_string();
        match SignaturePolicy::parse(&text) {
            Ok(back) if back == *self => s.serialize_str(&text),
            Ok(_) => Err(serde::ser::Error::custom(format!(
                "policy {text} does not read back as itself"
            ))),
            Err(e) => Err(serde::ser::Error::custom(format!(
                "policy {text} has no valid text form: {e}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for SignaturePolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SignaturePolicy::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("policy {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> SignaturePolicy {
        SignaturePolicy::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn display_uses_and_or_outof_canonically() {
        assert_eq!(
            p("and('A.peer','B.peer')").to_string(),
            "AND('A.peer', 'B.peer')"
        );
        assert_eq!(
            p("or( \"A.peer\" , 'B.admin' )").to_string(),
            "OR('A.peer', 'B.admin')"
        );
        assert_eq!(
            p("OUTOF(2,'A.peer','B.peer','C.peer')").to_string(),
            "OutOf(2, 'A.peer', 'B.peer', 'C.peer')"
        );
        // A single sub-policy is neither an AND nor an OR of several.
        assert_eq!(p("AND('A.peer')").to_string(), "OutOf(1, 'A.peer')");
        assert_eq!(p("'A.member'").to_string(), "'A.member'");
    }

    #[test]
    fn display_then_parse_round_trips() {
        for text in [
            "'Org1MSP.peer'",
            "AND('A.peer', 'B.peer')",
            "OR('A.member', 'B.admin', 'C.client', 'D.orderer')",
            "OutOf(2, 'A.peer', AND('B.peer', 'B.admin'), OR('C.peer', 'D.peer'))",
            "OutOf(1, 'my-org.example.com.peer')",
            "AND(OR('A.peer', 'B.peer'), OutOf(2, 'C.peer', 'D.peer', 'E.peer'))",
        ] {
            let policy = p(text);
            assert_eq!(policy.to_string(), text);
            assert_eq!(p(&policy.to_string()), policy);
        }
    }

    #[test]
    fn nested_policies_build_the_expected_tree() {
        let policy = p("OR(AND('A.peer', 'B.peer'), OutOf(2, 'C.admin', 'D.client', 'E.member'))");
        let expected = SignaturePolicy::or(vec![
            SignaturePolicy::and(vec![
                SignaturePolicy::signed_by("A", PrincipalRole::Peer),
                SignaturePolicy::signed_by("B", PrincipalRole::Peer),
            ]),
            SignaturePolicy::out_of(
                2,
                vec![
                    SignaturePolicy::signed_by("C", PrincipalRole::Admin),
                    SignaturePolicy::signed_by("D", PrincipalRole::Client),
                    SignaturePolicy::signed_by("E", PrincipalRole::Member),
                ],
            ),
        ]);
        assert_eq!(policy, expected);
    }

    #[test]
    fn role_is_after_the_last_dot_of_the_msp_id() {
        let policy = p("'org1.example.com.admin'");
        assert_eq!(
            policy,
            SignaturePolicy::signed_by("org1.example.com", PrincipalRole::Admin)
        );
    }

    #[test]
    fn principals_are_listed_in_text_order_with_duplicates() {
        let policy = p("OutOf(2, 'A.peer', AND('B.peer', 'A.peer'), 'C.admin')");
        let listed: Vec<String> = policy.principals().map(|p| p.to_string()).collect();
        assert_eq!(listed, ["A.peer", "B.peer", "A.peer", "C.admin"]);
    }

    #[test]
    fn check_organizations_refuses_an_org_outside_the_channel() {
        let policy = p("AND('Org1MSP.peer', OR('Org2MSP.peer', 'Org9MSP.peer'))");
        let channel = ["Org1MSP", "Org2MSP", "Org3MSP"];
        assert_eq!(
            policy.check_organizations(|id| channel.contains(&id)),
            Err(PolicyError::UnknownOrganization {
                msp_id: "Org9MSP".into()
            })
        );
        let ok = p("AND('Org1MSP.peer', 'Org3MSP.admin')");
        assert_eq!(ok.check_organizations(|id| channel.contains(&id)), Ok(()));
    }

    #[test]
    fn serde_is_the_canonical_text() {
        let policy = p("outof(2, 'A.peer', 'B.peer', 'C.peer')");
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(json, r#""OutOf(2, 'A.peer', 'B.peer', 'C.peer')""#);
        assert_eq!(
            serde_json::from_str::<SignaturePolicy>(&json).unwrap(),
            policy
        );
        let yaml = serde_yaml::to_string(&policy).unwrap();
        assert_eq!(
            serde_yaml::from_str::<SignaturePolicy>(&yaml).unwrap(),
            policy
        );
    }

    #[test]
    fn serde_refuses_malformed_text() {
        let e = serde_json::from_str::<SignaturePolicy>(r#""OutOf(0, 'A.peer')""#).unwrap_err();
        assert!(e.to_string().contains("at column 7"), "{e}");
    }

    #[test]
    fn serialising_a_policy_without_text_form_fails() {
        let zero = SignaturePolicy::out_of(
            0,
            vec![SignaturePolicy::signed_by("A", PrincipalRole::Peer)],
        );
        assert!(serde_json::to_string(&zero).is_err());
        let bad_id = SignaturePolicy::signed_by("Org 1", PrincipalRole::Peer);
        assert!(serde_json::to_string(&bad_id).is_err());
    }

    #[test]
    fn principal_text_and_serde() {
        let principal: Principal = "Org1MSP.admin".parse().unwrap();
        assert_eq!(principal, Principal::new("Org1MSP", PrincipalRole::Admin));
        assert_eq!(principal.to_string(), "Org1MSP.admin");
        assert_eq!(
            serde_json::to_string(&principal).unwrap(),
            r#""Org1MSP.admin""#
        );
        let e = "Org1MSP.boss".parse::<Principal>().unwrap_err();
        assert_eq!(e.position, 8);
    }

    #[test]
    fn member_admits_every_role_and_others_only_their_own() {
        for role in Role::ALL {
            assert!(PrincipalRole::Member.admits(role));
            assert!(PrincipalRole::from(role).admits(role));
        }
        assert!(!PrincipalRole::Peer.admits(Role::Admin));
        assert!(!PrincipalRole::Admin.admits(Role::Peer));
        assert!(!PrincipalRole::Client.admits(Role::Orderer));
    }
}
