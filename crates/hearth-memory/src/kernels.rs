//! Fused CPU kernels for the sentence encoder: GELU, the masked softmax of attention,
//! and bias + residual + layer norm, each one pass over rows in place. Written as
//! plain loops without calls so the compiler vectorises them; candle's own versions
//! run `erf` and `exp` one value at a time, and were a third of an embedding's time.

/// Rows of `x` (each `bias.len()` wide) become `gelu(x + bias)`, with the exact
/// (erf) GELU BERT uses.
pub(crate) fn bias_gelu(x: &mut [f32], bias: &[f32]) {
    if bias.is_empty() {
        return;
    }
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            let z = *v + b;
            *v = 0.5 * z * (1.0 + erf(z * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// Rows of `x` become `x + bias`.
pub(crate) fn add_bias(x: &mut [f32], bias: &[f32]) {
    if bias.is_empty() {
        return;
    }
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// The parameters of one layer norm: `gamma * (x - mean) / sqrt(var + eps) + beta`.
pub(crate) struct Norm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub eps: f32,
}

/// Rows of `x` become `norm(x + bias + residual)`; `residual` has the shape of `x`.
pub(crate) fn bias_residual_norm(x: &mut [f32], residual: &[f32], bias: &[f32], norm: &Norm) {
    let width = bias.len();
    if width == 0 {
        return;
    }
    for (row, res) in x.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
        for ((v, r), b) in row.iter_mut().zip(res).zip(bias) {
            *v += r + b;
        }
        normalise(row, norm);
    }
}

/// Rows of `x` (the token embeddings) become `norm(x + add[i])`, where row `i` of
/// every `add.len() / width` rows takes row `i` of `add` (the position and token-type
/// embeddings).
pub(crate) fn add_rows_norm(x: &mut [f32], add: &[f32], norm: &Norm) {
    let width = norm.gamma.len();
    if add.is_empty() || width == 0 {
        return;
    }
    for sequence in x.chunks_mut(add.len()) {
        for (row, extra) in sequence
            .chunks_exact_mut(width)
            .zip(add.chunks_exact(width))
        {
            for (v, a) in row.iter_mut().zip(extra) {
                *v += a;
            }
            normalise(row, norm);
        }
    }
}

fn normalise(row: &mut [f32], norm: &Norm) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + norm.eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

/// Attention scores, rows of `width` (= sequence length), become probabilities:
/// `softmax(scale * row)` over the positions `keep` marks (1), 0 elsewhere.
/// `keep` holds one mask of `width` per sequence; a sequence owns
/// `rows_per_sequence` consecutive rows (heads × positions).
pub(crate) fn masked_softmax(
    scores: &mut [f32],
    keep: &[u32],
    width: usize,
    rows_per_sequence: usize,
    scale: f32,
) {
    if width == 0 || rows_per_sequence == 0 {
        return;
    }
    for (r, row) in scores.chunks_exact_mut(width).enumerate() {
        let sequence = r / rows_per_sequence;
        let Some(mask) = keep.get(sequence * width..(sequence + 1) * width) else {
            continue;
        };
        let mut max = f32::NEG_INFINITY;
        for (v, &k) in row.iter().zip(mask) {
            if k != 0 && *v > max {
                max = *v;
            }
        }
        let mut sum = 0.0;
        for (v, &k) in row.iter_mut().zip(mask) {
            let e = exp(scale * (*v - max));
            *v = if k != 0 { e } else { 0.0 };
            sum += *v;
        }
        let inv = if sum > 0.0 { 1.0 / sum } else { 0.0 };
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// `erf` to within 1e-6, as a rational function of x² on [-4, 4] (the odd/even
/// minimax pair that Eigen and XLA use for f32); beyond it erf is ±1 in f32.
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329e-3;
    q = q * x2 - 1.426_473_9e-2;
    x * p / q
}

/// `exp` to within a few ulp for x ≤ 0 down to where it underflows (all softmax
/// needs): x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r, and 2^n
/// put straight into the exponent bits.
fn exp(x: f32) -> f32 {
    // Below -87.3 the result is under f32's smallest normal; 0 is close enough.
    let x = x.clamp(-87.3, 88.0);
    // Round to nearest without a call: adding 1.5·2^23 pushes the fraction out.
    const ROUND: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // ln2 split in two so that n·ln2 is exact enough.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    e * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erf_reference(x: f64) -> f64 {
        // Abramowitz & Stegun 7.1.28 is too coarse; integrate instead (Simpson).
        let steps = 20_000;
        let h = x / steps as f64;
        let f = |t: f64| (-t * t).exp();
        let mut sum = f(0.0) + f(x);
        for i in 1..steps {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            sum += w * f(i as f64 * h);
        }
        sum * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_within_a_millionth() {
        for i in -600..=600 {
            let x = i as f64 / 100.0;
            let got = erf(x as f32) as f64;
            let want = erf_reference(x);
            assert!((got - want).abs() < 1e-6, "erf({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn exp_is_within_a_few_ulp() {
        for i in -8700..=880 {
            let x = i as f32 / 100.0;
            let got = exp(x);
            let want = x.exp();
            let relative = ((got - want) / want.max(f32::MIN_POSITIVE)).abs();
            assert!(relative < 1e-6, "exp({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn softmax_ignores_masked_positions() {
        // Two sequences of width 3, one row each; the second masks its last position.
        let mut scores = vec![1.0, 2.0, 3.0, 1.0, 2.0, 100.0];
        masked_softmax(&mut scores, &[1, 1, 1, 1, 1, 0], 3, 1, 1.0);
        let total = 1f32.exp() + 2f32.exp() + 3f32.exp();
        for (got, want) in scores[..3].iter().zip([1f32, 2., 3.]) {
            assert!((got - want.exp() / total).abs() < 1e-6);
        }
        let total = 1f32.exp() + 2f32.exp();
        assert!((scores[3] - 1f32.exp() / total).abs() < 1e-6);
        assert!((scores[4] - 2f32.exp() / total).abs() < 1e-6);
        assert_eq!(scores[5], 0.0);
    }

    #[test]
    fn norm_gives_zero_mean_unit_variance_before_gamma() {
        let norm = Norm {
            gamma: vec![1.0; 4],
            beta: vec![0.0; 4],
            eps: 1e-12,
        };
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        bias_residual_norm(&mut x, &[0.0; 4], &[1.0, 1.0, 1.0, 1.0], &norm);
        let mean: f32 = x.iter().sum::<f32>() / 4.0;
        let var: f32 = x.iter().map(|v| v * v).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "{x:?}");
    }

    #[test]
    fn gelu_matches_its_definition() {
        let mut x: Vec<f32> = (-30..=30).map(|i| i as f32 / 5.0).collect();
        let want: Vec<f64> = x
            .iter()
            .map(|&v| {
                let v = v as f64 + 0.5;
                0.5 * v * (1.0 + erf_reference(v / std::f64::consts::SQRT_2))
            })
            .collect();
        bias_gelu(&mut x, &[0.5]);
        for (got, want) in x.iter().zip(want) {
            assert!((*got as f64 - want).abs() < 1e-5, "{got} vs {want}");
        }
    }
}
