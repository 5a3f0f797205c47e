//! Builds valid message bodies from the guard's own tables, and remembers
//! where every length prefix went so the hostile tests can corrupt them.
//!
//! The bodies are only trusted after kafka-protocol has decoded them and
//! re-encoded the very same bytes (see `roundtrip.rs`): that is what ties
//! the tables to the real decoder.

use crate::wire_guard::schema::{Field, Kind, MessageDef, StructDef};

/// How to fill a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fill {
    /// Two elements per array, no nulls, every known tagged field plus one
    /// unknown tag.
    Full,
    /// One element per array and null wherever the version allows it.
    Nulls,
}

/// How a length prefix is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Width {
    I16,
    I32,
    /// An unsigned varint of this many bytes.
    Varint(usize),
}

/// What a length prefix counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    StringBytes,
    Bytes,
    Elements,
    TaggedFields,
    TaggedSize,
}

/// One length prefix written into a body.
#[derive(Debug, Clone, Copy)]
pub(super) struct LengthSite {
    pub(super) offset: usize,
    pub(super) width: Width,
    pub(super) counted: Counted,
    /// Whether a null marker is valid here.
    pub(super) nullable: bool,
}

/// An unknown tag the guard must skip by size (above every known tag, so
/// kafka-protocol re-encodes it in the same place).
const UNKNOWN_TAG: u32 = 1000;

/// A generated body and the length prefixes inside it.
pub(super) struct Synthesized {
    pub(super) bytes: Vec<u8>,
    pub(super) lengths: Vec<LengthSite>,
}

/// Generates a body of `def` at `version`.
pub(super) fn synthesize(def: &MessageDef, version: i16, fill: Fill) -> Synthesized {
    let mut synth = Synth {
        out: Vec::new(),
        lengths: Vec::new(),
        version,
        flexible: def.flexible.contains(version),
        fill,
        counter: 0,
    };
    synth.write_struct(def.body);
    Synthesized {
        bytes: synth.out,
        lengths: synth.lengths,
    }
}

struct Synth {
    out: Vec<u8>,
    lengths: Vec<LengthSite>,
    version: i16,
    flexible: bool,
    fill: Fill,
    /// Makes every scalar different and never a kafka-protocol default
    /// (a tagged field equal to its default would not be re-encoded).
    counter: u32,
}

impl Synth {
    fn next(&mut self) -> u32 {
        self.counter += 1;
        self.counter + 4
    }

    fn write_struct(&mut self, def: &'static StructDef) {
        let version = self.version;
        for field in def
            .fields
            .iter()
            .filter(|f| f.tag.is_none() && f.versions.contains(version))
        {
            let nullable = field.nullable.contains(version);
            self.write_kind(&field.kind, nullable);
        }
        if self.flexible {
            self.write_tagged(def);
        }
    }

    fn write_tagged(&mut self, def: &'static StructDef) {
        let version = self.version;
        let known: Vec<&Field> = def
            .fields
            .iter()
            .filter(|f| f.tag.is_some() && f.versions.contains(version))
            // A null tagged field is simply left out by kafka-protocol.
            .filter(|f| !(self.fill == Fill::Nulls && f.nullable.contains(version)))
            .collect();
        let unknown = usize::from(self.fill == Fill::Full);
        self.write_length((known.len() + unknown) as u32, Counted::TaggedFields, false);
        let mut tags: Vec<(u32, Option<&Field>)> = known
            .iter()
            .map(|f| (f.tag.unwrap_or(0), Some(*f)))
            .collect();
        if unknown == 1 {
            tags.push((UNKNOWN_TAG, None));
        }
        tags.sort_by_key(|(tag, _)| *tag);
        for (tag, field) in tags {
            let mut child = Synth {
                out: Vec::new(),
                lengths: Vec::new(),
                version,
                flexible: self.flexible,
                fill: self.fill,
                counter: self.counter,
            };
            match field {
                // Inside a tagged field the value itself is never null (nulls
                // were filtered above).
                Some(field) => child.write_kind(&field.kind, false),
                None => child.out.extend_from_slice(b"opaque"),
            }
            self.counter = child.counter;
            write_varint(&mut self.out, tag);
            self.write_length(child.out.len() as u32, Counted::TaggedSize, false);
            let base = self.out.len();
            self.out.extend_from_slice(&child.out);
            self.lengths
                .extend(child.lengths.into_iter().map(|mut site| {
                    site.offset += base;
                    site
                }));
        }
    }

    fn write_kind(&mut self, kind: &Kind, nullable: bool) {
        let null = nullable && self.fill == Fill::Nulls;
        match kind {
            Kind::Int8 => {
                let v = self.next() as u8;
                self.out.push(v);
            }
            Kind::Bool => self.out.push(1),
            Kind::Int16 => {
                let v = self.next() as u16;
                self.out.extend_from_slice(&v.to_be_bytes());
            }
            Kind::Int32 => {
                let v = self.next();
                self.out.extend_from_slice(&v.to_be_bytes());
            }
            Kind::Int64 => {
                let v = u64::from(self.next()) << 8;
                self.out.extend_from_slice(&v.to_be_bytes());
            }
            Kind::Uuid => {
                let v = self.next() as u8;
                self.out.extend_from_slice(&[v; 16]);
            }
            Kind::String => {
                if null {
                    self.write_null(Counted::StringBytes);
                } else {
                    let text = format!("s{}", self.next());
                    self.write_length(text.len() as u32, Counted::StringBytes, nullable);
                    self.out.extend_from_slice(text.as_bytes());
                }
            }
            Kind::Bytes | Kind::Records => {
                if null {
                    self.write_null(Counted::Bytes);
                } else {
                    let v = self.next() as u8;
                    self.write_length(3, Counted::Bytes, nullable);
                    self.out.extend_from_slice(&[v, v, v]);
                }
            }
            Kind::Struct(_) if null => self.out.push(0xff),
            Kind::Struct(def) => {
                if nullable {
                    self.out.push(1);
                }
                self.write_struct(def);
            }
            Kind::StructArray(def) => {
                if null {
                    self.write_null(Counted::Elements);
                } else {
                    let n = self.elements();
                    self.write_length(n, Counted::Elements, nullable);
                    for _ in 0..n {
                        self.write_struct(def);
                    }
                }
            }
            Kind::Array(element) => {
                if null {
                    self.write_null(Counted::Elements);
                } else {
                    let n = self.elements();
                    self.write_length(n, Counted::Elements, nullable);
                    for _ in 0..n {
                        self.write_kind(element, false);
                    }
                }
            }
        }
    }

    fn elements(&self) -> u32 {
        match self.fill {
            Fill::Full => 2,
            Fill::Nulls => 1,
        }
    }

    /// Writes a length or count `n` in this version's encoding.
    fn write_length(&mut self, n: u32, counted: Counted, nullable: bool) {
        let offset = self.out.len();
        let tagged = matches!(counted, Counted::TaggedFields | Counted::TaggedSize);
        let width = if tagged {
            Width::Varint(write_varint(&mut self.out, n))
        } else if self.flexible {
            Width::Varint(write_varint(&mut self.out, n + 1))
        } else if counted == Counted::StringBytes {
            self.out.extend_from_slice(&(n as i16).to_be_bytes());
            Width::I16
        } else {
            self.out.extend_from_slice(&(n as i32).to_be_bytes());
            Width::I32
        };
        self.lengths.push(LengthSite {
            offset,
            width,
            counted,
            nullable,
        });
    }

    fn write_null(&mut self, counted: Counted) {
        let offset = self.out.len();
        let width = if self.flexible {
            self.out.push(0);
            Width::Varint(1)
        } else if counted == Counted::StringBytes {
            self.out.extend_from_slice(&(-1i16).to_be_bytes());
            Width::I16
        } else {
            self.out.extend_from_slice(&(-1i32).to_be_bytes());
            Width::I32
        };
        self.lengths.push(LengthSite {
            offset,
            width,
            counted,
            nullable: true,
        });
    }
}

/// Appends `v` as an unsigned varint; returns how many bytes it took.
pub(super) fn write_varint(out: &mut Vec<u8>, mut v: u32) -> usize {
    let start = out.len();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out.len() - start
}
