//! The users the broker authenticates: SCRAM credentials (salted and
//! iterated, never passwords) kept in the data directory and managed with
//! Describe/AlterUserScramCredentials, and PLAIN users given at start-up.
//!
//! SCRAM credentials live in `meta/scram_credentials.json`, rewritten
//! whole (write to a temporary file, fsync, rename) on every change, so a
//! restart keeps them and a crash leaves either the old or the new set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use durian_core::security::scram::{ScramCredential, ScramMechanism};
use serde_json::{json, Value};

use crate::catalog::write_durably;

/// Why stored credentials could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The file could not be read or written.
    #[error("SCRAM credentials {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// SCRAM credentials by user and mechanism, persisted on every change.
#[derive(Debug)]
pub struct ScramStore {
    path: PathBuf,
    users: Mutex<BTreeMap<String, BTreeMap<&'static str, ScramCredential>>>,
}

fn mechanism_key(mechanism: ScramMechanism) -> &'static str {
    mechanism.name()
}

impl ScramStore {
    /// The store kept in `meta_dir` (loaded if the file exists).
    pub fn open(meta_dir: &Path) -> Result<ScramStore, CredentialError> {
        let path = meta_dir.join("scram_credentials.json");
        let io = |message: String| CredentialError::Io {
            path: path.clone(),
            message,
        };
        let mut users: BTreeMap<String, BTreeMap<&'static str, ScramCredential>> = BTreeMap::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let value: Value = serde_json::from_slice(&bytes).map_err(|e| io(e.to_string()))?;
                let entries = value
                    .as_array()
                    .ok_or_else(|| io("not a JSON array".into()))?;
                for entry in entries {
                    let (user, mechanism, credential) =
                        decode_entry(entry).ok_or_else(|| io(format!("bad entry {entry}")))?;
                    users
                        .entry(user)
                        .or_default()
                        .insert(mechanism_key(mechanism), credential);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e.to_string())),
        }
        Ok(ScramStore {
            path,
            users: Mutex::new(users),
        })
    }

    /// The credential of `user` for `mechanism`.
    pub fn get(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.get(user)?.get(mechanism_key(mechanism)).cloned()
    }

    /// Every user with the mechanisms and iteration counts stored for it.
    pub fn describe(&self) -> BTreeMap<String, Vec<(ScramMechanism, u32)>> {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users
            .iter()
            .map(|(user, creds)| {
                let list = creds
                    .iter()
                    .filter_map(|(name, c)| {
                        ScramMechanism::from_name(name).map(|m| (m, c.iterations))
                    })
                    .collect();
                (user.clone(), list)
            })
            .collect()
    }

    /// Applies upserts (`Some`) and deletions (`None`) at once and
    /// persists the result; on a write error nothing changes.
    pub fn apply(
        &self,
        changes: Vec<(String, ScramMechanism, Option<ScramCredential>)>,
    ) -> Result<(), CredentialError> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = users.clone();
        for (user, mechanism, credential) in changes {
            match credential {
                Some(c) => {
                    next.entry(user)
                        .or_default()
                        .insert(mechanism_key(mechanism), c);
                }
                None => {
                    if let Some(creds) = next.get_mut(&user) {
                        creds.remove(mechanism_key(mechanism));
                        if creds.is_empty() {
                            next.remove(&user);
                        }
                    }
                }
            }
        }
        self.persist(&next)?;
        *users = next;
        Ok(())
    }

    fn persist(
        &self,
        users: &BTreeMap<String, BTreeMap<&'static str, ScramCredential>>,
    ) -> Result<(), CredentialError> {
        let entries: Vec<Value> = users
            .iter()
            .flat_map(|(user, creds)| {
                creds.iter().map(move |(mechanism, c)| {
                    json!({
                        "user": user,
                        "mechanism": mechanism,
                        "iterations": c.iterations,
                        "salt": BASE64.encode(&c.salt),
                        "stored_key": BASE64.encode(&c.stored_key),
                        "server_key": BASE64.encode(&c.server_key),
                    })
                })
            })
            .collect();
        let bytes =
            serde_json::to_vec_pretty(&Value::Array(entries)).map_err(|e| CredentialError::Io {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        write_durably(&self.path.with_extension("tmp"), &self.path, &bytes).map_err(|e| {
            CredentialError::Io {
                path: self.path.clone(),
                message: e.to_string(),
            }
        })
    }
}

fn decode_entry(entry: &Value) -> Option<(String, ScramMechanism, ScramCredential)> {
    let text = |key: &str| entry.get(key)?.as_str();
    let bytes = |key: &str| BASE64.decode(text(key)?).ok();
    let mechanism = ScramMechanism::from_name(text("mechanism")?)?;
    Some((
        text("user")?.to_string(),
        mechanism,
        ScramCredential {
            salt: bytes("salt")?,
            iterations: u32::try_from(entry.get("iterations")?.as_u64()?).ok()?,
            stored_key: bytes("stored_key")?,
            server_key: bytes("server_key")?,
        },
    ))
}

/// Reads PLAIN users from a file: JAAS-style `user_<name>="<password>"`
/// entries (so a Kafka `KafkaServer` JAAS section works as is), or one
/// `name=password` per line; `#` starts a comment line.
pub fn read_plain_users(path: &Path) -> Result<BTreeMap<String, String>, CredentialError> {
    let text = std::fs::read_to_string(path).map_err(|e| CredentialError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(parse_plain_users(&text))
}

fn parse_plain_users(text: &str) -> BTreeMap<String, String> {
    let mut users = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let mut jaas = false;
        let mut rest = line;
        while let Some(at) = rest.find("user_") {
            let after = &rest[at + 5..];
            let Some((name, value)) = after.split_once("=\"") else {
                break;
            };
            let Some((password, tail)) = value.split_once('"') else {
                break;
            };
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                users.insert(name.to_string(), password.to_string());
                jaas = true;
            }
            rest = tail;
        }
        let jaas_syntax = line.contains("LoginModule") || line.contains('{') || line.contains('}');
        if !jaas && !jaas_syntax && !line.contains('"') {
            if let Some((name, password)) = line.split_once('=') {
                users.insert(name.trim().to_string(), password.to_string());
            }
        }
    }
    users
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scram_credentials_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramStore::open(dir.path()).unwrap();
        let cred = ScramCredential::from_password(ScramMechanism::Sha512, b"pw", b"salt", 4096);
        store
            .apply(vec![(
                "alice".into(),
                ScramMechanism::Sha512,
                Some(cred.clone()),
            )])
            .unwrap();
        let reopened = ScramStore::open(dir.path()).unwrap();
        assert_eq!(reopened.get("alice", ScramMechanism::Sha512), Some(cred));
        assert_eq!(reopened.get("alice", ScramMechanism::Sha256), None);
        reopened
            .apply(vec![("alice".into(), ScramMechanism::Sha512, None)])
            .unwrap();
        assert!(ScramStore::open(dir.path()).unwrap().describe().is_empty());
    }

    #[test]
    fn plain_users_from_jaas_or_simple_files() {
        let jaas = "KafkaServer {\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n  username=\"admin\" password=\"a\"\n  user_admin=\"a\"\n  user_alice=\"s=cret\";\n};\n";
        let users = parse_plain_users(jaas);
        assert_eq!(users.len(), 2, "{users:?}");
        assert_eq!(users["alice"], "s=cret");
        let simple = parse_plain_users("# users\nbob=pa=ss\n\ncarol=x\n");
        assert_eq!(simple["bob"], "pa=ss");
        assert_eq!(simple["carol"], "x");
    }
}
