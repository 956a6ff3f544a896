# CPU extensions for llama.cpp, sourced by every script that runs cargo (setup.sh via
# setup.d/llama.sh, test.sh): the build of llama-cpp-sys-2 must see the same GGML_*
# variables each time, or cargo rebuilds llama.cpp, and a build without them silently
# loses the fast path.
#
# Without them ggml is built for baseline x86-64 (SSE2) and decodes several times
# slower. On a machine with AVX2 the build targets x86-64-v3 (AVX, AVX2, FMA, F16C,
# BMI2: Intel Haswell / AMD Zen and later); such a binary refuses to load a model on an
# older CPU with a clear error instead of crashing (crates/hearth-local/build.rs records
# the set, the engine checks it at run time). Set HEARTH_LLAMA_BASELINE=1 to build a
# binary for any x86-64 CPU.
if [[ "$(uname -m)" == x86_64 && -z "${HEARTH_LLAMA_BASELINE:-}" ]] \
  && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  export GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON GGML_BMI2=ON
fi
