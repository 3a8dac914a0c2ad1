//! GA4GH Data Use Ontology (DUO) codes, as consents and requests carry them.
//!
//! The code list is DUO's own (`duo.csv` of EBISPOT/DUO, the current
//! release): the five data use permissions and the data use modifiers, by
//! shorthand. A disease-specific permission names its disease as an ontology
//! CURIE: `DS:MONDO:0005061`.
//!
//! Matching a request's purpose against a consent's permission follows DUO's
//! hierarchy: NRES and GRU permit any research purpose, HMB permits health
//! research (HMB or DS of any disease) but not population-origins research,
//! DS:X permits only research on X (exact id: disease hierarchies are not
//! available on-chain), POA permits only POA. The modifier NPOA forbids POA
//! whatever the permission. Other modifiers are conditions the grantee
//! accepts (ethics approval, publication, ...): the contract cannot check
//! them and copies them into the grant.

use std::fmt;

/// DUO data use permissions (shorthand, DUO id).
pub const PERMISSIONS: &[(&str, &str)] = &[
    ("NRES", "DUO:0000004"),
    ("GRU", "DUO:0000042"),
    ("HMB", "DUO:0000006"),
    ("DS", "DUO:0000007"),
    ("POA", "DUO:0000011"),
];

/// DUO data use modifiers (shorthand, DUO id).
pub const MODIFIERS: &[(&str, &str)] = &[
    ("CC", "DUO:0000043"),
    ("COL", "DUO:0000020"),
    ("GS", "DUO:0000022"),
    ("GSO", "DUO:0000016"),
    ("IRB", "DUO:0000021"),
    ("IS", "DUO:0000028"),
    ("MOR", "DUO:0000024"),
    ("NCU", "DUO:0000046"),
    ("NMDS", "DUO:0000015"),
    ("NPOA", "DUO:0000044"),
    ("NPU", "DUO:0000045"),
    ("NPUNCU", "DUO:0000018"),
    ("PS", "DUO:0000027"),
    ("PUB", "DUO:0000019"),
    ("RS", "DUO:0000012"),
    ("RTN", "DUO:0000029"),
    ("TS", "DUO:0000025"),
    ("US", "DUO:0000026"),
];

/// A data use permission, or a research purpose stated in its terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permission {
    NoRestriction,
    GeneralResearch,
    HealthMedicalBiomedical,
    /// Disease-specific, with the disease's ontology CURIE (`MONDO:0005061`).
    DiseaseSpecific(String),
    PopulationOriginsAncestry,
}

/// A parsed DUO code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Permission(Permission),
    /// A modifier, by shorthand.
    Modifier(&'static str),
}

/// Parses one DUO code; the error says what is wrong.
pub fn parse(code: &str) -> Result<Code, String> {
    if let Some(disease) = code.strip_prefix("DS:") {
        check_curie(disease)?;
        return Ok(Code::Permission(Permission::DiseaseSpecific(
            disease.to_string(),
        )));
    }
    let permission = match code {
        "NRES" => Some(Permission::NoRestriction),
        "GRU" => Some(Permission::GeneralResearch),
        "HMB" => Some(Permission::HealthMedicalBiomedical),
        "POA" => Some(Permission::PopulationOriginsAncestry),
        "DS" => return Err("DS needs its disease: DS:<ontology id>, e.g. DS:MONDO:0005061".into()),
        _ => None,
    };
    if let Some(p) = permission {
        return Ok(Code::Permission(p));
    }
    if let Some((m, _)) = MODIFIERS.iter().find(|(m, _)| *m == code) {
        return Ok(Code::Modifier(m));
    }
    Err(
        "not a DUO permission (NRES, GRU, HMB, DS:<disease>, POA) or modifier (CC, COL, GS, \
         GSO, IRB, IS, MOR, NCU, NMDS, NPOA, NPU, NPUNCU, PS, PUB, RS, RTN, TS, US)"
            .into(),
    )
}

/// A research purpose: a permission code other than NRES (a purpose says what
/// the research is; "no restriction" describes data, not research).
pub fn parse_purpose(purpose: &str) -> Result<Permission, String> {
    match parse(purpose)? {
        Code::Permission(Permission::NoRestriction) => Err(
            "NRES describes data, not a research purpose: use GRU, HMB, DS:<disease> or POA".into(),
        ),
        Code::Permission(p) => Ok(p),
        Code::Modifier(m) => Err(format!(
            "{m} is a DUO modifier; a purpose is GRU, HMB, DS:<disease> or POA"
        )),
    }
}

/// An ontology CURIE: `PREFIX:local`, prefix a letter then letters, digits or
/// `_`; local part letters, digits, `_`, `.` or `-`.
fn check_curie(curie: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "disease id {curie:?} must be an ontology id such as MONDO:0005061"
        ))
    };
    let Some((prefix, local)) = curie.split_once(':') else {
        return bad();
    };
    let prefix_ok = prefix
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    let local_ok = !local.is_empty()
        && local.len() <= 32
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if prefix_ok && local_ok && prefix.len() <= 16 {
        Ok(())
    } else {
        bad()
    }
}

/// Whether the consent's `codes` (already validated) permit `purpose`.
pub fn permits(codes: &[String], purpose: &Permission) -> bool {
    let parsed: Vec<Code> = codes.iter().filter_map(|c| parse(c).ok()).collect();
    if *purpose == Permission::PopulationOriginsAncestry && parsed.contains(&Code::Modifier("NPOA"))
    {
        return false;
    }
    parsed.iter().any(|c| match c {
        Code::Permission(p) => permission_covers(p, purpose),
        Code::Modifier(_) => false,
    })
}

fn permission_covers(permission: &Permission, purpose: &Permission) -> bool {
    use Permission::*;
    match (permission, purpose) {
        (NoRestriction | GeneralResearch, _) => true,
        (HealthMedicalBiomedical, HealthMedicalBiomedical | DiseaseSpecific(_)) => true,
        (DiseaseSpecific(d), DiseaseSpecific(p)) => d == p,
        (PopulationOriginsAncestry, PopulationOriginsAncestry) => true,
        _ => false,
    }
}

/// The modifiers among `codes`, in order: the conditions a grant carries.
pub fn modifiers(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter(|c| matches!(parse(c), Ok(Code::Modifier(_))))
        .cloned()
        .collect()
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::NoRestriction => f.write_str("NRES"),
            Permission::GeneralResearch => f.write_str("GRU"),
            Permission::HealthMedicalBiomedical => f.write_str("HMB"),
            Permission::DiseaseSpecific(d) => write!(f, "DS:{d}"),
            Permission::PopulationOriginsAncestry => f.write_str("POA"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn codes_are_duo_codes() {
        assert_eq!(
            parse("GRU"),
            Ok(Code::Permission(Permission::GeneralResearch))
        );
        assert_eq!(
            parse("DS:MONDO:0005061"),
            Ok(Code::Permission(Permission::DiseaseSpecific(
                "MONDO:0005061".into()
            )))
        );
        assert_eq!(parse("IRB"), Ok(Code::Modifier("IRB")));
        assert!(parse("DS").unwrap_err().contains("DS needs its disease"));
        assert!(parse("DS:cancer").unwrap_err().contains("ontology id"));
        assert!(parse("NCTRL").unwrap_err().contains("not a DUO permission"));
        assert!(parse("gru").is_err());
        for (m, _) in MODIFIERS {
            assert_eq!(parse(m), Ok(Code::Modifier(m)));
        }
        for (p, _) in PERMISSIONS.iter().filter(|(p, _)| *p != "DS") {
            assert!(matches!(parse(p), Ok(Code::Permission(_))));
        }
    }

    #[test]
    fn purposes_are_permissions_other_than_nres() {
        assert!(parse_purpose("NRES")
            .unwrap_err()
            .contains("not a research purpose"));
        assert!(parse_purpose("IRB").unwrap_err().contains("modifier"));
        assert_eq!(
            parse_purpose("HMB"),
            Ok(Permission::HealthMedicalBiomedical)
        );
    }

    #[test]
    fn the_duo_hierarchy_decides() {
        let ds = |d: &str| Permission::DiseaseSpecific(d.into());
        let hmb = Permission::HealthMedicalBiomedical;
        let poa = Permission::PopulationOriginsAncestry;
        assert!(permits(&codes(&["GRU"]), &ds("MONDO:0005061")));
        assert!(permits(&codes(&["GRU"]), &poa));
        assert!(!permits(&codes(&["GRU", "NPOA"]), &poa));
        assert!(permits(&codes(&["NRES"]), &hmb));
        assert!(permits(&codes(&["HMB", "IRB"]), &ds("MONDO:0005061")));
        assert!(!permits(&codes(&["HMB"]), &poa));
        assert!(!permits(&codes(&["HMB"]), &Permission::GeneralResearch));
        assert!(permits(&codes(&["DS:MONDO:0005061"]), &ds("MONDO:0005061")));
        assert!(!permits(
            &codes(&["DS:MONDO:0005061"]),
            &ds("MONDO:0004992")
        ));
        assert!(!permits(&codes(&["DS:MONDO:0005061"]), &hmb));
        assert!(!permits(&codes(&["IRB"]), &hmb));
        assert_eq!(modifiers(&codes(&["HMB", "IRB", "PUB"])), ["IRB", "PUB"]);
    }
}
