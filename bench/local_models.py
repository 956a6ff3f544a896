#!/usr/bin/env python3
"""Local model speed: `hearth models bench MODEL --json` against llama.cpp's own
`llama-bench` on the same GGUF, with the same thread count and the same CPU extensions.

llama-bench is built (once), with cmake, into target/llama-bench/ (not committed) from
the llama.cpp inside the llama-cpp-python source package on PyPI: the copy the
llama-cpp-sys-2 crate vendors leaves out tools/. The two llama.cpp
versions differ, which the JSON reports. Both run prompt processing of 512 tokens and generation of 128 tokens.

Usage: cargo build --release -p hearth && python3 bench/local_models.py [--model smollm2] [--threads N]
Prints one JSON object: {"hearth": {...}, "llama_bench": {...}, "generation_ratio": x, "prompt_ratio": y}.
Target: generation_ratio >= 0.9.
"""
import argparse, glob, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = {"avx": "GGML_AVX", "avx2": "GGML_AVX2", "fma": "GGML_FMA", "f16c": "GGML_F16C",
         "bmi2": "GGML_BMI2", "sse4.2": "GGML_SSE42", "avxvnni": "GGML_AVX_VNNI",
         "avx512f": "GGML_AVX512", "avx512vbmi": "GGML_AVX512_VBMI",
         "avx512vnni": "GGML_AVX512_VNNI", "avx512bf16": "GGML_AVX512_BF16"}


def crate_llama_version():
    lock = open(os.path.join(ROOT, "Cargo.lock")).read()
    return lock.split('name = "llama-cpp-sys-2"\nversion = "')[1].split('"')[0]


def llama_sources():
    lock = open(os.path.join(ROOT, "Cargo.lock")).read()
    version = lock.split('name = "llama-cpp-sys-2"\nversion = "')[1].split('"')[0]
    found = glob.glob(os.path.expanduser(f"~/.cargo/registry/src/*/llama-cpp-sys-2-{version}/llama.cpp"))
    if not found:
        raise SystemExit(f"llama-cpp-sys-2 {version} sources not found; run cargo build -p hearth first")
    return found[0]


def llama_bench_sources(build_dir):
    """llama.cpp with tools/ from the llama-cpp-python source package on PyPI (the crate's
    vendored copy leaves out tools/, so llama-bench cannot be built
    from it)."""
    tools = os.path.join(build_dir, "sdist")
    found = glob.glob(os.path.join(tools, "llama_cpp_python-*", "vendor", "llama.cpp", "CMakeLists.txt"))
    if found:
        return os.path.dirname(found[0])
    os.makedirs(tools, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    "-d", tools, "llama-cpp-python"], check=True, stdout=sys.stderr)
    archive = glob.glob(os.path.join(tools, "llama_cpp_python-*.tar.gz"))[0]
    subprocess.run(["tar", "xzf", archive, "-C", tools, "--wildcards", "*/vendor/llama.cpp/*"],
                   check=True)
    os.remove(archive)
    return os.path.dirname(glob.glob(os.path.join(tools, "llama_cpp_python-*", "vendor", "llama.cpp", "CMakeLists.txt"))[0])


def build_llama_bench(features, build_dir):
    """llama-bench built with the CPU extensions hearth was built with, no OpenMP (hearth's
    build uses ggml's own thread pool too)."""
    build_dir = os.path.abspath(build_dir)
    build = os.path.join(build_dir, "build")
    binary = os.path.join(build, "bin", "llama-bench")
    stamp = os.path.join(build_dir, "features.txt")
    if os.path.exists(binary) and os.path.exists(stamp) and open(stamp).read() == features:
        return binary
    source = llama_bench_sources(build_dir)
    defines = ["-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=OFF", "-DGGML_OPENMP=OFF",
               "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DBUILD_SHARED_LIBS=OFF",
               "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF",
               "-DLLAMA_BUILD_TOOLS=ON"]
    defines += [f"-D{FLAGS[f]}=ON" for f in features.split(",") if f in FLAGS]
    subprocess.run(["cmake", "-S", source, "-B", build, *defines], check=True, stdout=sys.stderr)
    subprocess.run(["cmake", "--build", build, "--target", "llama-bench", "-j",
                    str(os.cpu_count() or 2)], check=True, stdout=sys.stderr)
    with open(stamp, "w") as f:
        f.write(features)
    return binary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--hearth", default=os.path.join(ROOT, "target/release/hearth"))
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "target/llama-bench"))
    args = parser.parse_args()

    out = subprocess.run([args.hearth, "models", "bench", args.model, "--json",
                          "--threads", str(args.threads)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"hearth models bench failed: {out.stderr.strip()}")
    hearth = json.loads(out.stdout)

    binary = build_llama_bench(hearth["cpu_features_built"], args.build_dir)
    out = subprocess.run([binary, "-m", hearth["path"], "-t", str(args.threads), "-p", "512",
                          "-n", "128", "-r", "3", "-o", "json"], capture_output=True, text=True,
                         check=True)
    rows = json.loads(out.stdout)
    llama = {"threads": args.threads, "cpu_features": hearth["cpu_features_built"],
             "source": "llama.cpp from the llama-cpp-python sdist (PyPI)",
             "build_commit": rows[0].get("build_commit"),
             "hearth_llama_cpp_sys_2": crate_llama_version()}
    for row in rows:
        key = "prompt_tokens_per_s" if row["n_prompt"] > 0 else "generation_tokens_per_s"
        llama[key] = round(row["avg_ts"], 1)
    print(json.dumps({
        "hearth": hearth,
        "llama_bench": llama,
        "prompt_ratio": round(hearth["prompt_tokens_per_s"] / llama["prompt_tokens_per_s"], 3),
        "generation_ratio": round(hearth["generation_tokens_per_s"] / llama["generation_tokens_per_s"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
