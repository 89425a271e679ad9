//! Domain-separated hashing for DKLS23.
//!
//! Every hash starts with a length-prefixed tag `kms-dkls23/v1/<name>` and absorbs its
//! items length-prefixed, so no two statements share an encoding. Hot loops (PRG, pads)
//! clone a hasher whose prefix is padded to a whole SHA-256 block, so each call costs one
//! compression; SHA-256 is used throughout because this class of CPU computes it in
//! hardware.

use k256::elliptic_curve::bigint::U256;
use k256::elliptic_curve::ops::Reduce;
use k256::{FieldBytes, Scalar};
use sha2::{Digest, Sha256};

/// A tagged, length-prefixed SHA-256 hasher.
#[derive(Clone)]
pub(crate) struct Tagged {
    h: Sha256,
    len: usize,
}

impl Tagged {
    /// A hasher for one purpose.
    pub(crate) fn new(name: &str) -> Self {
        let mut t = Self {
            h: Sha256::new(),
            len: 0,
        };
        t.item(b"kms-dkls23/v1/");
        t.item(name.as_bytes());
        t
    }

    fn raw(&mut self, data: &[u8]) {
        self.h.update(data);
        self.len += data.len();
    }

    /// Absorb one length-prefixed item.
    pub(crate) fn item(&mut self, data: &[u8]) -> &mut Self {
        self.raw(&(data.len() as u64).to_be_bytes());
        self.raw(data);
        self
    }

    /// Absorb an integer.
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.item(&v.to_be_bytes())
    }

    /// Pad the absorbed prefix with zeros to a whole block. What follows is then
    /// fixed-length raw data (see [`Tagged::raw_fixed`]), hashed with one compression
    /// from a cloned state.
    pub(crate) fn align(&mut self) -> &mut Self {
        let pad = (64 - self.len % 64) % 64;
        self.raw(&[0u8; 64][..pad]);
        self
    }

    /// Absorb fixed-length data without a length prefix: only for call sites where
    /// every input of this hasher has the same fixed layout.
    pub(crate) fn raw_fixed(&mut self, data: &[u8]) -> &mut Self {
        self.raw(data);
        self
    }

    /// The digest.
    pub(crate) fn finish(&self) -> [u8; 32] {
        self.h.clone().finalize().into()
    }

    /// The digest reduced to a scalar. secp256k1's order is within 2^-127 of 2^256, so
    /// reducing 256 uniform bits is statistically uniform.
    pub(crate) fn scalar(&self) -> Scalar {
        <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(self.finish()))
    }
}

/// Constant-time equality of two byte strings (lengths are public).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
