//! Solana: transactions (a compact array of Ed25519 signatures over the serialized
//! message) and off-chain messages (the `\xffsolana offchain` preamble).

use crate::value::{object, only, string, to_hex};
use crate::ChainError;
use bitcoin::base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use serde_json::{json, Map, Value};

/// The largest transaction the network accepts (IPv6 MTU minus headers).
pub const MAX_TRANSACTION_SIZE: usize = 1232;

/// The system program, whose instruction 2 is a lamport transfer.
const SYSTEM_PROGRAM: [u8; 32] = [0; 32];

/// A parsed `SOLANA_TX` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SolanaTransaction {
    /// The serialized message: what is signed.
    pub message: Vec<u8>,
    /// How many signatures the transaction carries.
    pub num_required_signatures: usize,
    /// The key's slot among the signers.
    pub signer_index: usize,
    /// Account keys (static keys of the message).
    pub account_keys: Vec<[u8; 32]>,
    /// System-program transfers: (from, to, lamports).
    pub transfers: Vec<([u8; 32], [u8; 32], u64)>,
    /// Program ids called.
    pub programs: Vec<[u8; 32]>,
}

impl SolanaTransaction {
    /// Parse `{"message": base64}` for the Ed25519 key `key`, which must be one of the
    /// message's required signers.
    pub fn from_json(data: &Value, key: &[u8; 32]) -> Result<Self, ChainError> {
        let obj = object("data", data)?;
        only(obj, "data", &["message"])?;
        let message = BASE64
            .decode(string(obj, "data", "message")?)
            .map_err(|e| ChainError::field("data.message", format!("not base64: {e}")))?;
        let parsed = parse_message(&message)?;
        let signer_index = parsed.keys[..parsed.num_required_signatures]
            .iter()
            .position(|k| k == key)
            .ok_or_else(|| {
                ChainError::field("data.message", "the key is not one of the message's signers")
            })?;
        let size =
            compact_len(parsed.num_required_signatures) + 64 * parsed.num_required_signatures + message.len();
        if size > MAX_TRANSACTION_SIZE {
            return Err(ChainError::field(
                "data.message",
                format!("the signed transaction would be {size} bytes, over {MAX_TRANSACTION_SIZE}"),
            ));
        }
        let mut transfers = Vec::new();
        let mut programs = Vec::new();
        for ix in &parsed.instructions {
            let program = *parsed.keys.get(ix.program).ok_or_else(|| {
                ChainError::field("data.message", "program index outside the static account keys")
            })?;
            programs.push(program);
            if program == SYSTEM_PROGRAM
                && ix.data.len() == 12
                && ix.data[..4] == 2u32.to_le_bytes()
                && ix.accounts.len() >= 2
            {
                let key = |i: usize| parsed.keys.get(ix.accounts[i]).copied();
                if let (Some(from), Some(to)) = (key(0), key(1)) {
                    let lamports = u64::from_le_bytes(ix.data[4..12].try_into().expect("8 bytes"));
                    transfers.push((from, to, lamports));
                }
            }
        }
        Ok(Self {
            message,
            num_required_signatures: parsed.num_required_signatures,
            signer_index,
            account_keys: parsed.keys,
            transfers,
            programs,
        })
    }

    /// The fields, as risk rules read them.
    pub fn summary(&self) -> Value {
        let b58 = |k: &[u8; 32]| bs58::encode(k).into_string();
        json!({
            "fee_payer": b58(&self.account_keys[0]),
            "signers": self.num_required_signatures,
            "programs": self.programs.iter().map(b58).collect::<Vec<_>>(),
            "transfers": self.transfers.iter().map(|(f, t, l)| json!({"from": b58(f), "to": b58(t), "lamports": l})).collect::<Vec<_>>(),
        })
    }

    /// The signed transaction (other signers' slots zero, for them to fill) and the
    /// answer's fields.
    pub fn finish(&self, signature: &[u8; 64]) -> Map<String, Value> {
        let n = self.num_required_signatures;
        let mut tx = Vec::with_capacity(3 + 64 * n + self.message.len());
        write_compact(n, &mut tx);
        for i in 0..n {
            tx.extend_from_slice(if i == self.signer_index {
                signature
            } else {
                &[0; 64]
            });
        }
        tx.extend_from_slice(&self.message);
        let mut m = Map::new();
        m.insert("signature".into(), to_hex(signature).into());
        m.insert(
            "signature_base58".into(),
            bs58::encode(signature).into_string().into(),
        );
        m.insert("transaction".into(), BASE64.encode(&tx).into());
        m
    }
}

struct Instruction {
    program: usize,
    accounts: Vec<usize>,
    data: Vec<u8>,
}

struct Message {
    num_required_signatures: usize,
    keys: Vec<[u8; 32]>,
    instructions: Vec<Instruction>,
}

/// Parse a legacy or v0 message; the whole buffer must be consumed.
fn parse_message(buf: &[u8]) -> Result<Message, ChainError> {
    let bad = |why: &str| ChainError::field("data.message", format!("not a Solana message: {why}"));
    let mut r = Reader { buf };
    let first = r.u8().ok_or_else(|| bad("empty"))?;
    let versioned = first & 0x80 != 0;
    let num_required_signatures = if versioned {
        if first & 0x7f != 0 {
            return Err(bad("unsupported message version"));
        }
        r.u8().ok_or_else(|| bad("truncated header"))?
    } else {
        first
    } as usize;
    let _readonly_signed = r.u8().ok_or_else(|| bad("truncated header"))?;
    let _readonly_unsigned = r.u8().ok_or_else(|| bad("truncated header"))?;
    let nkeys = r.compact().ok_or_else(|| bad("truncated account keys"))?;
    let keys = (0..nkeys)
        .map(|_| r.array::<32>().ok_or_else(|| bad("truncated account keys")))
        .collect::<Result<Vec<_>, _>>()?;
    if num_required_signatures == 0 || num_required_signatures > keys.len() {
        return Err(bad("the number of signers does not fit the account keys"));
    }
    r.array::<32>().ok_or_else(|| bad("truncated recent blockhash"))?;
    let nix = r.compact().ok_or_else(|| bad("truncated instructions"))?;
    let mut instructions = Vec::with_capacity(nix.min(64));
    for _ in 0..nix {
        let program = usize::from(r.u8().ok_or_else(|| bad("truncated instruction"))?);
        let na = r.compact().ok_or_else(|| bad("truncated instruction"))?;
        let accounts = r
            .bytes(na)
            .ok_or_else(|| bad("truncated instruction"))?
            .iter()
            .map(|b| usize::from(*b))
            .collect();
        let nd = r.compact().ok_or_else(|| bad("truncated instruction"))?;
        let data = r.bytes(nd).ok_or_else(|| bad("truncated instruction"))?.to_vec();
        instructions.push(Instruction {
            program,
            accounts,
            data,
        });
    }
    if versioned {
        let nl = r
            .compact()
            .ok_or_else(|| bad("truncated address table lookups"))?;
        for _ in 0..nl {
            r.array::<32>()
                .ok_or_else(|| bad("truncated address table lookup"))?;
            for _ in 0..2 {
                let n = r.compact().ok_or_else(|| bad("truncated address table lookup"))?;
                r.bytes(n).ok_or_else(|| bad("truncated address table lookup"))?;
            }
        }
    }
    if !r.buf.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(Message {
        num_required_signatures,
        keys,
        instructions,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        (self.buf.len() >= n).then(|| {
            let (b, rest) = self.buf.split_at(n);
            self.buf = rest;
            b
        })
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N).map(|b| b.try_into().expect("N bytes"))
    }
    /// Solana's compact-u16 (1 to 3 bytes, canonical).
    fn compact(&mut self) -> Option<usize> {
        let mut v = 0usize;
        for i in 0..3 {
            let b = self.u8()?;
            if i == 2 && b > 0x03 {
                return None;
            }
            v |= usize::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return None; // a non-canonical encoding
                }
                return Some(v);
            }
        }
        None
    }
}

fn compact_len(n: usize) -> usize {
    match n {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        _ => 3,
    }
}

fn write_compact(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// The signing-domain prefix of every off-chain message; 0xff cannot start a
/// transaction message, so an off-chain signature never signs a transaction.
pub const OFFCHAIN_SIGNING_DOMAIN: &[u8; 16] = b"\xffsolana offchain";

/// The bytes a `SOLANA_MESSAGE` signs: the version-0 off-chain message preamble of the
/// off-chain message signing proposal (signing domain, header version 0, a 32-byte
/// application domain, the message format, the signer count and keys, the u16-LE length)
/// followed by the message. The format is 0 (restricted ASCII, 0x20..=0x7e) or 1 (UTF-8)
/// up to 1212 bytes, and 2 (UTF-8) up to 65515.
pub fn offchain_message(data: &Value, key: &[u8; 32]) -> Result<Vec<u8>, ChainError> {
    let obj = object("data", data)?;
    only(obj, "data", &["message"])?;
    let text = string(obj, "data", "message")?.as_bytes();
    if text.is_empty() {
        return Err(ChainError::field("data.message", "must not be empty"));
    }
    let format = if text.len() <= 1212 && text.iter().all(|b| (0x20..=0x7e).contains(b)) {
        0u8
    } else if text.len() <= 1212 {
        1
    } else if text.len() <= 65515 {
        2
    } else {
        return Err(ChainError::field("data.message", "longer than 65515 bytes"));
    };
    let mut out = Vec::with_capacity(16 + 1 + 32 + 1 + 1 + 32 + 2 + text.len());
    out.extend_from_slice(OFFCHAIN_SIGNING_DOMAIN);
    out.push(0); // header version
    out.extend_from_slice(&[0; 32]); // application domain: none given
    out.push(format);
    out.push(1); // one signer: the key
    out.extend_from_slice(key);
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text);
    Ok(out)
}
