//! `cellchain identity verify`: checks a certificate exactly as the nodes do (the
//! endorser for proposal creators, the committer for endorsers, the orderer for
//! consenters and writers), so an operator can see why a node would refuse it.
//!
//! Exit codes: 0 valid, 1 invalid (`invalid: <reason>` on stdout), 2 when the
//! inputs cannot be read or the CA/CRL material itself is unusable.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use cellchain_core::identity::{Identity, Msp, Revocation};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(clap::Subcommand)]
pub enum IdentityCommand {
    /// Validate a certificate against an organisation's CA(s): signature chain,
    /// validity, revocation, P-256 key, role OU and attributes.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// CA certificate file (PEM; may hold a root and its intermediates). Repeatable.
    #[arg(long = "ca", value_name = "CA.pem", required = true)]
    ca: Vec<PathBuf>,
    /// The certificate to check (PEM).
    #[arg(long, value_name = "CERT.pem")]
    cert: PathBuf,
    /// MSP id to report. Defaults to the directory above `ca/` when the CA comes from
    /// `cellchain crypto generate` (OUT/<MSPID>/ca/ca.pem), else DEFAULT.
    #[arg(long, value_name = "ID")]
    msp_id: Option<String>,
    /// A CRL (PEM) signed by one of the CAs. Repeatable.
    #[arg(long = "crl", value_name = "CRL.pem")]
    crl: Vec<PathBuf>,
    /// A revoked serial number in hex (e.g. 1f3a or 1F:3A). Repeatable.
    #[arg(long = "revoked-serial", value_name = "HEX")]
    revoked_serial: Vec<String>,
    /// Check at this time, in seconds since the Unix epoch, instead of now.
    #[arg(long, value_name = "UNIX_SECONDS", allow_negative_numbers = true)]
    at: Option<i64>,
    /// Print the identity as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: IdentityCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IdentityCommand::Verify(args) => verify(&args),
    }
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let cas = args
        .ca
        .iter()
        .map(|p| read(p, "CA certificate"))
        .collect::<Result<Vec<_>, _>>()?;
    let crls = args
        .crl
        .iter()
        .map(|p| read(p, "CRL"))
        .collect::<Result<Vec<_>, _>>()?;
    let cert = read(&args.cert, "certificate")?;
    let msp_id = match &args.msp_id {
        Some(id) => id.clone(),
        None => msp_id_from_layout(&args.ca[0]).unwrap_or_else(|| "DEFAULT".into()),
    };
    let revocation = Revocation {
        revoked_serials: args.revoked_serial.clone(),
        crls_pem: crls,
    };
    // A bad CA or CRL is a setup problem (exit 2), not a verdict on the certificate.
    let msp =
        Msp::new(&msp_id, &cas, &revocation).context("the CA or revocation input is unusable")?;
    let now = match args.at {
        Some(t) => t,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)?
            .as_secs()
            .try_into()?,
    };
    match msp.validate(&cert, now) {
        Ok(identity) if args.json => {
            println!("{}", serde_json::to_string_pretty(&identity)?);
            Ok(ExitCode::SUCCESS)
        }
        Ok(identity) => {
            print_identity(&identity);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("invalid: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// `OUT/<MSPID>/ca/ca.pem` -> `<MSPID>`.
fn msp_id_from_layout(ca: &Path) -> Option<String> {
    let ca_dir = ca.parent()?;
    if ca_dir.file_name()? != "ca" {
        return None;
    }
    ca_dir.parent()?.file_name()?.to_str().map(str::to_string)
}

fn print_identity(id: &Identity) {
    let attributes = if id.attributes.is_empty() {
        "(none)".to_string()
    } else {
        id.attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("valid identity");
    println!("  msp id:       {}", id.msp_id);
    println!("  role:         {}", id.role);
    println!("  common name:  {}", id.common_name);
    println!("  subject:      {}", id.subject);
    println!("  attributes:   {attributes}");
    println!("  serial:       {}", id.serial);
    println!("  valid from:   {}", rfc3339(id.not_before));
    println!("  expires:      {}", rfc3339(id.not_after));
    println!("  cert sha256:  {}", id.cert_hash);
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("unix time {unix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msp_id_comes_from_the_generate_layout() {
        assert_eq!(
            msp_id_from_layout(Path::new("out/Org1MSP/ca/ca.pem")).as_deref(),
            Some("Org1MSP")
        );
        assert_eq!(msp_id_from_layout(Path::new("/etc/ssl/ca.pem")), None);
        assert_eq!(msp_id_from_layout(Path::new("ca.pem")), None);
    }

    #[test]
    fn expiry_prints_as_rfc3339_utc() {
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
