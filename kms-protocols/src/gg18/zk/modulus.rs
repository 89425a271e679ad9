//! Πmod (CGGMP21, fig. 16): N is a Paillier-Blum modulus (N = pq, p = q = 3 mod 4,
//! gcd(N, φ(N)) = 1).
//!
//! The prover picks w with Jacobi symbol -1. For [`MOD_REPETITIONS`] values y_i derived
//! from the transcript, it shows an N-th root z_i of y_i (so gcd(N, φ(N)) = 1) and a
//! fourth root x_i of (-1)^{a_i} w^{b_i} y_i (which exists for every y_i only when N is
//! a Blum integer). Every received value must be a unit mod N.

use crate::error::Fault;
use crate::gg18::bigint::{challenge_below, BigInt, Modulus};
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

/// Repetitions (soundness error 2^-80).
pub const MOD_REPETITIONS: usize = 80;

const DOMAIN: &[u8] = b"kms/gg18/zk/mod/v1";

/// The Paillier-Blum modulus proof.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ModulusProof {
    /// w with Jacobi symbol (w/N) = -1.
    pub w: BigInt,
    /// Fourth roots x_i.
    pub x: Vec<BigInt>,
    /// Sign bits a_i.
    pub a: Vec<bool>,
    /// w-bits b_i.
    pub b: Vec<bool>,
    /// N-th roots z_i.
    pub z: Vec<BigInt>,
}

fn challenges(session: &SessionId, prover: PartyIndex, n: &BigInt, w: &BigInt) -> Vec<BigInt> {
    let mut t = Transcript::for_proof(DOMAIN, session, prover);
    n.append_to(&mut t, b"N");
    w.append_to(&mut t, b"w");
    t.append_u64(b"repetitions", MOD_REPETITIONS as u64);
    (0..MOD_REPETITIONS)
        .map(|_| challenge_below(&mut t, b"y", n))
        .collect()
}

/// Legendre symbol by Euler's criterion (`true` for a non-zero square); constant-time
/// in the value because p is secret.
fn is_qr(x: &BigInt, p: &Modulus, half: &BigInt) -> bool {
    p.pow_sec(x, half) == Some(BigInt::one())
}

impl ModulusProof {
    /// Prove that `n = p·q` is a Paillier-Blum modulus. `p`, `q` are the secret factors;
    /// the function does not check them (a test uses it to try to cheat with a bad N).
    pub fn prove<R: RngCore + CryptoRng>(
        rng: &mut R,
        session: &SessionId,
        prover: PartyIndex,
        n: &BigInt,
        p: &BigInt,
        q: &BigInt,
    ) -> Result<Self, crate::ProtocolError> {
        let bad = |m: &str| crate::ProtocolError::InvalidParameters(format!("Πmod prover: {m}"));
        let nm = Modulus::new(n.clone()).ok_or_else(|| bad("N"))?;
        let pm = Modulus::new(p.clone()).ok_or_else(|| bad("p"))?;
        let qm = Modulus::new(q.clone()).ok_or_else(|| bad("q"))?;
        let one = BigInt::one();
        let two = BigInt::from_u64(2);
        let four = BigInt::from_u64(4);
        let p1 = p - &one;
        let q1 = q - &one;
        let hp = p1.div_floor(&two).ok_or_else(|| bad("p"))?;
        let hq = q1.div_floor(&two).ok_or_else(|| bad("q"))?;
        // Fourth root exponent ((p+1)/4)^2 mod (p-1), valid for p = 3 mod 4.
        let e4 = |pr: &BigInt, pr1: &BigInt| -> Option<BigInt> {
            let r = (pr + &one).div_floor(&four)?;
            (&r * &r).rem_floor(pr1)
        };
        let e4p = e4(p, &p1).ok_or_else(|| bad("p"))?;
        let e4q = e4(q, &q1).ok_or_else(|| bad("q"))?;
        let dp = n.invert_mod(&p1).ok_or_else(|| bad("gcd(N, p-1) != 1"))?;
        let dq = n.invert_mod(&q1).ok_or_else(|| bad("gcd(N, q-1) != 1"))?;
        let q_inv_p = pm.inv(q).ok_or_else(|| bad("q mod p"))?;
        let crt = |xp: &BigInt, xq: &BigInt| nm.reduce(&(xq + &(pm.mul(&(xp - xq), &q_inv_p) * q)));

        let w = loop {
            let w = nm.random_unit(rng);
            if is_qr(&w, &pm, &hp) != is_qr(&w, &qm, &hq) {
                break w;
            }
        };
        let (wp, wq) = (is_qr(&w, &pm, &hp), is_qr(&w, &qm, &hq));
        let ys = challenges(session, prover, n, &w);
        let minus_one = n - &one;
        let mut proof = Self {
            w: w.clone(),
            x: Vec::with_capacity(MOD_REPETITIONS),
            a: Vec::with_capacity(MOD_REPETITIONS),
            b: Vec::with_capacity(MOD_REPETITIONS),
            z: Vec::with_capacity(MOD_REPETITIONS),
        };
        for y in &ys {
            let (yp, yq) = (is_qr(y, &pm, &hp), is_qr(y, &qm, &hq));
            // (-1) is a non-residue mod p and q (both = 3 mod 4): pick a, b so that
            // (-1)^a w^b y is a residue mod both.
            let mut chosen = (false, false);
            for (a, b) in [(false, false), (false, true), (true, false), (true, true)] {
                let okp = yp ^ a ^ (b && !wp);
                let okq = yq ^ a ^ (b && !wq);
                if okp && okq {
                    chosen = (a, b);
                }
            }
            let (a, b) = chosen;
            let mut yy = y.clone();
            if a {
                yy = nm.mul(&yy, &minus_one);
            }
            if b {
                yy = nm.mul(&yy, &w);
            }
            let xp = pm.pow_sec(&yy, &e4p).ok_or_else(|| bad("root"))?;
            let xq = qm.pow_sec(&yy, &e4q).ok_or_else(|| bad("root"))?;
            let zp = pm.pow_sec(y, &dp).ok_or_else(|| bad("root"))?;
            let zq = qm.pow_sec(y, &dq).ok_or_else(|| bad("root"))?;
            proof.x.push(crt(&xp, &xq));
            proof.z.push(crt(&zp, &zq));
            proof.a.push(a);
            proof.b.push(b);
        }
        Ok(proof)
    }

    /// Verify that `n` is a Paillier-Blum modulus.
    pub fn verify(&self, session: &SessionId, prover: PartyIndex, n: &BigInt) -> Result<(), Fault> {
        let bad = |m: &str| Fault::InvalidProof(format!("Paillier-Blum modulus proof: {m}"));
        let nm = Modulus::new(n.clone()).ok_or_else(|| bad("N is even"))?;
        if n.is_probable_prime(25) {
            return Err(bad("N is prime"));
        }
        if [self.x.len(), self.a.len(), self.b.len(), self.z.len()]
            .iter()
            .any(|&l| l != MOD_REPETITIONS)
        {
            return Err(bad("wrong number of repetitions"));
        }
        if !nm.is_unit(&self.w) {
            return Err(bad("w is not a unit mod N"));
        }
        let ys = challenges(session, prover, n, &self.w);
        let minus_one = n - &BigInt::one();
        let four = BigInt::from_u64(4);
        for (i, y) in ys.iter().enumerate() {
            let (x, z) = (&self.x[i], &self.z[i]);
            if !nm.is_unit(y) {
                return Err(bad("challenge is not a unit (N has a revealed factor)"));
            }
            if !nm.is_unit(x) || !nm.is_unit(z) {
                return Err(bad("response is not a unit mod N"));
            }
            if nm.pow(z, n) != Some(y.clone()) {
                return Err(bad("z^N != y"));
            }
            let mut rhs = y.clone();
            if self.a[i] {
                rhs = nm.mul(&rhs, &minus_one);
            }
            if self.b[i] {
                rhs = nm.mul(&rhs, &self.w);
            }
            if nm.pow(x, &four) != Some(rhs) {
                return Err(bad("x^4 != (-1)^a w^b y"));
            }
        }
        Ok(())
    }
}
