//! [`HttpSchemaRegistry`]: the [`SchemaRegistry`] trait over Confluent
//! Schema Registry's REST API (also served by Karapace, Redpanda and
//! Apicurio's compatibility layer), behind the `schema-registry-http`
//! feature.
//!
//! Three calls are used: `POST /subjects/{subject}/versions` (register),
//! `POST /subjects/{subject}` (look up without registering) and
//! `GET /schemas/ids/{id}`. The client is a small HTTP/1.1 one on tokio
//! ([`exchange`]) with TLS by rustls and ring, configured like the broker
//! connections' ([`TlsConfig`]). Why not reqwest: its `rustls` feature
//! builds aws-lc-rs (cmake and a C toolchain, which durian avoids), and
//! without it reqwest still brings hyper, tower and the url/IDNA crates,
//! some sixty crates for three calls.
//!
//! Answers are cached for the life of the registry value (ids never change
//! meaning in a registry), so each schema and id costs one call. A call
//! is bounded by the configured timeout, connection and TLS handshake
//! included.

mod exchange;
mod url;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use super::{Schema, SchemaKind, SchemaRegistry, SchemaRegistryError};
use crate::security::tls::{TlsConfig, TlsConnector};
use exchange::{exchange, Response};
use url::BaseUrl;

/// The time a call may take unless [`HttpSchemaRegistryBuilder::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The media type of the registry's API, version 1.
const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The registry's error code for "subject not found".
const SUBJECT_NOT_FOUND: i64 = 40401;
/// The registry's error code for "schema not found" (an id, or a schema
/// under a subject on lookup).
const SCHEMA_NOT_FOUND: i64 = 40403;

/// Settings of an [`HttpSchemaRegistry`]; start with [`HttpSchemaRegistry::builder`].
#[derive(Debug)]
pub struct HttpSchemaRegistryBuilder {
    url: String,
    credentials: Option<(String, String)>,
    timeout: Duration,
    tls: TlsConfig,
}

impl HttpSchemaRegistryBuilder {
    /// Sends HTTP basic authentication (`basic.auth.user.info` of
    /// Confluent's clients) with every call.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Bounds each call, connecting and the TLS handshake included
    /// (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// TLS settings for an `https://` URL: trust anchors (default: the
    /// operating system's store), a client certificate for mutual TLS,
    /// hostname checking. Ignored for `http://`.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Checks the URL and reads the TLS material;
    /// [`SchemaRegistryError::Config`] says what is wrong.
    pub fn build(self) -> Result<HttpSchemaRegistry, SchemaRegistryError> {
        let base = BaseUrl::parse(&self.url)?;
        let tls = if base.tls {
            Some(
                TlsConnector::new(&self.tls)
                    .map_err(|e| SchemaRegistryError::Config(format!("registry TLS: {e}")))?,
            )
        } else {
            None
        };
        let authorization = self.credentials.map(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {token}")
        });
        Ok(HttpSchemaRegistry {
            base,
            tls,
            authorization,
            timeout: self.timeout,
            cache: Mutex::new(Cache::default()),
        })
    }
}

/// What earlier calls answered.
#[derive(Debug, Default)]
struct Cache {
    /// Schemas by id.
    schemas: HashMap<u32, Schema>,
    /// Ids of schemas registered or found under a subject.
    ids: HashMap<(String, Schema), u32>,
}

/// A [`SchemaRegistry`] over the registry's REST API.
///
/// ```no_run
/// # async fn demo() -> Result<(), durian_core::schema_registry::SchemaRegistryError> {
/// use durian_core::schema_registry::{HttpSchemaRegistry, Schema, SchemaKind, SchemaRegistry};
/// let registry = HttpSchemaRegistry::builder("https://registry.example:8081")
///     .basic_auth("key", "secret")
///     .build()?;
/// let schema = Schema::new(SchemaKind::Avro, r#""string""#);
/// let id = registry.register("clicks-value", &schema).await?;
/// assert_eq!(registry.schema_by_id(id).await?, schema);
/// # Ok(()) }
/// ```
pub struct HttpSchemaRegistry {
    base: BaseUrl,
    tls: Option<TlsConnector>,
    authorization: Option<String>,
    timeout: Duration,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for HttpSchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The authorization header is a credential: never printed.
        f.debug_struct("HttpSchemaRegistry")
            .field("base", &self.base)
            .field("tls", &self.tls.is_some())
            .field("basic_auth", &self.authorization.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpSchemaRegistry {
    /// Settings for the registry at `url` (`http[s]://host[:port][/prefix]`).
    pub fn builder(url: impl Into<String>) -> HttpSchemaRegistryBuilder {
        HttpSchemaRegistryBuilder {
            url: url.into(),
            credentials: None,
            timeout: DEFAULT_TIMEOUT,
            tls: TlsConfig::default(),
        }
    }

    /// The id of `schema` under `subject` from the cache, else from
    /// `remote` (a register or a lookup), cached both ways once known.
    async fn id_of(
        &self,
        subject: &str,
        schema: &Schema,
        remote: impl std::future::Future<Output = Result<u32, SchemaRegistryError>>,
    ) -> Result<u32, SchemaRegistryError> {
        let key = (subject.to_string(), schema.clone());
        if let Some(&id) = self.cache().ids.get(&key) {
            return Ok(id);
        }
        let id = remote.await?;
        let mut cache = self.cache();
        cache.ids.insert(key, id);
        cache.schemas.insert(id, schema.clone());
        Ok(id)
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // Each update is one insert; a panic cannot leave half of one.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One call: `method` on `segments` with an optional JSON body,
    /// within the timeout. Transport failures are `Unavailable`.
    async fn call(
        &self,
        method: &str,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<Response, SchemaRegistryError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut request = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nAccept: {MEDIA_TYPE}, application/json\r\n\
             User-Agent: durian/{}\r\nConnection: close\r\n",
            self.base.path(segments),
            self.base.host_header(),
            env!("CARGO_PKG_VERSION"),
        );
        if let Some(authorization) = &self.authorization {
            request.push_str(&format!("Authorization: {authorization}\r\n"));
        }
        if method != "GET" {
            request.push_str(&format!(
                "Content-Type: {MEDIA_TYPE}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let address = self.base.address();
        let attempt = async {
            let tcp = TcpStream::connect(&address)
                .await
                .map_err(|e| format!("connecting to {address}: {e}"))?;
            // Requests are single small writes; do not hold them back.
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                Some(tls) => {
                    let mut stream = tls
                        .connect(&address, tcp)
                        .await
                        .map_err(|e| format!("TLS with {address}: {e}"))?;
                    exchange(&mut stream, request.as_bytes()).await
                }
                None => {
                    let mut stream = tcp;
                    exchange(&mut stream, request.as_bytes()).await
                }
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(why)) => Err(SchemaRegistryError::Unavailable(why)),
            Err(_) => Err(SchemaRegistryError::Unavailable(format!(
                "no answer from {address} within {:?}",
                self.timeout
            ))),
        }
    }

    async fn register_remote(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<u32, SchemaRegistryError> {
        let response = self
            .call(
                "POST",
                &["subjects", subject, "versions"],
                Some(&schema_body(schema)),
            )
            .await?;
        let body = success(response, |error| match error.status {
            409 | 422 => SchemaRegistryError::Rejected {
                subject: subject.to_string(),
                reason: error.describe(),
            },
            _ => error.into_error(),
        })?;
        id_of(&body)
    }

    async fn lookup_remote(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<u32, SchemaRegistryError> {
        let response = self
            .call("POST", &["subjects", subject], Some(&schema_body(schema)))
            .await?;
        let body = success(response, |error| match error.error_code {
            Some(SUBJECT_NOT_FOUND | SCHEMA_NOT_FOUND) => {
                SchemaRegistryError::NotRegistered(subject.to_string())
            }
            _ => error.into_error(),
        })?;
        id_of(&body)
    }

    async fn schema_remote(&self, id: u32) -> Result<Schema, SchemaRegistryError> {
        let id_text = id.to_string();
        let response = self
            .call("GET", &["schemas", "ids", &id_text], None)
            .await?;
        let body = success(response, |error| match (error.status, error.error_code) {
            (404, _) | (_, Some(SCHEMA_NOT_FOUND)) => SchemaRegistryError::UnknownId(id),
            _ => error.into_error(),
        })?;
        let definition = body
            .get("schema")
            .and_then(Value::as_str)
            .ok_or_else(|| nonsense("no `schema` string in the answer"))?;
        let kind = match body.get("schemaType").and_then(Value::as_str) {
            None | Some("AVRO") => SchemaKind::Avro,
            Some("PROTOBUF") => SchemaKind::Protobuf,
            Some("JSON") => SchemaKind::Json,
            Some(other) => SchemaKind::Other(other.to_string()),
        };
        Ok(Schema::new(kind, definition))
    }
}

impl SchemaRegistry for HttpSchemaRegistry {
    fn register<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a Schema,
    ) -> BoxFuture<'a, Result<u32, SchemaRegistryError>> {
        Box::pin(self.id_of(subject, schema, self.register_remote(subject, schema)))
    }

    fn lookup<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a Schema,
    ) -> BoxFuture<'a, Result<u32, SchemaRegistryError>> {
        // A miss is not cached: the schema may be registered later.
        Box::pin(self.id_of(subject, schema, self.lookup_remote(subject, schema)))
    }

    fn schema_by_id(&self, id: u32) -> BoxFuture<'_, Result<Schema, SchemaRegistryError>> {
        Box::pin(async move {
            if let Some(schema) = self.cache().schemas.get(&id) {
                return Ok(schema.clone());
            }
            let schema = self.schema_remote(id).await?;
            self.cache().schemas.insert(id, schema.clone());
            Ok(schema)
        })
    }
}

/// The JSON body of register and lookup. `schemaType` is left out for
/// Avro, the default, which registries older than 5.5 do not accept.
fn schema_body(schema: &Schema) -> Value {
    match schema.kind {
        SchemaKind::Avro => json!({ "schema": schema.definition }),
        ref kind => json!({ "schema": schema.definition, "schemaType": kind.to_string() }),
    }
}

/// An error answer: status and what the body said.
struct ErrorAnswer {
    status: u16,
    error_code: Option<i64>,
    message: String,
}

impl ErrorAnswer {
    /// The registry's words, with its code.
    fn describe(&self) -> String {
        match self.error_code {
            Some(code) => format!("{} (error {code}, HTTP {})", self.message, self.status),
            None => format!("{} (HTTP {})", self.message, self.status),
        }
    }

    /// The error for an answer no call-specific rule covers.
    fn into_error(self) -> SchemaRegistryError {
        SchemaRegistryError::Registry {
            status: self.status,
            error_code: self.error_code,
            message: self.message,
        }
    }
}

/// The JSON body of a 2xx answer, or the error `on_error` makes of any
/// other. A body that is not JSON is `Unavailable` on success, and its
/// text the message on error (a proxy's HTML page, say).
fn success(
    response: Response,
    on_error: impl FnOnce(ErrorAnswer) -> SchemaRegistryError,
) -> Result<Value, SchemaRegistryError> {
    let parsed: Result<Value, _> = serde_json::from_slice(&response.body);
    if (200..300).contains(&response.status) {
        return parsed.map_err(|e| nonsense(&format!("answer is not JSON: {e}")));
    }
    let (error_code, message) = match &parsed {
        Ok(body) => (
            body.get("error_code").and_then(Value::as_i64),
            body.get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        Err(_) => (
            None,
            String::from_utf8_lossy(&response.body)
                .trim()
                .chars()
                .take(200)
                .collect(),
        ),
    };
    Err(on_error(ErrorAnswer {
        status: response.status,
        error_code,
        message,
    }))
}

/// The `id` of a register or lookup answer.
fn id_of(body: &Value) -> Result<u32, SchemaRegistryError> {
    body.get("id")
        .and_then(Value::as_u64)
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| nonsense("no schema `id` in the answer"))
}

fn nonsense(why: &str) -> SchemaRegistryError {
    SchemaRegistryError::Unavailable(format!("registry answered nonsense: {why}"))
}
