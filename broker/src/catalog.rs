//! The topic catalog: which topics exist, their ids, partition counts and
//! config overrides, persisted so a restart brings them back.
//!
//! Each topic is one small text file `<data>/meta/topics/<name>.topic`:
//!
//! ```text
//! id=6f1c0d5e-...        the topic id (UUID) clients see in Metadata
//! partitions=3
//! config.retention.ms=60000
//! ```
//!
//! Files are written to a temporary name, fsynced and renamed, so a crash
//! leaves either the old or the new version, never half of one.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use uuid::Uuid;

/// Longest legal topic name (Kafka's limit).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

const FILE_SUFFIX: &str = ".topic";

/// What the broker knows about one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    /// Topic name.
    pub name: String,
    /// Topic id, stable for the life of the topic.
    pub id: Uuid,
    /// Number of partitions (0..partitions).
    pub partitions: i32,
    /// Config overrides set at creation or by AlterConfigs.
    pub configs: BTreeMap<String, String>,
}

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// Writing or reading a catalog file failed.
    #[error("topic catalog I/O error on {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A catalog file could not be parsed; it was written by something else
    /// or damaged. Fix or remove the file named here.
    #[error("topic catalog file {path} is damaged: {reason}")]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A topic name Kafka's rules refuse (INVALID_TOPIC_EXCEPTION).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// The name is empty.
    #[error("topic name is empty")]
    Empty,
    /// `.` and `..` would be directory names of their own.
    #[error("topic name {0:?} is not allowed")]
    Reserved(String),
    /// Longer than [`MAX_TOPIC_NAME_LEN`].
    #[error("topic name is {0} characters long, the limit is {MAX_TOPIC_NAME_LEN}")]
    TooLong(usize),
    /// A character outside `[a-zA-Z0-9._-]`.
    #[error("topic name {name:?} contains {bad:?}; legal characters are [a-zA-Z0-9._-]")]
    IllegalCharacter {
        /// The refused name.
        name: String,
        /// Its first illegal character.
        bad: char,
    },
}

/// Checks a topic name against Kafka's rules: 1..=249 characters from
/// `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Reserved(name.to_string()));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(TopicNameError::TooLong(name.len()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(TopicNameError::IllegalCharacter {
            name: name.to_string(),
            bad,
        });
    }
    Ok(())
}

/// The set of topics, in memory and on disk.
#[derive(Debug)]
pub struct TopicCatalog {
    dir: PathBuf,
    topics: RwLock<HashMap<String, TopicMeta>>,
}

impl TopicCatalog {
    /// Loads every topic file under `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<TopicCatalog, CatalogError> {
        fs::create_dir_all(dir).map_err(|source| io_err(dir, source))?;
        let mut topics = HashMap::new();
        for entry in fs::read_dir(dir).map_err(|source| io_err(dir, source))? {
            let path = entry.map_err(|source| io_err(dir, source))?.path();
            let is_topic_file = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(FILE_SUFFIX));
            if !is_topic_file {
                // Leftover `.tmp` files from an interrupted write are ignored.
                continue;
            }
            let text = fs::read_to_string(&path).map_err(|source| io_err(&path, source))?;
            let meta = parse_topic_file(&text).map_err(|reason| CatalogError::Corrupt {
                path: path.clone(),
                reason,
            })?;
            topics.insert(meta.name.clone(), meta);
        }
        Ok(TopicCatalog {
            dir: dir.to_path_buf(),
            topics: RwLock::new(topics),
        })
    }

    /// The topic called `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<TopicMeta> {
        self.read().get(name).cloned()
    }

    /// The topic with id `id`, if it exists.
    pub fn get_by_id(&self, id: Uuid) -> Option<TopicMeta> {
        self.read().values().find(|t| t.id == id).cloned()
    }

    /// How many topics there are.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// All topics, sorted by name.
    pub fn list(&self) -> Vec<TopicMeta> {
        let mut all: Vec<TopicMeta> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Stores `meta` (new or changed) durably, then makes it visible.
    pub fn put(&self, meta: TopicMeta) -> Result<(), CatalogError> {
        let path = self.file_path(&meta.name);
        let tmp = path.with_extension("topic.tmp");
        write_durably(&tmp, &path, render_topic_file(&meta).as_bytes())?;
        self.write().insert(meta.name.clone(), meta);
        Ok(())
    }

    /// Forgets the topic `name`; returns what it was.
    pub fn remove(&self, name: &str) -> Result<Option<TopicMeta>, CatalogError> {
        let path = self.file_path(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(io_err(&path, source)),
        }
        Ok(self.write().remove(name))
    }

    fn file_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{FILE_SUFFIX}"))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, TopicMeta>> {
        // A poisoned lock only means another thread panicked mid-update of a
        // HashMap insert/remove, which leaves the map itself consistent.
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, TopicMeta>> {
        self.topics.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn io_err(path: &Path, source: std::io::Error) -> CatalogError {
    CatalogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `tmp`, fsyncs, renames over `path` and fsyncs the directory.
pub(crate) fn write_durably(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), CatalogError> {
    let mut file = fs::File::create(tmp).map_err(|source| io_err(tmp, source))?;
    file.write_all(bytes)
        .map_err(|source| io_err(tmp, source))?;
    file.sync_all().map_err(|source| io_err(tmp, source))?;
    fs::rename(tmp, path).map_err(|source| io_err(path, source))?;
    if let Some(dir) = path.parent() {
        // Directory fsync makes the rename itself durable; not every
        // platform allows opening a directory, so failure here is not fatal.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn render_topic_file(meta: &TopicMeta) -> String {
    let mut out = format!(
        "name={}\nid={}\npartitions={}\n",
        meta.name, meta.id, meta.partitions
    );
    for (key, value) in &meta.configs {
        out.push_str(&format!("config.{key}={value}\n"));
    }
    out
}

fn parse_topic_file(text: &str) -> Result<TopicMeta, String> {
    let mut name = None;
    let mut id = None;
    let mut partitions = None;
    let mut configs = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {line:?} is not key=value"))?;
        match key {
            "name" => name = Some(value.to_string()),
            "id" => {
                id = Some(Uuid::parse_str(value).map_err(|e| format!("bad id {value:?}: {e}"))?)
            }
            "partitions" => {
                let n: i32 = value
                    .parse()
                    .map_err(|_| format!("bad partition count {value:?}"))?;
                if n < 1 {
                    return Err(format!("partition count {n} is not positive"));
                }
                partitions = Some(n);
            }
            other => match other.strip_prefix("config.") {
                Some(config_key) => {
                    configs.insert(config_key.to_string(), value.to_string());
                }
                None => return Err(format!("unknown key {other:?}")),
            },
        }
    }
    let name = name.ok_or("missing name")?;
    validate_topic_name(&name).map_err(|e| e.to_string())?;
    Ok(TopicMeta {
        name,
        id: id.ok_or("missing id")?,
        partitions: partitions.ok_or("missing partitions")?,
        configs,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-y").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("a/b").is_err());
        assert!(validate_topic_name("ä").is_err());
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn topics_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = TopicCatalog::open(dir.path()).unwrap();
        let mut configs = BTreeMap::new();
        configs.insert("retention.ms".to_string(), "1000".to_string());
        let meta = TopicMeta {
            name: "t1".to_string(),
            id: Uuid::from_u128(42),
            partitions: 3,
            configs,
        };
        catalog.put(meta.clone()).unwrap();
        let reopened = TopicCatalog::open(dir.path()).unwrap();
        assert_eq!(reopened.get("t1"), Some(meta.clone()));
        assert_eq!(reopened.get_by_id(Uuid::from_u128(42)), Some(meta));
        reopened.remove("t1").unwrap();
        assert!(TopicCatalog::open(dir.path()).unwrap().get("t1").is_none());
    }

    #[test]
    fn damaged_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x.topic"), "name=x\npartitions=zero\n").unwrap();
        let err = TopicCatalog::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("bad partition count"), "{err}");
    }
}
