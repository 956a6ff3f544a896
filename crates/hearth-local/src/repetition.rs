//! Detects a greedy decoding loop: the output's last tokens are one short cycle of
//! tokens over and over. A small model decoding greedily can fall into one and would
//! then repeat it until the token budget (thousands of tokens, minutes on a CPU); the
//! same tokens will keep coming, so generation stops there instead.

/// The longest cycle looked for, in tokens (a repeated line or two of code).
pub const MAX_PERIOD: usize = 64;
/// How many tokens the repetition must span before it counts as a loop: well past any
/// sane answer's run of repeated items (a row of a hundred zeros is 200 tokens).
pub const MIN_SPAN: usize = 256;

/// The period of the loop `output` ends in, if its last [`MIN_SPAN`] tokens are a cycle
/// of at most [`MAX_PERIOD`] tokens repeated (at least four times over).
pub fn loop_period<T: PartialEq>(output: &[T]) -> Option<usize> {
    if output.len() < MIN_SPAN {
        return None;
    }
    let tail = &output[output.len() - MIN_SPAN..];
    (1..=MAX_PERIOD.min(MIN_SPAN / 4)).find(|&period| {
        tail[period..]
            .iter()
            .zip(tail)
            .all(|(later, earlier)| later == earlier)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_repeated_over_the_span_is_a_loop_of_its_period() {
        let mut output: Vec<u32> = (0..40).collect();
        let cycle = [7u32, 8, 9];
        output.extend(cycle.iter().cycle().take(MIN_SPAN));
        assert_eq!(loop_period(&output), Some(3));
        let long: Vec<u32> = (100..100 + MAX_PERIOD as u32).collect();
        let output: Vec<u32> = long.iter().copied().cycle().take(MIN_SPAN).collect();
        assert_eq!(loop_period(&output), Some(MAX_PERIOD));
    }

    #[test]
    fn short_repetition_varied_text_and_long_cycles_are_not_loops() {
        // Repeated, but not for long enough: a row of a hundred zeros.
        let zeros: Vec<&str> = ["0", ","].iter().copied().cycle().take(200).collect();
        assert_eq!(loop_period(&zeros), None);
        // Long, but not a cycle.
        let varied: Vec<u32> = (0..1000).map(|i| i * 7 % 13 + i / 13).collect();
        assert_eq!(loop_period(&varied), None);
        // A cycle longer than MAX_PERIOD.
        let long: Vec<u32> = (0..MAX_PERIOD as u32 + 1).collect();
        let output: Vec<u32> = long.iter().copied().cycle().take(4 * MIN_SPAN).collect();
        assert_eq!(loop_period(&output), None);
        // One differing token inside the span breaks the loop.
        let mut almost: Vec<u32> = [1u32, 2].iter().copied().cycle().take(MIN_SPAN).collect();
        almost[MIN_SPAN / 2] = 3;
        assert_eq!(loop_period(&almost), None);
    }
}
