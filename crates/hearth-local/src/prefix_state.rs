//! The KV state after a prompt's stable prefix (the system prompt with the tool
//! instructions), saved in the model cache so the next process restores it instead of
//! decoding those tokens again. One file per model and prefix:
//!
//! ```text
//! magic "HEARTHKV" | version u32 | identity length u32 | identity (model file path,
//! size, mtime; llama.cpp build) | prefix token count u64 | prefix hash u64 |
//! payload length u64 | payload checksum u64 | payload (llama.cpp sequence state)
//! ```
//!
//! A file whose magic, version, identity, prefix, length or checksum does not match is
//! ignored (with a debug log) and replaced; never passed to llama.cpp. The directory is
//! kept under a size bound, the oldest files removed first.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use llama_cpp_2::context::session::LlamaStateSeqFlags;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::token::LlamaToken;

const MAGIC: &[u8; 8] = b"HEARTHKV";
/// Bumped when the layout changes; another version's file is ignored.
const VERSION: u32 = 1;
/// Fewer prefix tokens than this are not worth a file.
pub const MIN_PREFIX_TOKENS: usize = 32;

/// Where saved prefix states live and how much room they may take (the caller picks
/// both: the binary uses `$HEARTH_HOME/cache/kv-states`, out of every sandbox's reach).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixCache {
    pub dir: PathBuf,
    pub max_bytes: u64,
}

impl PrefixCache {
    /// The default bound: a few models' prefixes (a 135M model's ~1,300-token prefix
    /// is ~30 MB).
    pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

    /// The cache in `dir` with the default bound.
    pub fn in_dir(dir: PathBuf) -> Self {
        Self {
            dir,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }

    /// The file for `prefix` of the model whose identity is `identity`.
    fn file_for(&self, identity: &str, prefix: &[LlamaToken]) -> PathBuf {
        self.dir.join(format!(
            "{:016x}-{:016x}.kv",
            checksum(identity.as_bytes()),
            token_hash(prefix)
        ))
    }
}

/// What the state depends on besides the prefix: the model file (path, size,
/// modification time) and the llama.cpp build. `None` when the file cannot be read.
pub fn model_identity(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    Some(format!(
        "{}|{}|{}.{}|llama-cpp-2 0.1.160|{}",
        path.display(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        crate::engine::BUILT_CPU_FEATURES
    ))
}

/// FNV-1a over 8-byte words (a checksum against torn and corrupted files, not a
/// defence against forgery: the file is the user's own).
fn checksum(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(word);
        hash = (hash ^ u64::from_le_bytes(buf)).wrapping_mul(PRIME);
    }
    for byte in words.remainder() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(PRIME);
    }
    hash ^ bytes.len() as u64
}

fn token_hash(tokens: &[LlamaToken]) -> u64 {
    let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.0.to_le_bytes()).collect();
    checksum(&bytes)
}

fn header(identity: &str, prefix: &[LlamaToken], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + identity.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(identity.len() as u32).to_le_bytes());
    out.extend_from_slice(identity.as_bytes());
    out.extend_from_slice(&(prefix.len() as u64).to_le_bytes());
    out.extend_from_slice(&token_hash(prefix).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(payload).to_le_bytes());
    out
}

/// The payload of `bytes` if its header matches `identity` and `prefix` and the
/// payload is whole and unchanged; else why not.
fn verified_payload<'b>(
    bytes: &'b [u8],
    identity: &str,
    prefix: &[LlamaToken],
) -> Result<&'b [u8], &'static str> {
    let expected = header(identity, prefix, &[]);
    // The header up to the payload length: magic, version, identity and prefix.
    let fixed = expected.len() - 16;
    if bytes.len() < expected.len() {
        return Err("truncated header");
    }
    if bytes[..8] != expected[..8] {
        return Err("not a Hearth KV state file");
    }
    if bytes[8..12] != expected[8..12] {
        return Err("another format version");
    }
    if bytes[..fixed] != expected[..fixed] {
        return Err("another model or prefix");
    }
    let read_u64 = |at: usize| {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(buf)
    };
    let length = read_u64(fixed);
    let sum = read_u64(fixed + 8);
    let payload = &bytes[expected.len()..];
    if payload.len() as u64 != length {
        return Err("truncated or extended payload");
    }
    if checksum(payload) != sum {
        return Err("checksum mismatch");
    }
    Ok(payload)
}

/// Loads the saved state for `prefix` into sequence 0 of `ctx` (which must hold
/// nothing); whether it did. Anything wrong with the file is logged and ignored.
pub(crate) fn restore(
    cache: &PrefixCache,
    identity: &str,
    ctx: &mut LlamaContext<'_>,
    prefix: &[LlamaToken],
) -> bool {
    let file = cache.file_for(identity, prefix);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::debug!(file = %file.display(), %error, "no saved prefix state");
            return false;
        }
    };
    let payload = match verified_payload(&bytes, identity, prefix) {
        Ok(payload) => payload,
        Err(why) => {
            tracing::debug!(file = %file.display(), why, "saved prefix state ignored");
            return false;
        }
    };
    // SAFETY: the payload is exactly what `save` read from llama.cpp for this model
    // file and build (identity and checksum verified above), and llama.cpp checks its
    // shape against the context as it reads.
    let restored = unsafe { ctx.state_seq_set_data_ext(payload, 0, LlamaStateSeqFlags::empty()) };
    if !restored {
        tracing::debug!(file = %file.display(), "llama.cpp refused the saved prefix state");
        ctx.clear_kv_cache();
        return false;
    }
    let _ = filetime_touch(&file);
    true
}

/// Saves sequence 0 of `ctx`, which holds exactly `prefix`, then keeps the directory
/// within its bound. Failures cost only the next process a decode: logged, not returned.
pub(crate) fn save(
    cache: &PrefixCache,
    identity: &str,
    ctx: &LlamaContext<'_>,
    prefix: &[LlamaToken],
) {
    let flags = LlamaStateSeqFlags::empty();
    let size = ctx.state_seq_get_size_ext(0, flags);
    let mut payload = vec![0u8; size];
    // SAFETY: `payload` has the size llama.cpp just reported for this sequence.
    let written = unsafe { ctx.state_seq_get_data_ext(payload.as_mut_ptr(), 0, flags) };
    if written != size || size == 0 || size as u64 > cache.max_bytes {
        tracing::debug!(size, written, "prefix state not saved");
        return;
    }
    let file = cache.file_for(identity, prefix);
    if let Err(error) = write_atomically(&file, &header(identity, prefix, &payload), &payload) {
        tracing::debug!(file = %file.display(), %error, "could not save the prefix state");
        return;
    }
    evict_oldest(cache);
}

fn write_atomically(file: &Path, header: &[u8], payload: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // A name of this process's own, renamed over the file once whole.
    let temporary = file.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| {
        let mut out = std::fs::File::create(&temporary)?;
        out.write_all(header)?;
        out.write_all(payload)?;
        std::fs::rename(&temporary, file)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Marks a file as just used (its modification time), so eviction keeps it.
fn filetime_touch(file: &Path) -> std::io::Result<()> {
    std::fs::File::options()
        .append(true)
        .open(file)?
        .set_modified(std::time::SystemTime::now())
}

/// Removes the least recently used `.kv` files until the rest fit the bound.
pub fn evict_oldest(cache: &PrefixCache) {
    let Ok(entries) = std::fs::read_dir(&cache.dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "kv"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    files.sort();
    let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
    for (_, len, path) in files {
        if total <= cache.max_bytes {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            tracing::debug!(file = %path.display(), "evicted a saved prefix state");
            total -= len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_matching_file_is_trusted() {
        let prefix: Vec<LlamaToken> = (0..40).map(LlamaToken).collect();
        let payload = vec![7u8; 1000];
        let mut file = header("model-a", &prefix, &payload);
        file.extend_from_slice(&payload);
        assert_eq!(
            verified_payload(&file, "model-a", &prefix),
            Ok(&payload[..])
        );
        assert!(verified_payload(&file, "model-b", &prefix).is_err());
        let other: Vec<LlamaToken> = (1..41).map(LlamaToken).collect();
        assert!(verified_payload(&file, "model-a", &other).is_err());
        assert!(verified_payload(&file[..file.len() - 1], "model-a", &prefix).is_err());
        assert!(verified_payload(&file[..20], "model-a", &prefix).is_err());
        let mut flipped = file.clone();
        let last = flipped.len() - 10;
        flipped[last] ^= 1;
        assert_eq!(
            verified_payload(&flipped, "model-a", &prefix),
            Err("checksum mismatch")
        );
        let mut version = file;
        version[8] = 99;
        assert_eq!(
            verified_payload(&version, "model-a", &prefix),
            Err("another format version")
        );
    }
}
