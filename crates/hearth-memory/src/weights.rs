//! Reads a safetensors file tensor by tensor, straight into the tensors' own storage:
//! loading a model then needs its size in memory once, not twice (reading the whole
//! file into a buffer and copying each tensor out of it doubles the peak). A table read
//! a few rows at a time (the word embeddings: half of all-MiniLM-L6-v2) can be left in
//! the file instead, as [`RowsOnDisk`], and its rows read when asked for.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

/// Bytes read per step when decoding an f32 tensor.
const CHUNK: usize = 1 << 20;
/// A header bigger than this is not a safetensors file.
const MAX_HEADER: u64 = 100 << 20;

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

/// The tensors of a file: those read into memory, and the f32 tables left in the file.
pub(crate) struct ReadTensors {
    pub(crate) tensors: HashMap<String, Tensor>,
    pub(crate) on_disk: HashMap<String, RowsOnDisk>,
}

/// A 2-D f32 table left in its file: rows are read when asked for (through the page
/// cache), so only the rows in use are ever resident.
pub(crate) struct RowsOnDisk {
    file: File,
    /// Where row 0 starts in the file.
    offset: u64,
    rows: usize,
    width: usize,
}

impl RowsOnDisk {
    #[cfg(test)]
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// The rows `ids` names, one after the other (`ids.len() × width` values), exactly
    /// as stored; each distinct row is read from the file once.
    pub(crate) fn gather(&self, ids: &[u32]) -> Result<Vec<f32>, String> {
        let row_bytes = self.width * 4;
        let mut values = Vec::with_capacity(ids.len() * self.width);
        let mut first_at: HashMap<u32, usize> = HashMap::new();
        let mut bytes = vec![0u8; row_bytes];
        for (i, &id) in ids.iter().enumerate() {
            if let Some(&earlier) = first_at.get(&id) {
                values.extend_from_within(earlier * self.width..(earlier + 1) * self.width);
                continue;
            }
            if id as usize >= self.rows {
                return Err(format!(
                    "token id {id} is past the table's {} rows",
                    self.rows
                ));
            }
            let at = self.offset + id as u64 * row_bytes as u64;
            self.file
                .read_exact_at(&mut bytes, at)
                .map_err(|e| format!("row {id}: {e}"))?;
            values.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
            first_at.insert(id, i);
        }
        Ok(values)
    }
}

/// Every tensor in the file, by name, as stored (f32 tensors decoded little-endian).
#[cfg(test)]
pub(crate) fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>, String> {
    read_safetensors_leaving(path, &|_| false).map(|read| read.tensors)
}

/// As [`read_safetensors`], but the 2-D f32 tensors `leave` names stay in the file.
pub(crate) fn read_safetensors_leaving(
    path: &Path,
    leave: &dyn Fn(&str) -> bool,
) -> Result<ReadTensors, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let file_len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut reader = BufReader::with_capacity(CHUNK, file);
    let mut len = [0u8; 8];
    reader
        .read_exact(&mut len)
        .map_err(|e| format!("header: {e}"))?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER || 8 + header_len > file_len {
        return Err(format!(
            "header length {header_len} does not fit a file of {file_len} bytes"
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    reader
        .read_exact(&mut header)
        .map_err(|e| format!("header: {e}"))?;
    let entries: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| format!("header: {e}"))?;
    let data_start = 8 + header_len;
    let mut tensors = HashMap::new();
    let mut on_disk = HashMap::new();
    let mut ordered: Vec<(String, Entry)> = entries
        .into_iter()
        .filter(|(name, _)| name != "__metadata__")
        .map(|(name, value)| {
            serde_json::from_value::<Entry>(value)
                .map(|entry| (name.clone(), entry))
                .map_err(|e| format!("header entry {name}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    // In file order, so the reader only ever moves forward and rarely seeks (a seek
    // drops the read buffer).
    ordered.sort_by_key(|(_, entry)| entry.data_offsets[0]);
    let mut position = data_start;
    for (name, entry) in ordered {
        let [start, end] = entry.data_offsets;
        if start > end || data_start + end > file_len {
            return Err(format!(
                "{name}: data offsets {start}..{end} outside the file"
            ));
        }
        let dtype = dtype_of(&entry.dtype)
            .ok_or_else(|| format!("{name}: unsupported dtype {}", entry.dtype))?;
        let count: usize = entry.shape.iter().product();
        let bytes = (end - start) as usize;
        if count * dtype.size_in_bytes() != bytes {
            return Err(format!(
                "{name}: shape {:?} of {} needs {} bytes, the file has {bytes}",
                entry.shape,
                entry.dtype,
                count * dtype.size_in_bytes()
            ));
        }
        if dtype == DType::F32 && entry.shape.len() == 2 && leave(&name) {
            let rows = RowsOnDisk {
                file: reader
                    .get_ref()
                    .try_clone()
                    .map_err(|e| format!("{name}: {e}"))?,
                offset: data_start + start,
                rows: entry.shape[0],
                width: entry.shape[1],
            };
            on_disk.insert(name, rows);
            continue;
        }
        if position != data_start + start {
            reader
                .seek(SeekFrom::Start(data_start + start))
                .map_err(|e| format!("{name}: {e}"))?;
        }
        position = data_start + end;
        let tensor = if dtype == DType::F32 {
            let values = read_f32(&mut reader, count).map_err(|e| format!("{name}: {e}"))?;
            Tensor::from_vec(values, entry.shape.as_slice(), &Device::Cpu)
        } else {
            let mut raw = vec![0u8; bytes];
            reader
                .read_exact(&mut raw)
                .map_err(|e| format!("{name}: {e}"))?;
            Tensor::from_raw_buffer(&raw, dtype, &entry.shape, &Device::Cpu)
        }
        .map_err(|e| format!("{name}: {e}"))?;
        tensors.insert(name, tensor);
    }
    Ok(ReadTensors { tensors, on_disk })
}

fn dtype_of(name: &str) -> Option<DType> {
    Some(match name {
        "F32" => DType::F32,
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "F64" => DType::F64,
        "I64" => DType::I64,
        "U32" => DType::U32,
        "U8" => DType::U8,
        _ => return None,
    })
}

/// `count` little-endian f32 values, decoded a chunk at a time.
fn read_f32(reader: &mut impl Read, count: usize) -> std::io::Result<Vec<f32>> {
    let mut values = Vec::with_capacity(count);
    let mut chunk = vec![0u8; CHUNK];
    let mut left = count * 4;
    while left > 0 {
        let take = left.min(CHUNK);
        reader.read_exact(&mut chunk[..take])?;
        values.extend(
            chunk[..take]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        left -= take;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file: the header, then the tensors' bytes in `data`.
    fn write(dir: &Path, header: &str, data: &[u8]) -> std::path::PathBuf {
        let path = dir.join("model.safetensors");
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        std::fs::write(&path, bytes).expect("write the fixture");
        path
    }

    #[test]
    fn reads_f32_and_other_dtypes_at_their_offsets() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut data = Vec::new();
        data.extend([7u8, 9]); // "b", u8 [2], stored first although named second
        for x in [1.5f32, -2.0, 0.25, 8.0, 3.0, 4.0] {
            data.extend(x.to_le_bytes());
        }
        let header = r#"{"__metadata__":{"format":"pt"},
            "a":{"dtype":"F32","shape":[2,3],"data_offsets":[2,26]},
            "b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#;
        let path = write(dir.path(), header, &data);
        let tensors = read_safetensors(&path).expect("a valid file reads");
        let a = tensors["a"].to_vec2::<f32>().expect("f32 values");
        assert_eq!(a, vec![vec![1.5, -2.0, 0.25], vec![8.0, 3.0, 4.0]]);
        assert_eq!(tensors["b"].to_vec1::<u8>().expect("u8 values"), vec![7, 9]);
    }

    #[test]
    fn a_table_left_on_disk_gives_its_rows_as_stored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut data = Vec::new();
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        for x in &values {
            data.extend(x.to_le_bytes());
        }
        data.extend(2.5f32.to_le_bytes());
        let header = r#"{"table":{"dtype":"F32","shape":[4,3],"data_offsets":[0,48]},
            "bias":{"dtype":"F32","shape":[1],"data_offsets":[48,52]}}"#;
        let path = write(dir.path(), header, &data);
        let read = read_safetensors_leaving(&path, &|name| name == "table").expect("reads");
        assert!(!read.tensors.contains_key("table"));
        assert_eq!(
            read.tensors["bias"].to_vec1::<f32>().expect("f32"),
            vec![2.5]
        );
        let table = &read.on_disk["table"];
        assert_eq!((table.rows(), table.width()), (4, 3));
        let rows = table.gather(&[2, 0, 2, 3]).expect("rows in range");
        let want: Vec<f32> = [2, 0, 2, 3]
            .iter()
            .flat_map(|&r| values[r * 3..r * 3 + 3].to_vec())
            .collect();
        assert_eq!(rows, want);
        let error = table.gather(&[4]).expect_err("past the table");
        assert!(error.contains("token id 4"), "{error}");
    }

    #[test]
    fn a_truncated_or_inconsistent_file_is_an_error_naming_the_tensor() {
        let dir = tempfile::tempdir().expect("temp dir");
        let header = r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
        let path = write(dir.path(), header, &[0u8; 8]);
        let error = read_safetensors(&path).expect_err("data past the end");
        assert!(error.contains("w: data offsets"), "{error}");

        let header = r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#;
        let path = write(dir.path(), header, &[0u8; 16]);
        let error = read_safetensors(&path).expect_err("shape and size disagree");
        assert!(error.contains("needs 12 bytes"), "{error}");

        std::fs::write(&path, [255u8; 8]).expect("write");
        let error = read_safetensors(&path).expect_err("absurd header length");
        assert!(error.contains("header length"), "{error}");
    }
}
