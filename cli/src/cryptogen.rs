//! Crypto material for a CellChain network (Fabric's `cryptogen`): a CA per
//! organisation and a P-256 key and certificate for each of its nodes and users.
//!
//! What is made here is what the MSP ([`cellchain_core::identity`]) later
//! accepts: endorsers check proposal creators against these CAs, committers check
//! endorsers, orderers check consenters and writers. Every certificate written is
//! validated through the same [`Msp`] code the nodes run before this reports
//! success, so a network never starts with material its own nodes would refuse.
//!
//! Layout under the output directory `OUT`:
//!
//! ```text
//! OUT/<MSPID>/ca/ca.pem               self-signed CA certificate (10 years)
//! OUT/<MSPID>/ca/ca.key               its PKCS#8 key (mode 0600)
//! OUT/<MSPID>/nodes/<name>/cert.pem   node certificate (peer or orderer role)
//! OUT/<MSPID>/nodes/<name>/key.pem
//! OUT/<MSPID>/users/<name>/cert.pem   user certificate (client or admin role, ...)
//! OUT/<MSPID>/users/<name>/key.pem
//! ```
//!
//! Generation is incremental: an existing CA is loaded and reused, existing
//! identities are kept (after checking they still match the spec), and only what
//! is missing is created. Files are written to a temporary name and renamed, keys
//! before certificates, so an interrupted run leaves at worst a key without its
//! certificate, which the next run completes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cellchain_core::crypto::{default_provider, signer_from_pkcs8_pem};
use cellchain_core::identity::{Identity, IdentityError, Msp, Revocation, Role};
use rand_core::{OsRng, RngCore};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

/// Fabric CA's attribute extension; its value is raw JSON `{"attrs":{...}}`.
const ATTRIBUTES_OID: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 1];
const CA_DAYS: i64 = 3650;
/// Certificates start a little in the past so that a node whose clock lags the
/// generating machine's does not see them as not yet valid (Fabric's cryptogen
/// does the same).
const BACKDATE: Duration = Duration::minutes(5);

/// Everything to generate: the organisations of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoSpec {
    pub orgs: Vec<OrgSpec>,
}

/// One organisation: its CA and the identities it issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSpec {
    /// Directory name and MSP id (e.g. `Org1MSP`).
    pub msp_id: String,
    /// The `O=` of every certificate of the organisation.
    pub org_name: String,
    pub identities: Vec<IdentitySpec>,
}

/// Whether an identity is a node (server) or a user; decides its directory and
/// its TLS-related extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdentityKind {
    Node,
    User,
}

impl IdentityKind {
    fn dir(self) -> &'static str {
        match self {
            IdentityKind::Node => "nodes",
            IdentityKind::User => "users",
        }
    }

    fn label(self) -> &'static str {
        match self {
            IdentityKind::Node => "node",
            IdentityKind::User => "user",
        }
    }
}

/// One identity: becomes `CN=<name>, OU=<role>, O=<org name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySpec {
    pub kind: IdentityKind,
    /// Directory name and common name.
    pub name: String,
    pub role: Role,
    /// Domain attributes (e.g. `role` -> `QP`), written to the Fabric CA
    /// attribute extension.
    pub attributes: BTreeMap<String, String>,
}

/// Knobs of a run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Validity of node and user certificates, in days (capped at the CA's).
    pub leaf_days: u32,
    /// The time certificates start from (minus a small backdate) and are checked at.
    pub now: OffsetDateTime,
}

/// Whether a piece of material was made by this run or found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Kept,
}

/// One line of the run's report.
#[derive(Debug, Clone)]
pub struct Generated {
    pub msp_id: String,
    /// `ca`, `node <name>` or `user <name>`.
    pub what: String,
    /// The directory holding the files.
    pub dir: PathBuf,
    pub outcome: Outcome,
    /// Role and attributes, for identities.
    pub detail: String,
}

/// Generates whatever of `spec` is missing under `out`; returns what was kept and
/// created, CAs first within each organisation.
pub fn generate(spec: &CryptoSpec, out: &Path, opts: &Options) -> anyhow::Result<Vec<Generated>> {
    check_spec(spec)?;
    let mut report = Vec::new();
    for org in &spec.orgs {
        let org_dir = out.join(&org.msp_id);
        let (ca, outcome) = load_or_create_ca(org, &org_dir.join("ca"), opts)?;
        report.push(Generated {
            msp_id: org.msp_id.clone(),
            what: "ca".into(),
            dir: org_dir.join("ca"),
            outcome,
            detail: String::new(),
        });
        for id in &org.identities {
            let dir = org_dir.join(id.kind.dir()).join(&id.name);
            let outcome = ensure_identity(org, id, &ca, &dir, opts)
                .with_context(|| format!("{} {} of {}", id.kind.label(), id.name, org.msp_id))?;
            report.push(Generated {
                msp_id: org.msp_id.clone(),
                what: format!("{} {}", id.kind.label(), id.name),
                dir,
                outcome,
                detail: describe(id.role, &id.attributes),
            });
        }
    }
    Ok(report)
}

fn describe(role: Role, attributes: &BTreeMap<String, String>) -> String {
    if attributes.is_empty() {
        format!("role {role}")
    } else {
        let attrs: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("role {role}, attributes {}", attrs.join(" "))
    }
}

/// Refuses specs that would collide on disk or escape the output directory,
/// before anything is written.
fn check_spec(spec: &CryptoSpec) -> anyhow::Result<()> {
    let mut msp_ids = BTreeSet::new();
    for org in &spec.orgs {
        check_component("MSP id", &org.msp_id)?;
        if org.org_name.trim().is_empty() {
            bail!("organisation {} has an empty name", org.msp_id);
        }
        if !msp_ids.insert(org.msp_id.as_str()) {
            bail!(
                "MSP id {} appears twice; every organisation needs its own",
                org.msp_id
            );
        }
        let mut names = BTreeSet::new();
        for id in &org.identities {
            check_component(&format!("{} name", id.kind.label()), &id.name)?;
            if !names.insert((id.kind, id.name.as_str())) {
                bail!(
                    "{} {} appears twice in {}; give each a distinct name",
                    id.kind.label(),
                    id.name,
                    org.msp_id
                );
            }
        }
    }
    Ok(())
}

/// Names become directory names: keep them to a portable, unsurprising set.
fn check_component(what: &str, name: &str) -> anyhow::Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if name.is_empty() || name.starts_with('.') || !name.chars().all(ok_char) {
        bail!(
            "{what} {name:?} is not usable as a directory name: use letters, digits, '.', '_', \
             '-' and '@', not starting with '.'"
        );
    }
    Ok(())
}

/// An organisation's CA, ready to issue: the issuer object rcgen signs with,
/// its key, the on-disk PEM and the MSP built from it.
struct LoadedCa {
    issuer: rcgen::Certificate,
    key: KeyPair,
    not_after: OffsetDateTime,
    msp: Msp,
    cert_path: PathBuf,
    key_path: PathBuf,
}

fn load_or_create_ca(
    org: &OrgSpec,
    dir: &Path,
    opts: &Options,
) -> anyhow::Result<(LoadedCa, Outcome)> {
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca.key");
    let (key, outcome) = match (cert_path.exists(), key_path.exists()) {
        (true, true) => (read_key(&key_path)?, Outcome::Kept),
        (true, false) => bail!(
            "{} exists but its key {} is missing: restore the key, or delete {} to start a new \
             CA (every identity of {} must then be reissued)",
            cert_path.display(),
            key_path.display(),
            dir.display(),
            org.msp_id
        ),
        // A key without a certificate is what an interrupted run leaves.
        (false, true) => (read_key(&key_path)?, Outcome::Created),
        (false, false) => {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            write_file(&key_path, &key.serialize_pem(), true)?;
            (key, Outcome::Created)
        }
    };

    let (issuer, pem) = if outcome == Outcome::Kept {
        let pem = read_text(&cert_path)?;
        // rcgen needs a Certificate to sign with; re-signing the parsed CA params
        // gives one with the same name and key identifier. Only its params are
        // used: the file on disk stays the CA certificate.
        let params = CertificateParams::from_ca_cert_pem(&pem).with_context(|| {
            format!(
                "{} is not a CA certificate rcgen can use",
                cert_path.display()
            )
        })?;
        (params.self_signed(&key)?, pem)
    } else {
        let cert = ca_params(org, opts)?.self_signed(&key)?;
        let pem = cert.pem();
        write_file(&cert_path, &pem, false)?;
        (cert, pem)
    };
    let msp = Msp::new(&org.msp_id, &[pem], &Revocation::default())
        .with_context(|| format!("the CA in {} is not usable", cert_path.display()))?;
    let not_after = issuer.params().not_after;
    Ok((
        LoadedCa {
            issuer,
            key,
            not_after,
            msp,
            cert_path,
            key_path,
        },
        outcome,
    ))
}

fn ca_params(org: &OrgSpec, opts: &Options) -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::default();
    // The default name already holds a placeholder CN; start empty so the order is
    // O then CN (displayed CN=...,O=...).
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name
        .push(DnType::OrganizationName, org.org_name.as_str());
    p.distinguished_name.push(
        DnType::CommonName,
        format!("ca.{}", domain_label(&org.org_name, &org.msp_id)),
    );
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.serial_number = Some(random_serial());
    p.not_before = opts.now - BACKDATE;
    p.not_after = opts.now + Duration::days(CA_DAYS);
    Ok(p)
}

/// A DNS-label-like form of the organisation name for the CA's CN
/// ("Hospital One" -> "hospital-one").
fn domain_label(org_name: &str, msp_id: &str) -> String {
    let mut label = String::new();
    for c in org_name.chars() {
        if c.is_ascii_alphanumeric() {
            label.push(c.to_ascii_lowercase());
        } else if !label.is_empty() && !label.ends_with('-') {
            label.push('-');
        }
    }
    let label = label.trim_end_matches('-');
    if label.is_empty() {
        msp_id.to_ascii_lowercase()
    } else {
        label.to_string()
    }
}

/// Makes sure `dir` holds a valid key and certificate for `id`.
fn ensure_identity(
    org: &OrgSpec,
    id: &IdentitySpec,
    ca: &LoadedCa,
    dir: &Path,
    opts: &Options,
) -> anyhow::Result<Outcome> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let now = opts.now.unix_timestamp();
    let key = match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            check_kept(id, ca, &cert_path, &key_path, dir, now)?;
            return Ok(Outcome::Kept);
        }
        (true, false) => bail!(
            "{} exists but {} is missing: a certificate without its key cannot sign; delete {} \
             to reissue",
            cert_path.display(),
            key_path.display(),
            dir.display()
        ),
        (false, true) => read_key(&key_path)?,
        (false, false) => {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            write_file(&key_path, &key.serialize_pem(), true)?;
            key
        }
    };
    let pem = leaf_params(org, id, ca, opts)?
        .signed_by(&key, &ca.issuer, &ca.key)?
        .pem();
    // Check with the nodes' own rules before writing anything they would refuse.
    match ca.msp.validate(&pem, now) {
        Ok(_) => {}
        Err(IdentityError::BadSignature { .. }) => bail!(
            "{} does not match {}: the CA key was replaced; restore the matching key or delete \
             the CA directory and reissue the organisation",
            ca.key_path.display(),
            ca.cert_path.display()
        ),
        Err(e) => bail!("the certificate made for {} fails validation: {e}", id.name),
    }
    write_file(&cert_path, &pem, false)?;
    Ok(Outcome::Created)
}

fn leaf_params(
    org: &OrgSpec,
    id: &IdentitySpec,
    ca: &LoadedCa,
    opts: &Options,
) -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name
        .push(DnType::OrganizationName, org.org_name.as_str());
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, id.role.as_str());
    p.distinguished_name
        .push(DnType::CommonName, id.name.as_str());
    p.serial_number = Some(random_serial());
    p.not_before = opts.now - BACKDATE;
    p.not_after = (opts.now + Duration::days(i64::from(opts.leaf_days))).min(ca.not_after);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    match id.kind {
        IdentityKind::Node => {
            // Nodes will also serve TLS on loopback in tests and local networks.
            p.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            p.subject_alt_names = vec![
                SanType::DnsName("localhost".try_into()?),
                SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ];
        }
        IdentityKind::User => p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth],
    }
    if !id.attributes.is_empty() {
        let json = serde_json::to_vec(&serde_json::json!({ "attrs": id.attributes }))?;
        p.custom_extensions = vec![CustomExtension::from_oid_content(ATTRIBUTES_OID, json)];
    }
    Ok(p)
}

/// An existing identity is kept only if it is still valid under its CA, carries
/// the role and attributes the spec asks for, and its key matches; anything else
/// would surface later as a confusing authorisation failure on a node.
fn check_kept(
    id: &IdentitySpec,
    ca: &LoadedCa,
    cert_path: &Path,
    key_path: &Path,
    dir: &Path,
    now: i64,
) -> anyhow::Result<()> {
    let reissue = format!("delete {} to reissue it", dir.display());
    let identity: Identity = ca.msp.validate(&read_text(cert_path)?, now).map_err(|e| {
        anyhow::anyhow!(
            "existing {} is not valid: {e}; {reissue}",
            cert_path.display()
        )
    })?;
    if identity.role != id.role {
        bail!(
            "existing {} has role {} but the config says {}; {reissue}",
            cert_path.display(),
            identity.role,
            id.role
        );
    }
    if identity.attributes != id.attributes {
        bail!(
            "existing {} has attributes {:?} but the config says {:?}; {reissue}",
            cert_path.display(),
            identity.attributes,
            id.attributes
        );
    }
    // Load the key the way nodes will, which also proves they can.
    let signer = signer_from_pkcs8_pem(default_provider(), &read_text(key_path)?)
        .with_context(|| format!("{} is not a usable key", key_path.display()))?;
    if signer.public_key() != identity.public_key {
        bail!(
            "{} does not match {}; {reissue}",
            key_path.display(),
            cert_path.display()
        );
    }
    Ok(())
}

/// 128 random bits, positive (top bit clear) as RFC 5280 requires.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_key(path: &Path) -> anyhow::Result<KeyPair> {
    KeyPair::from_pem(&read_text(path)?)
        .with_context(|| format!("{} is not a PKCS#8 PEM private key", path.display()))
}

/// Writes via a temporary file and a rename, so a reader (or a rerun) never sees
/// half a file; private files are created with mode 0600 from the start.
fn write_file(path: &Path, contents: &str, private: bool) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    #[cfg(unix)]
    if private {
        // A temporary file left by a crashed run keeps its old mode on open.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CryptoSpec {
        CryptoSpec {
            orgs: vec![OrgSpec {
                msp_id: "Org1MSP".into(),
                org_name: "Hospital One".into(),
                identities: vec![
                    IdentitySpec {
                        kind: IdentityKind::Node,
                        name: "peer0".into(),
                        role: Role::Peer,
                        attributes: BTreeMap::new(),
                    },
                    IdentitySpec {
                        kind: IdentityKind::User,
                        name: "qp1".into(),
                        role: Role::Client,
                        attributes: [("role".to_string(), "QP".to_string())].into(),
                    },
                ],
            }],
        }
    }

    fn opts() -> Options {
        Options {
            leaf_days: 730,
            now: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn domain_label_is_dns_like() {
        assert_eq!(domain_label("Hospital One", "X"), "hospital-one");
        assert_eq!(domain_label("  A & B, Inc. ", "X"), "a-b-inc");
        assert_eq!(domain_label("***", "Org9MSP"), "org9msp");
    }

    #[test]
    fn names_must_be_safe_directory_names() {
        for bad in ["", "..", ".hidden", "a/b", "a b", "x\\y"] {
            assert!(check_component("node name", bad).is_err(), "{bad:?}");
        }
        for good in ["peer0", "peer0.org1.example.com", "alice@org1", "qp_1-a"] {
            assert!(check_component("node name", good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn duplicate_names_are_refused_before_writing() {
        let mut s = spec();
        let dup = s.orgs[0].identities[0].clone();
        s.orgs[0].identities.push(dup);
        let dir = tempfile::tempdir().unwrap();
        let err = generate(&s, dir.path(), &opts()).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn generated_identities_carry_role_attributes_and_capped_validity() {
        let dir = tempfile::tempdir().unwrap();
        let o = Options {
            leaf_days: 100_000,
            ..opts()
        };
        let report = generate(&spec(), dir.path(), &o).unwrap();
        assert!(report.iter().all(|g| g.outcome == Outcome::Created));
        let ca = fs::read_to_string(dir.path().join("Org1MSP/ca/ca.pem")).unwrap();
        let msp = Msp::new("Org1MSP", &[ca], &Revocation::default()).unwrap();
        let now = o.now.unix_timestamp();
        let qp = fs::read_to_string(dir.path().join("Org1MSP/users/qp1/cert.pem")).unwrap();
        let id = msp.validate(&qp, now).unwrap();
        assert_eq!(id.role, Role::Client);
        assert_eq!(id.subject, "CN=qp1,OU=client,O=Hospital One");
        assert_eq!(id.attributes.get("role").map(String::as_str), Some("QP"));
        // 100000 days is past the CA's 10 years: capped to the CA's notAfter.
        assert!(id.not_after <= now + CA_DAYS * 86_400);
    }

    #[test]
    fn interrupted_run_with_only_a_key_is_completed_with_that_key() {
        let dir = tempfile::tempdir().unwrap();
        generate(&spec(), dir.path(), &opts()).unwrap();
        let peer = dir.path().join("Org1MSP/nodes/peer0");
        let key_before = fs::read_to_string(peer.join("key.pem")).unwrap();
        fs::remove_file(peer.join("cert.pem")).unwrap();
        let report = generate(&spec(), dir.path(), &opts()).unwrap();
        let peer_line = report.iter().find(|g| g.what == "node peer0").unwrap();
        assert_eq!(peer_line.outcome, Outcome::Created);
        assert_eq!(
            fs::read_to_string(peer.join("key.pem")).unwrap(),
            key_before
        );
    }

    #[test]
    fn certificate_without_key_is_an_error_with_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        generate(&spec(), dir.path(), &opts()).unwrap();
        fs::remove_file(dir.path().join("Org1MSP/ca/ca.key")).unwrap();
        let err = generate(&spec(), dir.path(), &opts()).unwrap_err();
        assert!(err.to_string().contains("restore the key"), "{err}");
    }
}
