//! The structural walk: reads a body field by field as the schema says, and
//! checks every length before trusting it.
//!
//! The walker never allocates and never indexes past its end: every read
//! goes through [`Walker::take`], which checks the bytes remaining first.
//! Each array element and each tagged field consumes at least one byte, so
//! the number of loop turns is bounded by the frame length, whatever the
//! counts say.

use super::error::{GuardError, Location, Problem};
use super::schema::{Field, Kind, StructDef};

/// Names the tagged section in error locations.
const TAGGED_SECTION: &str = "<tagged fields>";

/// A cursor over one frame, reading it as `message` at `version`.
pub(crate) struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Reads stop here; lowered temporarily while inside a tagged field.
    end: usize,
    message: &'static str,
    version: i16,
    flexible: bool,
    /// Array elements still allowed, over all arrays of the message.
    elements_left: u64,
    /// The cap `elements_left` started from, for the error.
    element_cap: u64,
}

/// The struct and field being read, for error messages.
#[derive(Clone, Copy)]
struct Site {
    structure: &'static str,
    field: &'static str,
}

impl<'a> Walker<'a> {
    /// A walker over all of `buf`.
    pub(crate) fn new(buf: &'a [u8], message: &'static str, version: i16, flexible: bool) -> Self {
        Walker {
            buf,
            pos: 0,
            end: buf.len(),
            message,
            version,
            flexible,
            elements_left: u64::MAX,
            element_cap: u64::MAX,
        }
    }

    /// Refuses messages with more than `cap` array elements in total.
    pub(crate) fn with_element_cap(mut self, cap: u64) -> Self {
        self.elements_left = cap;
        self.element_cap = cap;
        self
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Switches between classic and compact encodings (the request header
    /// is classic even when its tagged section follows).
    pub(crate) fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    /// Walks a whole struct: its fields in order, then (when flexible) its
    /// tagged section.
    pub(crate) fn walk_struct(&mut self, def: &'static StructDef) -> Result<(), GuardError> {
        self.walk_fields(def)?;
        if self.flexible {
            self.walk_tagged(def)?;
        }
        Ok(())
    }

    /// Walks the untagged fields of `def` present in this version.
    pub(crate) fn walk_fields(&mut self, def: &'static StructDef) -> Result<(), GuardError> {
        for field in self.present(def) {
            let site = Site {
                structure: def.name,
                field: field.name,
            };
            self.walk_kind(&field.kind, self.nullable(field), site)?;
        }
        Ok(())
    }

    /// Fails unless every byte of the frame was consumed.
    pub(crate) fn finish(&self, def: &'static StructDef) -> Result<(), GuardError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(self.fail(
                Site {
                    structure: def.name,
                    field: "<end>",
                },
                self.pos,
                Problem::TrailingBytes(extra),
            )),
        }
    }

    /// Walks a tagged section: a count, then (tag, size, content) triples.
    /// Tags `def` knows in this version are walked inside their declared
    /// size and must fill it exactly, because kafka-protocol decodes known
    /// tags from the frame itself, ignoring the size; unknown tags are
    /// skipped by size, as kafka-protocol does.
    pub(crate) fn walk_tagged(&mut self, def: &'static StructDef) -> Result<(), GuardError> {
        let site = Site {
            structure: def.name,
            field: TAGGED_SECTION,
        };
        let start = self.pos;
        let count = self.varint(site)?;
        // Every tagged field needs at least a tag byte and a size byte.
        self.check_count(u64::from(count), 2, site, start)?;
        for _ in 0..count {
            let tag = self.varint(site)?;
            let size_at = self.pos;
            let size = self.varint(site)?;
            let known = def
                .fields
                .iter()
                .find(|f| f.tag == Some(tag) && f.versions.contains(self.version));
            match known {
                Some(field) => self.walk_tagged_field(field, def, u64::from(size), size_at)?,
                None => {
                    self.take(u64::from(size), site)?;
                }
            }
        }
        Ok(())
    }

    fn walk_tagged_field(
        &mut self,
        field: &'static Field,
        def: &'static StructDef,
        size: u64,
        size_at: usize,
    ) -> Result<(), GuardError> {
        let site = Site {
            structure: def.name,
            field: field.name,
        };
        if size > self.remaining() as u64 {
            return Err(self.fail(
                site,
                size_at,
                Problem::LengthTooLarge {
                    length: size,
                    remaining: self.remaining(),
                },
            ));
        }
        let start = self.pos;
        let outer_end = self.end;
        // `size <= remaining` was checked, so this cannot pass `outer_end`.
        self.end = start + size as usize;
        let walked = self.walk_kind(&field.kind, self.nullable(field), site);
        let consumed = self.pos - start;
        self.end = outer_end;
        walked?;
        if consumed as u64 != size {
            return Err(self.fail(
                site,
                start,
                Problem::TaggedSizeMismatch {
                    declared: size,
                    consumed,
                },
            ));
        }
        Ok(())
    }

    fn walk_kind(&mut self, kind: &Kind, nullable: bool, site: Site) -> Result<(), GuardError> {
        match kind {
            Kind::Int8 | Kind::Bool => self.skip(1, site),
            Kind::Int16 => self.skip(2, site),
            Kind::Int32 => self.skip(4, site),
            Kind::Int64 => self.skip(8, site),
            Kind::Uuid => self.skip(16, site),
            Kind::String => self.walk_string(nullable, site),
            Kind::Bytes | Kind::Records => self.walk_bytes(nullable, site),
            // A nullable struct field carries an int8 marker first: 1
            // when the struct follows, -1 for null (kafka-protocol's
            // `OptionStruct` reads any other value as null too).
            Kind::Struct(def) if nullable => {
                let marker = self.pos;
                self.skip(1, site)?;
                if self.buf[marker] == 1 {
                    self.walk_struct(def)?;
                }
                Ok(())
            }
            Kind::Struct(def) => self.walk_struct(def),
            Kind::StructArray(def) => {
                let min = self.struct_min_size(def);
                let count = self.array_count(nullable, min, site)?;
                for _ in 0..count {
                    self.walk_struct(def)?;
                }
                Ok(())
            }
            Kind::Array(element) => {
                let min = self.min_size(element);
                let count = self.array_count(nullable, min, site)?;
                // Elements of a scalar array are never null.
                for _ in 0..count {
                    self.walk_kind(element, false, site)?;
                }
                Ok(())
            }
        }
    }

    /// Reads a string length (null marker allowed only where the schema
    /// says), then checks the content fits and is UTF-8.
    fn walk_string(&mut self, nullable: bool, site: Site) -> Result<(), GuardError> {
        let start = self.pos;
        let Some(len) = self.length_prefix(nullable, site, false)? else {
            return Ok(());
        };
        let bytes = self.take(len, site)?;
        if std::str::from_utf8(bytes).is_err() {
            return Err(self.fail(site, start, Problem::InvalidUtf8));
        }
        Ok(())
    }

    fn walk_bytes(&mut self, nullable: bool, site: Site) -> Result<(), GuardError> {
        if let Some(len) = self.length_prefix(nullable, site, true)? {
            self.take(len, site)?;
        }
        Ok(())
    }

    /// Reads a string/bytes length prefix. `None` means null. The length is
    /// checked against the bytes remaining.
    fn length_prefix(
        &mut self,
        nullable: bool,
        site: Site,
        wide: bool,
    ) -> Result<Option<u64>, GuardError> {
        let start = self.pos;
        let len = if self.flexible {
            match self.varint(site)? {
                0 => None,
                n => Some(u64::from(n - 1)),
            }
        } else {
            let raw = if wide {
                i64::from(self.int32(site)?)
            } else {
                i64::from(self.int16(site)?)
            };
            match raw {
                -1 => None,
                n if n < 0 => return Err(self.fail(site, start, Problem::NegativeLength(n))),
                n => Some(n as u64),
            }
        };
        match len {
            None if nullable => Ok(None),
            None => Err(self.fail(site, start, Problem::UnexpectedNull)),
            Some(len) if len > self.remaining() as u64 => Err(self.fail(
                site,
                start,
                Problem::LengthTooLarge {
                    length: len,
                    remaining: self.remaining(),
                },
            )),
            Some(len) => Ok(Some(len)),
        }
    }

    /// Reads an array count and checks `count * min_element_size` fits in
    /// what remains. A null array yields 0 elements.
    fn array_count(&mut self, nullable: bool, min: u64, site: Site) -> Result<u64, GuardError> {
        let start = self.pos;
        let count = if self.flexible {
            match self.varint(site)? {
                0 => None,
                n => Some(u64::from(n - 1)),
            }
        } else {
            match self.int32(site)? {
                -1 => None,
                n if n < 0 => {
                    return Err(self.fail(site, start, Problem::NegativeLength(i64::from(n))))
                }
                n => Some(n as u64),
            }
        };
        match count {
            None if nullable => Ok(0),
            None => Err(self.fail(site, start, Problem::UnexpectedNull)),
            Some(count) => {
                self.check_count(count, min, site, start)?;
                if count > self.elements_left {
                    return Err(self.fail(
                        site,
                        start,
                        Problem::TooManyElements {
                            limit: self.element_cap,
                        },
                    ));
                }
                self.elements_left -= count;
                Ok(count)
            }
        }
    }

    /// Refuses `count` elements of at least `min` bytes each (at least one
    /// byte, so loops stay bounded by the frame) unless they can fit.
    fn check_count(&self, count: u64, min: u64, site: Site, at: usize) -> Result<(), GuardError> {
        let min = min.max(1);
        let fits = count
            .checked_mul(min)
            .is_some_and(|need| need <= self.remaining() as u64);
        if fits {
            Ok(())
        } else {
            Err(self.fail(
                site,
                at,
                Problem::CountTooLarge {
                    count,
                    min_element_size: min,
                    remaining: self.remaining(),
                },
            ))
        }
    }

    /// Whether `field` may be null in this version.
    fn nullable(&self, field: &Field) -> bool {
        field.nullable.contains(self.version)
    }

    /// The fewest bytes `kind` can take in this version.
    fn min_size(&self, kind: &Kind) -> u64 {
        let prefix = |classic: u64| if self.flexible { 1 } else { classic };
        match kind {
            Kind::Int8 | Kind::Bool => 1,
            Kind::Int16 => 2,
            Kind::Int32 => 4,
            Kind::Int64 => 8,
            Kind::Uuid => 16,
            Kind::String => prefix(2),
            Kind::Bytes | Kind::Records | Kind::StructArray(_) | Kind::Array(_) => prefix(4),
            Kind::Struct(def) => self.struct_min_size(def),
        }
    }

    fn struct_min_size(&self, def: &'static StructDef) -> u64 {
        let fields: u64 = self
            .present(def)
            .map(|f| match f.kind {
                // A nullable struct may be just its null marker.
                Kind::Struct(_) if self.nullable(f) => 1,
                _ => self.min_size(&f.kind),
            })
            .sum();
        fields + u64::from(self.flexible)
    }

    /// Untagged fields of `def` that are on the wire in this version.
    fn present(&self, def: &'static StructDef) -> impl Iterator<Item = &'static Field> {
        let version = self.version;
        def.fields
            .iter()
            .filter(move |f| f.tag.is_none() && f.versions.contains(version))
    }

    fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// Takes `n` bytes, or fails without moving if fewer remain.
    fn take(&mut self, n: u64, site: Site) -> Result<&'a [u8], GuardError> {
        let remaining = self.remaining();
        if n > remaining as u64 {
            return Err(self.fail(
                site,
                self.pos,
                Problem::Truncated {
                    needed: n,
                    remaining,
                },
            ));
        }
        let start = self.pos;
        // n <= remaining, so start + n <= end <= buf.len().
        let end = start + n as usize;
        let bytes = self.buf.get(start..end).unwrap_or_default();
        self.pos = end;
        Ok(bytes)
    }

    fn skip(&mut self, n: u64, site: Site) -> Result<(), GuardError> {
        self.take(n, site).map(|_| ())
    }

    fn int16(&mut self, site: Site) -> Result<i16, GuardError> {
        let b = self.take(2, site)?;
        Ok(i16::from_be_bytes([byte(b, 0), byte(b, 1)]))
    }

    fn int32(&mut self, site: Site) -> Result<i32, GuardError> {
        let b = self.take(4, site)?;
        Ok(i32::from_be_bytes([
            byte(b, 0),
            byte(b, 1),
            byte(b, 2),
            byte(b, 3),
        ]))
    }

    /// Reads an unsigned varint of at most 5 bytes that fits in 32 bits.
    /// Stricter than kafka-protocol (which silently drops overflow bits) so
    /// both always agree on where the varint ends.
    fn varint(&mut self, site: Site) -> Result<u32, GuardError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..5 {
            let b = self.take(1, site)?;
            let b = byte(b, 0);
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return u32::try_from(value)
                    .map_err(|_| self.fail(site, start, Problem::BadVarint));
            }
        }
        Err(self.fail(site, start, Problem::BadVarint))
    }

    fn fail(&self, site: Site, offset: usize, problem: Problem) -> GuardError {
        GuardError::Malformed {
            at: Location {
                message: self.message,
                version: self.version,
                structure: site.structure,
                field: site.field,
                offset,
            },
            problem,
        }
    }
}

/// Byte `i` of a slice already checked to be long enough.
fn byte(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}
