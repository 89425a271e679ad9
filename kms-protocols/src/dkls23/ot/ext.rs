//! OT extension: SoftSpokenOT (Roy, CRYPTO 2022, eprint 2022/192) with k = 4 over the
//! punctured trees of [`super::ggm`], random choice bits, and the KOS15 consistency check
//! (Keller-Orsini-Scholl, eprint 2015/546, corrected Fig. 10) made non-interactive by
//! Fiat-Shamir. See docs/dkls23.md §3.
//!
//! Bob (receiver) sends one message; Alice (sender) checks it and both get ξ random
//! OTs: Alice the 256-bit rows `W_i` and `W_i ⊕ Δ`, Bob `β_i` and `V_i = W_i ⊕ β_i·Δ`.

use super::ggm::{Seed, LEAVES};
use crate::dkls23::gf128::Wide;
use crate::dkls23::hash::{ct_eq, Tagged};
use crate::error::Fault;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// κ: width of Δ and of each row, and base OTs per direction.
pub const KAPPA: usize = 256;
/// Blocks of k = 4 bits (one punctured tree each).
pub const BLOCKS: usize = KAPPA / super::ggm::DEPTH;
/// Random OTs delivered to the multiplication (ξ = 256 + 2s, s = 80).
pub const XI: usize = 416;
/// Rows extended: ξ plus 224 rows (≥ 128 + s) that only mask the check.
pub const XI_EXT: usize = 640;
const WORDS: usize = XI_EXT / 64;
const COL_BYTES: usize = XI_EXT / 8;
/// Bytes of Bob's corrections (blocks 1..64; block 0 defines β).
pub const CORRECTIONS_LEN: usize = (BLOCKS - 1) * COL_BYTES;

/// A 256-bit row, as four 64-bit words (bit c of the row is bit c % 64 of word c / 64).
pub type Row = [u64; 4];

/// Alice's long-lived material toward one Bob: Δ and the 15 known leaves of each tree.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SenderSetup {
    pub(crate) delta: [u8; 32],
    pub(crate) leaves: Vec<[Seed; LEAVES]>,
}

/// Bob's long-lived material toward one Alice: all 16 leaves of each tree.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ReceiverSetup {
    pub(crate) leaves: Vec<[Seed; LEAVES]>,
}

impl SenderSetup {
    /// Δ's block j (4 bits), the index Alice's tree j is punctured at.
    pub(crate) fn delta_block(delta: &[u8; 32], j: usize) -> u8 {
        (delta[j / 2] >> (4 * (j % 2))) & 15
    }
}

impl std::fmt::Debug for SenderSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SenderSetup(<redacted>)")
    }
}

impl std::fmt::Debug for ReceiverSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceiverSetup(<redacted>)")
    }
}

/// Bob's extension message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtMessage {
    /// `c_j = u_j ⊕ β` for blocks 1..64, each ξ'/8 bytes.
    pub corrections: Vec<u8>,
    /// `x = Σ χ_i·β_i` (GF(2^128), little-endian).
    pub x: [u8; 16],
    /// `t = (Σ χ_i·V_i^lo, Σ χ_i·V_i^hi)`.
    pub t: [u8; 32],
}

/// Bob's outputs for one session: the choice bits and chosen rows of the first ξ OTs.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ReceiverOutput {
    pub(crate) choices: Vec<u8>,
    pub(crate) rows: Vec<Row>,
}

/// Alice's outputs for one session: Δ and the rows `W_i` of the first ξ OTs.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SenderOutput {
    pub(crate) delta: Row,
    pub(crate) rows: Vec<Row>,
}

impl std::fmt::Debug for ReceiverOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceiverOutput(<redacted>)")
    }
}

impl std::fmt::Debug for SenderOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SenderOutput(<redacted>)")
    }
}

/// The PRG expanding leaf `x` of tree `j` for one session: ξ' bits.
fn prg(prefix: &Tagged, j: usize, x: usize, leaf: &Seed) -> [u64; WORDS] {
    let mut bytes = [0u8; 96];
    for ctr in 0..3u8 {
        let mut input = [0u8; 36];
        input[..32].copy_from_slice(leaf);
        input[32..34].copy_from_slice(&(j as u16).to_be_bytes());
        input[34] = x as u8;
        input[35] = ctr;
        let out = prefix.clone().raw_fixed(&input).finish();
        bytes[32 * usize::from(ctr)..32 * usize::from(ctr) + 32].copy_from_slice(&out);
        input.zeroize();
    }
    let mut words = [0u64; WORDS];
    for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        *w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    bytes.zeroize();
    words
}

fn prg_prefix(esid: &[u8; 32]) -> Tagged {
    let mut t = Tagged::new("cote-prg");
    t.item(esid).align();
    t
}

/// Transpose 64×64 bits in place: bit b of word a becomes bit a of word b.
fn transpose64(m: &mut [u64; 64]) {
    let mut j = 32;
    let mut mask: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        for k in 0..64 {
            if k & j == 0 {
                let t = ((m[k] >> j) ^ m[k | j]) & mask;
                m[k] ^= t << j;
                m[k | j] ^= t;
            }
        }
        j >>= 1;
        mask ^= mask << j;
    }
}

/// Columns (one per bit of Δ, ξ' bits each) to rows (ξ' of them, 256 bits each).
fn transpose(cols: &[[u64; WORDS]; KAPPA]) -> Vec<Row> {
    let mut rows = vec![[0u64; 4]; XI_EXT];
    let mut m = [0u64; 64];
    for k in 0..4 {
        for w in 0..WORDS {
            for a in 0..64 {
                m[a] = cols[64 * k + a][w];
            }
            transpose64(&mut m);
            for b in 0..64 {
                rows[64 * w + b][k] = m[b];
            }
        }
    }
    m.zeroize();
    rows
}

/// The check's challenges `χ_i`, bound to the session and Bob's corrections.
fn challenges(esid: &[u8; 32], corrections: &[u8]) -> Vec<u128> {
    let mut t = Tagged::new("cote-chi");
    t.item(esid).item(corrections).align();
    let mut out = Vec::with_capacity(XI_EXT);
    for ctr in 0..(XI_EXT / 2) as u32 {
        let d = t.clone().raw_fixed(&ctr.to_be_bytes()).finish();
        out.push(u128::from_le_bytes(d[..16].try_into().expect("16 bytes")));
        out.push(u128::from_le_bytes(d[16..].try_into().expect("16 bytes")));
    }
    out
}

fn lo(r: &Row) -> u128 {
    u128::from(r[0]) | (u128::from(r[1]) << 64)
}

fn hi(r: &Row) -> u128 {
    u128::from(r[2]) | (u128::from(r[3]) << 64)
}

fn bit(words: &[u64; WORDS], i: usize) -> u64 {
    (words[i / 64] >> (i % 64)) & 1
}

fn words_to_bytes(w: &[u64; WORDS], out: &mut Vec<u8>) {
    for x in w {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// Bob: extend for one session `esid` (unique per session and ordered pair: reusing it
/// with other choices would give Alice two corrections of the same pads).
pub fn receive(setup: &ReceiverSetup, esid: &[u8; 32]) -> (ReceiverOutput, ExtMessage) {
    let prefix = prg_prefix(esid);
    let mut cols = Box::new([[0u64; WORDS]; KAPPA]);
    let mut u = vec![[0u64; WORDS]; BLOCKS];
    for (j, tree) in setup.leaves.iter().enumerate().take(BLOCKS) {
        for (x, leaf) in tree.iter().enumerate() {
            let mut r = prg(&prefix, j, x, leaf);
            for w in 0..WORDS {
                u[j][w] ^= r[w];
            }
            for e in 0..4 {
                if (x >> e) & 1 == 1 {
                    for w in 0..WORDS {
                        cols[4 * j + e][w] ^= r[w];
                    }
                }
            }
            r.zeroize();
        }
    }
    let beta = u[0];
    let mut corrections = Vec::with_capacity(CORRECTIONS_LEN);
    for uj in u.iter().skip(1) {
        let mut c = [0u64; WORDS];
        for w in 0..WORDS {
            c[w] = uj[w] ^ beta[w];
        }
        words_to_bytes(&c, &mut corrections);
    }
    u.zeroize();
    let rows = transpose(&cols);
    cols.zeroize();
    let chi = challenges(esid, &corrections);
    let mut x = 0u128;
    let (mut t_lo, mut t_hi) = (Wide::default(), Wide::default());
    for (i, (c, row)) in chi.iter().zip(&rows).enumerate() {
        x ^= c & 0u128.wrapping_sub(u128::from(bit(&beta, i)));
        t_lo.mul_acc(*c, lo(row));
        t_hi.mul_acc(*c, hi(row));
    }
    let mut t = [0u8; 32];
    t[..16].copy_from_slice(&t_lo.reduce().to_le_bytes());
    t[16..].copy_from_slice(&t_hi.reduce().to_le_bytes());
    let choices = (0..XI).map(|i| bit(&beta, i) as u8).collect();
    let mut rows = rows;
    for r in &mut rows[XI..] {
        r.zeroize();
    }
    rows.truncate(XI);
    (
        ReceiverOutput { choices, rows },
        ExtMessage {
            corrections,
            x: x.to_le_bytes(),
            t,
        },
    )
}

/// Alice: check Bob's message for session `esid` and derive her rows. A failed check
/// or a malformed message is Bob's fault (and, for the check, a ban: see the spec).
pub fn send(setup: &SenderSetup, esid: &[u8; 32], msg: &ExtMessage) -> Result<SenderOutput, Fault> {
    if msg.corrections.len() != CORRECTIONS_LEN {
        return Err(Fault::Malformed(format!(
            "OT extension: {} correction bytes, expected {CORRECTIONS_LEN}",
            msg.corrections.len()
        )));
    }
    let prefix = prg_prefix(esid);
    let mut cols = Box::new([[0u64; WORDS]; KAPPA]);
    for (j, tree) in setup.leaves.iter().enumerate().take(BLOCKS) {
        let alpha = SenderSetup::delta_block(&setup.delta, j) as usize;
        for (x, leaf) in tree.iter().enumerate() {
            // Leaf α is unknown (zeroed); its coefficient (x ⊕ α) is 0, so it drops out.
            let mut r = prg(&prefix, j, x, leaf);
            for e in 0..4 {
                let mask = 0u64.wrapping_sub((((x ^ alpha) >> e) & 1) as u64);
                for w in 0..WORDS {
                    cols[4 * j + e][w] ^= r[w] & mask;
                }
            }
            r.zeroize();
        }
        if j >= 1 {
            let c = &msg.corrections[(j - 1) * COL_BYTES..j * COL_BYTES];
            for e in 0..4 {
                let mask = 0u64.wrapping_sub(((alpha >> e) & 1) as u64);
                for (w, chunk) in c.chunks_exact(8).enumerate() {
                    cols[4 * j + e][w] ^= u64::from_le_bytes(chunk.try_into().expect("8 bytes")) & mask;
                }
            }
        }
    }
    let mut rows = transpose(&cols);
    cols.zeroize();
    let mut delta = [0u64; 4];
    for (k, d) in delta.iter_mut().enumerate() {
        *d = u64::from_le_bytes(setup.delta[8 * k..8 * k + 8].try_into().expect("8 bytes"));
    }
    let chi = challenges(esid, &msg.corrections);
    let (mut q_lo, mut q_hi) = (Wide::default(), Wide::default());
    for (c, row) in chi.iter().zip(&rows) {
        q_lo.mul_acc(*c, lo(row));
        q_hi.mul_acc(*c, hi(row));
    }
    let x = u128::from_le_bytes(msg.x);
    let mut x_lo = Wide::default();
    x_lo.mul_acc(x, lo(&delta));
    let mut x_hi = Wide::default();
    x_hi.mul_acc(x, hi(&delta));
    let t_lo = u128::from_le_bytes(msg.t[..16].try_into().expect("16 bytes"));
    let t_hi = u128::from_le_bytes(msg.t[16..].try_into().expect("16 bytes"));
    let mut expect = [0u8; 32];
    expect[..16].copy_from_slice(&(t_lo ^ x_lo.reduce()).to_le_bytes());
    expect[16..].copy_from_slice(&(t_hi ^ x_hi.reduce()).to_le_bytes());
    let mut got = [0u8; 32];
    got[..16].copy_from_slice(&q_lo.reduce().to_le_bytes());
    got[16..].copy_from_slice(&q_hi.reduce().to_le_bytes());
    if !ct_eq(&got, &expect) {
        rows.zeroize();
        delta.zeroize();
        return Err(Fault::Ban("OT-extension consistency check failed".into()));
    }
    for r in &mut rows[XI..] {
        r.zeroize();
    }
    rows.truncate(XI);
    Ok(SenderOutput { delta, rows })
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
pub(crate) mod tests {
    use super::*;

    /// A consistent pair of setups from explicit randomness (as the setup protocol
    /// would produce; here without base OTs, to test the extension alone).
    pub(crate) fn setups(seed: u8) -> (SenderSetup, ReceiverSetup) {
        let leaves: Vec<[Seed; LEAVES]> = (0..BLOCKS)
            .map(|j| {
                std::array::from_fn(|x| {
                    Tagged::new("test-leaf")
                        .u64(u64::from(seed))
                        .u64(j as u64)
                        .u64(x as u64)
                        .finish()
                })
            })
            .collect();
        let delta = Tagged::new("test-delta").u64(u64::from(seed)).finish();
        let mut punctured = leaves.clone();
        for (j, tree) in punctured.iter_mut().enumerate() {
            tree[usize::from(SenderSetup::delta_block(&delta, j))] = [0u8; 32];
        }
        (
            SenderSetup {
                delta,
                leaves: punctured,
            },
            ReceiverSetup { leaves },
        )
    }

    #[test]
    fn transpose_matches_naive() {
        let mut m = [0u64; 64];
        for (a, w) in m.iter_mut().enumerate() {
            *w = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF;
        }
        let orig = m;
        transpose64(&mut m);
        for a in 0..64 {
            for b in 0..64 {
                assert_eq!((m[b] >> a) & 1, (orig[a] >> b) & 1);
            }
        }
    }

    #[test]
    fn correlation_holds() {
        let (s, r) = setups(1);
        let esid = [5u8; 32];
        let (out_r, msg) = receive(&r, &esid);
        let out_s = send(&s, &esid, &msg).unwrap();
        assert_eq!(msg.corrections.len(), CORRECTIONS_LEN);
        let ones = out_r.choices.iter().filter(|c| **c == 1).count();
        assert!(ones > XI / 4 && ones < 3 * XI / 4, "choices look random");
        for i in 0..XI {
            let mut expect = out_s.rows[i];
            if out_r.choices[i] == 1 {
                for k in 0..4 {
                    expect[k] ^= out_s.delta[k];
                }
            }
            assert_eq!(out_r.rows[i], expect, "row {i}");
        }
        // A second session gives fresh choices.
        let (out_r2, _) = receive(&r, &[6u8; 32]);
        assert_ne!(out_r2.choices, out_r.choices);
    }

    #[test]
    fn every_tampered_field_fails_the_check() {
        let (s, r) = setups(2);
        let esid = [5u8; 32];
        let (_, msg) = receive(&r, &esid);
        let is_ban = |m: &ExtMessage| matches!(send(&s, &esid, m), Err(Fault::Ban(_)));
        let mut m = msg.clone();
        m.corrections[100] ^= 4;
        assert!(is_ban(&m), "correction bit");
        let mut m = msg.clone();
        m.x[3] ^= 1;
        assert!(is_ban(&m), "x");
        let mut m = msg.clone();
        m.t[0] ^= 1;
        assert!(is_ban(&m), "t lo");
        let mut m = msg.clone();
        m.t[31] ^= 0x80;
        assert!(is_ban(&m), "t hi");
        let mut m = msg.clone();
        m.corrections.pop();
        assert!(matches!(send(&s, &esid, &m), Err(Fault::Malformed(_))));
        // Replay into another session fails too.
        assert!(matches!(send(&s, &[9u8; 32], &msg), Err(Fault::Ban(_))));
    }
}
