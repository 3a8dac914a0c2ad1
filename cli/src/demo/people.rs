//! The story's people as users of the network: each person signs with the
//! certificate of a user of their organisation whose `role` attribute is
//! theirs (DIR/crypto/<MSP>/users/<user>/{cert,key}.pem, from the topology).
//! When the topology has fewer users than the story has people, the org's
//! user with that role is shared; a person who must be someone else (a second
//! QA approving what the first drafted: four eyes) gets a user of their own,
//! issued by the organisation's CA in DIR/crypto (`demo-<name>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use cellchain_core::identity::Role;
use time::OffsetDateTime;
use vein_to_vein_example::Person;

use crate::cryptogen::{self, CryptoSpec, IdentityKind, IdentitySpec, OrgSpec};

/// A person and the user whose identity they sign with.
#[derive(Debug, Clone)]
pub struct Cast {
    pub person: Person,
    /// The user's name (its directory under DIR/crypto/<MSP>/users).
    pub user: String,
    pub dir: PathBuf,
    /// Issued by `demo` for this person.
    pub enrolled: bool,
}

impl Cast {
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
}

/// Maps every person to a user of `spec` (the topology's crypto spec), issuing
/// the users that four-eyes steps need and the topology lacks.
pub fn cast(people: &[Person], spec: &CryptoSpec, crypto: &Path) -> anyhow::Result<Vec<Cast>> {
    let mut out: Vec<Cast> = Vec::new();
    for p in people {
        let Some(org) = spec.orgs.iter().find(|o| o.msp_id == p.msp) else {
            bail!(
                "the story needs organisation {} (for {}), which the topology does not have",
                p.msp,
                p.name
            );
        };
        let users: Vec<&IdentitySpec> = org
            .identities
            .iter()
            .filter(|i| {
                i.kind == IdentityKind::User
                    && i.attributes.get("role").map(String::as_str) == Some(p.role)
            })
            .collect();
        if users.is_empty() {
            bail!(
                "the topology has no user of {} with attribute role={} (needed for {}); add one \
                 under the organisation's `users:`",
                p.msp,
                p.role,
                p.name
            );
        }
        let taken = |user: &str| out.iter().any(|c| c.person.msp == p.msp && c.user == user);
        let chosen = if p.distinct {
            users
                .iter()
                .find(|u| !taken(&u.name))
                .map(|u| u.name.clone())
        } else {
            Some(users[0].name.clone())
        };
        let (user, enrolled) = match chosen {
            Some(u) => (u, false),
            None => {
                let name = format!("demo-{}", p.name);
                enrol(org, &name, p.role, crypto)?;
                (name, true)
            }
        };
        out.push(Cast {
            person: *p,
            dir: crypto.join(p.msp).join("users").join(&user),
            user,
            enrolled,
        });
    }
    Ok(out)
}

/// Issues user `name` (client, `role` attribute) with `org`'s CA, unless it exists.
fn enrol(org: &OrgSpec, name: &str, role: &str, crypto: &Path) -> anyhow::Result<()> {
    let spec = CryptoSpec {
        orgs: vec![OrgSpec {
            msp_id: org.msp_id.clone(),
            org_name: org.org_name.clone(),
            identities: vec![IdentitySpec {
                kind: IdentityKind::User,
                name: name.to_string(),
                role: Role::Client,
                attributes: BTreeMap::from([("role".to_string(), role.to_string())]),
            }],
        }],
    };
    cryptogen::generate(
        &spec,
        crypto,
        &cryptogen::Options {
            leaf_days: 730,
            now: OffsetDateTime::now_utc(),
        },
    )?;
    Ok(())
}

/// The cast, printed: who signs as whom, and which users are shared or issued.
pub fn print(cast: &[Cast]) {
    println!("The people of the story and the identities they sign with:");
    for c in cast {
        let shared: Vec<&str> = cast
            .iter()
            .filter(|o| o.person.msp == c.person.msp && o.user == c.user)
            .map(|o| o.person.name)
            .filter(|n| *n != c.person.name)
            .collect();
        let note = if c.enrolled {
            format!(
                " (issued by {}'s CA for this demo: the topology has no second {} user, and \
                 four eyes need one)",
                c.person.msp, c.person.role
            )
        } else if !shared.is_empty() {
            format!(
                " (shared with {}: the topology has one {} user at {})",
                shared.join(", "),
                c.person.role,
                c.person.msp
            )
        } else {
            String::new()
        };
        println!(
            "  {:13} {:9} signs as {}@{}{note}",
            c.person.name, c.person.role, c.user, c.person.msp
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellchain_core::identity::{Msp, Revocation};
    use vein_to_vein_example::PEOPLE;

    #[test]
    fn people_map_to_role_users_and_a_second_qa_is_enrolled() {
        let dir = tempfile::tempdir().unwrap();
        let spec =
            crate::cmd_crypto::spec_from_config(Path::new("../channel-configs/atmp-network.yaml"))
                .unwrap();
        let cast = cast(&PEOPLE, &spec, dir.path()).unwrap();
        let user = |name: &str| {
            let c = cast.iter().find(|c| c.person.name == name).unwrap();
            (c.user.as_str(), c.enrolled)
        };
        assert_eq!(user("dr-ng"), ("clinician", false));
        assert_eq!(user("qa-berg"), ("qa-reviewer", false));
        assert_eq!(user("qa-ito"), ("demo-qa-ito", true));
        assert_eq!(user("inspector"), ("inspector", false));
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        let msp = Msp::new(
            "SponsorMSP",
            &[read("SponsorMSP/ca/ca.pem")],
            &Revocation::default(),
        )
        .unwrap();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let id = msp
            .validate(&read("SponsorMSP/users/demo-qa-ito/cert.pem"), now)
            .unwrap();
        assert_eq!(id.role, Role::Client);
        assert_eq!(id.attributes.get("role").map(String::as_str), Some("QA"));
    }
}
