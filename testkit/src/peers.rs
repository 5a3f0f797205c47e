//! The command-line peers: a Python interpreter with confluent-kafka
//! (librdkafka) and kcat, found where `scripts/install-peers.sh` leaves
//! them or through `DURIAN_PEERS_PYTHON` / `DURIAN_KCAT_BIN`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{repo_root, require_peer};

/// A Python interpreter that can import confluent_kafka:
/// `DURIAN_PEERS_PYTHON`, else `<repo>/.peers/venv/bin/python`. `None`
/// (after [`require_peer`]'s skip or panic) when there is none.
pub fn confluent_python() -> Option<PathBuf> {
    let path = std::env::var_os("DURIAN_PEERS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".peers/venv/bin/python"));
    let usable = path.is_file() && runs(&path, &["-c", "import confluent_kafka"]);
    require_peer(
        usable.then_some(path),
        "python with confluent-kafka not found: run scripts/install-peers.sh or set DURIAN_PEERS_PYTHON",
    )
}

/// kcat: `DURIAN_KCAT_BIN`, else `kcat` on PATH. `None` (after
/// [`require_peer`]'s skip or panic) when it does not run.
pub fn kcat() -> Option<PathBuf> {
    let path = std::env::var_os("DURIAN_KCAT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kcat"));
    let usable = runs(&path, &["-V"]);
    require_peer(
        usable.then_some(path),
        "kcat not found: run scripts/install-peers.sh, install it (apt-get install kcat) or set DURIAN_KCAT_BIN",
    )
}

/// Whether `program args` runs and exits 0 (output discarded).
fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
