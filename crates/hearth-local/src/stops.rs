//! Stop sequences over streamed text: text that might be the start of a stop sequence
//! is held back until it is known not to be one, so a stop never leaks to the reader.

/// Accumulates generated text and decides what can be shown.
pub struct StopScanner<'a> {
    stops: &'a [String],
    text: String,
    /// Bytes of `text` already handed out.
    shown: usize,
}

impl<'a> StopScanner<'a> {
    pub fn new(stops: &'a [String]) -> Self {
        Self {
            stops,
            text: String::new(),
            shown: 0,
        }
    }

    /// Adds `piece`; shows what is safe. Returns true when a stop sequence was found:
    /// the text is then cut before it.
    pub fn push(&mut self, piece: &str, show: &mut dyn FnMut(&str)) -> bool {
        let search_from = self.shown.saturating_sub(self.longest_stop());
        self.text.push_str(piece);
        let found = self
            .stops
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| {
                let from = floor_char_boundary(&self.text, search_from);
                self.text[from..].find(s.as_str()).map(|at| from + at)
            })
            .min();
        if let Some(at) = found {
            self.text.truncate(at);
            self.flush(show);
            return true;
        }
        let hold = self.held_back_len();
        let safe = floor_char_boundary(&self.text, self.text.len() - hold);
        if safe > self.shown {
            show(&self.text[self.shown..safe]);
            self.shown = safe;
        }
        false
    }

    /// Shows everything not yet shown (generation ended without a stop).
    pub fn flush(&mut self, show: &mut dyn FnMut(&str)) {
        if self.text.len() > self.shown {
            show(&self.text[self.shown..]);
            self.shown = self.text.len();
        }
    }

    pub fn into_text(self) -> String {
        self.text
    }

    fn longest_stop(&self) -> usize {
        self.stops.iter().map(String::len).max().unwrap_or(0)
    }

    /// The length of the longest suffix of the text that is a proper prefix of a stop.
    fn held_back_len(&self) -> usize {
        let mut hold = 0;
        for stop in self.stops {
            for len in (1..stop.len()).rev() {
                if len <= hold {
                    break;
                }
                if stop.is_char_boundary(len) && self.text.ends_with(&stop[..len]) {
                    hold = len;
                    break;
                }
            }
        }
        hold.min(self.text.len() - self.shown.min(self.text.len()))
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (Vec<String>, bool, String) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut scanner = StopScanner::new(&stops);
        let mut shown = Vec::new();
        let mut stopped = false;
        for piece in pieces {
            if scanner.push(piece, &mut |t| shown.push(t.to_string())) {
                stopped = true;
                break;
            }
        }
        if !stopped {
            scanner.flush(&mut |t| shown.push(t.to_string()));
        }
        (shown, stopped, scanner.into_text())
    }

    #[test]
    fn a_stop_split_across_pieces_is_never_shown() {
        let (shown, stopped, text) = run(&["<|im_end|>"], &["Hello", " world<|im", "_end|>more"]);
        assert!(stopped);
        assert_eq!(text, "Hello world");
        assert_eq!(shown.concat(), "Hello world");
        assert_eq!(shown[0], "Hello");
    }

    #[test]
    fn a_false_start_is_released_and_no_stop_shows_everything() {
        let (shown, stopped, text) = run(&["</tool_call>"], &["a <", "/b> c"]);
        assert!(!stopped);
        assert_eq!(text, "a </b> c");
        assert_eq!(shown.concat(), text);
        let (shown, _, _) = run(&[], &["é", "ü"]);
        assert_eq!(shown, ["é", "ü"]);
    }
}
