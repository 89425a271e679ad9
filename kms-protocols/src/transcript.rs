//! Fiat-Shamir transcripts with an unambiguous encoding.
//!
//! Every item is absorbed as `len(label) || label || len(data) || data` with 8-byte
//! big-endian lengths, after a domain-separation tag, so no two different statements
//! hash alike. Challenges for proofs must absorb the session id and prover index
//! (see [`Transcript::for_proof`]).

use crate::party::{PartyIndex, SessionId};
use sha2::{Digest, Sha512};

/// A running Fiat-Shamir transcript (SHA-512).
#[derive(Clone)]
pub struct Transcript {
    hasher: Sha512,
}

impl Transcript {
    /// A transcript for one domain (a protocol and the statement kind).
    pub fn new(domain: &'static [u8]) -> Self {
        let mut t = Self {
            hasher: Sha512::new(),
        };
        t.append(b"kms-transcript/v1", domain);
        t
    }

    /// A transcript for a proof: domain, session and prover bound in from the start.
    pub fn for_proof(domain: &'static [u8], session: &SessionId, prover: PartyIndex) -> Self {
        let mut t = Self::new(domain);
        t.append(b"session", &session.0);
        t.append(b"prover", &prover.get().to_be_bytes());
        t
    }

    /// Absorb one labelled item.
    pub fn append(&mut self, label: &[u8], data: &[u8]) {
        self.hasher.update((label.len() as u64).to_be_bytes());
        self.hasher.update(label);
        self.hasher.update((data.len() as u64).to_be_bytes());
        self.hasher.update(data);
    }

    /// Absorb an integer.
    pub fn append_u64(&mut self, label: &[u8], v: u64) {
        self.append(label, &v.to_be_bytes());
    }

    /// 64 challenge bytes; the transcript can continue (the label is absorbed first).
    pub fn challenge(&mut self, label: &[u8]) -> [u8; 64] {
        self.append(b"challenge", label);
        let out: [u8; 64] = self.hasher.clone().finalize().into();
        // Chain the output in so successive challenges differ.
        self.append(b"challenge-output", &out);
        out
    }
}
