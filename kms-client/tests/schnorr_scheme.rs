//! The test of the scheme plug-in shape: a (t, n) Schnorr scheme over secp256k1 with
//! BIP-340 signatures, written entirely in this file, registered with one call, then
//! driven by the unchanged node runtime and coordinator of kms-core through the
//! in-process cluster: DKG, signing by every pair of holders, refresh. Signatures are
//! checked with k256's BIP-340 verifier.
//!
//! The DKG and refresh are kms-protocols' generic ones over secp256k1; signing is the
//! three-round threshold Schnorr below (commit to a nonce, reveal it, send a partial
//! signature checked against the signer's public share), on kms-protocols' round
//! driver. BIP-340 wants even-y points: a signer negates its share when the group key
//! has odd y, and its nonce when the group nonce has odd y.

use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::point::AffineCoordinates;
use k256::sha2::{Digest, Sha256};
use k256::{ProjectivePoint, Scalar, U256};
use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::schemes::{self, DkgInput, RefreshInput, RunOutput, Scheme, SchemeRun, SignInput, Started};
use kms_core::{Algorithm, Curve, KeyStatus, KeyType, KmsError};
use kms_protocols::dkg::Dkg;
use kms_protocols::driver::{round_messages, Driver, Incoming, Io, Rounds};
use kms_protocols::gg18::secp256k1::Secp256k1;
use kms_protocols::group::{decode_element, decode_scalar, Group};
use kms_protocols::inbox::Echo;
use kms_protocols::message::{Phase, ProtocolId, Scheme as ProtocolScheme};
use kms_protocols::vss::lagrange_at_zero;
use kms_protocols::{Envelope, Fault, KeyShare, PartyIndex, ProtocolError, SessionId, StateMachine};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Once};
use zeroize::Zeroize;

/// The test scheme's algorithm.
const SCHNORR: Algorithm = Algorithm::named("SCHNORR_TEST");

/// kms-protocols' protocol ids name its own schemes only; runs of this scheme borrow
/// the secp256k1 id of DKLS23, which shares its DKG. Sessions are random per run, so
/// no message of one scheme's run is ever taken for another's.
const PROTOCOL: ProtocolScheme = ProtocolScheme::Dkls23;

fn tagged_hash(tag: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let t = Sha256::digest(tag);
    let mut h = Sha256::new();
    h.update(t);
    h.update(t);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn x_only(p: &ProjectivePoint) -> [u8; 32] {
    p.to_affine().x().into()
}

fn odd_y(p: &ProjectivePoint) -> bool {
    p.to_affine().y_is_odd().into()
}

/// The BIP-340 challenge e = H_challenge(R.x || P.x || m) mod n.
fn challenge(r: &ProjectivePoint, p: &ProjectivePoint, message: &[u8]) -> Scalar {
    let e = tagged_hash(b"BIP0340/challenge", &[&x_only(r), &x_only(p), message]);
    <Scalar as Reduce<U256>>::reduce_bytes(&e.into())
}

/// BIP-340 verification with k256.
fn bip340_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(vk), Ok(sig)) = (
        k256::schnorr::VerifyingKey::from_bytes(public_key),
        k256::schnorr::Signature::try_from(signature),
    ) else {
        return false;
    };
    vk.verify_raw(message, &sig).is_ok()
}

// ----- signing: three broadcast rounds on the round driver -----

/// Round 1: a commitment to the signer's nonce point, and its share's epoch.
#[derive(Serialize, Deserialize)]
struct Commit {
    hash: [u8; 32],
    epoch: u64,
}

/// Round 2: the nonce point, and the sender's view of round 1.
#[derive(Serialize, Deserialize)]
struct Reveal {
    nonce: Vec<u8>,
    echo: Echo,
}

/// Round 3: the partial signature, and the sender's view of round 2.
#[derive(Serialize, Deserialize)]
struct Partial {
    z: Vec<u8>,
    echo: Echo,
}

round_messages! {
    /// The messages of a threshold Schnorr signing.
    enum SchnorrMsg {
        1 Broadcast Commit(Commit),
        2 Broadcast Reveal(Reveal) echoes 1,
        3 Broadcast Partial(Partial) echoes 2,
    }
}

fn commitment(session: &SessionId, party: PartyIndex, nonce: &ProjectivePoint) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kms-test-schnorr-commit/v1");
    h.update(session.0);
    h.update(party.get().to_be_bytes());
    h.update(Secp256k1::element_to_bytes(nonce));
    h.finalize().into()
}

struct SignRounds {
    session: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    message: Vec<u8>,
    epoch: u64,
    public_key: ProjectivePoint,
    public_shares: BTreeMap<PartyIndex, ProjectivePoint>,
    /// Secret: taken out (and wiped) when the partial signature is made.
    secret: Option<Scalar>,
    nonce: Option<Scalar>,
    commits: BTreeMap<PartyIndex, [u8; 32]>,
    nonces: BTreeMap<PartyIndex, ProjectivePoint>,
    /// Group nonce (even y) and challenge, once every nonce is in.
    aggregate: Option<(ProjectivePoint, Scalar, bool, Scalar)>,
}

impl Drop for SignRounds {
    fn drop(&mut self) {
        if let Some(s) = self.secret.as_mut() {
            s.zeroize();
        }
        if let Some(k) = self.nonce.as_mut() {
            k.zeroize();
        }
    }
}

impl SignRounds {
    fn lambda(&self, p: PartyIndex) -> Result<Scalar, ProtocolError> {
        lagrange_at_zero::<Secp256k1>(p, &self.signers)
            .ok_or_else(|| ProtocolError::Internal(format!("no Lagrange coefficient for {p}")))
    }

    /// The public share as BIP-340 sees it (negated with the key when its y is odd).
    fn key_sign(&self) -> Scalar {
        if odd_y(&self.public_key) {
            -Scalar::ONE
        } else {
            Scalar::ONE
        }
    }
}

impl Rounds for SignRounds {
    type Msg = SchnorrMsg;
    type Output = [u8; 64];

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SchnorrMsg>,
        io: &mut Io<'_, SchnorrMsg>,
        _rng: &mut R,
    ) -> Result<Option<[u8; 64]>, ProtocolError> {
        match round {
            1 => {
                for (from, c) in msgs.take::<1>()? {
                    if c.epoch != self.epoch {
                        return Err(ProtocolError::culprit(
                            from,
                            Fault::Other(format!("signs at epoch {}, ours is {}", c.epoch, self.epoch)),
                        ));
                    }
                    self.commits.insert(from, c.hash);
                }
                let own = self.nonces[&self.me];
                io.broadcast::<2>(&Reveal {
                    nonce: Secp256k1::element_to_bytes(&own),
                    echo: io.echo(1),
                });
                Ok(None)
            }
            2 => {
                for (from, r) in msgs.take::<2>()? {
                    let blame = |f| ProtocolError::culprit(from, f);
                    let point = decode_element::<Secp256k1>(&r.nonce, "nonce point").map_err(blame)?;
                    if self.commits.get(&from) != Some(&commitment(&self.session, from, &point)) {
                        return Err(blame(Fault::Other("nonce does not open its commitment".into())));
                    }
                    self.nonces.insert(from, point);
                }
                let sum = self.nonces.values().fold(ProjectivePoint::IDENTITY, |a, r| a + r);
                if sum == ProjectivePoint::IDENTITY {
                    return Err(ProtocolError::Internal("group nonce is the identity".into()));
                }
                let negate_nonce = odd_y(&sum);
                let r = if negate_nonce { -sum } else { sum };
                let e = challenge(&r, &self.public_key, &self.message);
                let lambda = self.lambda(self.me)?;
                let key_sign = self.key_sign();
                let (mut k, mut x) = (
                    self.nonce.take().ok_or(ProtocolError::Finished)?,
                    self.secret.take().ok_or(ProtocolError::Finished)?,
                );
                let k_signed = if negate_nonce { -k } else { k };
                let z = k_signed + e * lambda * key_sign * x;
                k.zeroize();
                x.zeroize();
                io.broadcast::<3>(&Partial {
                    z: Secp256k1::scalar_to_bytes(&z),
                    echo: io.echo(2),
                });
                self.aggregate = Some((r, e, negate_nonce, z));
                Ok(None)
            }
            _ => {
                let (r, e, negate_nonce, own_z) = self
                    .aggregate
                    .ok_or_else(|| ProtocolError::Internal("round 3 before round 2".into()))?;
                let key_sign = self.key_sign();
                let mut s = own_z;
                for (from, p) in msgs.take::<3>()? {
                    let blame = |f| ProtocolError::culprit(from, f);
                    let z = decode_scalar::<Secp256k1>(&p.z, "partial signature").map_err(blame)?;
                    let (Some(nonce), Some(share)) = (self.nonces.get(&from), self.public_shares.get(&from))
                    else {
                        return Err(ProtocolError::Internal(format!("no state for {from}")));
                    };
                    let nonce = if negate_nonce { -*nonce } else { *nonce };
                    let expected = nonce + *share * (e * self.lambda(from)? * key_sign);
                    if Secp256k1::mul_base(&z) != expected {
                        return Err(blame(Fault::InvalidPartialSignature));
                    }
                    s += z;
                }
                let mut signature = [0u8; 64];
                signature[..32].copy_from_slice(&x_only(&r));
                signature[32..].copy_from_slice(&s.to_bytes());
                if !bip340_verify(&x_only(&self.public_key), &self.message, &signature) {
                    return Err(ProtocolError::Internal(
                        "aggregated signature does not verify although every partial did".into(),
                    ));
                }
                Ok(Some(signature))
            }
        }
    }
}

fn start_sign(
    session: SessionId,
    share: &KeyShare<Secp256k1>,
    signers: &[PartyIndex],
    message: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<(Driver<SignRounds>, Vec<Envelope>), ProtocolError> {
    let set: BTreeSet<PartyIndex> = signers.iter().copied().collect();
    let protocol = ProtocolId {
        scheme: PROTOCOL,
        phase: Phase::Sign,
        version: 1,
    };
    let me = share.index();
    let nonce = Secp256k1::random_scalar(rng);
    let point = Secp256k1::mul_base(&nonce);
    Driver::new(protocol, session, me, &set, |io| {
        io.broadcast::<1>(&Commit {
            hash: commitment(&session, me, &point),
            epoch: share.epoch(),
        });
        Ok(SignRounds {
            session,
            me,
            signers: set.iter().copied().collect(),
            message: message.to_vec(),
            epoch: share.epoch(),
            public_key: *share.public_key(),
            public_shares: share.public_shares().clone(),
            secret: Some(*share.secret()),
            nonce: Some(nonce),
            commits: BTreeMap::new(),
            nonces: BTreeMap::from([(me, point)]),
            aggregate: None,
        })
    })
}

// ----- the scheme -----

/// A DKG or refresh whose output the node stores with its BIP-340 public key.
struct Keygen(Dkg<Secp256k1>);

impl SchemeRun for Keygen {
    fn handle(
        &mut self,
        msg: Envelope,
        rng: &mut ChaCha20Rng,
    ) -> Result<(Vec<Envelope>, Option<RunOutput>), ProtocolError> {
        let step = StateMachine::handle(&mut self.0, msg, rng)?;
        let output = step.output.map(|share| RunOutput::Share {
            data: share.to_bytes(),
            public_key: x_only(share.public_key()).to_vec(),
            version: share.epoch(),
        });
        Ok((step.outgoing, output))
    }
}

fn keygen((run, first): (Dkg<Secp256k1>, Vec<Envelope>)) -> Started {
    (Box::new(Keygen(run)), first)
}

struct SchnorrTest;

impl Scheme for SchnorrTest {
    fn algorithm(&self) -> Algorithm {
        SCHNORR
    }
    fn curve(&self) -> Curve {
        Curve::Secp256k1
    }
    fn key_type(&self) -> KeyType {
        KeyType::Schnorr
    }
    fn start_dkg(&self, i: DkgInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Ok(keygen(kms_protocols::dkg::start_dkg::<Secp256k1, _>(
            PROTOCOL,
            i.session,
            i.threshold,
            i.me,
            rng,
        )?))
    }
    fn start_sign(&self, i: SignInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = KeyShare::<Secp256k1>::from_bytes(i.share)?;
        Ok(schemes::started(start_sign(
            i.session, &share, i.signers, i.message, rng,
        )?))
    }
    fn start_refresh(&self, i: RefreshInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = KeyShare::<Secp256k1>::from_bytes(i.share)?;
        Ok(keygen(kms_protocols::dkg::start_refresh::<Secp256k1, _>(
            PROTOCOL, i.session, share, rng,
        )?))
    }
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        bip340_verify(public_key, message, signature)
    }
}

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| schemes::register(Arc::new(SchnorrTest)).expect("registered once"));
}

// ----- the tests -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheme_written_outside_kms_core_generates_signs_and_refreshes() {
    register();
    let cluster = InProcessCluster::builder().nodes(4).build();
    let client = KmsClient::new(cluster.clone());
    let key = client.generate_key(GenerateKey::new(SCHNORR)).await.unwrap();
    assert_eq!(key.status, KeyStatus::Active);
    assert_eq!(
        (key.spec.key_type, key.spec.curve),
        (KeyType::Schnorr, Curve::Secp256k1)
    );
    assert_eq!(key.holders.len(), 3);
    let public_key = hex::decode(&key.public_key).unwrap();

    // Every pair of holders signs; k256's BIP-340 verifier accepts each signature.
    let holders: Vec<_> = key.holders.iter().map(|h| h.node.clone()).collect();
    for (i, excluded) in holders.iter().enumerate() {
        let message = format!("signed without {excluded}");
        cluster.stop_node(excluded);
        let sig = client.sign(&key.key_id, message.as_bytes()).await.unwrap();
        cluster.start_node(excluded);
        assert_eq!(sig.signers.len(), 2, "pair {i}");
        assert!(!sig.signers.contains(excluded));
        assert!(bip340_verify(&public_key, message.as_bytes(), &sig.signature));
        assert!(!bip340_verify(&public_key, b"another message", &sig.signature));
    }

    // A refresh moves every holder to new shares of the same key.
    let refreshed = client.refresh(&key.key_id).await.unwrap();
    assert_eq!(refreshed.epoch, 1);
    assert_eq!(refreshed.public_key, key.public_key);
    let sig = client.sign(&key.key_id, b"after the refresh").await.unwrap();
    assert!(bip340_verify(&public_key, b"after the refresh", &sig.signature));
    assert!(schemes::verify_signature(
        SCHNORR,
        &public_key,
        b"after the refresh",
        &sig.signature
    ));
}

#[test]
fn an_algorithm_has_one_scheme() {
    register();
    assert!(matches!(
        schemes::register(Arc::new(SchnorrTest)),
        Err(KmsError::InvalidConfiguration(_))
    ));
}
