//! Records which x86 instruction-set extensions the vendored llama.cpp is compiled to
//! require, so the binary can refuse to start a model on a CPU that lacks them (instead
//! of dying on an illegal instruction) and can say when it was built without the fast
//! path the CPU has.
//!
//! llama-cpp-sys-2 compiles ggml with `-march=native` only under `-C target-cpu=native`;
//! otherwise it enables exactly the Rust target features plus any `GGML_<EXT>=ON`
//! variables in the environment (what `scripts/setup.d/llama.sh` exports).

/// (environment variable, Rust target-feature name) for the extensions ggml can use.
const EXTENSIONS: &[(&str, &str)] = &[
    ("GGML_SSE42", "sse4.2"),
    ("GGML_AVX", "avx"),
    ("GGML_AVX2", "avx2"),
    ("GGML_FMA", "fma"),
    ("GGML_F16C", "f16c"),
    ("GGML_BMI2", "bmi2"),
    ("GGML_AVX_VNNI", "avxvnni"),
    ("GGML_AVX512", "avx512f"),
    ("GGML_AVX512_VBMI", "avx512vbmi"),
    ("GGML_AVX512_VNNI", "avx512vnni"),
    ("GGML_AVX512_BF16", "avx512bf16"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let rust_features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let rust_features: Vec<&str> = rust_features.split(',').collect();
    let mut required = Vec::new();
    for (var, feature) in EXTENSIONS {
        println!("cargo:rerun-if-env-changed={var}");
        let from_env = std::env::var(var)
            .map(|v| matches!(v.to_ascii_uppercase().as_str(), "ON" | "1" | "TRUE"))
            .unwrap_or(false);
        if from_env || rust_features.contains(feature) {
            required.push(*feature);
        }
    }
    println!(
        "cargo:rustc-env=HEARTH_LLAMA_CPU_FEATURES={}",
        required.join(",")
    );
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let release = std::env::var("PROFILE")
        .map(|p| p == "release")
        .unwrap_or(false);
    if arch == "x86_64" && release && !required.contains(&"avx2") {
        println!(
            "cargo:warning=llama.cpp is being built for baseline x86-64 (no AVX2/FMA): local models \
             will run several times slower. Source scripts/setup.d/llama.sh's settings \
             (GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON GGML_BMI2=ON) to build for x86-64-v3."
        );
    }
}
