#!/usr/bin/env bash
# Build .venv-cpu-torch/ (git-ignored): a second environment whose only purpose is an honest,
# measured "Binder-like" memory number for the chapters (benchmarks/chapters.py --env cpu-torch).
#
# Why: the project venv's torch from PyPI is the CUDA build; `import torch` alone costs about
# 646 MB RSS, a CPU-only torch about 212 MB. Binder installs the CPU-only build (environment.yml:
# conda-forge pytorch-cpu), so chapters.json overstates what a Binder user sees.
#
# What it is, and what it is not:
# * Python 3.11 (the newest pyenv 3.11.x, else `python3.11`; override with PYTHON=...), not the
#   project's 3.12, because the only CPU-only torch at hand is a local wheel for 3.11. It must be
#   3.11.4 or later: closp_lite.data.examples extracts with tarfile's `filter=`, which Debian's
#   3.11.2 lacks. That wheel is a FILE ON THIS KIND OF MACHINE
#   (default /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl, override with
#   CPU_TORCH_WHEEL=...), not something this script downloads; the script stops with a message
#   if it is missing. Its torch (2.13.0+cpu) is also one minor version older than requirements.lock.
# * Every dependency in pyproject.toml except torchvision, torchgeo and open_clip_torch: those
#   three need a torch this wheel does not match (pip would replace the CPU torch), so they are
#   LEFT OUT, and chapter cells that import them fail in this environment (chapters.py records it).
#   A constraints file pins torch to the wheel's version, so pip can never swap in a second torch.
#   Versions are the newest that pyproject.toml's ranges allow on Python 3.11 (requirements.lock
#   pins some versions that need 3.12); the exact set is written to .venv-cpu-torch/pip-freeze.txt.
# * Plus nbclient, nbformat and ipykernel (pyproject's test extra) and closp_lite itself from this
#   checkout, through a .pth file (pyproject says >=3.12 only because of torchgeo).
# * A Jupyter kernelspec "closp-lite-cpu-torch" inside the environment
#   (.venv-cpu-torch/share/jupyter/kernels/), not in the user's global Jupyter folder.
#
# Usage, from anywhere (a few minutes; needs PyPI for everything but torch):
#     bash benchmarks/cpu_torch_env.sh
#     .venv/bin/python benchmarks/chapters.py --env cpu-torch --chapter 00-tour
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_DIR="${CPU_TORCH_ENV:-$ROOT/.venv-cpu-torch}"
PYTHON="${PYTHON:-}"
WHEEL="${CPU_TORCH_WHEEL:-/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl}"
KERNEL_NAME="closp-lite-cpu-torch"
LEFT_OUT="torch torchvision torchgeo open-clip-torch"  # torch comes from the wheel, the rest cannot work with it

if [[ ! -f "$WHEEL" ]]; then
    echo "error: the CPU-only torch wheel $WHEEL is not here." >&2
    echo "It is a file on this kind of machine, not downloaded by this script; set CPU_TORCH_WHEEL=/path/to/torch-...+cpu-cp311-...whl." >&2
    exit 1
fi
has_tar_filter() { "$1" -c 'import sys, tarfile; tarfile.data_filter; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; }
if [[ -z "$PYTHON" ]]; then
    for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11.*/bin/python3.11 2>/dev/null | sort -rV) python3.11; do
        if has_tar_filter "$candidate"; then PYTHON="$candidate"; break; fi
    done
fi
if [[ -z "$PYTHON" ]] || ! has_tar_filter "$PYTHON"; then
    echo "error: no Python 3.11.4 or later found (${PYTHON:-python3.11}); the wheel $(basename "$WHEEL") needs 3.11," >&2
    echo "and closp_lite needs tarfile's extraction filters (3.11.4+). Set PYTHON=/path/to/python3.11." >&2
    exit 1
fi

start=$SECONDS
"$PYTHON" -m venv --clear "$ENV_DIR"  # from scratch, so a rerun never keeps an older base Python
PY="$ENV_DIR/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
"${PIP[@]}" install --quiet --upgrade pip
"${PIP[@]}" install --quiet --only-binary :all: "$WHEEL"
torch_version="$("$PY" -c 'import importlib.metadata as m; print(m.version("torch"))')"
echo "torch==$torch_version" >"$ENV_DIR/constraints.txt"

# The requirement strings of pyproject.toml, minus the left-out packages, plus the kernel's own.
mapfile -t requirements < <("$PY" - "$ROOT/pyproject.toml" "$LEFT_OUT" <<'EOF'
import re, sys, tomllib

project = tomllib.loads(open(sys.argv[1]).read())["project"]
left_out = set(sys.argv[2].split())
kernel = {"nbclient", "nbformat", "ipykernel"}

def name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")

for requirement in project["dependencies"]:
    if name(requirement) not in left_out:
        print(requirement)
for requirement in project["optional-dependencies"]["test"]:
    if name(requirement) in kernel:
        print(requirement)
EOF
)
"${PIP[@]}" install --quiet --only-binary :all: --find-links "$(dirname "$WHEEL")" \
    --constraint "$ENV_DIR/constraints.txt" "${requirements[@]}"

# closp_lite from this checkout, without pip (and so without its requires-python and torchgeo).
purelib="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$ROOT" >"$purelib/closp_lite_checkout.pth"

"$PY" -m ipykernel install --prefix "$ENV_DIR" --name "$KERNEL_NAME" \
    --display-name "Python 3.11, CPU-only torch (closp-lite, Binder-like)" >/dev/null

# Refuse to call the environment built unless it is what it claims to be.
"$PY" - "$torch_version" "$ENV_DIR" "$KERNEL_NAME" <<'EOF'
import importlib.util, json, sys
from pathlib import Path

import closp_lite
import torch

expected, env_dir, kernel_name = sys.argv[1:]
assert torch.__version__ == expected and torch.version.cuda is None, f"torch is {torch.__version__} (cuda {torch.version.cuda})"
present = [m for m in ("torchvision", "torchgeo", "open_clip") if importlib.util.find_spec(m)]
assert not present, f"left-out packages were installed anyway: {present}"
spec = json.loads((Path(env_dir) / "share/jupyter/kernels" / kernel_name / "kernel.json").read_text())
assert spec["argv"][0] == sys.executable, spec["argv"]  # the env's own python, not one it links to
print(f"torch {torch.__version__} (CPU only), Python {sys.version.split()[0]}, closp_lite from {Path(closp_lite.__file__).parent}")
EOF
"${PIP[@]}" freeze >"$ENV_DIR/pip-freeze.txt"
echo "built $ENV_DIR in $((SECONDS - start)) s; kernel '$KERNEL_NAME' in $ENV_DIR/share/jupyter/kernels"
echo "left out (need a torch this wheel does not match): torchvision torchgeo open_clip_torch"
