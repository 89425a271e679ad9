//! EIP-712 typed data (`eth_signTypedData_v4`).
//!
//! The hashing is alloy-dyn-abi's. Before it runs, the whole document is checked here
//! against its own types, so malformed typed data is refused with the path of the
//! offending field (alloy's own errors do not say where), and nothing the caller sent
//! is left out of what is signed: a message member that its type does not declare
//! would be silently dropped by the encoding, so it is refused instead.

use crate::value::{hex_bytes, object, only, to_hex, uint};
use crate::ChainError;
use alloy_dyn_abi::TypedData;
use alloy_primitives::U256;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What an EIP-712 signature signs, and its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedDataHash {
    /// keccak256(0x1901 ‖ domain separator ‖ struct hash).
    pub digest: [u8; 32],
    /// hashStruct(domain).
    pub domain_separator: [u8; 32],
    /// hashStruct(message) under `primaryType`.
    pub struct_hash: [u8; 32],
    /// The domain as given (after normalisation), for risk rules.
    pub domain: Value,
    /// The primary type.
    pub primary_type: String,
}

/// The fields EIP712Domain may have, in the order the standard lists them.
const DOMAIN_FIELDS: [(&str, &str); 5] = [
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
];

/// Check and hash an `eth_signTypedData_v4` document.
pub fn hash(data: &Value) -> Result<TypedDataHash, ChainError> {
    let doc = object("data", data)?;
    only(doc, "data", &["types", "primaryType", "domain", "message"])?;
    let types = parse_types(
        doc.get("types")
            .ok_or_else(|| ChainError::field("data.types", "missing"))?,
    )?;
    check_domain_type(&types)?;
    let primary = doc
        .get("primaryType")
        .and_then(Value::as_str)
        .ok_or_else(|| ChainError::field("data.primaryType", "missing or not a string"))?;
    if !types.contains_key(primary) {
        return Err(ChainError::field(
            "data.primaryType",
            format!("unknown type {primary:?}"),
        ));
    }
    check_acyclic(&types)?;
    let checker = Checker { types: &types };
    let domain = checker.value(
        "data.domain",
        "EIP712Domain",
        doc.get("domain")
            .ok_or_else(|| ChainError::field("data.domain", "missing"))?,
    )?;
    let message = if primary == "EIP712Domain" {
        Value::Object(Map::new())
    } else {
        checker.value(
            "data.message",
            primary,
            doc.get("message")
                .ok_or_else(|| ChainError::field("data.message", "missing"))?,
        )?
    };
    let mut normalised = doc.clone();
    normalised.insert("domain".into(), domain.clone());
    normalised.insert("message".into(), message);
    let typed: TypedData = serde_json::from_value(Value::Object(normalised))
        .map_err(|e| ChainError::field("data", format!("typed data: {e}")))?;
    let alloy_err = |e: alloy_dyn_abi::Error| ChainError::field("data", format!("typed data: {e}"));
    let domain_separator = typed.domain().separator().0;
    let (struct_hash, digest) = if primary == "EIP712Domain" {
        // Signing the domain alone: the digest is over the domain separator only.
        let digest = alloy_primitives::keccak256([&[0x19, 0x01][..], &domain_separator].concat()).0;
        (domain_separator, digest)
    } else {
        (
            typed.hash_struct().map_err(alloy_err)?.0,
            typed.eip712_signing_hash().map_err(alloy_err)?.0,
        )
    };
    Ok(TypedDataHash {
        digest,
        domain_separator,
        struct_hash,
        domain,
        primary_type: primary.to_string(),
    })
}

type Types = BTreeMap<String, Vec<(String, String)>>;

fn parse_types(v: &Value) -> Result<Types, ChainError> {
    let obj = object("data.types", v)?;
    let mut types = Types::new();
    for (name, fields) in obj {
        let path = format!("data.types.{name}");
        if !is_identifier(name) || atomic(name).is_some() {
            return Err(ChainError::field(path, "not a valid struct type name"));
        }
        let list = fields
            .as_array()
            .ok_or_else(|| ChainError::field(&path, "expected an array of {name, type}"))?;
        let mut seen = BTreeSet::new();
        let mut parsed = Vec::with_capacity(list.len());
        for (i, f) in list.iter().enumerate() {
            let fpath = format!("{path}[{i}]");
            let f = object(&fpath, f)?;
            only(f, &fpath, &["name", "type"])?;
            let fname = crate::value::string(f, &fpath, "name")?;
            let ftype = crate::value::string(f, &fpath, "type")?;
            if !is_identifier(fname) {
                return Err(ChainError::field(
                    format!("{fpath}.name"),
                    "not a valid field name",
                ));
            }
            if !seen.insert(fname) {
                return Err(ChainError::field(
                    format!("{fpath}.name"),
                    format!("duplicate field {fname:?}"),
                ));
            }
            parsed.push((fname.to_string(), ftype.to_string()));
        }
        types.insert(name.clone(), parsed);
    }
    // Every field type must be atomic or a declared struct, with well-formed array suffixes.
    for (name, fields) in &types {
        for (i, (_, ftype)) in fields.iter().enumerate() {
            let (base, _) = split_arrays(ftype).ok_or_else(|| {
                ChainError::field(
                    format!("data.types.{name}[{i}].type"),
                    format!("malformed type {ftype:?}"),
                )
            })?;
            if atomic(base).is_none() && !types.contains_key(base) {
                return Err(ChainError::field(
                    format!("data.types.{name}[{i}].type"),
                    format!("unknown type {base:?}"),
                ));
            }
        }
    }
    Ok(types)
}

fn check_domain_type(types: &Types) -> Result<(), ChainError> {
    let fields = types
        .get("EIP712Domain")
        .ok_or_else(|| ChainError::field("data.types.EIP712Domain", "missing"))?;
    let mut next = 0;
    for (i, (name, ty)) in fields.iter().enumerate() {
        let pos = DOMAIN_FIELDS.iter().position(|(n, _)| n == name).ok_or_else(|| {
            ChainError::field(
                format!("data.types.EIP712Domain[{i}]"),
                format!("{name:?} is not an EIP712Domain field"),
            )
        })?;
        if DOMAIN_FIELDS[pos].1 != ty {
            return Err(ChainError::field(
                format!("data.types.EIP712Domain[{i}].type"),
                format!("{name} must be {}", DOMAIN_FIELDS[pos].1),
            ));
        }
        if pos < next {
            return Err(ChainError::field(
                format!("data.types.EIP712Domain[{i}]"),
                "fields must be in the standard order (name, version, chainId, verifyingContract, salt)",
            ));
        }
        next = pos + 1;
    }
    Ok(())
}

/// Refuse recursive types: their encoding is unbounded and wallets disagree on them.
fn check_acyclic(types: &Types) -> Result<(), ChainError> {
    fn visit<'a>(
        types: &'a Types,
        name: &'a str,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Result<(), ChainError> {
        if done.contains(name) {
            return Ok(());
        }
        if let Some(at) = stack.iter().position(|s| *s == name) {
            let mut cycle: Vec<&str> = stack[at..].to_vec();
            cycle.push(name);
            return Err(ChainError::field(
                format!("data.types.{name}"),
                format!("cycle {}", cycle.join(" -> ")),
            ));
        }
        stack.push(name);
        for (_, ftype) in &types[name] {
            let (base, _) = split_arrays(ftype).expect("checked when parsed");
            if types.contains_key(base) {
                visit(types, base, stack, done)?;
            }
        }
        stack.pop();
        done.insert(name);
        Ok(())
    }
    let mut done = BTreeSet::new();
    for name in types.keys() {
        visit(types, name, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Atomic {
    Address,
    Bool,
    String,
    Bytes,
    FixedBytes(usize),
    Uint(usize),
    Int(usize),
}

fn atomic(ty: &str) -> Option<Atomic> {
    let width = |digits: &str, max: usize, step: usize| -> Option<usize> {
        if digits.starts_with('0') {
            return None;
        }
        let n: usize = digits.parse().ok()?;
        (n >= step && n <= max && n.is_multiple_of(step)).then_some(n)
    };
    match ty {
        "address" => Some(Atomic::Address),
        "bool" => Some(Atomic::Bool),
        "string" => Some(Atomic::String),
        "bytes" => Some(Atomic::Bytes),
        _ => {
            if let Some(d) = ty.strip_prefix("bytes") {
                width(d, 32, 1).map(Atomic::FixedBytes)
            } else if let Some(d) = ty.strip_prefix("uint") {
                width(d, 256, 8).map(Atomic::Uint)
            } else if let Some(d) = ty.strip_prefix("int") {
                width(d, 256, 8).map(Atomic::Int)
            } else {
                None
            }
        }
    }
}

/// `Base[2][]` → ("Base", [Some(2), None]), outermost dimension last.
fn split_arrays(ty: &str) -> Option<(&str, Vec<Option<usize>>)> {
    let base_end = ty.find('[').unwrap_or(ty.len());
    let (base, mut rest) = ty.split_at(base_end);
    if !is_identifier(base) {
        return None;
    }
    let mut dims = Vec::new();
    while !rest.is_empty() {
        let close = rest.find(']')?;
        let inner = rest.strip_prefix('[')?.get(..close - 1)?;
        dims.push(if inner.is_empty() {
            None
        } else if inner.starts_with('0') || !inner.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        } else {
            Some(inner.parse().ok()?)
        });
        rest = &rest[close + 1..];
    }
    Some((base, dims))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

struct Checker<'a> {
    types: &'a Types,
}

impl Checker<'_> {
    /// Check `v` against type `ty`, returning it normalised (integers as decimal strings,
    /// bytes as `0x` hex) so the hashing reads exactly what was checked.
    fn value(&self, path: &str, ty: &str, v: &Value) -> Result<Value, ChainError> {
        let (base, dims) =
            split_arrays(ty).ok_or_else(|| ChainError::field(path, format!("malformed type {ty:?}")))?;
        self.dims(path, base, &dims, v)
    }

    fn dims(&self, path: &str, base: &str, dims: &[Option<usize>], v: &Value) -> Result<Value, ChainError> {
        let Some((outer, inner)) = dims.split_last() else {
            return self.base(path, base, v);
        };
        let items = v
            .as_array()
            .ok_or_else(|| ChainError::field(path, "expected an array"))?;
        if let Some(n) = outer {
            if items.len() != *n {
                return Err(ChainError::field(
                    path,
                    format!("expected {n} elements, got {}", items.len()),
                ));
            }
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.dims(&format!("{path}[{i}]"), base, inner, item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    }

    fn base(&self, path: &str, base: &str, v: &Value) -> Result<Value, ChainError> {
        if let Some(fields) = self.types.get(base) {
            let obj = object(path, v)?;
            let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
            only(obj, path, &names)?;
            let mut out = Map::new();
            for (name, fty) in fields {
                let fpath = format!("{path}.{name}");
                let fv = obj
                    .get(name)
                    .ok_or_else(|| ChainError::field(&fpath, "missing"))?;
                out.insert(name.clone(), self.value(&fpath, fty, fv)?);
            }
            return Ok(Value::Object(out));
        }
        match atomic(base).ok_or_else(|| ChainError::field(path, format!("unknown type {base:?}")))? {
            Atomic::Address => {
                let bytes = crate::value::hex_array::<20>(path, v)?;
                Ok(to_hex(bytes).into())
            }
            Atomic::Bool => v
                .as_bool()
                .map(Value::Bool)
                .ok_or_else(|| ChainError::field(path, "expected true or false")),
            Atomic::String => v
                .as_str()
                .map(|s| Value::String(s.to_string()))
                .ok_or_else(|| ChainError::field(path, "expected a string")),
            Atomic::Bytes => Ok(to_hex(hex_bytes(path, v)?).into()),
            Atomic::FixedBytes(n) => {
                let bytes = hex_bytes(path, v)?;
                if bytes.len() != n {
                    return Err(ChainError::field(
                        path,
                        format!("expected {n} bytes, got {}", bytes.len()),
                    ));
                }
                Ok(to_hex(bytes).into())
            }
            Atomic::Uint(bits) => {
                let n = uint(path, v)?;
                if bits < 256 && n >> bits != U256::ZERO {
                    return Err(ChainError::field(path, format!("out of range for uint{bits}")));
                }
                Ok(n.to_string().into())
            }
            Atomic::Int(bits) => {
                let (negative, magnitude) = signed(path, v)?;
                let limit = U256::from(1u8) << (bits - 1);
                let ok = if negative {
                    magnitude <= limit
                } else {
                    magnitude < limit
                };
                if !ok {
                    return Err(ChainError::field(path, format!("out of range for int{bits}")));
                }
                Ok(if negative && magnitude != U256::ZERO {
                    format!("-{magnitude}")
                } else {
                    magnitude.to_string()
                }
                .into())
            }
        }
    }
}

/// A signed integer as (is negative, magnitude).
fn signed(path: &str, v: &Value) -> Result<(bool, U256), ChainError> {
    match v {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Ok((false, U256::from(u))),
            (None, Some(i)) => Ok((true, U256::from(i.unsigned_abs()))),
            _ => Err(ChainError::field(path, "expected an integer")),
        },
        Value::String(s) => match s.strip_prefix('-') {
            Some(rest) => Ok((true, uint(path, &Value::String(rest.to_string()))?)),
            None => Ok((false, uint(path, v)?)),
        },
        _ => Err(ChainError::field(
            path,
            "expected an integer (number or decimal string)",
        )),
    }
}
