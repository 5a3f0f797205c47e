//! A bounds-checked cursor over the bytes of a frame, for the records'
//! decoders: every read past the end is `None`, never a panic.

/// A bounds-checked cursor over bytes read from disk.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next `len` bytes, or `None` if fewer are left.
    pub fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|b| b[0])
    }

    /// A big-endian `i16`.
    pub fn i16(&mut self) -> Option<i16> {
        self.array().map(i16::from_be_bytes)
    }

    /// A big-endian `i32`.
    pub fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_be_bytes)
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// A big-endian `i64`.
    pub fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_be_bytes)
    }

    /// `len` bytes of UTF-8.
    pub fn utf8(&mut self, len: usize) -> Option<String> {
        std::str::from_utf8(self.take(len)?).ok().map(str::to_owned)
    }

    /// A `u32`-length-prefixed UTF-8 string.
    pub fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.utf8(len)
    }
}

/// Writes `text` with a `u32` length in front, the form [`Reader::string`]
/// reads. A `u32` length covers every string the protocol can carry
/// (compact strings have `u32` lengths), so names are never truncated.
pub(crate) fn put_str(buf: &mut bytes::BytesMut, text: &str) {
    use bytes::BufMut;
    buf.put_u32(u32::try_from(text.len()).unwrap_or(u32::MAX));
    buf.put_slice(text.as_bytes());
}
