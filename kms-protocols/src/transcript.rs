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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_boundaries_and_domains_change_the_challenge() {
        let c = |domain: &'static [u8], items: &[(&[u8], &[u8])]| {
            let mut t = Transcript::new(domain);
            for (l, d) in items {
                t.append(l, d);
            }
            t.challenge(b"c")
        };
        let base = c(b"d", &[(b"a", b"bc")]);
        assert_ne!(base, c(b"d", &[(b"ab", b"c")]), "label/data boundary is encoded");
        assert_ne!(
            base,
            c(b"d", &[(b"a", b"b"), (b"", b"c")]),
            "item count is encoded"
        );
        assert_ne!(base, c(b"e", &[(b"a", b"bc")]), "domain separates");
        assert_eq!(base, c(b"d", &[(b"a", b"bc")]), "deterministic");
    }

    #[test]
    fn proofs_are_bound_to_session_and_prover() {
        let p1 = PartyIndex::new(1).unwrap();
        let p2 = PartyIndex::new(2).unwrap();
        let s1 = SessionId([1; 32]);
        let s2 = SessionId([2; 32]);
        let c = |s: &SessionId, p| Transcript::for_proof(b"x", s, p).challenge(b"c");
        assert_ne!(c(&s1, p1), c(&s2, p1));
        assert_ne!(c(&s1, p1), c(&s1, p2));
    }

    #[test]
    fn successive_challenges_differ() {
        let mut t = Transcript::new(b"d");
        assert_ne!(t.challenge(b"c"), t.challenge(b"c"));
    }
}
