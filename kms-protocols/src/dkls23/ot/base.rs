//! Base OT: the endemic OT of Masny and Rindal (CCS 2019, eprint 2019/706) in its
//! random-oracle form, batched (one sender key per batch). See docs/dkls23.md §1.
//!
//! Both messages are independent, so they travel in the same round: the sender's point
//! `Y = y·G`, and the receiver's pairs `(r_0, r_1)` with `r_c + H(r_{1-c}) = a·G`.
//! Outputs are random 32-byte keys: the sender gets both of each OT, the receiver the
//! one of its choice.

use crate::dkls23::hash::Tagged;
use crate::error::Fault;
use crate::gg18::secp256k1::Secp256k1;
use crate::group::Group;
use k256::elliptic_curve::hash2curve::{ExpandMsgXmd, GroupDigest};
use k256::elliptic_curve::subtle::{Choice, ConditionallySelectable};
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

/// Encoded length of a point.
pub const POINT_LEN: usize = 33;
/// Length of the sender's message.
pub const SENDER_MSG_LEN: usize = POINT_LEN;
/// Length of the receiver's message per OT (two points).
pub const RECEIVER_MSG_PER_OT: usize = 2 * POINT_LEN;

const DST_HASH: &[u8] = b"kms-dkls23/v1/mr19-hash-to-curve";
const DST_RANDOM: &[u8] = b"kms-dkls23/v1/mr19-random-point";

fn hash_to_curve(dst: &'static [u8], parts: &[&[u8]]) -> ProjectivePoint {
    // The input lengths are fixed and small, far below expand_message_xmd's limits, so
    // this cannot fail.
    k256::Secp256k1::hash_from_bytes::<ExpandMsgXmd<sha2::Sha256>>(parts, &[dst])
        .expect("expand_message_xmd accepts these lengths")
}

/// `H_G(sid, l, r)`: the random oracle onto the group of MR19, bound to the OT.
fn h_g(sid: &[u8; 32], l: u16, r: &[u8]) -> ProjectivePoint {
    hash_to_curve(DST_HASH, &[sid, &l.to_be_bytes(), r])
}

fn encode(p: &ProjectivePoint) -> Vec<u8> {
    Secp256k1::element_to_bytes(p)
}

fn decode(b: &[u8], what: &str) -> Result<ProjectivePoint, Fault> {
    crate::group::decode_element::<Secp256k1>(b, what)
}

fn key(sid: &[u8; 32], l: u16, b: u8, y: &[u8], pair: &[u8], point: &ProjectivePoint) -> [u8; 32] {
    let mut p = encode(point);
    let k = Tagged::new("mr19-key")
        .item(sid)
        .u64(u64::from(l))
        .u64(u64::from(b))
        .item(y)
        .item(pair)
        .item(&p)
        .finish();
    p.zeroize();
    k
}

/// The sender of one batch.
pub struct OtSender {
    y: Scalar,
    big_y: Vec<u8>,
}

impl OtSender {
    /// A fresh sender key.
    pub fn new<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let y = Secp256k1::random_scalar(rng);
        let big_y = encode(&Secp256k1::mul_base(&y));
        Self { y, big_y }
    }

    /// The sender's message: `Y`.
    pub fn message(&self) -> Vec<u8> {
        self.big_y.clone()
    }

    /// Both keys of each of `count` OTs, from the receiver's message. An invalid or
    /// identity point, or a pair whose `r_b + H(r_{1-b})` is the identity, is the
    /// receiver's fault.
    pub fn keys(
        &self,
        sid: &[u8; 32],
        msg: &[u8],
        count: usize,
    ) -> Result<Zeroizing<Vec<[[u8; 32]; 2]>>, Fault> {
        if msg.len() != count * RECEIVER_MSG_PER_OT {
            return Err(Fault::Malformed(format!(
                "base OT: {} bytes, expected {}",
                msg.len(),
                count * RECEIVER_MSG_PER_OT
            )));
        }
        let mut out = Zeroizing::new(Vec::with_capacity(count));
        for (l, pair) in msg.chunks_exact(RECEIVER_MSG_PER_OT).enumerate() {
            let l = l as u16;
            let (b0, b1) = pair.split_at(POINT_LEN);
            let r0 = decode(b0, "base OT r_0")?;
            let r1 = decode(b1, "base OT r_1")?;
            let p0 = r0 + h_g(sid, l, b1);
            let p1 = r1 + h_g(sid, l, b0);
            if p0 == ProjectivePoint::IDENTITY || p1 == ProjectivePoint::IDENTITY {
                return Err(Fault::InvalidElement(
                    "base OT: r_b + H(r_{1-b}) is the identity".into(),
                ));
            }
            out.push([
                key(sid, l, 0, &self.big_y, pair, &(p0 * self.y)),
                key(sid, l, 1, &self.big_y, pair, &(p1 * self.y)),
            ]);
        }
        Ok(out)
    }
}

impl Drop for OtSender {
    fn drop(&mut self) {
        self.y.zeroize();
    }
}

impl std::fmt::Debug for OtSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtSender(<redacted>)")
    }
}

/// The receiver of one batch.
pub struct OtReceiver {
    a: Vec<Scalar>,
    choices: Vec<u8>,
    msg: Vec<u8>,
}

impl OtReceiver {
    /// Start a batch with one choice bit (0 or 1) per OT. Returns the receiver and its
    /// message. The choice is hidden by a constant-time selection; the point of unknown
    /// logarithm is hashed from fresh randomness, never taken from the peer.
    pub fn new<R: RngCore + CryptoRng>(sid: &[u8; 32], choices: &[u8], rng: &mut R) -> (Self, Vec<u8>) {
        let mut a = Vec::with_capacity(choices.len());
        let mut msg = Vec::with_capacity(choices.len() * RECEIVER_MSG_PER_OT);
        for (l, &c) in choices.iter().enumerate() {
            let l = l as u16;
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let other = hash_to_curve(DST_RANDOM, &[&seed]);
            let other_bytes = encode(&other);
            let ai = Secp256k1::random_scalar(rng);
            let chosen = Secp256k1::mul_base(&ai) - h_g(sid, l, &other_bytes);
            let choice = Choice::from(c & 1);
            let r0 = ProjectivePoint::conditional_select(&chosen, &other, choice);
            let r1 = ProjectivePoint::conditional_select(&other, &chosen, choice);
            msg.extend_from_slice(&encode(&r0));
            msg.extend_from_slice(&encode(&r1));
            a.push(ai);
        }
        (
            Self {
                a,
                choices: choices.iter().map(|c| c & 1).collect(),
                msg: msg.clone(),
            },
            msg,
        )
    }

    /// The chosen key of each OT, from the sender's `Y` (invalid or identity: the
    /// sender's fault).
    pub fn keys(self, sid: &[u8; 32], sender_msg: &[u8]) -> Result<Zeroizing<Vec<[u8; 32]>>, Fault> {
        let y = decode(sender_msg, "base OT Y")?;
        let mut out = Zeroizing::new(Vec::with_capacity(self.a.len()));
        for (l, (ai, pair)) in self
            .a
            .iter()
            .zip(self.msg.chunks_exact(RECEIVER_MSG_PER_OT))
            .enumerate()
        {
            out.push(key(sid, l as u16, self.choices[l], sender_msg, pair, &(y * *ai)));
        }
        Ok(out)
    }
}

impl Drop for OtReceiver {
    fn drop(&mut self) {
        self.a.zeroize();
        self.choices.zeroize();
    }
}

impl std::fmt::Debug for OtReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtReceiver(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn outputs_match_choices() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let sid = [7u8; 32];
        let choices: Vec<u8> = (0..24).map(|i| ((i * 7) % 3 == 0) as u8).collect();
        let sender = OtSender::new(&mut rng);
        let (receiver, msg) = OtReceiver::new(&sid, &choices, &mut rng);
        let both = sender.keys(&sid, &msg, choices.len()).unwrap();
        let got = receiver.keys(&sid, &sender.message()).unwrap();
        for (l, c) in choices.iter().enumerate() {
            assert_eq!(got[l], both[l][usize::from(*c)]);
            assert_ne!(got[l], both[l][usize::from(1 - *c)]);
        }
        // Another session gives unrelated keys.
        let both2 = sender.keys(&[8u8; 32], &msg, choices.len()).unwrap();
        assert_ne!(both2[0], both[0]);
    }

    #[test]
    fn adversarial_points_are_refused() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let sid = [1u8; 32];
        let sender = OtSender::new(&mut rng);
        let (receiver, msg) = OtReceiver::new(&sid, &[0, 1], &mut rng);
        // Identity and off-curve points from the receiver.
        let mut id = msg.clone();
        id[..POINT_LEN].copy_from_slice(&[0u8; POINT_LEN]);
        assert!(matches!(sender.keys(&sid, &id, 2), Err(Fault::InvalidElement(_))));
        let mut off = msg.clone();
        off[..POINT_LEN].copy_from_slice(&{
            let mut b = [0u8; POINT_LEN];
            b[0] = 2;
            b[32] = 5;
            b
        });
        assert!(matches!(
            sender.keys(&sid, &off, 2),
            Err(Fault::InvalidElement(_))
        ));
        // r_0 = -H(r_1): the sender's derived point would be the identity.
        let r1 = &msg[POINT_LEN..2 * POINT_LEN];
        let mut bad = msg.clone();
        bad[..POINT_LEN].copy_from_slice(&encode(&-h_g(&sid, 0, r1)));
        assert!(matches!(
            sender.keys(&sid, &bad, 2),
            Err(Fault::InvalidElement(_))
        ));
        assert!(matches!(
            sender.keys(&sid, &msg[1..], 2),
            Err(Fault::Malformed(_))
        ));
        // Identity Y from the sender.
        assert!(receiver.keys(&sid, &[0u8; POINT_LEN]).is_err());
    }
}
