//! Finding (and if needed building) the `durian` binary the process
//! scenarios run as `durian broker`.
//!
//! `DURIAN_BIN` wins. Otherwise the binary sits next to the test
//! executable's `deps/` directory in the same target directory, where
//! `cargo test --workspace` has already built it. When only this crate's
//! tests were built (`cargo test -p durian-reliability`) it is missing, so
//! it is built once, into the same target directory, with the cargo that
//! built the tests (cargo has released its build lock by the time tests
//! run). A binary that is present is used as it is: after changing the
//! broker, run `cargo test --workspace` or rebuild it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Why the binary is not available.
#[derive(Debug)]
pub struct BinaryError(pub String);

impl std::fmt::Display for BinaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for BinaryError {}

/// Serialises the build so parallel tests of one binary build it once.
static BUILD: Mutex<()> = Mutex::new(());

/// The path of a runnable `durian` binary.
pub fn durian_binary() -> Result<PathBuf, BinaryError> {
    if let Some(configured) = std::env::var_os("DURIAN_BIN") {
        let path = PathBuf::from(configured);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(BinaryError(format!(
                "DURIAN_BIN={} is not a file",
                path.display()
            )))
        };
    }
    let profile_dir = profile_dir()?;
    let name = format!("durian{}", std::env::consts::EXE_SUFFIX);
    let binary = profile_dir.join(&name);
    if binary.is_file() {
        return Ok(binary);
    }
    let _guard = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !binary.is_file() {
        eprintln!("durian-reliability: building the durian binary (set DURIAN_BIN to skip)");
        let target_dir = profile_dir
            .parent()
            .ok_or_else(|| BinaryError("target directory has no parent".into()))?;
        build(target_dir, profile_dir.ends_with("release"))?;
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(BinaryError(format!(
            "{} is missing after the build; build it with `cargo build -p durian-cli --bin durian` \
             or set DURIAN_BIN",
            binary.display()
        )))
    }
}

/// `<target>/<profile>`: the test executable lives in its `deps/`.
fn profile_dir() -> Result<PathBuf, BinaryError> {
    let exe = std::env::current_exe()
        .map_err(|e| BinaryError(format!("cannot locate the test executable: {e}")))?;
    let deps = exe.parent().filter(|d| d.ends_with("deps"));
    deps.and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            BinaryError(format!(
                "{} is not inside a cargo target directory; set DURIAN_BIN",
                exe.display()
            ))
        })
}

fn build(target_dir: &Path, release: bool) -> Result<(), BinaryError> {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "-p", "durian-cli", "--bin", "durian"])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        command.arg("--release");
    }
    let status = command
        .status()
        .map_err(|e| BinaryError(format!("cannot run {cargo} to build durian: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(BinaryError(format!("building durian failed ({status})")))
    }
}
