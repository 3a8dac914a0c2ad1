//! The config file of each node (the formats of `orderer/src/config.rs`,
//! `committer/src/config.rs` and `endorser/src/config.rs`) and the SDK's
//! connection profile. Paths in node configs are relative to the node's
//! directory, so DIR can be moved while the network is down.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::state::{Kind, Node};

/// `../` once per component of the node's home below DIR.
fn up_to_dir(node: &Node) -> String {
    "../".repeat(node.home_rel().components().count())
}

/// Quotes a string for YAML (JSON strings are YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn blocks(node: &Node, up: &str) -> String {
    let list: Vec<String> = node
        .channels
        .iter()
        .map(|c| q(&format!("{up}{c}.block")))
        .collect();
    format!("[{}]", list.join(", "))
}

/// The config text of `node`, given every node of the network. Chaincode
/// definitions come from the ledger and modules are installed through the
/// lifecycle, so no config names either.
pub fn node_config(node: &Node, all: &[Node]) -> String {
    let up = up_to_dir(node);
    let mut y = String::new();
    let crypto = format!("{up}crypto/{}/nodes/{}", node.org, node.identity);
    let _ = writeln!(
        y,
        "# Written by `cellchain network up` on every start; edits are overwritten."
    );
    let _ = writeln!(y, "name: {}", q(&node.name));
    let _ = writeln!(y, "listen: {}", q(&node.address()));
    let _ = writeln!(y, "data_dir: data");
    let _ = writeln!(y, "msp_id: {}", q(&node.org));
    let _ = writeln!(y, "cert: {}", q(&format!("{crypto}/cert.pem")));
    let _ = writeln!(y, "key: {}", q(&format!("{crypto}/key.pem")));
    let _ = writeln!(y, "genesis_blocks: {}", blocks(node, &up));
    match node.kind {
        Kind::Orderer => {}
        Kind::Committer => {
            // Our organisation's endorsers first, then those of organisations
            // sharing a channel with us.
            let mut sources: Vec<&Node> = all
                .iter()
                .filter(|n| n.kind == Kind::Endorser && n.org == node.org)
                .collect();
            sources.extend(all.iter().filter(|n| {
                n.kind == Kind::Endorser
                    && n.org != node.org
                    && n.channels.iter().any(|c| node.channels.contains(c))
            }));
            let list: Vec<String> = sources.iter().map(|n| q(&n.address())).collect();
            let _ = writeln!(y, "private_data_sources: [{}]", list.join(", "));
        }
        Kind::Endorser => {
            let committer = all
                .iter()
                .find(|n| n.kind == Kind::Committer && n.org == node.org)
                .expect("state::plan checked every endorser has a committer");
            let _ = writeln!(y, "committer: {}", q(&committer.address()));
        }
    }
    y
}

/// Writes every node's config (creating its home); returns the paths.
pub fn write_all(dir: &Path, nodes: &[Node]) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for n in nodes {
        let home = n.home(dir);
        fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;
        let path = n.config(dir);
        let text = node_config(n, nodes);
        if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// The connection profile (`sdk/src/profile.rs`): endorsers and committers per
/// organisation and the orderers. Chaincode endorsement policies are not in it:
/// the SDK reads them from the ledger (`_lifecycle`).
pub fn connection_profile(name: &str, nodes: &[Node]) -> String {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Written by `cellchain network up`: the SDK's connection profile."
    );
    let _ = writeln!(y, "name: {}", q(name));
    let _ = writeln!(y, "organizations:");
    let mut orgs: Vec<&str> = Vec::new();
    for n in nodes.iter().filter(|n| n.kind != Kind::Orderer) {
        if !orgs.contains(&n.org.as_str()) {
            orgs.push(&n.org);
        }
    }
    for org in orgs {
        let _ = writeln!(y, "  - msp_id: {}", q(org));
        for (kind, key) in [
            (Kind::Endorser, "endorsers"),
            (Kind::Committer, "committers"),
        ] {
            let list: Vec<String> = nodes
                .iter()
                .filter(|n| n.kind == kind && n.org == org)
                .map(|n| format!("{{ name: {}, address: {} }}", q(&n.name), q(&n.address())))
                .collect();
            let _ = writeln!(y, "    {key}: [{}]", list.join(", "));
        }
    }
    let orderers: Vec<String> = nodes
        .iter()
        .filter(|n| n.kind == Kind::Orderer)
        .map(|n| q(&n.address()))
        .collect();
    let _ = writeln!(y, "orderers: [{}]", orderers.join(", "));
    y
}
