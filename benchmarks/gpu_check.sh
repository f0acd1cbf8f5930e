#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU, CuPy and torch's CUDA build, run
# from the source tree (nothing installed, nothing downloaded). Under 7 minutes
# (limits: 40 + 150 + 60 + 150 s = 400 s at most):
#   1. what the machine has (GPU, CuPy, torch);
#   2. the device tests ON THE GPU: their fixtures use the real GPU when gradwork
#      sees one (else the CPU stand-in), so here they check CuPy, not the stand-in;
#      tests/device/test_cuda_kernels.py runs every fused kernel on CuPy too;
#   3. benchmarks/gpu_kernels.py: each fused kernel (cupy.fuse) against the unfused
#      reference, same inputs: do they agree, and how much faster is the fused one;
#   4. benchmarks/gpu.py: step time and peak memory against torch CUDA eager.
# Output goes to stdout and, when $OUT is set, to $OUT/gpu_check.log, $OUT/gpu.json
# and $OUT/gpu_kernels.json.
#
#   bash benchmarks/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH=src
unset GRADWORK_CUDA_STANDIN  # the real GPU, not the stand-in
OUT_DIR="${OUT:-}"
LOG=/dev/null
if [ -n "$OUT_DIR" ]; then mkdir -p "$OUT_DIR"; LOG="$OUT_DIR/gpu_check.log"; fi
JSON="${OUT_DIR:-/tmp}/gpu.json"
KERNELS_JSON="${OUT_DIR:-/tmp}/gpu_kernels.json"
status=0

section() { echo; echo "=== $1 ($(date -u +%H:%M:%S))"; }

{
  section "machine"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  timeout 40 python - <<'EOF' || status=1
import cupy, torch
import gradwork as gw
print("cupy", cupy.__version__, "| torch", torch.__version__, "cuda", torch.version.cuda)
print("gradwork.cuda.is_available():", gw.cuda.is_available(),
      "| torch.cuda.is_available():", torch.cuda.is_available())
x = gw.ones(3, device="cuda")
print("a gradwork tensor on", x.device, "holds a", type(x.array).__module__, "array")
EOF

  section "device tests on the GPU (limit 150 s)"
  timeout 150 python -m pytest -q -p no:cacheprovider -o addopts="-p no:cacheprovider" --maxfail=25 \
    tests/device tests/core/test_device_placement.py \
    tests/nn/test_module_device.py tests/nn/test_layers_device.py \
    tests/train/test_trainer_device.py tests/train/test_diagnose_device.py \
    tests/cli/test_cli_device.py || status=1

  section "fused device kernels against the unfused reference (limit 60 s)"
  timeout 60 python benchmarks/gpu_kernels.py --json "$KERNELS_JSON" || status=1

  section "benchmarks/gpu.py (limit 150 s)"
  timeout 150 python benchmarks/gpu.py --json "$JSON" || status=1
  echo
  echo "gpu_check: exit status $status"
  exit "$status"
} 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
