//! The tables against kafka-protocol: for every covered (api, version,
//! direction), a body generated from the table must pass the guard, and
//! kafka-protocol must decode all of it and re-encode the same bytes.

use super::codecs::{covered, versions};
use super::synth::{synthesize, Fill};
use crate::wire_guard::{check, schema_for};

#[test]
fn wire_guard_has_a_table_for_every_version_kafka_protocol_decodes() {
    let mut missing = Vec::new();
    for codec in covered() {
        for version in versions(codec.versions) {
            if schema_for(codec.direction, codec.api_key, version).is_none() {
                missing.push(format!("{} {} v{version}", codec.direction, codec.api_key));
            }
        }
        // And no table claims a version kafka-protocol cannot decode.
        let beyond = [codec.versions.min - 1, codec.versions.max + 1];
        for version in beyond {
            if schema_for(codec.direction, codec.api_key, version).is_some() {
                missing.push(format!(
                    "{} {} v{version} has a table but kafka-protocol cannot decode it",
                    codec.direction, codec.api_key
                ));
            }
        }
    }
    assert!(missing.is_empty(), "coverage gaps: {missing:#?}");
}

#[test]
fn wire_guard_tables_match_kafka_protocol_byte_for_byte() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for codec in covered() {
        for version in versions(codec.versions) {
            let Some(def) = schema_for(codec.direction, codec.api_key, version) else {
                failures.push(format!(
                    "{} {} v{version}: no table",
                    codec.direction, codec.api_key
                ));
                continue;
            };
            for fill in [Fill::Full, Fill::Nulls] {
                let body = synthesize(def, version, fill).bytes;
                let what = format!("{} v{version} {fill:?}", def.name);
                if let Err(e) = check(codec.direction, codec.api_key, version, &body) {
                    failures.push(format!("{what}: guard refused its own body: {e}"));
                    continue;
                }
                match (codec.roundtrip)(&body, version) {
                    Err(e) => failures.push(format!("{what}: kafka-protocol: {e}")),
                    Ok(decoded) if decoded.consumed != body.len() => failures.push(format!(
                        "{what}: kafka-protocol consumed {} of {} bytes",
                        decoded.consumed,
                        body.len()
                    )),
                    Ok(decoded) if decoded.reencoded != body => failures.push(format!(
                        "{what}: re-encoded bytes differ\n  ours {body:?}\n  kp   {:?}",
                        decoded.reencoded
                    )),
                    Ok(_) => checked += 1,
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 52 messages, several versions each, two fills: make sure the loop ran.
    assert!(checked > 400, "only {checked} bodies checked");
}
