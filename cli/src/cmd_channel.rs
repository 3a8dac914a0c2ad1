//! `cellchain channel ...`: make and inspect channel genesis blocks.
//!
//! The network file says who is in a channel; the crypto directory (from
//! `cellchain crypto generate`) holds their CA certificates, the orderers'
//! certificates and the administrators' keys. `genesis` joins the two into block 0,
//! signed by an administrator of every member organisation whose key is present.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::clock::now;
use anyhow::{bail, Context};
use cellchain_core::config::{
    block_from_json, block_to_json, create_genesis_block, verify_genesis_block, ConfigSigner,
    Materials, NetworkConfig, OrgMaterial,
};
use cellchain_core::crypto::{default_provider, random_nonce, signer_from_pkcs8_pem, Signer};
use cellchain_core::identity::{Role, SerializedIdentity};

#[derive(clap::Subcommand)]
pub enum ChannelCommand {
    /// Build the signed genesis block of a channel from the network file.
    Genesis {
        /// The network file, e.g. channel-configs/atmp-network.yaml.
        #[arg(long)]
        config: PathBuf,
        /// The directory written by `cellchain crypto generate`.
        #[arg(long)]
        crypto: PathBuf,
        /// Where to write the block (JSON).
        #[arg(long)]
        output: PathBuf,
        /// Which channel of the file; defaults to the first one listed.
        #[arg(long)]
        channel: Option<String>,
        /// Replace an existing block file. A channel has exactly one genesis block:
        /// nodes that joined with the old one will refuse the new one.
        #[arg(long)]
        force: bool,
    },
    /// Verify a genesis block and print the channel it defines.
    Inspect {
        /// The genesis block file.
        #[arg(long)]
        block: PathBuf,
        /// Print the channel configuration as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ChannelCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ChannelCommand::Genesis {
            config,
            crypto,
            output,
            channel,
            force,
        } => {
            if output.exists() && !force {
                bail!(
                    "{} already exists: a channel has one genesis block, and nodes that joined \
                     with it refuse another (pass --force to replace it anyway)",
                    output.display()
                );
            }
            genesis(&config, &crypto, &output, channel.as_deref())
        }
        ChannelCommand::Inspect { block, json } => inspect(&block, json),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Loads the certificates a channel configuration needs: CA certificates from the
/// network file's `ca_certs` (relative to it) or else from the crypto directory,
/// CRL files, and each orderer's certificate.
fn load_materials(net: &NetworkConfig, base: &Path, crypto: &Path) -> anyhow::Result<Materials> {
    let mut m = Materials::default();
    for org in &net.organizations {
        let ca_paths: Vec<PathBuf> = if org.ca_certs.is_empty() {
            vec![crypto.join(&org.msp_id).join("ca").join("ca.pem")]
        } else {
            org.ca_certs.iter().map(|p| base.join(p)).collect()
        };
        let mut om = OrgMaterial::default();
        for p in ca_paths {
            om.ca_certs
                .push(read(&p).with_context(|| format!("CA certificate of {}", org.msp_id))?);
        }
        for p in &org.revocation.crls {
            om.crls
                .push(read(&base.join(p)).with_context(|| format!("CRL of {}", org.msp_id))?);
        }
        m.orgs.insert(org.msp_id.clone(), om);
    }
    for o in &net.orderers {
        let p = crypto
            .join(&o.org)
            .join("nodes")
            .join(&o.name)
            .join("cert.pem");
        m.orderer_certs.insert(
            o.name.clone(),
            read(&p).with_context(|| format!("certificate of orderer {}", o.name))?,
        );
    }
    Ok(m)
}

pub(crate) fn genesis(
    config: &Path,
    crypto: &Path,
    output: &Path,
    channel: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let net = NetworkConfig::from_yaml(&read(config)?)
        .with_context(|| format!("in {}", config.display()))?;
    let channel = channel.unwrap_or(&net.channels[0].name).to_string();
    let base = config.parent().unwrap_or(Path::new("."));
    let materials = load_materials(&net, base, crypto)?;
    let (now_secs, ts) = now();
    let cfg = net.channel_config(&channel, &materials, now_secs)?;

    // One administrator per member organisation signs, where its key is present.
    let mut admins: Vec<(SerializedIdentity, Box<dyn Signer>, String)> = Vec::new();
    let ch = net.channel(&channel).expect("channel_config found it");
    for msp_id in &ch.organizations {
        let org = net.organization(msp_id).expect("validated");
        let Some(user) = org.users.iter().find(|u| u.role == Role::Admin) else {
            eprintln!("note: {msp_id} has no admin user in the network file; it does not sign");
            continue;
        };
        let dir = crypto.join(msp_id).join("users").join(&user.name);
        let key_path = dir.join("key.pem");
        if !key_path.exists() {
            eprintln!(
                "note: no key for {msp_id} admin {} at {}; it does not sign",
                user.name,
                key_path.display()
            );
            continue;
        }
        let cert = read(&dir.join("cert.pem"))?;
        let signer = signer_from_pkcs8_pem(default_provider(), &read(&key_path)?)
            .with_context(|| format!("key of {msp_id} admin at {}", key_path.display()))?;
        admins.push((
            SerializedIdentity {
                msp_id: msp_id.clone(),
                cert,
            },
            signer,
            format!("{msp_id}/{}", user.name),
        ));
    }
    if admins.is_empty() {
        bail!(
            "no administrator keys found under {}: run `cellchain crypto generate` first",
            crypto.display()
        );
    }
    let signers: Vec<ConfigSigner> = admins
        .iter()
        .map(|(id, s, _)| ConfigSigner {
            identity: id.clone(),
            signer: s.as_ref(),
        })
        .collect();
    let block = create_genesis_block(&cfg, &signers, default_provider(), ts, random_nonce())?;

    write_atomically(output, &block_to_json(&block))?;
    println!(
        "channel {channel}: genesis block written to {}",
        output.display()
    );
    println!("  block hash   {}", block.hash());
    println!("  members      {}", ch.organizations.join(", "));
    println!(
        "  consenters   {}",
        cfg.orderer
            .consenters
            .iter()
            .map(|c| format!("{} ({})", c.name, c.endpoint))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  signed by    {}",
        admins
            .iter()
            .map(|a| a.2.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes to a temporary file beside the target, syncs it, then renames: a crash
/// leaves either the old file or the new one, never half a block.
fn write_atomically(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f =
        fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn inspect(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let block =
        block_from_json(&bytes).with_context(|| format!("{} is not a block", path.display()))?;
    let cfg = match verify_genesis_block(&block, default_provider()) {
        Ok(c) => c,
        Err(e) => {
            println!("invalid: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("channel {} (genesis block valid)", cfg.channel_id);
    println!("  block hash  {}", block.hash());
    println!("  organizations:");
    for o in &cfg.organizations {
        println!(
            "    {:<14} {}{}",
            o.msp_id,
            o.name,
            if o.read_only { " (read-only)" } else { "" }
        );
    }
    println!("  consenters:");
    for c in &cfg.orderer.consenters {
        println!(
            "    {} {:<10} {:<14} {}",
            c.id, c.name, c.msp_id, c.endpoint
        );
    }
    let b = &cfg.orderer.batch;
    println!(
        "  batch       {} messages, {} preferred, {} absolute, timeout {}",
        b.max_message_count, b.preferred_max_bytes, b.absolute_max_bytes, b.batch_timeout
    );
    println!("  policies:");
    for (name, p) in cfg.policies.iter() {
        println!("    {name:<20} {p}");
    }
    Ok(ExitCode::SUCCESS)
}
