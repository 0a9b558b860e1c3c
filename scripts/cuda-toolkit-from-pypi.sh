#!/usr/bin/env bash
# Assembles a CUDA 13.0 toolkit (nvcc, cudart, cuBLAS, CCCL headers) from NVIDIA's PyPI wheels into
# .cache/cuda-pypi/nvidia/cu13, for compiling the CUDA variant on a machine without the toolkit (no
# GPU is needed to compile; running needs one). Prints the directory; build with:
#   PATH="$(bash scripts/cuda-toolkit-from-pypi.sh)/bin:$PATH" VIDEOSCORE2_CUDA=1 node scripts/build.mjs
# The wheels are NVIDIA's (their EULA applies); nothing from them is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=.cache/cuda-pypi
cuda=$root/nvidia/cu13
if [ ! -x $cuda/bin/nvcc ] || [ ! -e $cuda/lib/stubs/libcuda.so ]; then
  wheels=$root/wheels
  mkdir -p $wheels
  python3 -m pip download --quiet --no-deps -d $wheels \
    nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88 \
    nvidia-cuda-runtime==13.0.96 nvidia-cublas==13.0.2.14 nvidia-cuda-cccl==13.0.85 >&2
  for w in $wheels/*.whl; do python3 -m zipfile -e "$w" $root >&2; done
  chmod +x $cuda/bin/* $cuda/nvvm/bin/* 2>/dev/null || true
  # A toolkit install has the unversioned names the linker and CMake's FindCUDAToolkit look for.
  for lib in cudart cublas cublasLt; do
    so=$(cd $cuda/lib && ls lib$lib.so.* | head -1)
    ln -sf "$so" $cuda/lib/lib$lib.so
  done
  [ -e $cuda/lib64 ] || ln -s lib $cuda/lib64
  # The driver library (libcuda) comes with the NVIDIA driver, not the toolkit; a toolkit carries a
  # stand-in under lib/stubs that defines the driver API so that code calling it links (and records
  # libcuda.so.1 as needed; the real driver's library serves it at run time). Same here: one empty
  # function per entry point cuda.h declares, under the driver's soname.
  mkdir -p $cuda/lib/stubs
  grep -o 'CUresult CUDAAPI cu[A-Za-z0-9_]*' $cuda/include/cuda.h | awk '{print $3}' | sort -u |
    sed 's/.*/void &(void) {}/' | cc -shared -x c - -Wl,-soname,libcuda.so.1 -o $cuda/lib/stubs/libcuda.so
  rm -rf $wheels
fi
cd $cuda && pwd
