//! `cellchain crypto generate`: the CAs, keys and certificates of a network,
//! from its configuration file, ready for the nodes and clients to load.
//!
//! The generation itself (and the directory layout) lives in [`crate::cryptogen`];
//! this module reads the config into a [`CryptoSpec`] and prints the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cellchain_core::config::NetworkConfig;
use cellchain_core::identity::Role;
use time::OffsetDateTime;

use crate::cryptogen::{self, CryptoSpec, IdentityKind, IdentitySpec, OrgSpec, Outcome};

#[derive(clap::Subcommand)]
pub enum CryptoCommand {
    /// Create the CAs and identities of a network, or complete an existing output
    /// directory (existing CAs and identities are kept).
    Generate(GenerateArgs),
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Network YAML listing the organisations, their nodes and users.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Output directory: OUT/<MSPID>/ca, OUT/<MSPID>/nodes/<name>, OUT/<MSPID>/users/<name>.
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Validity of node and user certificates, in days (never beyond the CA's).
    #[arg(long, value_name = "N", default_value_t = 730,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    days: u32,
}

pub fn run(cmd: CryptoCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CryptoCommand::Generate(args) => generate(&args),
    }
}

fn generate(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let spec = spec_from_config(&args.config)?;
    let options = cryptogen::Options {
        leaf_days: args.days,
        now: OffsetDateTime::now_utc(),
    };
    let report = cryptogen::generate(&spec, &args.output, &options)?;

    let width = report.iter().map(|g| g.what.len()).max().unwrap_or(0);
    for g in &report {
        let outcome = match g.outcome {
            Outcome::Created => "created",
            Outcome::Kept => "kept   ",
        };
        let detail = if g.detail.is_empty() {
            String::new()
        } else {
            format!("  ({})", g.detail)
        };
        println!(
            "{outcome}  {:<10} {:<width$}  {}{detail}",
            g.msp_id,
            g.what,
            g.dir.display()
        );
    }
    let created = report
        .iter()
        .filter(|g| g.outcome == Outcome::Created)
        .count();
    println!(
        "{} CA(s) and {} identities under {}: {created} created, {} kept",
        spec.orgs.len(),
        report.len() - spec.orgs.len(),
        args.output.display(),
        report.len() - created,
    );
    println!(
        "layout: <MSPID>/ca/{{ca.pem,ca.key}}, <MSPID>/nodes/<name>/{{cert.pem,key.pem}}, \
         <MSPID>/users/<name>/{{cert.pem,key.pem}}; keys are PKCS#8 PEM, mode 0600"
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads the network file (validated as a whole by [`NetworkConfig::from_yaml`])
/// into the list of identities to issue: each organisation's endorser and committer
/// nodes (role peer) and users, and each orderer node (role orderer) in the
/// organisation that runs it.
pub(crate) fn spec_from_config(path: &Path) -> anyhow::Result<CryptoSpec> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let net = NetworkConfig::from_yaml(&text).with_context(|| format!("in {}", path.display()))?;
    let mut orgs = Vec::new();
    for org in &net.organizations {
        let mut identities: Vec<IdentitySpec> = org
            .nodes
            .iter()
            .map(|n| IdentitySpec {
                kind: IdentityKind::Node,
                name: n.name.clone(),
                role: Role::Peer,
                attributes: BTreeMap::new(),
            })
            .collect();
        identities.extend(
            net.orderers
                .iter()
                .filter(|o| o.org == org.msp_id)
                .map(|o| IdentitySpec {
                    kind: IdentityKind::Node,
                    name: o.name.clone(),
                    role: Role::Orderer,
                    attributes: BTreeMap::new(),
                }),
        );
        identities.extend(org.users.iter().map(|u| IdentitySpec {
            kind: IdentityKind::User,
            name: u.name.clone(),
            role: u.role,
            attributes: u.attributes.clone(),
        }));
        orgs.push(OrgSpec {
            msp_id: org.msp_id.clone(),
            org_name: org.name.clone(),
            identities,
        });
    }
    Ok(CryptoSpec { orgs })
}
