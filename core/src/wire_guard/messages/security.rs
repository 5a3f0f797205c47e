//! SaslAuthenticate (36), which the broker serves: the request only (the
//! broker checks it before decoding). The SCRAM credential APIs are in
//! `scram`.

use crate::wire_guard::schema::*;

// ---- SaslAuthenticate (key 36): versions 0-2, flexible 2+ ----

pub(crate) static SASL_AUTHENTICATE_REQUEST: MessageDef = MessageDef {
    name: "SaslAuthenticateRequest",
    versions: range(0, 2),
    flexible: from(2),
    body: &StructDef::new(
        "SaslAuthenticateRequest",
        &[field("auth_bytes", BYTES, ALL)],
    ),
};
