//! Tests of the wire guard: the tables against kafka-protocol, hostile
//! inputs, and the request/response headers.

mod built;
mod codecs;
mod edges;
mod headers;
mod hostile;
mod roundtrip;
mod synth;
