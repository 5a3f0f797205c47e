//! `HttpSchemaRegistry` against a hand-written registry on port 0 that
//! speaks the REST API's three calls (register, lookup, schema by id),
//! with basic auth, TLS, chunked answers, errors and a silent peer.

#![cfg(feature = "schema-registry-http")]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durian_core::schema_registry::{
    HttpSchemaRegistry, Schema, SchemaKind, SchemaRegistry, SchemaRegistryError,
};
use durian_core::security::tls::{PemSource, TlsConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Bound on every wait of these tests.
const WITHIN: Duration = Duration::from_secs(15);

/// The registry's state: schemas (text, type) by id - 1, ids per subject,
/// and every call received ("METHOD path").
#[derive(Default)]
struct Registry {
    schemas: Vec<(String, Option<String>)>,
    subjects: HashMap<String, Vec<u32>>,
    calls: Vec<String>,
}

/// A running fake registry.
struct FakeRegistry {
    addr: SocketAddr,
    state: Arc<Mutex<Registry>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeRegistry {
    /// Serves on 127.0.0.1:0; `auth` is the `Authorization` value every
    /// call must carry; with `tls`, connections are TLS.
    async fn start(auth: Option<String>, tls: Option<TlsAcceptor>) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(Registry::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                let auth = auth.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(tcp).await {
                                serve_one(stream, &state, auth.as_deref()).await;
                            }
                        }
                        None => serve_one(tcp, &state, auth.as_deref()).await,
                    }
                });
            }
        });
        FakeRegistry { addr, state, task }
    }

    fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request, answers it, closes.
async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    state: &Mutex<Registry>,
    auth: Option<&str>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let length: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body: Value = if length == 0 {
        Value::Null
    } else {
        serde_json::from_slice(&buf[head_end..head_end + length]).unwrap()
    };
    let mut request_line = head.lines().next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_string();
    let path = request_line.next().unwrap().to_string();
    state.lock().unwrap().calls.push(format!("{method} {path}"));
    let (status, answer, chunked) = if auth.is_some() && header("authorization").as_deref() != auth
    {
        (
            401,
            json!({"error_code": 40101, "message": "Unauthorized"}),
            false,
        )
    } else {
        route(&method, &path, &body, &mut state.lock().unwrap())
    };
    let text = answer.to_string();
    let response = if chunked {
        // Two chunks, to exercise the client's chunked decoding.
        let (a, b) = text.split_at(text.len() / 2);
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
             Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
    } else {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
             Content-Length: {}\r\n\r\n{text}",
            text.len()
        )
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The REST API's three calls: (status, JSON, chunked).
fn route(method: &str, path: &str, body: &Value, registry: &mut Registry) -> (u16, Value, bool) {
    let segments: Vec<String> = path.split('/').skip(1).map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let schema = || {
        (
            body["schema"].as_str().unwrap().to_string(),
            body.get("schemaType")
                .and_then(Value::as_str)
                .map(str::to_string),
        )
    };
    let not_found =
        |code: i64, what: &str| (404, json!({"error_code": code, "message": what}), false);
    match (method, segments.as_slice()) {
        ("POST", ["subjects", subject, "versions"]) => {
            let schema = schema();
            if schema.0.contains("incompatible") {
                let message = "Schema being registered is incompatible with an earlier schema";
                return (409, json!({"error_code": 409, "message": message}), false);
            }
            let id = match registry.schemas.iter().position(|s| *s == schema) {
                Some(index) => index as u32 + 1,
                None => {
                    registry.schemas.push(schema);
                    registry.schemas.len() as u32
                }
            };
            registry
                .subjects
                .entry(subject.to_string())
                .or_default()
                .push(id);
            (200, json!({"id": id}), true)
        }
        ("POST", ["subjects", subject]) => {
            let Some(ids) = registry.subjects.get(*subject) else {
                return not_found(40401, "Subject not found.");
            };
            let schema = schema();
            match ids
                .iter()
                .find(|&&id| registry.schemas[id as usize - 1] == schema)
            {
                Some(&id) => (
                    200,
                    json!({"subject": subject, "id": id, "version": 1, "schema": schema.0}),
                    false,
                ),
                None => not_found(40403, "Schema not found"),
            }
        }
        ("GET", ["schemas", "ids", id]) => {
            let id: usize = id.parse().unwrap();
            match registry.schemas.get(id.wrapping_sub(1)) {
                Some((text, Some(kind))) => {
                    (200, json!({"schema": text, "schemaType": kind}), false)
                }
                Some((text, None)) => (200, json!({"schema": text}), false),
                None => not_found(40403, "Schema not found"),
            }
        }
        _ => not_found(404, "HTTP 404 Not Found"),
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&segment[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn client(url: &str) -> HttpSchemaRegistry {
    HttpSchemaRegistry::builder(url)
        .timeout(WITHIN)
        .build()
        .unwrap()
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WITHIN, future)
        .await
        .expect("the call ends within the bound")
}

#[tokio::test]
async fn registers_looks_up_and_fetches_through_the_rest_api() {
    let server = FakeRegistry::start(None, None).await;
    let url = format!("http://{}", server.addr);
    let registry = client(&url);
    let avro = Schema::new(SchemaKind::Avro, r#"{"type":"string"}"#);
    let proto = Schema::new(SchemaKind::Protobuf, "syntax = \"proto3\"; message M {}");
    // A subject with a space and a slash travels percent-encoded.
    let subject = "orders value/v1";
    assert_eq!(within(registry.register(subject, &avro)).await, Ok(1));
    assert_eq!(within(registry.register(subject, &proto)).await, Ok(2));
    assert_eq!(within(registry.register(subject, &avro)).await, Ok(1));
    assert_eq!(
        server.calls(),
        [
            "POST /subjects/orders%20value%2Fv1/versions",
            "POST /subjects/orders%20value%2Fv1/versions"
        ],
        "the second registration of a schema is answered from the cache"
    );
    // The same schema under another subject keeps its id (a new call).
    assert_eq!(within(registry.register("other", &avro)).await, Ok(1));
    assert_eq!(within(registry.schema_by_id(2)).await, Ok(proto.clone()));
    assert_eq!(server.calls().len(), 3, "ids registered are cached too");

    // A second client (an empty cache) finds them over the wire.
    let reader = client(&url);
    assert_eq!(within(reader.lookup(subject, &proto)).await, Ok(2));
    assert_eq!(within(reader.schema_by_id(1)).await, Ok(avro.clone()));
    assert_eq!(within(reader.schema_by_id(2)).await, Ok(proto));
    assert_eq!(within(reader.schema_by_id(1)).await, Ok(avro));
    let calls = server.calls();
    assert_eq!(
        &calls[3..],
        ["POST /subjects/orders%20value%2Fv1", "GET /schemas/ids/1",],
        "lookup cached schema 2; schema 1 asked once"
    );
}

#[tokio::test]
async fn registry_errors_come_back_typed() {
    let server = FakeRegistry::start(None, None).await;
    let registry = client(&format!("http://{}/", server.addr));
    let schema = Schema::new(SchemaKind::Json, r#"{"type":"object"}"#);
    assert_eq!(
        within(registry.lookup("nobody", &schema)).await,
        Err(SchemaRegistryError::NotRegistered("nobody".to_string())),
        "subject not found (40401)"
    );
    within(registry.register("known", &schema)).await.unwrap();
    let other = Schema::new(SchemaKind::Json, r#"{"type":"array"}"#);
    assert_eq!(
        within(registry.lookup("known", &other)).await,
        Err(SchemaRegistryError::NotRegistered("known".to_string())),
        "schema not found under the subject (40403)"
    );
    assert_eq!(
        within(registry.schema_by_id(99)).await,
        Err(SchemaRegistryError::UnknownId(99))
    );
    let bad = Schema::new(SchemaKind::Json, r#"{"incompatible":true}"#);
    match within(registry.register("known", &bad)).await {
        Err(SchemaRegistryError::Rejected { subject, reason }) => {
            assert_eq!(subject, "known");
            assert!(
                reason.contains("incompatible with an earlier schema"),
                "{reason}"
            );
            assert!(reason.contains("409"), "{reason}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // A miss is not cached: the lookup asks again once registered.
    within(registry.register("known", &other)).await.unwrap();
    assert_eq!(within(registry.lookup("known", &other)).await, Ok(2));
}

#[tokio::test]
async fn basic_auth_is_sent_and_a_refusal_is_surfaced() {
    // base64("user:secret")
    let server = FakeRegistry::start(Some("Basic dXNlcjpzZWNyZXQ=".to_string()), None).await;
    let url = format!("http://{}", server.addr);
    let schema = Schema::new(SchemaKind::Avro, r#""long""#);
    let allowed = HttpSchemaRegistry::builder(&url)
        .basic_auth("user", "secret")
        .timeout(WITHIN)
        .build()
        .unwrap();
    assert_eq!(within(allowed.register("s", &schema)).await, Ok(1));
    let denied = HttpSchemaRegistry::builder(&url)
        .basic_auth("user", "wrong")
        .timeout(WITHIN)
        .build()
        .unwrap();
    assert_eq!(
        within(denied.schema_by_id(1)).await,
        Err(SchemaRegistryError::Registry {
            status: 401,
            error_code: Some(40101),
            message: "Unauthorized".to_string(),
        })
    );
    assert!(
        !format!("{denied:?}").contains("dXNlcjp3cm9uZw"),
        "credentials are not printed"
    );
}

#[tokio::test]
async fn a_silent_registry_times_out_and_a_closed_port_is_unavailable() {
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry = HttpSchemaRegistry::builder(format!("http://{}", silent.local_addr().unwrap()))
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    // Connections queue in the backlog and are never answered.
    match within(registry.schema_by_id(1)).await {
        Err(SchemaRegistryError::Unavailable(why)) => assert!(why.contains("within"), "{why}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    assert!(matches!(
        within(client(&url).schema_by_id(1)).await,
        Err(SchemaRegistryError::Unavailable(_))
    ));
    drop(silent);
}

#[tokio::test]
async fn https_checks_the_registry_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    let server = FakeRegistry::start(None, Some(TlsAcceptor::from(Arc::new(config)))).await;
    let url = format!("https://localhost:{}", server.addr.port());
    let mut tls = TlsConfig::default();
    tls.ca = Some(PemSource::Inline(ca.pem()));
    let registry = HttpSchemaRegistry::builder(&url)
        .tls(tls)
        .timeout(WITHIN)
        .build()
        .unwrap();
    let schema = Schema::new(SchemaKind::Avro, r#""bytes""#);
    assert_eq!(within(registry.register("secure", &schema)).await, Ok(1));

    // The system trust store does not know the test CA: the handshake fails.
    let untrusted = client(&url);
    match within(untrusted.schema_by_id(1)).await {
        Err(SchemaRegistryError::Unavailable(why)) => assert!(why.contains("TLS"), "{why}"),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

#[test]
fn unusable_settings_are_config_errors() {
    for url in ["registry:8081", "http://u:p@registry", "https://"] {
        assert!(
            matches!(
                HttpSchemaRegistry::builder(url).build(),
                Err(SchemaRegistryError::Config(_))
            ),
            "{url}"
        );
    }
    let mut tls = TlsConfig::default();
    tls.ca = Some(PemSource::Inline("not PEM".to_string()));
    assert!(matches!(
        HttpSchemaRegistry::builder("https://registry")
            .tls(tls)
            .build(),
        Err(SchemaRegistryError::Config(_))
    ));
}
