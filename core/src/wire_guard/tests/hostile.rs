//! Hostile bodies: corrupted lengths and counts, truncations, random bytes.
//! The guard must refuse the corrupt ones and never panic; whatever it
//! accepts must be safe to hand to kafka-protocol, so those are decoded.

use super::codecs::{covered, versions, Codec};
use super::synth::{synthesize, write_varint, Counted, Fill, LengthSite, Width};
use crate::wire_guard::{check, schema_for, Direction, GuardError};

/// A covered body plus everything needed to check and decode it again.
struct Sample<'a> {
    codec: &'a Codec,
    version: i16,
    name: &'static str,
}

fn samples(codecs: &[Codec]) -> Vec<Sample<'_>> {
    let mut out = Vec::new();
    for codec in codecs {
        for version in versions(codec.versions) {
            if let Some(def) = schema_for(codec.direction, codec.api_key, version) {
                out.push(Sample {
                    codec,
                    version,
                    name: def.name,
                });
            }
        }
    }
    out
}

impl Sample<'_> {
    fn body(&self, fill: Fill) -> (Vec<u8>, Vec<LengthSite>) {
        let def = schema_for(self.codec.direction, self.codec.api_key, self.version);
        let synthesized = def.map(|d| synthesize(d, self.version, fill));
        synthesized
            .map(|s| (s.bytes, s.lengths))
            .unwrap_or_default()
    }

    fn check(&self, body: &[u8]) -> Result<(), GuardError> {
        check(self.codec.direction, self.codec.api_key, self.version, body)
    }
}

/// Replaces the length prefix at `site` with `replacement`.
fn splice(body: &[u8], site: &LengthSite, replacement: &[u8]) -> Vec<u8> {
    let width = match site.width {
        Width::I16 => 2,
        Width::I32 => 4,
        Width::Varint(n) => n,
    };
    let mut out = body[..site.offset].to_vec();
    out.extend_from_slice(replacement);
    out.extend_from_slice(&body[site.offset + width..]);
    out
}

/// Every corruption of one length prefix that no valid body can contain.
fn corruptions(site: &LengthSite) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    match site.width {
        Width::I16 => {
            out.push(("i16::MAX length", i16::MAX.to_be_bytes().to_vec()));
            out.push(("length -2", (-2i16).to_be_bytes().to_vec()));
            out.push(("length i16::MIN", i16::MIN.to_be_bytes().to_vec()));
            if !site.nullable {
                out.push(("null", (-1i16).to_be_bytes().to_vec()));
            }
        }
        Width::I32 => {
            out.push(("i32::MAX count", i32::MAX.to_be_bytes().to_vec()));
            out.push(("2^24 count", (1i32 << 24).to_be_bytes().to_vec()));
            out.push(("count -2", (-2i32).to_be_bytes().to_vec()));
            out.push(("count i32::MIN", i32::MIN.to_be_bytes().to_vec()));
            if !site.nullable {
                out.push(("null", (-1i32).to_be_bytes().to_vec()));
            }
        }
        Width::Varint(_) => {
            let mut max = Vec::new();
            write_varint(&mut max, u32::MAX);
            out.push(("u32::MAX varint", max));
            let mut big = Vec::new();
            write_varint(&mut big, 1 << 31);
            out.push(("2^31 varint", big));
            // Six continuation bytes: longer than any u32 varint.
            out.push(("overlong varint", vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x01]));
            let tagged = matches!(site.counted, Counted::TaggedFields | Counted::TaggedSize);
            if !site.nullable && !tagged {
                out.push(("null", vec![0]));
            }
        }
    }
    out
}

#[test]
fn wire_guard_refuses_every_corrupted_length_and_count() {
    let codecs = covered();
    let mut failures = Vec::new();
    let mut refused = 0;
    for sample in samples(&codecs) {
        for fill in [Fill::Full, Fill::Nulls] {
            let (body, sites) = sample.body(fill);
            for site in &sites {
                for (what, replacement) in corruptions(site) {
                    let bad = splice(&body, site, &replacement);
                    match sample.check(&bad) {
                        Err(GuardError::Malformed { .. }) => refused += 1,
                        other => failures.push(format!(
                            "{} v{} {fill:?}: {what} at byte {} ({:?}) gave {other:?}",
                            sample.name, sample.version, site.offset, site.counted
                        )),
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(refused > 5000, "only {refused} corruptions tried");
}

#[test]
fn wire_guard_refuses_every_truncation() {
    let codecs = covered();
    let mut failures = Vec::new();
    for sample in samples(&codecs) {
        for fill in [Fill::Full, Fill::Nulls] {
            let (body, _) = sample.body(fill);
            for cut in 0..body.len() {
                if sample.check(&body[..cut]).is_ok() {
                    failures.push(format!(
                        "{} v{} {fill:?}: accepted the first {cut} of {} bytes",
                        sample.name,
                        sample.version,
                        body.len()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn public_checks_accept_trailing_bytes_after_a_fully_checked_message() {
    let codecs = covered();
    for sample in samples(&codecs) {
        let (mut body, _) = sample.body(Fill::Full);
        body.extend_from_slice(&[0, 0, 0]);
        let public = match sample.codec.direction {
            Direction::Request => crate::wire_guard::check_request,
            Direction::Response => crate::wire_guard::check_response,
        };
        assert!(
            public(sample.codec.api_key, sample.version, &body).is_ok(),
            "{} v{} refused trailing bytes",
            sample.name,
            sample.version
        );
    }
}

#[test]
fn wire_guard_refuses_trailing_bytes() {
    let codecs = covered();
    for sample in samples(&codecs) {
        let (mut body, _) = sample.body(Fill::Full);
        body.push(0);
        assert!(
            sample.check(&body).is_err(),
            "{} v{} accepted a trailing byte",
            sample.name,
            sample.version
        );
    }
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Random bodies and random byte flips of valid bodies: the guard must not
/// panic, and anything it accepts must decode in kafka-protocol (which
/// would abort the test process if the guard let a huge count through).
#[test]
fn wire_guard_survives_random_bytes_and_flips() {
    let codecs = covered();
    let mut rng = XorShift(0x5eed_d00d_cafe_f00d);
    let mut accepted = 0;
    let mut problems = Vec::new();
    for sample in samples(&codecs) {
        let (valid, _) = sample.body(Fill::Full);
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for _ in 0..30 {
            let len = rng.below(64);
            inputs.push((0..len).map(|_| rng.next() as u8).collect());
        }
        for _ in 0..60 {
            let mut flipped = valid.clone();
            let at = rng.below(flipped.len());
            if let Some(byte) = flipped.get_mut(at) {
                *byte ^= 1 << rng.below(8);
            }
            inputs.push(flipped);
        }
        for input in inputs {
            if sample.check(&input).is_err() {
                continue;
            }
            accepted += 1;
            match (sample.codec.roundtrip)(&input, sample.version) {
                Ok(decoded) if decoded.consumed == input.len() => {}
                Ok(decoded) => problems.push(format!(
                    "{} v{}: guard accepted {} bytes, kafka-protocol read {}",
                    sample.name,
                    sample.version,
                    input.len(),
                    decoded.consumed
                )),
                // kafka-protocol refuses a known tag outside its versions;
                // the guard skips it by size, which is just as safe.
                Err(e) if e.contains("is not valid for version") => {}
                Err(e) => problems.push(format!(
                    "{} v{}: guard accepted, kafka-protocol failed: {e}",
                    sample.name, sample.version
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Flipping a scalar byte keeps a body valid, so some must get through.
    assert!(accepted > 100, "only {accepted} inputs accepted");
}

/// The workspace forbids `unsafe`, so no counting allocator can watch the
/// guard; instead this holds its source to using no heap types at all, and
/// its error type to being `Copy` (so it cannot own heap memory). The
/// corruption tests above would exhaust memory if the guard allocated per
/// claimed count.
#[test]
fn wire_guard_walk_uses_no_heap_allocation() {
    fn assert_copy<T: Copy>() {}
    assert_copy::<GuardError>();
    let sources = [
        ("mod.rs", include_str!("../mod.rs")),
        ("walker.rs", include_str!("../walker.rs")),
        ("schema.rs", include_str!("../schema.rs")),
        ("error.rs", include_str!("../error.rs")),
    ];
    let heap = [
        "Vec<",
        "Vec::",
        "vec!",
        "Box<",
        "Box::",
        "String::",
        "format!",
        ".to_vec(",
        ".to_owned(",
        ".to_string(",
        ".collect",
        "Rc<",
        "Arc<",
        "BTreeMap",
        "HashMap",
    ];
    for (file, source) in sources {
        let code = source
            .lines()
            .map(str::trim_start)
            .filter(|line| !line.starts_with("//"));
        for (n, line) in code.enumerate() {
            for token in heap {
                assert!(
                    !line.contains(token),
                    "{file}: `{token}` in code line {n}: {line}"
                );
            }
        }
    }
}
