//! Two-party random VOLE with forced reuse: DKLS23 Protocol 5.2 with ℓ = 2 inputs of
//! Alice and ρ = 1 check column, over the random OTs of [`super::ot::ext`]. See
//! docs/dkls23.md §4.
//!
//! Alice inputs `a = (a_1, a_2)`; Bob's input `b` is random (set by his OT choices).
//! Alice outputs `c`, Bob `d`, with `c + d = b·a` coordinatewise.

use super::hash::{ct_eq, Tagged};
use super::ot::ext::{ReceiverOutput, Row, SenderOutput, XI};
use crate::error::Fault;
use crate::gg18::secp256k1::Secp256k1;
use crate::group::Group;
use crate::party::PartyIndex;
use k256::elliptic_curve::subtle::{Choice, ConditionallySelectable};
use k256::elliptic_curve::PrimeField;
use k256::{FieldBytes, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// Alice's inputs per multiplication.
pub const ELL: usize = 2;
/// Bytes of τ: ξ rows of ℓ + 1 scalars.
pub const TAU_LEN: usize = XI * (ELL + 1) * 32;

/// The gadget vector of one ordered pair: ξ uniform scalars derived from the setup id,
/// so `b = Σ g_i β_i` is close to uniform even if Alice learns a few bits of β.
pub fn gadget(setup_id: &[u8; 32], alice: PartyIndex, bob: PartyIndex) -> Vec<Scalar> {
    let mut t = Tagged::new("gadget");
    t.item(setup_id)
        .u64(u64::from(alice.get()))
        .u64(u64::from(bob.get()))
        .align();
    (0..XI as u32)
        .map(|i| t.clone().raw_fixed(&i.to_be_bytes()).scalar())
        .collect()
}

fn pad_prefix(esid: &[u8; 32]) -> Tagged {
    let mut t = Tagged::new("rot-pad");
    t.item(esid).align();
    t
}

/// The ℓ + 1 pads a random-OT row hashes to (correlation-robust hashing).
fn pads(prefix: &Tagged, i: usize, row: &Row) -> [Scalar; ELL + 1] {
    let mut input = [0u8; 35];
    input[..2].copy_from_slice(&(i as u16).to_be_bytes());
    for (k, w) in row.iter().enumerate() {
        input[3 + 8 * k..11 + 8 * k].copy_from_slice(&w.to_le_bytes());
    }
    let out = std::array::from_fn(|c| {
        input[2] = c as u8;
        prefix.clone().raw_fixed(&input).scalar()
    });
    input.zeroize();
    out
}

/// Alice's multiplication message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MulMessage {
    /// τ_i = pad_{0,i} − pad_{1,i} + (a_1, a_2, â), ξ × 3 canonical scalars.
    pub tau: Vec<u8>,
    /// ã = â + χ_1·a_1 + χ_2·a_2.
    pub a_tilde: [u8; 32],
    /// μ = H(μ_0, ..., μ_{ξ−1}).
    pub mu: [u8; 32],
}

fn chi(esid: &[u8; 32], tau: &[u8]) -> [Scalar; ELL] {
    let mut t = Tagged::new("rvole-chi");
    t.item(esid).item(tau);
    std::array::from_fn(|k| t.clone().u64(k as u64).scalar())
}

fn mu_hasher(esid: &[u8; 32]) -> Tagged {
    let mut t = Tagged::new("rvole-mu");
    t.item(esid);
    t
}

/// Alice's side: from her OT-extension output for session `esid` and her inputs,
/// her output shares and her message.
pub fn alice<R: RngCore + CryptoRng>(
    ot: SenderOutput,
    esid: &[u8; 32],
    gadget: &[Scalar],
    a: &[Scalar; ELL],
    rng: &mut R,
) -> (Zeroizing<[Scalar; ELL]>, MulMessage) {
    let prefix = pad_prefix(esid);
    let mut a_hat = Secp256k1::random_scalar(rng);
    let mut inputs = [a[0], a[1], a_hat];
    let mut tau = Vec::with_capacity(TAU_LEN);
    let mut c = Zeroizing::new([Scalar::ZERO; ELL]);
    let mut pad0s = Vec::with_capacity(XI);
    for (i, (row, g)) in ot.rows.iter().zip(gadget).enumerate() {
        let mut other = *row;
        for (w, d) in other.iter_mut().zip(&ot.delta) {
            *w ^= d;
        }
        let p0 = pads(&prefix, i, row);
        let mut p1 = pads(&prefix, i, &other);
        other.zeroize();
        for k in 0..=ELL {
            tau.extend_from_slice(&(p0[k] - p1[k] + inputs[k]).to_bytes());
        }
        p1.zeroize();
        for k in 0..ELL {
            c[k] -= *g * p0[k];
        }
        pad0s.push(p0);
    }
    let ch = chi(esid, &tau);
    let a_tilde = a_hat + ch[0] * a[0] + ch[1] * a[1];
    let mut mu = mu_hasher(esid);
    for p0 in &pad0s {
        let mut m = p0[2] + ch[0] * p0[0] + ch[1] * p0[1];
        mu.raw_fixed(&m.to_bytes());
        m.zeroize();
    }
    pad0s.zeroize();
    a_hat.zeroize();
    inputs.zeroize();
    drop(ot);
    (
        c,
        MulMessage {
            tau,
            a_tilde: a_tilde.to_bytes().into(),
            mu: mu.finish(),
        },
    )
}

fn decode_scalar(b: &[u8], what: &str) -> Result<Scalar, Fault> {
    let arr: [u8; 32] = b
        .try_into()
        .map_err(|_| Fault::Malformed(format!("{what}: wrong length")))?;
    Option::from(Scalar::from_repr(FieldBytes::from(arr)))
        .ok_or_else(|| Fault::InvalidScalar(format!("{what}: not canonical")))
}

/// Bob's side: his random input `b`, known as soon as his OT extension ran.
pub struct BobMul {
    ot: ReceiverOutput,
    b: Scalar,
}

impl BobMul {
    /// From Bob's OT-extension output: `b = Σ g_i β_i`.
    pub fn new(ot: ReceiverOutput, gadget: &[Scalar]) -> Self {
        let mut b = Scalar::ZERO;
        for (beta, g) in ot.choices.iter().zip(gadget) {
            b += Scalar::conditional_select(&Scalar::ZERO, g, Choice::from(*beta));
        }
        Self { ot, b }
    }

    /// Bob's random input.
    pub fn b(&self) -> &Scalar {
        &self.b
    }

    /// Check Alice's message (a failure is a ban of Alice) and return Bob's shares.
    pub fn finish(
        self,
        esid: &[u8; 32],
        gadget: &[Scalar],
        msg: &MulMessage,
    ) -> Result<Zeroizing<[Scalar; ELL]>, Fault> {
        if msg.tau.len() != TAU_LEN {
            return Err(Fault::Malformed(format!(
                "multiplication: τ has {} bytes, expected {TAU_LEN}",
                msg.tau.len()
            )));
        }
        let a_tilde = decode_scalar(&msg.a_tilde, "multiplication ã")?;
        let ch = chi(esid, &msg.tau);
        let prefix = pad_prefix(esid);
        let mut d = Zeroizing::new([Scalar::ZERO; ELL]);
        let mut mu = mu_hasher(esid);
        for (i, ((row, beta), g)) in self.ot.rows.iter().zip(&self.ot.choices).zip(gadget).enumerate() {
            let choice = Choice::from(*beta);
            let mut p = pads(&prefix, i, row);
            let mut di = [Scalar::ZERO; ELL + 1];
            for k in 0..=ELL {
                let at = (i * (ELL + 1) + k) * 32;
                let tau = decode_scalar(&msg.tau[at..at + 32], "multiplication τ")?;
                di[k] = p[k] + Scalar::conditional_select(&Scalar::ZERO, &tau, choice);
            }
            let mut m = di[2] + ch[0] * di[0] + ch[1] * di[1]
                - Scalar::conditional_select(&Scalar::ZERO, &a_tilde, choice);
            mu.raw_fixed(&m.to_bytes());
            for k in 0..ELL {
                d[k] += *g * di[k];
            }
            m.zeroize();
            p.zeroize();
            di.zeroize();
        }
        if !ct_eq(&mu.finish(), &msg.mu) {
            return Err(Fault::Ban("multiplication consistency check failed".into()));
        }
        Ok(d)
    }
}

impl Drop for BobMul {
    fn drop(&mut self) {
        self.b.zeroize();
    }
}

impl std::fmt::Debug for BobMul {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BobMul(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkls23::ot::ext::{self, tests::setups};
    use rand_chacha::rand_core::SeedableRng;

    fn p(i: u16) -> PartyIndex {
        PartyIndex::new(i).unwrap()
    }

    type Outcome = (Scalar, [Scalar; 2], [Scalar; 2], [Scalar; 2]);

    fn run(seed: u8, tamper: impl FnOnce(&mut MulMessage)) -> Result<Outcome, Fault> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(seed));
        let (s, r) = setups(seed);
        let esid = [seed; 32];
        let g = gadget(&[1u8; 32], p(1), p(2));
        let (ro, msg) = ext::receive(&r, &esid);
        let so = ext::send(&s, &esid, &msg).unwrap();
        let bob = BobMul::new(ro, &g);
        let b = *bob.b();
        let a = [
            Secp256k1::random_scalar(&mut rng),
            Secp256k1::random_scalar(&mut rng),
        ];
        let (c, mut m) = alice(so, &esid, &g, &a, &mut rng);
        tamper(&mut m);
        let d = bob.finish(&esid, &g, &m)?;
        Ok((b, a, *c, *d))
    }

    #[test]
    fn c_plus_d_is_a_times_b() {
        for seed in 1..4 {
            let (b, a, c, d) = run(seed, |_| {}).unwrap();
            assert_ne!(b, Scalar::ZERO);
            for k in 0..ELL {
                assert_eq!(c[k] + d[k], b * a[k], "seed {seed} coordinate {k}");
            }
        }
    }

    #[test]
    fn each_tampered_value_is_a_ban() {
        // Any change to τ (an a-column, the check column), ã or μ is caught: τ also
        // feeds the Fiat-Shamir challenges, so even a row where β_i = 0 counts.
        for (name, at) in [
            ("tau a_1", 5 * 96),
            ("tau a_2", 7 * 96 + 32),
            ("tau check", 11 * 96 + 64),
        ] {
            let r = run(5, |m| {
                let v = Scalar::from_repr(FieldBytes::from(
                    <[u8; 32]>::try_from(&m.tau[at..at + 32]).unwrap(),
                ))
                .unwrap()
                    + Scalar::ONE;
                m.tau[at..at + 32].copy_from_slice(&v.to_bytes());
            });
            assert!(matches!(r, Err(Fault::Ban(_))), "{name}");
        }
        assert!(matches!(
            run(6, |m| m.a_tilde = (Scalar::ONE).to_bytes().into()),
            Err(Fault::Ban(_))
        ));
        assert!(matches!(run(6, |m| m.mu[0] ^= 1), Err(Fault::Ban(_))));
        assert!(matches!(
            run(6, |m| {
                m.tau.pop();
            }),
            Err(Fault::Malformed(_))
        ));
        assert!(matches!(
            run(6, |m| m.tau[..32].copy_from_slice(&[0xff; 32])),
            Err(Fault::InvalidScalar(_))
        ));
    }
}
