//! Audit records: every key operation leaves one. Records are chained: each carries
//! the hash of the previous record, so an edited, deleted or reordered record is found
//! by [`verify_links`]. The chain's head (the last seq and hash) is signed with Ed25519
//! by the service that writes the log ([`AuditSigner`]) at every append, so records cut
//! off the end, or a chain rewritten and re-hashed, are found by [`verify_links`]
//! against an [`AuditAnchor`]: the writer's public key and a signed head.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The kinds of audited events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum AuditEventType {
    /// A key was generated.
    KeyGenerate,
    /// A signature was requested.
    KeySign,
    /// Shards were refreshed.
    KeyRefresh,
    /// A key was destroyed.
    KeyDestroy,
    /// A key's status changed.
    KeyStatusChange,
    /// An approval was requested.
    ApprovalRequest,
    /// An approval was decided.
    ApprovalResult,
    /// An administrator logged in.
    AdminLogin,
    /// Configuration changed.
    ConfigChange,
    /// A node started.
    NodeStart,
    /// A node stopped.
    NodeStop,
    /// A backup was made.
    BackupCreate,
    /// A backup was restored.
    BackupRestore,
}

/// Outcome of an audited operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum AuditResult {
    /// It succeeded.
    Success,
    /// It failed.
    Failure,
}

/// An event to be appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Event type.
    pub event_type: AuditEventType,
    /// Who asked.
    pub user_id: String,
    /// The key concerned, if any.
    pub key_id: Option<String>,
    /// Free-form operation name.
    pub operation: String,
    /// Outcome.
    pub result: AuditResult,
    /// Event time, Unix milliseconds.
    pub created_time: u64,
    /// The service that acted.
    pub service_name: String,
    /// The node that acted, if any.
    pub node_id: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// Hash of the request data (never the data itself), hex.
    pub data_hash: String,
    /// Human-readable detail (no secrets).
    pub audit_trail: String,
}

/// A stored, chained record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
    /// Hash of the previous record (zeros for the first), hex.
    pub prev_hash: String,
    /// This record's hash over seq, event and prev_hash, hex.
    pub hash: String,
}

/// `prev_hash` of the first record: 32 zero bytes, hex.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separator of the record hash, so the hash cannot be confused with any other
/// SHA-256 the service computes.
const RECORD_HASH_DOMAIN: &[u8] = b"mpc-kms/audit-record/v1";

fn put_bytes(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

fn put_u64(h: &mut Sha256, v: u64) {
    h.update(v.to_be_bytes());
}

fn put_opt(h: &mut Sha256, v: Option<&str>) {
    match v {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            put_bytes(h, s.as_bytes());
        }
    }
}

impl AuditEventType {
    /// The name used in storage and on the wire (`KEY_GENERATE`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEventType::KeyGenerate => "KEY_GENERATE",
            AuditEventType::KeySign => "KEY_SIGN",
            AuditEventType::KeyRefresh => "KEY_REFRESH",
            AuditEventType::KeyDestroy => "KEY_DESTROY",
            AuditEventType::KeyStatusChange => "KEY_STATUS_CHANGE",
            AuditEventType::ApprovalRequest => "APPROVAL_REQUEST",
            AuditEventType::ApprovalResult => "APPROVAL_RESULT",
            AuditEventType::AdminLogin => "ADMIN_LOGIN",
            AuditEventType::ConfigChange => "CONFIG_CHANGE",
            AuditEventType::NodeStart => "NODE_START",
            AuditEventType::NodeStop => "NODE_STOP",
            AuditEventType::BackupCreate => "BACKUP_CREATE",
            AuditEventType::BackupRestore => "BACKUP_RESTORE",
        }
    }

    /// Parse the name given by [`AuditEventType::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        use AuditEventType::*;
        [
            KeyGenerate,
            KeySign,
            KeyRefresh,
            KeyDestroy,
            KeyStatusChange,
            ApprovalRequest,
            ApprovalResult,
            AdminLogin,
            ConfigChange,
            NodeStart,
            NodeStop,
            BackupCreate,
            BackupRestore,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

impl AuditResult {
    /// The name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditResult::Success => "SUCCESS",
            AuditResult::Failure => "FAILURE",
        }
    }

    /// Parse the name given by [`AuditResult::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SUCCESS" => Some(AuditResult::Success),
            "FAILURE" => Some(AuditResult::Failure),
            _ => None,
        }
    }
}

impl AuditRecord {
    /// The hash of a record at `seq` holding `event` after a record with hash
    /// `prev_hash`: SHA-256 over a domain tag and a length-prefixed encoding of seq,
    /// every field of the event in declaration order, and `prev_hash`, in hex.
    ///
    /// Every variable-length field carries its length and every optional field a
    /// presence byte, so no two different records encode to the same bytes.
    pub fn compute_hash(seq: u64, event: &AuditEvent, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        put_bytes(&mut h, RECORD_HASH_DOMAIN);
        put_u64(&mut h, seq);
        put_bytes(&mut h, event.event_type.as_str().as_bytes());
        put_bytes(&mut h, event.user_id.as_bytes());
        put_opt(&mut h, event.key_id.as_deref());
        put_bytes(&mut h, event.operation.as_bytes());
        put_bytes(&mut h, event.result.as_str().as_bytes());
        put_u64(&mut h, event.created_time);
        put_bytes(&mut h, event.service_name.as_bytes());
        put_opt(&mut h, event.node_id.as_deref());
        put_u64(&mut h, event.duration_ms);
        put_bytes(&mut h, event.data_hash.as_bytes());
        put_bytes(&mut h, event.audit_trail.as_bytes());
        put_bytes(&mut h, prev_hash.as_bytes());
        hex::encode(h.finalize())
    }

    /// Seal `event` as record `seq` following a record whose hash is `prev_hash`
    /// ([`GENESIS_HASH`] for the first record, `seq` 1).
    pub fn seal(seq: u64, event: AuditEvent, prev_hash: &str) -> AuditRecord {
        let hash = Self::compute_hash(seq, &event, prev_hash);
        AuditRecord {
            seq,
            event,
            prev_hash: prev_hash.to_string(),
            hash,
        }
    }

    /// Whether the stored hash matches the record's content.
    pub fn hash_is_valid(&self) -> bool {
        Self::compute_hash(self.seq, &self.event, &self.prev_hash) == self.hash
    }
}

/// What [`verify_links`] found wrong. Positions count from 0 in the slice given;
/// sequence numbers count from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditChainError {
    /// The record's content no longer matches its hash: a field was edited.
    #[error("audit record seq {seq} (position {position}) was altered")]
    Altered {
        /// Where it is.
        position: usize,
        /// Its sequence number.
        seq: u64,
    },
    /// Records are missing: `expected_seq` (up to `found_seq - 1`) should be at
    /// `position`, where `found_seq` is instead.
    #[error("audit records from seq {expected_seq} to {} are missing (position {position})", found_seq - 1)]
    Missing {
        /// Where the gap is.
        position: usize,
        /// The first missing sequence number.
        expected_seq: u64,
        /// The sequence number found there.
        found_seq: u64,
    },
    /// A record that is not part of the chain was inserted at `position`.
    #[error("audit record seq {seq} at position {position} was inserted")]
    Inserted {
        /// Where it is.
        position: usize,
        /// The sequence number it carries.
        seq: u64,
    },
    /// Records were reordered: the record with `found_seq` sits where `expected_seq`
    /// belongs.
    #[error(
        "audit record seq {found_seq} is out of order at position {position} (expected seq {expected_seq})"
    )]
    OutOfOrder {
        /// Where it is.
        position: usize,
        /// The sequence number that belongs there.
        expected_seq: u64,
        /// The sequence number of the record found there.
        found_seq: u64,
    },
    /// The record's `prev_hash` does not match the record before it, although both
    /// are internally consistent: the record before it was replaced by a forgery
    /// with a recomputed hash.
    #[error("audit record seq {seq} (position {position}) does not link to the record before it")]
    BrokenLink {
        /// Where it is.
        position: usize,
        /// Its sequence number.
        seq: u64,
    },
    /// The signed head does not verify under the writer's public key: it was forged,
    /// edited, or signed by another key or for another log.
    #[error("the signed head of audit log {log_id:?} (seq {seq}) does not verify under the writer's key")]
    HeadSignatureInvalid {
        /// The log the head claims to be of.
        log_id: String,
        /// The sequence number it claims.
        seq: u64,
    },
    /// Records were cut off the end: the signed head is at `head_seq` but the log
    /// ends at `last_seq`.
    #[error("audit records seq {} to {head_seq} were cut off the end (the log ends at seq {last_seq}, its signed head is seq {head_seq})", last_seq + 1)]
    Truncated {
        /// The sequence number of the signed head.
        head_seq: u64,
        /// The last record's sequence number (0 for an empty log).
        last_seq: u64,
    },
    /// The last record is at the signed head's seq but its hash differs: the chain
    /// was rewritten (a record edited and every later one re-hashed), up to `seq`.
    #[error("audit record seq {seq} does not match the signed head: the log was rewritten and re-hashed up to seq {seq}")]
    Rewritten {
        /// The sequence number of the signed head (and of the last record).
        seq: u64,
    },
    /// Records follow the signed head that it does not cover: appended by someone
    /// without the writer's key.
    #[error("audit records seq {} to {last_seq} follow the signed head (seq {head_seq}) unsigned", head_seq + 1)]
    Unanchored {
        /// The sequence number of the signed head.
        head_seq: u64,
        /// The last record's sequence number.
        last_seq: u64,
    },
    /// The log holds records but no signed head: the head was deleted (hiding a cut),
    /// or the log predates signed heads.
    #[error("audit log holds records up to seq {last_seq} but no signed head")]
    HeadMissing {
        /// The last record's sequence number.
        last_seq: u64,
    },
}

impl AuditChainError {
    /// The sequence number the finding is about (for `Missing`, the first missing one).
    pub fn seq(&self) -> u64 {
        match self {
            AuditChainError::Altered { seq, .. }
            | AuditChainError::Inserted { seq, .. }
            | AuditChainError::BrokenLink { seq, .. } => *seq,
            AuditChainError::Missing { expected_seq, .. } => *expected_seq,
            AuditChainError::OutOfOrder { found_seq, .. } => *found_seq,
            AuditChainError::HeadSignatureInvalid { seq, .. }
            | AuditChainError::Rewritten { seq }
            | AuditChainError::HeadMissing { last_seq: seq } => *seq,
            AuditChainError::Truncated { last_seq, .. } => last_seq + 1,
            AuditChainError::Unanchored { head_seq, .. } => head_seq + 1,
        }
    }
}

/// The position of the first record that breaks the chain, if any.
fn first_fault<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Option<usize> {
    let mut prev = GENESIS_HASH;
    for (i, r) in records.into_iter().enumerate() {
        if r.seq != i as u64 + 1 || r.prev_hash != prev || !r.hash_is_valid() {
            return Some(i);
        }
        prev = &r.hash;
    }
    None
}

/// Whether the record at `idx` is a genuine record displaced from elsewhere: it links
/// to a record other than the one before it (or is a first record not in first place).
fn belongs_elsewhere(records: &[AuditRecord], idx: usize) -> bool {
    let Some(r) = records.get(idx) else {
        return false;
    };
    if r.prev_hash == GENESIS_HASH {
        return idx != 0;
    }
    records
        .iter()
        .enumerate()
        .any(|(j, x)| j + 1 != idx && j != idx && x.hash == r.prev_hash)
}

/// Whether the chain is intact once the record at `skip` is taken out, and that
/// record does not belong elsewhere in it: then it was inserted.
fn inserted_at(records: &[AuditRecord], skip: usize) -> bool {
    valid_without(records, skip) && !belongs_elsewhere(records, skip)
}

/// Whether the chain is intact once the record at `skip` is taken out.
fn valid_without(records: &[AuditRecord], skip: usize) -> bool {
    let rest = records
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, r)| r);
    first_fault(rest).is_none()
}

/// Check an audit log read in order: sequence numbers 1, 2, 3, ..., each record's
/// hash over its content, and each `prev_hash` equal to the previous record's hash
/// ([`GENESIS_HASH`] for the first).
///
/// On the first fault it says what happened and where: an edited record
/// ([`AuditChainError::Altered`]), deleted records ([`AuditChainError::Missing`]), an
/// inserted record ([`AuditChainError::Inserted`], also when the records after it
/// were renumbered to make room), reordered records ([`AuditChainError::OutOfOrder`]),
/// or a record replaced by a self-consistent forgery ([`AuditChainError::BrokenLink`]).
///
/// A hash chain without a key cannot detect records cut off the end, nor a
/// well-formed record appended at the end, nor a chain rewritten and re-hashed from
/// some record on: [`verify_chain`] checks the links and the signed head.
pub fn verify_links(records: &[AuditRecord]) -> Result<(), AuditChainError> {
    let Some(i) = first_fault(records) else {
        return Ok(());
    };
    let Some(r) = records.get(i) else {
        return Ok(());
    };
    let expected_seq = i as u64 + 1;

    // An insertion shows as a fault at the inserted record or at the one after it;
    // it is an insertion if taking the record out leaves a sound chain with records
    // after it (a lone forged last record is a replacement, reported below) and the
    // record is not a genuine one moved from elsewhere (a swap).
    if i >= 1 && inserted_at(records, i - 1) {
        let seq = records.get(i - 1).map_or(0, |p| p.seq);
        return Err(AuditChainError::Inserted { position: i - 1, seq });
    }
    if i + 1 < records.len() && inserted_at(records, i) {
        return Err(AuditChainError::Inserted {
            position: i,
            seq: r.seq,
        });
    }

    if !r.hash_is_valid() {
        // A record whose hash holds under another sequence number was renumbered:
        // moved down to make room for an insertion, or swapped with another.
        let max = records.len() as u64 + 2;
        let original = (1..=max)
            .filter(|s| *s != r.seq)
            .find(|s| AuditRecord::compute_hash(*s, &r.event, &r.prev_hash) == r.hash);
        return Err(match original {
            Some(orig) if orig < r.seq && i >= 1 => AuditChainError::Inserted {
                position: i - 1,
                seq: records.get(i - 1).map_or(0, |p| p.seq),
            },
            Some(orig) => AuditChainError::OutOfOrder {
                position: i,
                expected_seq: r.seq,
                found_seq: orig,
            },
            None => AuditChainError::Altered {
                position: i,
                seq: r.seq,
            },
        });
    }

    if r.seq != expected_seq {
        let expected_later = records.iter().skip(i + 1).any(|x| x.seq == expected_seq);
        return Err(if r.seq > expected_seq && !expected_later {
            AuditChainError::Missing {
                position: i,
                expected_seq,
                found_seq: r.seq,
            }
        } else {
            AuditChainError::OutOfOrder {
                position: i,
                expected_seq,
                found_seq: r.seq,
            }
        });
    }

    Err(AuditChainError::BrokenLink {
        position: i,
        seq: r.seq,
    })
}

/// Domain separator of the head signature. It differs from every other message the
/// writer's key could sign, so no other signature can pass for a head.
const HEAD_SIGNATURE_DOMAIN: &[u8] = b"mpc-kms/audit-head/v1";

fn head_message(log_id: &str, seq: u64, hash: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEAD_SIGNATURE_DOMAIN.len() + log_id.len() + hash.len() + 32);
    for part in [HEAD_SIGNATURE_DOMAIN, log_id.as_bytes()] {
        m.extend_from_slice(&(part.len() as u64).to_be_bytes());
        m.extend_from_slice(part);
    }
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&(hash.len() as u64).to_be_bytes());
    m.extend_from_slice(hash.as_bytes());
    m
}

/// The head of an audit log, signed by its writer: the last record's seq and hash
/// (seq 0 and [`GENESIS_HASH`] for an empty log), for the log named `log_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// Which log (a node id, or a service name such as `coordinator`).
    pub log_id: String,
    /// The last record's sequence number.
    pub seq: u64,
    /// The last record's hash, hex.
    pub hash: String,
    /// Ed25519 signature over the domain tag, `log_id`, `seq` and `hash`, hex.
    pub signature: String,
}

impl SignedHead {
    /// Check the signature under `public_key` (32 bytes, hex).
    pub fn verify(&self, public_key: &str) -> Result<(), AuditChainError> {
        let bad = || AuditChainError::HeadSignatureInvalid {
            log_id: self.log_id.clone(),
            seq: self.seq,
        };
        let pk: [u8; 32] = hex::decode(public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        let sig: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad())?;
        key.verify_strict(
            &head_message(&self.log_id, self.seq, &self.hash),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| bad())
    }
}

/// What a verifier trusts about a log: its writer's public key (pinned from the node
/// or service directory, never read from the log's own store) and a signed head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    /// The writer's Ed25519 public key, hex.
    pub public_key: String,
    /// A head it signed.
    pub head: SignedHead,
}

/// The key with which the service that writes a log signs its head. Held by the
/// writer only (derived from a key in its encrypted vault or next to its DEK); zeroized
/// on drop; `Debug` shows the log and the public key only.
pub struct AuditSigner {
    log_id: String,
    key: SigningKey,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner")
            .field("log_id", &self.log_id)
            .field("public_key", &self.public_key())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl AuditSigner {
    /// The signer of log `log_id` with the Ed25519 secret key `secret` (the caller's
    /// copy should itself be zeroized).
    pub fn from_secret(log_id: impl Into<String>, secret: &[u8; 32]) -> Self {
        Self {
            log_id: log_id.into(),
            key: SigningKey::from_bytes(secret),
        }
    }

    /// A fresh random signer (for a log that lives only in memory).
    pub fn generate(
        log_id: impl Into<String>,
        rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
    ) -> Self {
        Self {
            log_id: log_id.into(),
            key: SigningKey::generate(rng),
        }
    }

    /// The log it signs for.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The public key, hex: what a verifier pins.
    pub fn public_key(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Sign the head at `seq` with hash `hash`.
    pub fn sign(&self, seq: u64, hash: &str) -> SignedHead {
        let sig = self.key.sign(&head_message(&self.log_id, seq, hash));
        SignedHead {
            log_id: self.log_id.clone(),
            seq,
            hash: hash.to_string(),
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// The head of the empty log.
    pub fn genesis(&self) -> SignedHead {
        self.sign(0, GENESIS_HASH)
    }

    /// The anchor of `head` under this signer's public key.
    pub fn anchor(&self, head: SignedHead) -> AuditAnchor {
        AuditAnchor {
            public_key: self.public_key(),
            head,
        }
    }

    /// Check that `head` is a head of this signer's log, signed by its key; a store
    /// calls this on the head it reads back before trusting or extending it.
    pub fn check(&self, head: &SignedHead) -> Result<(), AuditChainError> {
        if head.log_id != self.log_id {
            return Err(AuditChainError::HeadSignatureInvalid {
                log_id: head.log_id.clone(),
                seq: head.seq,
            });
        }
        head.verify(&self.public_key())
    }
}

/// Check an audit log read in order against an anchor: the anchor's head signature
/// under its public key, every link ([`verify_links`]), and that the log ends exactly
/// at the signed head (same seq, same hash).
///
/// Records cut off the end are [`AuditChainError::Truncated`]; a chain edited and
/// re-hashed from some record on is [`AuditChainError::Rewritten`]; records after the
/// head are [`AuditChainError::Unanchored`]. To check a log against an older
/// checkpoint, pass the records up to the checkpoint's seq.
///
/// What this cannot see: a store rolled back as a whole (records and head together)
/// to an earlier state the writer really signed. An anchor kept outside the store (the
/// latest head exported to a monitor or to the nodes) catches that too.
pub fn verify_chain(records: &[AuditRecord], anchor: &AuditAnchor) -> Result<(), AuditChainError> {
    anchor.head.verify(&anchor.public_key)?;
    verify_links(records)?;
    let (last_seq, last_hash) = records
        .last()
        .map_or((0, GENESIS_HASH), |r| (r.seq, r.hash.as_str()));
    let head = &anchor.head;
    if head.seq > last_seq {
        return Err(AuditChainError::Truncated {
            head_seq: head.seq,
            last_seq,
        });
    }
    if head.seq < last_seq {
        return Err(AuditChainError::Unanchored {
            head_seq: head.seq,
            last_seq,
        });
    }
    if head.hash != last_hash {
        return Err(AuditChainError::Rewritten { seq: last_seq });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u64) -> AuditEvent {
        AuditEvent {
            event_type: AuditEventType::KeySign,
            user_id: format!("user{i}"),
            key_id: Some(format!("key{i}")),
            operation: "sign".into(),
            result: AuditResult::Success,
            created_time: 1_700_000_000_000 + i,
            service_name: "kms".into(),
            node_id: Some("tss1".into()),
            duration_ms: i,
            data_hash: "ab".repeat(32),
            audit_trail: format!("trail {i}"),
        }
    }

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 1..=n {
            let prev = out.last().map_or(GENESIS_HASH.to_string(), |r| r.hash.clone());
            out.push(AuditRecord::seal(i, event(i), &prev));
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_links(&[]), Ok(()));
        assert_eq!(verify_links(&chain(6)), Ok(()));
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = AuditRecord::seal(1, event(1), GENESIS_HASH);
        type Edit = Box<dyn Fn(&mut AuditEvent)>;
        let mut edits: Vec<Edit> = vec![
            Box::new(|e| e.event_type = AuditEventType::KeyDestroy),
            Box::new(|e| e.user_id.push('x')),
            Box::new(|e| e.key_id = None),
            Box::new(|e| e.operation.push('x')),
            Box::new(|e| e.result = AuditResult::Failure),
            Box::new(|e| e.created_time += 1),
            Box::new(|e| e.service_name.push('x')),
            Box::new(|e| e.node_id = None),
            Box::new(|e| e.duration_ms += 1),
            Box::new(|e| e.data_hash.push('0')),
            Box::new(|e| e.audit_trail.push('x')),
        ];
        for edit in edits.drain(..) {
            let mut r = base.clone();
            edit(&mut r.event);
            assert!(!r.hash_is_valid(), "edit not detected: {:?}", r.event);
        }
        let mut r = base.clone();
        r.seq = 2;
        assert!(!r.hash_is_valid());
        let mut r = base;
        r.prev_hash = "11".repeat(32);
        assert!(!r.hash_is_valid());
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        // Moving a character from one field to the next must change the hash.
        let mut a = event(1);
        a.user_id = "ab".into();
        a.key_id = Some("c".into());
        let mut b = a.clone();
        b.user_id = "a".into();
        b.key_id = Some("bc".into());
        assert_ne!(
            AuditRecord::compute_hash(1, &a, GENESIS_HASH),
            AuditRecord::compute_hash(1, &b, GENESIS_HASH)
        );
        let mut c = a.clone();
        c.key_id = Some(String::new());
        let mut d = a;
        d.key_id = None;
        assert_ne!(
            AuditRecord::compute_hash(1, &c, GENESIS_HASH),
            AuditRecord::compute_hash(1, &d, GENESIS_HASH)
        );
    }

    #[test]
    fn edited_record_is_named() {
        let mut c = chain(5);
        c[2].event.user_id = "mallory".into();
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::Altered { position: 2, seq: 3 })
        );
    }

    #[test]
    fn deleted_records_are_named() {
        let mut c = chain(5);
        c.remove(2);
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::Missing {
                position: 2,
                expected_seq: 3,
                found_seq: 4
            })
        );
        let mut c = chain(5);
        c.remove(0);
        assert_eq!(verify_links(&c).map_err(|e| e.seq()), Err(1));
    }

    #[test]
    fn swapped_records_are_named() {
        let mut c = chain(5);
        c.swap(1, 2);
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::OutOfOrder {
                position: 1,
                expected_seq: 2,
                found_seq: 3
            })
        );
    }

    #[test]
    fn swapping_the_last_two_is_a_reorder_not_an_insertion() {
        let mut c = chain(5);
        c.swap(3, 4);
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::OutOfOrder {
                position: 3,
                expected_seq: 4,
                found_seq: 5
            })
        );
        let mut c = chain(5);
        c.swap(0, 1);
        assert_eq!(verify_links(&c).map_err(|e| e.seq()), Err(2));
    }

    #[test]
    fn inserted_record_is_named() {
        let mut c = chain(5);
        let forged = AuditRecord::seal(3, event(99), &c[1].hash);
        c.insert(2, forged);
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::Inserted { position: 2, seq: 3 })
        );
        // Inserted with a made-up hash and sequence number.
        let mut c = chain(5);
        let mut forged = AuditRecord::seal(42, event(99), &c[1].hash);
        forged.hash = "22".repeat(32);
        c.insert(2, forged);
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::Inserted { position: 2, seq: 42 })
        );
    }

    #[test]
    fn insertion_with_renumbering_is_named() {
        // What an attacker with SQL access does: shift later records up, insert a
        // well-formed forgery in the gap.
        let mut c = chain(5);
        for r in c.iter_mut().skip(2) {
            r.seq += 1;
        }
        let forged = AuditRecord::seal(3, event(99), &c[1].hash);
        c.insert(2, forged);
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::Inserted { position: 2, seq: 3 })
        );
    }

    #[test]
    fn swap_by_renumbering_is_named() {
        let mut c = chain(5);
        c[1].seq = 3;
        c[2].seq = 2;
        c.swap(1, 2);
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::OutOfOrder {
                position: 1,
                expected_seq: 2,
                found_seq: 3
            })
        );
    }

    #[test]
    fn replaced_record_with_recomputed_hash_breaks_the_next_link() {
        let mut c = chain(5);
        c[2] = AuditRecord::seal(3, event(77), &c[1].hash);
        assert_eq!(
            verify_links(&c),
            Err(AuditChainError::BrokenLink { position: 3, seq: 4 })
        );
    }

    fn signer() -> AuditSigner {
        AuditSigner::from_secret("tss1", &[7u8; 32])
    }

    fn anchored(c: &[AuditRecord]) -> AuditAnchor {
        let s = signer();
        let head = c.last().map_or_else(|| s.genesis(), |r| s.sign(r.seq, &r.hash));
        s.anchor(head)
    }

    #[test]
    fn anchored_chain_verifies() {
        assert_eq!(verify_chain(&[], &anchored(&[])), Ok(()));
        let c = chain(5);
        assert_eq!(verify_chain(&c, &anchored(&c)), Ok(()));
        // A prefix verifies against the checkpoint taken at its end.
        assert_eq!(verify_chain(&c[..3], &anchored(&c[..3])), Ok(()));
    }

    #[test]
    fn anchor_finds_cut_rewritten_and_unsigned_tails() {
        let c = chain(5);
        let anchor = anchored(&c);
        assert_eq!(
            verify_chain(&c[..3], &anchor),
            Err(AuditChainError::Truncated {
                head_seq: 5,
                last_seq: 3
            })
        );
        assert_eq!(
            verify_chain(&[], &anchor),
            Err(AuditChainError::Truncated {
                head_seq: 5,
                last_seq: 0
            })
        );
        let mut forged = c[..2].to_vec();
        for i in 3..=5 {
            let prev = forged.last().map(|r| r.hash.clone()).unwrap_or_default();
            let mut e = event(i);
            if i == 3 {
                e.user_id = "mallory".into();
            }
            forged.push(AuditRecord::seal(i, e, &prev));
        }
        assert_eq!(verify_links(&forged), Ok(()));
        assert_eq!(
            verify_chain(&forged, &anchor),
            Err(AuditChainError::Rewritten { seq: 5 })
        );
        let mut longer = c.clone();
        longer.push(AuditRecord::seal(6, event(6), &c[4].hash));
        assert_eq!(
            verify_chain(&longer, &anchor),
            Err(AuditChainError::Unanchored {
                head_seq: 5,
                last_seq: 6
            })
        );
    }

    #[test]
    fn head_signature_is_checked() {
        let c = chain(3);
        let good = anchored(&c);
        // An edited head, a head under another key, another log's head.
        let mut edited = good.clone();
        edited.head.seq = 2;
        edited.head.hash = c[1].hash.clone();
        let other = AuditSigner::from_secret("tss1", &[8u8; 32]);
        let mut foreign_key = good.clone();
        foreign_key.public_key = other.public_key();
        let mut renamed = good.clone();
        renamed.head.log_id = "tss2".into();
        for bad in [edited, foreign_key, renamed] {
            assert!(matches!(
                verify_chain(&c, &bad),
                Err(AuditChainError::HeadSignatureInvalid { .. })
            ));
        }
        let mut garbage = good.clone();
        garbage.head.signature = "zz".into();
        assert!(verify_chain(&c, &garbage).is_err());
        assert!(signer().check(&good.head).is_ok());
        assert!(other.check(&good.head).is_err());
        assert!(AuditSigner::from_secret("tss2", &[7u8; 32])
            .check(&good.head)
            .is_err());
        // A record's own hash never passes for a head signature (distinct domain).
        let dbg = format!("{:?}", signer());
        assert!(dbg.contains("redacted") && !dbg.contains("0707"), "{dbg}");
    }

    #[test]
    fn event_type_names_round_trip() {
        for t in [
            AuditEventType::KeyGenerate,
            AuditEventType::KeyStatusChange,
            AuditEventType::BackupRestore,
        ] {
            assert_eq!(AuditEventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_string(&t).ok(),
                Some(format!("\"{}\"", t.as_str()))
            );
        }
        assert_eq!(AuditResult::parse("FAILURE"), Some(AuditResult::Failure));
        assert_eq!(AuditEventType::parse("NOPE"), None);
    }
}
