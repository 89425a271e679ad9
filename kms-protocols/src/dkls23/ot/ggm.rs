//! All-but-one OT from 4 base OTs per block: a punctured GGM tree of depth 4 (16
//! leaves), as SoftSpokenOT uses it. See docs/dkls23.md §2.
//!
//! The tree's owner (the OT-extension receiver, Bob) knows all 16 leaves; the other
//! side (Alice) learns the 15 leaves other than her secret index `α`. Bob also commits
//! to every leaf, and Alice checks the 15 she derives: a tree built inconsistently (so
//! that Alice's leaves would depend on α) is caught here, at setup.

use crate::dkls23::hash::{ct_eq, Tagged};
use zeroize::Zeroize;

/// Tree depth (SoftSpokenOT's k).
pub const DEPTH: usize = 4;
/// Leaves per tree.
pub const LEAVES: usize = 1 << DEPTH;

/// One 32-byte seed.
pub type Seed = [u8; 32];

fn child(sid: &[u8; 32], block: u16, depth: usize, index: usize, node: &Seed, bit: u8) -> Seed {
    Tagged::new("ggm-node")
        .item(sid)
        .u64(u64::from(block))
        .u64(depth as u64)
        .u64(index as u64)
        .u64(u64::from(bit))
        .item(node)
        .finish()
}

/// The commitment to leaf `x`.
pub fn leaf_hash(sid: &[u8; 32], block: u16, x: usize, leaf: &Seed) -> [u8; 32] {
    Tagged::new("ggm-leaf")
        .item(sid)
        .u64(u64::from(block))
        .u64(x as u64)
        .item(leaf)
        .finish()
}

fn xor(a: &mut Seed, b: &Seed) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// Bob's side of one block: from a random root and the block's 4 base-OT key pairs
/// (level d uses `keys[d - 1]`), the 16 leaves, the 4 × 2 ciphertexts and the 16 leaf
/// commitments.
pub fn build(
    sid: &[u8; 32],
    block: u16,
    root: &Seed,
    keys: &[[Seed; 2]],
) -> ([Seed; LEAVES], [[Seed; 2]; DEPTH], [[u8; 32]; LEAVES]) {
    let mut level = vec![*root];
    let mut cts = [[[0u8; 32]; 2]; DEPTH];
    for d in 1..=DEPTH {
        let mut next = Vec::with_capacity(level.len() * 2);
        for (p, node) in level.iter().enumerate() {
            next.push(child(sid, block, d, p, node, 0));
            next.push(child(sid, block, d, p, node, 1));
        }
        for (p, node) in next.iter().enumerate() {
            xor(&mut cts[d - 1][p & 1], node);
        }
        for b in 0..2 {
            xor(&mut cts[d - 1][b], &keys[d - 1][b]);
        }
        level.zeroize();
        level = next;
    }
    let mut leaves = [[0u8; 32]; LEAVES];
    leaves.copy_from_slice(&level);
    level.zeroize();
    let hashes = std::array::from_fn(|x| leaf_hash(sid, block, x, &leaves[x]));
    (leaves, cts, hashes)
}

/// Alice's base-OT choice bit for level `d` (1-based) given her punctured index: the
/// last bit of her path's sibling at that level.
pub fn choice(alpha: u8, d: usize) -> u8 {
    1 ^ ((alpha >> (DEPTH - d)) & 1)
}

/// Alice's side of one block: her chosen key per level (`keys[d - 1]`, chosen by
/// [`choice`]), Bob's ciphertexts and commitments. Returns the 16 leaves with leaf `α`
/// zeroed, or `None` if a derived leaf does not match its commitment.
pub fn puncture(
    sid: &[u8; 32],
    block: u16,
    alpha: u8,
    keys: &[Seed],
    cts: &[[Seed; 2]; DEPTH],
    hashes: &[[u8; 32]; LEAVES],
) -> Option<[Seed; LEAVES]> {
    let alpha = usize::from(alpha) % LEAVES;
    // Level 0 is unknown (the root); at each level the node on α's path stays unknown.
    let mut level: Vec<Seed> = vec![[0u8; 32]];
    for d in 1..=DEPTH {
        let path_prev = alpha >> (DEPTH + 1 - d);
        let mut next = Vec::with_capacity(level.len() * 2);
        for (p, node) in level.iter().enumerate() {
            if p == path_prev {
                next.push([0u8; 32]);
                next.push([0u8; 32]);
            } else {
                next.push(child(sid, block, d, p, node, 0));
                next.push(child(sid, block, d, p, node, 1));
            }
        }
        let path = alpha >> (DEPTH - d);
        let sibling = path ^ 1;
        let b = sibling & 1;
        let mut s = cts[d - 1][b];
        xor(&mut s, &keys[d - 1]);
        for (p, node) in next.iter().enumerate() {
            if p & 1 == b && p != sibling {
                xor(&mut s, node);
            }
        }
        next[sibling] = s;
        level.zeroize();
        level = next;
    }
    let mut leaves = [[0u8; 32]; LEAVES];
    leaves.copy_from_slice(&level);
    level.zeroize();
    let mut ok = true;
    for x in 0..LEAVES {
        let eq = ct_eq(&leaf_hash(sid, block, x, &leaves[x]), &hashes[x]);
        ok &= eq | (x == alpha);
    }
    if ok {
        Some(leaves)
    } else {
        leaves.zeroize();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alice_gets_every_leaf_but_alpha() {
        let sid = [3u8; 32];
        let keys: Vec<[Seed; 2]> = (0..DEPTH)
            .map(|d| [[d as u8; 32], [0x80 | d as u8; 32]])
            .collect();
        let (leaves, cts, hashes) = build(&sid, 5, &[9u8; 32], &keys);
        for alpha in 0..LEAVES as u8 {
            let chosen: Vec<Seed> = (1..=DEPTH)
                .map(|d| keys[d - 1][usize::from(choice(alpha, d))])
                .collect();
            let got = puncture(&sid, 5, alpha, &chosen, &cts, &hashes).unwrap();
            for x in 0..LEAVES {
                if x == usize::from(alpha) {
                    assert_eq!(got[x], [0u8; 32]);
                } else {
                    assert_eq!(got[x], leaves[x]);
                }
            }
            // A tampered ciphertext is caught by the leaf commitments.
            let mut bad = cts;
            bad[DEPTH - 1][usize::from(choice(alpha, DEPTH))][0] ^= 1;
            assert!(puncture(&sid, 5, alpha, &chosen, &bad, &hashes).is_none());
        }
    }
}
