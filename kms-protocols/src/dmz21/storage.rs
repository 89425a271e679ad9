//! The storage encoding of a [`Dmz21KeyShare`]: a [`crate::codec`] record of kind
//! `kms/dmz21/key-share` followed by a SHA-256 checksum of it.
//!
//! Body: the secp256k1 share (itself a `kms/key-share` record), the CL secret exponent,
//! the EC-ElGamal secret, then every holder's index, CL public key and ElGamal key.
//! The checksum catches truncation and corruption of the public keys of other holders,
//! which nothing else on load could notice (a corrupted CL form can still be a valid
//! form); it is not authentication, which the node's encryption of the bytes provides.
//! Loading re-checks what is cheap to check: the share's own checks, one set of keys per
//! holder 1..=n, and this holder's two secrets against its own public keys.
//!
//! The CL public keys are encoded and decoded with the [`ClParams`] the key was made
//! with, so both directions take them.

use super::key_share::{Dmz21KeyShare, PartyKeys};
use crate::class_group::cl_hsm::{ClParams, SecretKey};
use crate::codec::{CodecError, Reader, Writer};
use crate::error::ProtocolError;
use crate::gg18::bigint::BigInt;
use crate::gg18::secp256k1::Secp256k1;
use crate::group::Group;
use crate::key_share::KeyShare;
use crate::party::PartyIndex;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const KIND: &str = "kms/dmz21/key-share";
const CHECKSUM_LEN: usize = 32;
/// Largest stored CL secret exponent: far above the ~1100-bit exponents of the
/// 128-bit parameters, low enough that a corrupted length cannot make the loader work
/// on absurd numbers.
const MAX_EXPONENT_BYTES: usize = 1024;

fn checksum(record: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut h = Sha256::new();
    h.update(b"kms/dmz21/storage-checksum/v1");
    h.update(record);
    h.finalize().into()
}

fn bad(m: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::InvalidParameters(format!("stored DMZ21 key share: {m}"))
}

fn codec(e: CodecError) -> ProtocolError {
    bad(e)
}

impl Dmz21KeyShare {
    /// Serialise for storage (versioned by the codec; see the module docs), with the CL
    /// parameters the key was made with. The bytes hold secrets: they are zeroized on
    /// drop (built in a buffer sized up front, so no reallocation leaves a copy) and
    /// must be encrypted before they touch a disk.
    pub fn to_bytes(&self, params: &ClParams) -> Zeroizing<Vec<u8>> {
        let inner = self.share.to_bytes();
        let exponent = Zeroizing::new(self.cl_secret.exponent().to_bytes_be());
        let elgamal_secret = Zeroizing::new(Secp256k1::scalar_to_bytes(&self.elgamal_secret));
        let keys: Vec<(u16, Vec<u8>, Vec<u8>)> = self
            .keys
            .iter()
            .map(|(p, k)| {
                (
                    p.get(),
                    k.cl.encode(params),
                    Secp256k1::element_to_bytes(&k.elgamal),
                )
            })
            .collect();
        let capacity = (4 + inner.len())
            + (4 + exponent.len())
            + (4 + elgamal_secret.len())
            + 2
            + keys
                .iter()
                .map(|(_, c, e)| 2 + 4 + c.len() + 4 + e.len())
                .sum::<usize>()
            + CHECKSUM_LEN;
        let mut w = Writer::new(KIND, capacity);
        w.bytes(&inner).bytes(&exponent).bytes(&elgamal_secret);
        w.u16(keys.len() as u16);
        for (p, cl, elgamal) in &keys {
            w.u16(*p).bytes(cl).bytes(elgamal);
        }
        let mut out = w.finish();
        let sum = checksum(&out);
        // The writer sized the buffer for the checksum too: no reallocation copies it.
        out.extend_from_slice(&sum);
        out
    }

    /// Parse and validate a stored share made with `params`: checksum, codec version
    /// and kind, the secp256k1 share's own checks, one set of public keys per holder
    /// 1..=n, and this holder's CL and ElGamal secrets matching its public keys. The
    /// CL public keys get their encryption tables back, as after key generation.
    pub fn from_bytes(params: &ClParams, bytes: &[u8]) -> Result<Self, ProtocolError> {
        if bytes.len() < CHECKSUM_LEN {
            return Err(bad("truncated"));
        }
        let (record, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if !bool::from(checksum(record).ct_eq(sum)) {
            return Err(bad("checksum mismatch (truncated or altered)"));
        }
        let mut r = Reader::open(KIND, record).map_err(codec)?;
        let share = KeyShare::<Secp256k1>::from_bytes(r.bytes("secp256k1 share").map_err(codec)?)?;
        let exponent = r.bytes("CL secret").map_err(codec)?;
        if exponent.is_empty() || exponent.len() > MAX_EXPONENT_BYTES || exponent[0] == 0 {
            return Err(bad("CL secret is not a canonical non-zero integer"));
        }
        let cl_secret = SecretKey::from_exponent(BigInt::from_bytes_be(exponent));
        let elgamal_secret = Zeroizing::new(
            Secp256k1::scalar_from_bytes(r.bytes("ElGamal secret").map_err(codec)?)
                .ok_or_else(|| bad("ElGamal secret"))?,
        );
        let mut keys = BTreeMap::new();
        for _ in 0..r.u16("holder count").map_err(codec)? {
            let p = PartyIndex::new(r.u16("holder").map_err(codec)?).ok_or_else(|| bad("holder 0"))?;
            let mut cl = params
                .decode_public_key(r.bytes("CL public key").map_err(codec)?)
                .map_err(|e| bad(format!("CL public key of {p}: {e}")))?;
            let elgamal = Secp256k1::element_from_bytes(r.bytes("ElGamal key").map_err(codec)?)
                .ok_or_else(|| bad(format!("ElGamal key of {p}")))?;
            cl.precompute(params);
            if keys.insert(p, PartyKeys { cl, elgamal }).is_some() {
                return Err(bad(format!("two sets of keys for {p}")));
            }
        }
        r.finish().map_err(codec)?;
        if !keys
            .keys()
            .copied()
            .eq(PartyIndex::range(share.threshold().parties))
        {
            return Err(bad("keys do not cover exactly holders 1..=n"));
        }
        let own = &keys[&share.index()];
        if params.public_key(&cl_secret) != own.cl {
            return Err(bad("CL secret does not match its public key"));
        }
        if Secp256k1::mul_base(&elgamal_secret) != own.elgamal {
            return Err(bad("ElGamal secret does not match its public key"));
        }
        Ok(Self {
            share,
            cl_secret,
            elgamal_secret: *elgamal_secret,
            keys,
        })
    }
}
