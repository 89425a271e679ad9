//! The one binary codec for what leaves a process: protocol envelopes on the wire and
//! key shares on disk.
//!
//! Every record is framed the same way:
//!
//! ```text
//! version: u8 | kind_len: u8 | kind: kind_len bytes (ASCII) | body_len: u32 BE | body
//! ```
//!
//! and the body is a sequence of fixed-size big-endian integers and length-prefixed
//! byte strings (u32 BE length, then the bytes), written with [`Writer`] and read with
//! [`Reader`]. The version comes first so that a future reader can tell the format
//! before it reads anything else: a version it does not know is
//! [`CodecError::UnknownVersion`], never a guess. The kind keeps one record from being
//! read as another; the body length and the end check make a record's bytes its only
//! encoding (truncated or trailing bytes are errors).
//!
//! Payloads inside an envelope stay the protocol's own typed messages (see
//! [`crate::driver`]); this codec is for the edges.

use zeroize::Zeroizing;

/// The version of every record this build writes, and the only one it reads.
pub const CODEC_VERSION: u8 = 1;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The record was written by a format version this build does not read.
    #[error("codec version {found}, this build reads version {supported}")]
    UnknownVersion {
        /// The version byte found.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The record is of another kind than expected.
    #[error("a {found:?} record, expected {expected:?}")]
    WrongKind {
        /// The kind found.
        found: String,
        /// The kind expected.
        expected: &'static str,
    },
    /// The bytes end before the named field does.
    #[error("truncated at {0}")]
    Truncated(&'static str),
    /// Bytes follow the end of the record or of its body.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A field holds a value no writer produces.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

impl From<CodecError> for crate::error::Fault {
    fn from(e: CodecError) -> Self {
        crate::error::Fault::Malformed(e.to_string())
    }
}

/// Builds one record. The buffer is zeroized on drop, so records that hold secrets
/// (key shares) leave no copy behind; size it up front with `capacity` so it is not
/// reallocated either.
pub struct Writer {
    buf: Zeroizing<Vec<u8>>,
    body_start: usize,
}

impl Writer {
    /// Start a record of `kind` (at most 255 ASCII bytes) with room for `capacity` body
    /// bytes.
    pub fn new(kind: &'static str, capacity: usize) -> Self {
        debug_assert!(kind.len() <= usize::from(u8::MAX) && kind.is_ascii());
        let mut buf = Zeroizing::new(Vec::with_capacity(2 + kind.len() + 4 + capacity));
        buf.push(CODEC_VERSION);
        buf.push(kind.len() as u8);
        buf.extend_from_slice(kind.as_bytes());
        buf.extend_from_slice(&[0; 4]);
        let body_start = buf.len();
        Self { buf, body_start }
    }

    /// Append a byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Append a u16, big-endian.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Append a u64, big-endian.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Append bytes of a length both sides know (no prefix).
    pub fn fixed(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Append a length-prefixed byte string (u32 BE length).
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        let len = u32::try_from(v.len()).expect("a field of this crate is below 4 GiB");
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(v);
        self
    }

    /// Close the record: fill in the body length.
    pub fn finish(mut self) -> Zeroizing<Vec<u8>> {
        let len =
            u32::try_from(self.buf.len() - self.body_start).expect("a record of this crate is below 4 GiB");
        self.buf[self.body_start - 4..self.body_start].copy_from_slice(&len.to_be_bytes());
        std::mem::take(&mut self.buf)
    }
}

/// Reads the body of one record, field by field.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Open a record of `kind`: check the version (first), the kind and the body
    /// length, and return a reader over the body.
    pub fn open(kind: &'static str, bytes: &'a [u8]) -> Result<Self, CodecError> {
        let mut r = Reader { rest: bytes };
        let version = r.u8("version")?;
        if version != CODEC_VERSION {
            return Err(CodecError::UnknownVersion {
                found: version,
                supported: CODEC_VERSION,
            });
        }
        let kind_len = r.u8("kind length")?;
        let found = r.fixed(usize::from(kind_len), "kind")?;
        if found != kind.as_bytes() {
            return Err(CodecError::WrongKind {
                found: String::from_utf8_lossy(found).into_owned(),
                expected: kind,
            });
        }
        let len = r.u32("body length")? as usize;
        if r.rest.len() < len {
            return Err(CodecError::Truncated("body"));
        }
        if r.rest.len() > len {
            return Err(CodecError::Trailing(r.rest.len() - len));
        }
        Ok(r)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        if self.rest.len() < n {
            return Err(CodecError::Truncated(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// A byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.take(1, what)?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, CodecError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// `n` bytes of a length both sides know.
    pub fn fixed(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        self.take(n, what)
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }

    /// Check that the body has been read to its end.
    pub fn finish(self) -> Result<(), CodecError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CodecError::Trailing(self.rest.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Vec<u8> {
        let mut w = Writer::new("test/kind", 16);
        w.u8(7).u16(0x0102).u64(3).bytes(b"abc").fixed(&[9, 9]);
        w.finish().to_vec()
    }

    #[test]
    fn round_trip_and_layout() {
        let bytes = record();
        assert_eq!(bytes[0], CODEC_VERSION);
        assert_eq!(usize::from(bytes[1]), "test/kind".len());
        let mut r = Reader::open("test/kind", &bytes).unwrap();
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u16("b").unwrap(), 0x0102);
        assert_eq!(r.u64("c").unwrap(), 3);
        assert_eq!(r.bytes("d").unwrap(), b"abc");
        assert_eq!(r.fixed(2, "e").unwrap(), &[9, 9]);
        r.finish().unwrap();
    }

    #[test]
    fn unknown_version_is_a_typed_error_checked_first() {
        let mut bytes = record();
        bytes[0] = 2;
        // Even with the rest of the record garbled, the version is what is reported.
        bytes[1] = 0xff;
        assert_eq!(
            Reader::open("test/kind", &bytes).err(),
            Some(CodecError::UnknownVersion {
                found: 2,
                supported: CODEC_VERSION
            })
        );
    }

    #[test]
    fn wrong_kind_truncation_and_trailing_bytes_are_refused() {
        let bytes = record();
        assert!(matches!(
            Reader::open("other/kind", &bytes),
            Err(CodecError::WrongKind { .. })
        ));
        for cut in [0, 1, 5, bytes.len() - 1] {
            assert!(
                matches!(
                    Reader::open("test/kind", &bytes[..cut]),
                    Err(CodecError::Truncated(_))
                ),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Reader::open("test/kind", &longer).err(),
            Some(CodecError::Trailing(1))
        );
        // A body read only in part is refused too.
        let mut r = Reader::open("test/kind", &bytes).unwrap();
        r.u8("a").unwrap();
        assert!(matches!(r.finish(), Err(CodecError::Trailing(_))));
        // A length prefix beyond the body is truncation, not a panic.
        let mut w = Writer::new("test/kind", 8);
        w.u16(u16::MAX).u16(u16::MAX);
        let odd = w.finish();
        let mut r = Reader::open("test/kind", &odd).unwrap();
        assert!(matches!(r.bytes("x"), Err(CodecError::Truncated("x"))));
    }
}
