//! Reads a GGUF file's metadata header (not its tensors) for what the runtime needs
//! before loading a model: its training context length (`<architecture>.context_length`),
//! the context window of a `local:` model, and its parameter count (the sum of the
//! tensor shapes listed after the metadata), which picks a small model's tool set.
//! Bounded: a malformed or hostile header gives `None`, never a large allocation.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The most metadata entries read, and the longest key or string value accepted.
const MAX_ENTRIES: u64 = 100_000;
const MAX_STRING_BYTES: u64 = 16 * 1024 * 1024;

/// The model's training context length, if the header states it.
pub fn context_length(path: &Path) -> Option<u64> {
    let mut reader = BufReader::new(File::open(path).ok()?);
    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic).ok()?;
    if &magic != b"GGUF" {
        return None;
    }
    let version = read_u32(&mut reader)?;
    if !(2..=3).contains(&version) {
        return None;
    }
    let _tensors = read_u64(&mut reader)?;
    let entries = read_u64(&mut reader)?.min(MAX_ENTRIES);
    let mut architecture = None;
    let mut lengths = Vec::new();
    for _ in 0..entries {
        let key = read_string(&mut reader)?;
        let kind = read_u32(&mut reader)?;
        if key == "general.architecture" && kind == STRING {
            architecture = Some(read_string(&mut reader)?);
        } else if key.ends_with(".context_length") {
            let value = read_integer(&mut reader, kind)?;
            lengths.push((key.trim_end_matches(".context_length").to_string(), value));
        } else {
            skip_value(&mut reader, kind)?;
        }
        if let Some(arch) = &architecture {
            if let Some((_, length)) = lengths.iter().find(|(of, _)| of == arch) {
                return Some(*length);
            }
        }
    }
    None
}

/// The most tensors read, and the most dimensions one may have.
const MAX_TENSORS: u64 = 1_000_000;
const MAX_DIMS: u32 = 8;

/// The model's parameter count: the elements of every tensor the header lists.
pub fn parameter_count(path: &Path) -> Option<u64> {
    let mut reader = BufReader::new(File::open(path).ok()?);
    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic).ok()?;
    if &magic != b"GGUF" {
        return None;
    }
    let version = read_u32(&mut reader)?;
    if !(2..=3).contains(&version) {
        return None;
    }
    let tensors = read_u64(&mut reader)?;
    let entries = read_u64(&mut reader)?;
    if tensors > MAX_TENSORS || entries > MAX_ENTRIES {
        return None;
    }
    for _ in 0..entries {
        let len = read_len(&mut reader)?;
        skip(&mut reader, len)?;
        let kind = read_u32(&mut reader)?;
        skip_value(&mut reader, kind)?;
    }
    let mut total: u64 = 0;
    for _ in 0..tensors {
        let len = read_len(&mut reader)?;
        skip(&mut reader, len)?;
        let dims = read_u32(&mut reader)?;
        if dims > MAX_DIMS {
            return None;
        }
        let mut elements: u64 = 1;
        for _ in 0..dims {
            elements = elements.checked_mul(read_u64(&mut reader)?)?;
        }
        // The tensor's type and its offset in the data section.
        skip(&mut reader, 4 + 8)?;
        total = total.checked_add(elements)?;
    }
    Some(total)
}

const STRING: u32 = 8;
const ARRAY: u32 = 9;

/// The width in bytes of a fixed-size GGUF value type.
fn fixed_width(kind: u32) -> Option<u64> {
    match kind {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

fn read_integer(reader: &mut impl Read, kind: u32) -> Option<u64> {
    match kind {
        4 => read_u32(reader).map(u64::from),
        5 => u64::try_from(read_u32(reader)? as i32).ok(),
        10 => read_u64(reader),
        11 => u64::try_from(read_u64(reader)? as i64).ok(),
        _ => None,
    }
}

fn skip_value(reader: &mut impl Read, kind: u32) -> Option<()> {
    match kind {
        STRING => {
            let len = read_len(reader)?;
            skip(reader, len)
        }
        ARRAY => {
            let element = read_u32(reader)?;
            let count = read_u64(reader)?;
            match fixed_width(element) {
                Some(width) => skip(reader, count.checked_mul(width)?),
                None if element == STRING => {
                    for _ in 0..count {
                        let len = read_len(reader)?;
                        skip(reader, len)?;
                    }
                    Some(())
                }
                None => None,
            }
        }
        other => skip(reader, fixed_width(other)?),
    }
}

fn skip(reader: &mut impl Read, bytes: u64) -> Option<()> {
    let copied = std::io::copy(&mut reader.take(bytes), &mut std::io::sink()).ok()?;
    (copied == bytes).then_some(())
}

fn read_len(reader: &mut impl Read) -> Option<u64> {
    read_u64(reader).filter(|len| *len <= MAX_STRING_BYTES)
}

fn read_string(reader: &mut impl Read) -> Option<String> {
    let len = read_len(reader)?;
    let mut bytes = Vec::new();
    reader.take(len).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 == len).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

fn read_u32(reader: &mut impl Read) -> Option<u32> {
    let mut bytes = [0u8; 4];
    reader.read_exact(&mut bytes).ok()?;
    Some(u32::from_le_bytes(bytes))
}

fn read_u64(reader: &mut impl Read) -> Option<u64> {
    let mut bytes = [0u8; 8];
    reader.read_exact(&mut bytes).ok()?;
    Some(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, text: &str) {
        out.extend((text.len() as u64).to_le_bytes());
        out.extend(text.as_bytes());
    }

    /// A header with an array of strings and a float before the architecture, as
    /// converters write them.
    fn header(context: u32) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend(0u64.to_le_bytes());
        out.extend(4u64.to_le_bytes());
        string(&mut out, "tokenizer.ggml.tokens");
        out.extend(ARRAY.to_le_bytes());
        out.extend(STRING.to_le_bytes());
        out.extend(2u64.to_le_bytes());
        string(&mut out, "<s>");
        string(&mut out, "hello");
        string(&mut out, "llama.rope.freq_base");
        out.extend(6u32.to_le_bytes());
        out.extend(10000f32.to_le_bytes());
        string(&mut out, "llama.context_length");
        out.extend(4u32.to_le_bytes());
        out.extend(context.to_le_bytes());
        string(&mut out, "general.architecture");
        out.extend(STRING.to_le_bytes());
        string(&mut out, "llama");
        out
    }

    /// `header(context)` listing two tensors, 4x3 and 5.
    fn with_tensors(context: u32) -> Vec<u8> {
        let mut out = header(context);
        out[8..16].copy_from_slice(&2u64.to_le_bytes());
        for (name, dims) in [("a.weight", vec![4u64, 3]), ("b.bias", vec![5])] {
            string(&mut out, name);
            out.extend((dims.len() as u32).to_le_bytes());
            for dim in dims {
                out.extend(dim.to_le_bytes());
            }
            out.extend(0u32.to_le_bytes());
            out.extend(0u64.to_le_bytes());
        }
        out
    }

    #[test]
    fn counts_the_parameters_of_the_listed_tensors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, with_tensors(2048)).unwrap();
        assert_eq!(parameter_count(&path), Some(17));
        assert_eq!(context_length(&path), Some(2048));
        let mut cut = with_tensors(2048);
        cut.truncate(cut.len() - 5);
        std::fs::write(&path, cut).unwrap();
        assert_eq!(parameter_count(&path), None);
    }

    #[test]
    fn reads_the_architectures_context_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, header(8192)).unwrap();
        assert_eq!(context_length(&path), Some(8192));
        let mut cut = header(8192);
        cut.truncate(cut.len() - 3);
        std::fs::write(&path, cut).unwrap();
        assert_eq!(context_length(&path), None);
        std::fs::write(&path, b"not a gguf file at all").unwrap();
        assert_eq!(context_length(&path), None);
    }
}
