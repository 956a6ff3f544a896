# In-process local models (crates/hearth-local): llama.cpp is vendored by the
# llama-cpp-sys-2 crate and built with cmake; bindgen needs clang and libclang.
apt_install cmake clang libclang-dev
# The CPU extensions llama.cpp is built for (shared with scripts/test.sh).
source scripts/llama-cpu.sh
