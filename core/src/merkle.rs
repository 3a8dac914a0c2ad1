//! Merkle trees over a block's envelopes (RFC 6962 / Certificate Transparency).
//!
//! A block header commits to its transactions through this root, so the inclusion of
//! one transaction can be proven to someone holding only the (signed) header: an
//! auditor checking a single chain-of-custody record thirty years from now does not
//! need the whole block. Leaves and inner nodes are hashed with different prefixes
//! (0x00 and 0x01), so an inner node can never pass for a leaf.

use serde::{Deserialize, Serialize};

use crate::bytes::{sha256, sha256_parts, Hash32};

const LEAF: &[u8] = &[0x00];
const NODE: &[u8] = &[0x01];

/// Hash of one leaf's data.
pub fn leaf_hash(data: &[u8]) -> Hash32 {
    sha256_parts(&[LEAF, data])
}

fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    sha256_parts(&[NODE, &left.0, &right.0])
}

/// The largest power of two strictly below `n` (n >= 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The Merkle root over already-hashed leaves. The empty tree's root is SHA-256 of
/// nothing, as in RFC 6962.
pub fn root(leaves: &[Hash32]) -> Hash32 {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Proof that leaf `index` is in a tree of `tree_size` leaves with a given root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash32>,
}

/// Builds the inclusion proof of `leaves[index]`; `None` if out of range.
pub fn prove(leaves: &[Hash32], index: usize) -> Option<InclusionProof> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    audit_path(leaves, index, &mut path);
    Some(InclusionProof {
        index: index as u64,
        tree_size: leaves.len() as u64,
        path,
    })
}

fn audit_path(leaves: &[Hash32], index: usize, out: &mut Vec<Hash32>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        audit_path(&leaves[..k], index, out);
        out.push(root(&leaves[k..]));
    } else {
        audit_path(&leaves[k..], index - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` sits at `proof.index` of the tree whose root is `expected_root`
/// (RFC 9162, section 2.1.3.2).
pub fn verify(leaf: &Hash32, proof: &InclusionProof, expected_root: &Hash32) -> bool {
    if proof.index >= proof.tree_size {
        return false;
    }
    let (mut fnode, mut snode) = (proof.index, proof.tree_size - 1);
    let mut r = *leaf;
    for p in &proof.path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *expected_root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash32> {
        (0..n)
            .map(|i| leaf_hash(format!("tx{i}").as_bytes()))
            .collect()
    }

    #[test]
    fn empty_and_single_leaf_roots() {
        assert_eq!(
            root(&[]).to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let l = leaves(1);
        assert_eq!(root(&l), l[0]);
    }

    #[test]
    fn rfc6962_shape_for_three_leaves() {
        let l = leaves(3);
        let expected = node_hash(&node_hash(&l[0], &l[1]), &l[2]);
        assert_eq!(root(&l), expected);
    }

    #[test]
    fn every_leaf_of_every_size_up_to_40_proves_inclusion() {
        for n in 1..=40 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = prove(&l, i).unwrap();
                assert!(verify(&l[i], &p, &r), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn proof_fails_for_another_leaf_index_or_root() {
        let l = leaves(7);
        let r = root(&l);
        let p = prove(&l, 3).unwrap();
        assert!(!verify(&l[4], &p, &r), "wrong leaf");
        let mut moved = p.clone();
        moved.index = 2;
        assert!(!verify(&l[3], &moved, &r), "wrong index");
        assert!(!verify(&l[3], &p, &leaf_hash(b"other")), "wrong root");
        let mut short = p.clone();
        short.path.pop();
        assert!(!verify(&l[3], &short, &r), "truncated path");
        let mut out = p;
        out.index = 7;
        assert!(!verify(&l[3], &out, &r), "index beyond the tree");
        assert!(prove(&l, 7).is_none());
    }

    #[test]
    fn changing_any_leaf_changes_the_root() {
        let l = leaves(9);
        let r = root(&l);
        for i in 0..9 {
            let mut m = l.clone();
            m[i] = leaf_hash(b"tampered");
            assert_ne!(root(&m), r);
        }
    }
}
