//! Bounded capture of one output stream: the first half of the budget keeps the head,
//! the second half a rolling tail, so memory never grows past the limit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Head and tail of a stream, at most `limit` bytes in all.
#[derive(Debug)]
pub(crate) struct BoundedCapture {
    head_limit: usize,
    tail_limit: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    omitted: u64,
}

impl BoundedCapture {
    pub fn new(limit: usize) -> Self {
        let head_limit = limit.div_ceil(2);
        Self {
            head_limit,
            tail_limit: limit - head_limit,
            head: Vec::new(),
            tail: VecDeque::new(),
            omitted: 0,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8]) {
        let head_room = self.head_limit - self.head.len();
        if head_room > 0 {
            let taken = head_room.min(chunk.len());
            self.head.extend_from_slice(&chunk[..taken]);
            chunk = &chunk[taken..];
        }
        if chunk.len() >= self.tail_limit {
            let skipped = chunk.len() - self.tail_limit;
            self.omitted += (self.tail.len() + skipped) as u64;
            self.tail.clear();
            self.tail.extend(&chunk[skipped..]);
            return;
        }
        let overflow = (self.tail.len() + chunk.len()).saturating_sub(self.tail_limit);
        self.tail.drain(..overflow);
        self.omitted += overflow as u64;
        self.tail.extend(chunk);
    }

    /// The kept bytes, with a one-line marker where bytes were dropped, and whether
    /// anything was dropped.
    pub fn finish(self) -> (Vec<u8>, bool) {
        let mut bytes = self.head;
        let truncated = self.omitted > 0;
        if truncated {
            let marker = format!(
                "\n[... {} bytes omitted by the sandbox ...]\n",
                self.omitted
            );
            bytes.extend_from_slice(marker.as_bytes());
        }
        bytes.extend(self.tail);
        (bytes, truncated)
    }
}

/// Reads `reader` to its end into `capture`. The capture is shared so the caller can
/// take what arrived even if a stray process keeps the pipe open forever.
pub(crate) async fn read_into(
    mut reader: impl AsyncRead + Unpin,
    capture: Arc<Mutex<BoundedCapture>>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => match capture.lock() {
                Ok(mut capture) => capture.push(&buffer[..read]),
                Err(_) => return,
            },
        }
    }
}

/// Takes the captured bytes out of a shared capture.
pub(crate) fn take(capture: &Arc<Mutex<BoundedCapture>>, limit: usize) -> (Vec<u8>, bool) {
    match capture.lock() {
        Ok(mut capture) => std::mem::replace(&mut *capture, BoundedCapture::new(limit)).finish(),
        Err(_) => (Vec::new(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(limit: usize, chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut capture = BoundedCapture::new(limit);
        for chunk in chunks {
            capture.push(chunk);
        }
        capture.finish()
    }

    #[test]
    fn under_the_limit_everything_is_kept() {
        assert_eq!(capture(10, &[b"abc", b"def"]), (b"abcdef".to_vec(), false));
        assert_eq!(capture(6, &[b"abc", b"def"]), (b"abcdef".to_vec(), false));
    }

    #[test]
    fn over_the_limit_head_and_tail_are_kept_with_a_marker() {
        let (bytes, truncated) = capture(6, &[b"abcd", b"efgh", b"ij"]);
        assert!(truncated);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("abc\n[... 4 bytes omitted"), "{text}");
        assert!(text.ends_with("...]\nhij"), "{text}");
    }

    #[test]
    fn one_huge_chunk_keeps_head_and_tail() {
        let data: Vec<u8> = (0..100u8).collect();
        let (bytes, truncated) = capture(10, &[&data]);
        assert!(truncated);
        assert_eq!(&bytes[..5], &[0, 1, 2, 3, 4]);
        assert_eq!(&bytes[bytes.len() - 5..], &[95, 96, 97, 98, 99]);
        assert!(String::from_utf8_lossy(&bytes).contains("90 bytes omitted"));
    }

    #[test]
    fn many_small_chunks_count_omitted_bytes_exactly() {
        let chunks: Vec<&[u8]> = std::iter::repeat_n(&b"x"[..], 1000).collect();
        let (bytes, truncated) = capture(100, &chunks);
        assert!(truncated);
        assert!(String::from_utf8_lossy(&bytes).contains("900 bytes omitted"));
    }

    #[test]
    fn zero_limit_keeps_nothing_but_says_so() {
        let (bytes, truncated) = capture(0, &[b"abc"]);
        assert!(truncated);
        assert!(String::from_utf8_lossy(&bytes).contains("3 bytes omitted"));
    }
}
