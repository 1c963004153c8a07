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
# * Every dependency in pyproject.toml. torchvision, torchgeo and open_clip_torch (with its timm)
#   only WHEN A CPU TORCHVISION WHEEL IS AT HAND: PyPI's torchvision for this torch is the CUDA
#   build, which pip would install beside the CPU torch (or swap the torch for), and which fails to
#   import there; torchgeo, open_clip and timm all import torchvision. The wheel is
#   CPU_TORCHVISION_WHEEL=..., else the newest torchvision-*+cpu-cp311-*.whl beside the torch
#   wheel. Without one the three are LEFT OUT: the script says so and lists the chapters that then
#   cannot run (benchmarks/chapter_needs.py), and `chapters.py --env cpu-torch` records those as
#   "skipped: needs torchvision (no CPU wheel)".
#   lightning, which closp_lite imports itself but gets through torchgeo, is installed either way
#   (it needs only torch). A constraints file pins torch (and torchvision) to the wheels' versions,
#   so pip can never swap in a second build.
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
VISION_WHEEL="${CPU_TORCHVISION_WHEEL:-}"
if [[ -z "$VISION_WHEEL" ]]; then  # beside the torch wheel, the newest CPU build for 3.11
    VISION_WHEEL="$(ls "$(dirname "$WHEEL")"/torchvision-*+cpu-cp311-*.whl 2>/dev/null | sort -V | tail -n 1 || true)"
fi
if [[ -n "$VISION_WHEEL" && ! -f "$VISION_WHEEL" ]]; then
    echo "error: CPU_TORCHVISION_WHEEL=$VISION_WHEEL is not a file." >&2
    exit 1
fi
if [[ -n "$VISION_WHEEL" ]]; then
    LEFT_OUT="torch torchvision"  # both come from the local wheels; torchgeo and open_clip from PyPI on top
else
    LEFT_OUT="torch torchvision torchgeo open-clip-torch"  # torch from the wheel; the rest need a CPU torchvision
fi

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
if [[ -n "$VISION_WHEEL" ]]; then
    # --no-deps: its only heavy requirement is this torch, pinned above; the light ones come below
    "${PIP[@]}" install --quiet --only-binary :all: --no-deps "$VISION_WHEEL"
    vision_version="$("$PY" -c 'import importlib.metadata as m; print(m.version("torchvision"))')"
    echo "torchvision==$vision_version" >>"$ENV_DIR/constraints.txt"
    if ! "$PY" -c 'import torchvision' 2>"$ENV_DIR/torchvision-import-error.txt"; then
        echo "error: $(basename "$VISION_WHEEL") does not import beside torch $torch_version:" >&2
        tail -n 3 "$ENV_DIR/torchvision-import-error.txt" >&2
        echo "Use the torchvision release built for this torch, or leave CPU_TORCHVISION_WHEEL unset to build without it." >&2
        exit 1
    fi
fi

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
if "torchgeo" in left_out:
    # closp_lite imports lightning itself (Fabric training, chapter 10) and gets it through torchgeo;
    # lightning needs only torch, so it stays when torchgeo is left out
    print("lightning")
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
"$PY" - "$torch_version" "$ENV_DIR" "$KERNEL_NAME" "$VISION_WHEEL" <<'EOF'
import importlib, importlib.util, json, sys
from pathlib import Path

import closp_lite
import torch

expected, env_dir, kernel_name, with_vision = sys.argv[1:]
assert torch.__version__ == expected and torch.version.cuda is None, f"torch is {torch.__version__} (cuda {torch.version.cuda})"
heavy = ("torchvision", "torchgeo", "open_clip", "timm")
if with_vision:  # each must import beside the CPU torch, which must still be the wheel's
    for module in heavy:
        importlib.import_module(module)
    assert torch.__version__ == expected, f"installing {heavy} replaced torch by {torch.__version__}"
else:
    present = [m for m in heavy if importlib.util.find_spec(m)]
    assert not present, f"left-out packages were installed anyway: {present}"
spec = json.loads((Path(env_dir) / "share/jupyter/kernels" / kernel_name / "kernel.json").read_text())
assert spec["argv"][0] == sys.executable, spec["argv"]  # the env's own python, not one it links to
print(f"torch {torch.__version__} (CPU only), Python {sys.version.split()[0]}, closp_lite from {Path(closp_lite.__file__).parent}")
EOF
"${PIP[@]}" freeze >"$ENV_DIR/pip-freeze.txt"
echo "built $ENV_DIR in $((SECONDS - start)) s; kernel '$KERNEL_NAME' in $ENV_DIR/share/jupyter/kernels"
if [[ -n "$VISION_WHEEL" ]]; then
    echo "torchvision $vision_version from $(basename "$VISION_WHEEL"); torchgeo, open_clip_torch and timm installed on top"
else
    echo "SKIPPED torchvision, torchgeo, open_clip_torch (and timm): no CPU torchvision wheel beside $(basename "$WHEEL")"
    echo "(PyPI's torchvision for torch $torch_version is the CUDA build and fails to import beside a CPU torch;"
    echo "pass one with CPU_TORCHVISION_WHEEL=/path/to/torchvision-...+cpu-cp311-...whl to include them)."
    echo "Chapters that then cannot run here, or stop if they reach those packages (benchmarks/chapters.py --env cpu-torch records them as skipped):"
    "$PY" "$ROOT/benchmarks/chapter_needs.py" | sed 's/^/  /'
fi
