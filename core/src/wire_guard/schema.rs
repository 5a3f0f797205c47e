//! The schema language the guard walks: a message is a tree of structs whose
//! fields carry the versions they exist in, the versions in which they may be
//! null, and (for tagged fields) their tag.
//!
//! Tables are plain `static` data built with the `const fn` helpers below, so
//! a message description reads close to Kafka's JSON definitions:
//!
//! ```text
//! static TOPIC: StructDef = StructDef::new("MetadataRequestTopic", &[
//!     field("topic_id", UUID, from(10)),
//!     field("name", STRING, ALL).nullable(from(10)),
//! ]);
//! ```

/// An inclusive range of message versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions {
    pub(crate) lo: i16,
    pub(crate) hi: i16,
}

impl Versions {
    /// True when `version` lies inside the range.
    pub(crate) const fn contains(self, version: i16) -> bool {
        self.lo <= version && version <= self.hi
    }
}

/// Every version.
pub(crate) const ALL: Versions = Versions {
    lo: 0,
    hi: i16::MAX,
};
/// No version at all: the "nullable" range of a field that is never null.
pub(crate) const NEVER: Versions = Versions { lo: 1, hi: 0 };

/// Versions `lo` and later ("lo+" in Kafka's JSON).
pub(crate) const fn from(lo: i16) -> Versions {
    Versions { lo, hi: i16::MAX }
}

/// Versions `lo` through `hi`, both included ("lo-hi" in Kafka's JSON).
pub(crate) const fn range(lo: i16, hi: i16) -> Versions {
    Versions { lo, hi }
}

/// Versions up to and including `hi` ("0-hi").
pub(crate) const fn until(hi: i16) -> Versions {
    Versions { lo: 0, hi }
}

/// What a field looks like on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Int8,
    Int16,
    Int32,
    Int64,
    Bool,
    Uuid,
    /// A string: int16 length, or a compact (varint length + 1) string in
    /// flexible versions.
    String,
    /// Bytes: int32 length, or compact bytes in flexible versions.
    Bytes,
    /// A record set: nullable bytes whose content the guard leaves to the
    /// record-batch decoder (kafka-protocol keeps it opaque here).
    Records,
    /// A nested struct, inline (used for tagged struct fields).
    Struct(&'static StructDef),
    /// An array of structs (int32 count, or compact count + 1 in flexible
    /// versions).
    StructArray(&'static StructDef),
    /// An array of a scalar kind, counted like `StructArray`.
    Array(&'static Kind),
}

pub(crate) const INT8: Kind = Kind::Int8;
pub(crate) const INT16: Kind = Kind::Int16;
pub(crate) const INT32: Kind = Kind::Int32;
pub(crate) const INT64: Kind = Kind::Int64;
pub(crate) const BOOL: Kind = Kind::Bool;
pub(crate) const UUID: Kind = Kind::Uuid;
pub(crate) const STRING: Kind = Kind::String;
pub(crate) const BYTES: Kind = Kind::Bytes;
pub(crate) const RECORDS: Kind = Kind::Records;

/// An array of structs (`[]Topic`).
pub(crate) const fn array_of(element: &'static StructDef) -> Kind {
    Kind::StructArray(element)
}

/// An array of a scalar kind (`[]int32`, `[]string`).
pub(crate) const fn array(element: &'static Kind) -> Kind {
    Kind::Array(element)
}

/// A struct embedded inline (tagged struct fields).
pub(crate) const fn inline(def: &'static StructDef) -> Kind {
    Kind::Struct(def)
}

/// One field of a struct.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Versions in which the field is on the wire.
    pub(crate) versions: Versions,
    /// Versions in which a null (-1 length / 0 compact length) is allowed.
    pub(crate) nullable: Versions,
    /// Tagged fields live in the trailing tagged section, not in order.
    pub(crate) tag: Option<u32>,
}

/// A field named `name` of `kind`, present in `versions`, never null.
pub(crate) const fn field(name: &'static str, kind: Kind, versions: Versions) -> Field {
    Field {
        name,
        kind,
        versions,
        nullable: NEVER,
        tag: None,
    }
}

impl Field {
    /// The field may be null in `versions`.
    pub(crate) const fn nullable(mut self, versions: Versions) -> Field {
        self.nullable = versions;
        self
    }

    /// The field is tagged with `tag` (and `versions` are the versions in
    /// which kafka-protocol decodes that tag as this field).
    pub(crate) const fn tagged(mut self, tag: u32) -> Field {
        self.tag = Some(tag);
        self
    }
}

/// A struct: a named, ordered list of fields.
#[derive(Debug)]
pub(crate) struct StructDef {
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [Field],
}

impl StructDef {
    /// Declares a struct; keep it in a `static` so arrays can refer to it.
    pub(crate) const fn new(name: &'static str, fields: &'static [Field]) -> StructDef {
        StructDef { name, fields }
    }
}

/// A top-level request or response body.
#[derive(Debug)]
pub(crate) struct MessageDef {
    pub(crate) name: &'static str,
    /// Versions kafka-protocol 0.18 can decode (its `VERSIONS` constant).
    pub(crate) versions: Versions,
    /// Versions using compact lengths and tagged fields.
    pub(crate) flexible: Versions,
    pub(crate) body: &'static StructDef,
}
