//! Big-endian integers and length-prefixed text: the two ways every field of the format is
//! written. A [`FieldReader`] walks a borrowed slice and fails with [`ShortInput`] instead of
//! panicking when a field runs past the end.

/// A field ran past the end of its enclosing structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShortInput;

/// A cursor over a byte slice that reads fields front to back.
#[derive(Debug, Clone)]
pub(crate) struct FieldReader<'a> {
    rest: &'a [u8],
}

impl<'a> FieldReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], ShortInput> {
        if self.rest.len() < len {
            return Err(ShortInput);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ShortInput> {
        let mut out = [0; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ShortInput> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ShortInput> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ShortInput> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, ShortInput> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A `u8` length, then that many bytes.
    pub(crate) fn short_bytes(&mut self) -> Result<&'a [u8], ShortInput> {
        let len = self.u8()?;
        self.bytes(usize::from(len))
    }
}

/// Appends a `u8` length and the text. The caller has checked that `text` fits in 255 bytes.
pub(crate) fn put_short_text(out: &mut Vec<u8>, text: &str) {
    let len = u8::try_from(text.len()).expect("invariant: text lengths are checked to be <= 255");
    out.push(len);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_in_order_and_stops_at_the_end() {
        let bytes = [1, 0, 2, 0, 0, 0, 3, 2, b'h', b'i', 9];
        let mut reader = FieldReader::new(&bytes);
        assert_eq!(reader.u8(), Ok(1));
        assert_eq!(reader.u16(), Ok(2));
        assert_eq!(reader.u32(), Ok(3));
        assert_eq!(reader.short_bytes(), Ok(&b"hi"[..]));
        assert_eq!(reader.remaining(), &[9]);
        assert_eq!(reader.u16(), Err(ShortInput));
        assert_eq!(reader.u8(), Ok(9));
        assert!(reader.is_empty());
        assert_eq!(reader.u64(), Err(ShortInput));
    }

    #[test]
    fn short_text_is_length_prefixed() {
        let mut out = Vec::new();
        put_short_text(&mut out, "ivr");
        assert_eq!(out, [3, b'i', b'v', b'r']);
    }
}
