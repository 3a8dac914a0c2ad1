//! `cellchain policy ...`: try endorsement and channel policies by hand.
//!
//! `eval` answers "would these signers satisfy this policy?" exactly as a
//! committer would; `check` parses a policy, prints its canonical form and, given
//! the channel's organisations, refuses names outside it. Exit codes: 0 yes /
//! valid, 1 not satisfied, 2 a malformed policy or argument.

use std::io::Write;
use std::process::ExitCode;

use cellchain_core::identity::Role;
use cellchain_core::policy::{Policy, PolicyParseError, SignaturePolicy, SignerRef};

#[derive(clap::Subcommand)]
pub enum PolicyCommand {
    /// Evaluate a signature policy against a set of signers.
    ///
    /// Prints `satisfied` (exit 0) or `not satisfied` (exit 1).
    Eval {
        /// The policy, e.g. "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')".
        #[arg(long)]
        policy: String,
        /// The signers, comma-separated, each `MSPID.role` with role client, peer,
        /// admin or orderer; each one is a distinct identity.
        #[arg(long, value_delimiter = ',', default_value = "")]
        signers: Vec<String>,
        /// When satisfied, show which signer stands for which principal.
        #[arg(long)]
        explain: bool,
    },
    /// Parse a policy and print its canonical form.
    Check {
        /// The policy: signature (`AND('Org1MSP.peer', ...)`) or implicit meta
        /// (`MAJORITY Admins`).
        #[arg(long)]
        policy: String,
        /// The channel's organisations (MSP ids, comma-separated): refuse a policy
        /// naming any other.
        #[arg(long, value_delimiter = ',')]
        orgs: Option<Vec<String>>,
    },
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Eval {
            policy,
            signers,
            explain,
        } => eval(&policy, &signers, explain),
        PolicyCommand::Check { policy, orgs } => check(&policy, orgs.as_deref()),
    }
}

fn eval(text: &str, signer_args: &[String], explain: bool) -> anyhow::Result<ExitCode> {
    let policy = match SignaturePolicy::parse(text) {
        Ok(p) => p,
        Err(e) => {
            // A channel-level policy is not evaluated against signers directly.
            if let Ok(Policy::ImplicitMeta(meta)) = Policy::parse(text) {
                eprintln!(
                    "error: {meta} is an implicit meta policy: it combines the organisations' \
                     own {} policies and cannot be evaluated against signers; evaluate each \
                     organisation's policy instead",
                    meta.sub_policy
                );
                return Ok(ExitCode::from(2));
            }
            return Ok(malformed(text, &e));
        }
    };

    let mut signers: Vec<(String, Role)> = Vec::new();
    for arg in signer_args
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        match parse_signer(arg) {
            Ok(signer) => signers.push(signer),
            Err(msg) => {
                eprintln!("error: signer {arg:?}: {msg}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let refs: Vec<SignerRef<'_>> = signers.iter().map(|(o, r)| SignerRef::new(o, *r)).collect();

    let satisfied = match policy.try_evaluate(&refs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut out = std::io::stdout().lock();
    if !satisfied {
        writeln!(out, "not satisfied")?;
        return Ok(ExitCode::from(1));
    }
    writeln!(out, "satisfied")?;
    if explain {
        if let Some(assignment) = policy.assignment(&refs)? {
            for a in assignment {
                let (org, role) = &signers[a.signer];
                writeln!(
                    out,
                    "  '{}' (principal {}) <- signer {} ({org}.{role})",
                    a.principal,
                    a.leaf + 1,
                    a.signer + 1
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(text: &str, orgs: Option<&[String]>) -> anyhow::Result<ExitCode> {
    let policy = match Policy::parse(text) {
        Ok(p) => p,
        Err(e) => return Ok(malformed(text, &e)),
    };
    if let (Policy::Signature(p), Some(orgs)) = (&policy, orgs) {
        let known = |id: &str| orgs.iter().any(|o| o.trim() == id);
        if let Err(e) = p.check_organizations(known) {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    }
    println!("{policy}");
    Ok(ExitCode::SUCCESS)
}

/// `Org1MSP.peer` as an organisation and node role (split at the last dot).
fn parse_signer(arg: &str) -> Result<(String, Role), String> {
    let Some((org, role)) = arg.rsplit_once('.') else {
        return Err("expected MSPID.role, like Org1MSP.peer".into());
    };
    if org.is_empty() {
        return Err("the MSP id before the dot is empty".into());
    }
    if role == "member" {
        return Err(
            "member is not a signer role: a signer is a client, peer, admin or orderer \
                    (each of which counts as a member)"
                .into(),
        );
    }
    let role: Role = role.parse()?;
    Ok((org.to_string(), role))
}

/// Prints a parse error with a caret under the spot; exit code 2.
fn malformed(text: &str, e: &PolicyParseError) -> ExitCode {
    eprintln!("error: invalid policy {e}");
    for line in e.render(text).lines() {
        eprintln!("  {line}");
    }
    ExitCode::from(2)
}
