//! The ACL file: every ACL of the cluster in `meta/acls`, one per line,
//! rewritten whole (temporary file, fsync, rename) on every change so a
//! crash leaves either the old or the new set, never a mix.
//!
//! ```text
//! durian-acls 1
//! TOPIC<TAB>PREFIXED<TAB>orders-<TAB>User:alice<TAB>*<TAB>WRITE<TAB>ALLOW
//! ```
//!
//! Fields are Kafka's names; a resource name or principal holding a tab, a
//! newline or a backslash has it escaped (`\t`, `\n`, `\\`).

use std::path::{Path, PathBuf};

use durian_core::acl::{
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, PatternType, ResourcePattern,
    ResourceType,
};

use crate::catalog::{write_durably, CatalogError};

const HEADER: &str = "durian-acls 1";

/// The ACL file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AclStoreError {
    /// Reading or writing the file failed.
    #[error("ACL file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is damaged or was written by something else; fix or
    /// remove it (removing it drops every ACL).
    #[error("ACL file {path} is damaged at line {line}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Where the ACLs are kept.
#[derive(Debug)]
pub(crate) struct AclStore {
    path: PathBuf,
}

impl AclStore {
    /// The store in the metadata directory `meta`.
    pub(crate) fn new(meta: &Path) -> AclStore {
        AclStore {
            path: meta.join("acls"),
        }
    }

    /// Every stored ACL (none if the file does not exist yet).
    pub(crate) fn load(&self) -> Result<Vec<AclBinding>, AclStoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(AclStoreError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let corrupt = |line: usize, reason: String| AclStoreError::Corrupt {
            path: self.path.clone(),
            line,
            reason,
        };
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, HEADER)) => {}
            _ => return Err(corrupt(1, format!("expected `{HEADER}`"))),
        }
        let mut acls = Vec::new();
        for (index, line) in lines {
            if line.is_empty() {
                continue;
            }
            acls.push(parse_line(line).map_err(|reason| corrupt(index + 1, reason))?);
        }
        Ok(acls)
    }

    /// Replaces the file with `acls`.
    pub(crate) fn save(&self, acls: &[AclBinding]) -> Result<(), AclStoreError> {
        let mut text = String::from(HEADER);
        text.push('\n');
        for acl in acls {
            text.push_str(&render_line(acl));
            text.push('\n');
        }
        let tmp = self.path.with_extension("tmp");
        write_durably(&tmp, &self.path, text.as_bytes()).map_err(|e| match e {
            CatalogError::Io { path, source } => AclStoreError::Io { path, source },
            CatalogError::Corrupt { path, reason } => AclStoreError::Corrupt {
                path,
                line: 0,
                reason,
            },
        })
    }
}

fn render_line(acl: &AclBinding) -> String {
    [
        acl.pattern.resource_type.name(),
        acl.pattern.pattern_type.name(),
        &escape(&acl.pattern.name),
        &escape(&acl.entry.principal),
        &escape(&acl.entry.host),
        acl.entry.operation.name(),
        acl.entry.permission_type.name(),
    ]
    .join("\t")
}

fn parse_line(line: &str) -> Result<AclBinding, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [resource_type, pattern_type, name, principal, host, operation, permission] = fields[..]
    else {
        return Err(format!(
            "expected 7 tab-separated fields, got {}",
            fields.len()
        ));
    };
    let acl = AclBinding::new(
        ResourcePattern::new(
            resource_type
                .parse::<ResourceType>()
                .map_err(|e| e.to_string())?,
            unescape(name)?,
            pattern_type
                .parse::<PatternType>()
                .map_err(|e| e.to_string())?,
        ),
        AccessControlEntry::new(
            unescape(principal)?,
            unescape(host)?,
            operation
                .parse::<AclOperation>()
                .map_err(|e| e.to_string())?,
            permission
                .parse::<AclPermissionType>()
                .map_err(|e| e.to_string())?,
        ),
    );
    acl.validate().map_err(|e| e.to_string())?;
    Ok(acl)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => return Err(format!("bad escape `\\{}`", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn acls_survive_save_and_load_with_odd_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = AclStore::new(dir.path());
        assert!(store.load().unwrap().is_empty(), "no file: no ACLs");
        let acls = vec![
            AclBinding::new(
                ResourcePattern::new(
                    ResourceType::Group,
                    "odd\tgroup\\x\n",
                    PatternType::Prefixed,
                ),
                AccessControlEntry::new(
                    "User:CN=a:b",
                    "10.0.0.1",
                    AclOperation::Read,
                    AclPermissionType::Deny,
                ),
            ),
            AclBinding::new(
                ResourcePattern::cluster(),
                AccessControlEntry::new(
                    "User:*",
                    "*",
                    AclOperation::IdempotentWrite,
                    AclPermissionType::Allow,
                ),
            ),
        ];
        store.save(&acls).unwrap();
        assert_eq!(AclStore::new(dir.path()).load().unwrap(), acls);
    }

    #[test]
    fn damaged_files_are_reported_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = AclStore::new(dir.path());
        std::fs::write(dir.path().join("acls"), "durian-acls 1\nTOPIC\tLITERAL\n").unwrap();
        match store.load() {
            Err(AclStoreError::Corrupt { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a damaged file, got {other:?}"),
        }
        std::fs::write(dir.path().join("acls"), "something else\n").unwrap();
        assert!(matches!(
            store.load(),
            Err(AclStoreError::Corrupt { line: 1, .. })
        ));
    }
}
