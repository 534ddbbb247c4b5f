"""show_config(): what this installation of zk_layers is running on."""
from __future__ import annotations

import os
import platform
import sys
from typing import Any, TextIO

import numpy as np

from . import _kernels, _platform
from ._kernels import KERNELS
from ._threads import USABLE_CPUS, get_num_threads
from ._version import __version__


def _wait_policy() -> str:
    import zk_layers

    if not _platform.openmp_enabled():
        return "n/a (built without OpenMP)"
    if zk_layers._PASSIVE_WAIT_SET:
        return "passive (set by zk_layers when it loaded the OpenMP runtime)"
    return "runtime default or OMP_WAIT_POLICY/GOMP_SPINCOUNT (set by the user or another library)"


def config_info() -> dict[str, Any]:
    """The facts that ``show_config`` prints, as a dict (for reports)."""
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    return {
        "zk_layers": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "openmp": _platform.openmp_enabled(),
        "kernels": KERNELS.level,
        "omp_wait_policy": _wait_policy(),
        "kernels_available": _kernels.available_levels(),
        "threads": get_num_threads(),
        "usable_cpus": USABLE_CPUS,
        "openmp_runtimes": [p for p in pools if p.get("user_api") == "openmp"],
        "blas": [p for p in pools if p.get("user_api") == "blas"],
        "blas_direct": _kernels.DIRECT_BLAS,
        "environment": {
            k: v for k, v in sorted(os.environ.items())
            if k.startswith(("OMP_", "OPENBLAS_", "MKL_", "GOMP_", "KMP_", "ZK_LAYERS_"))
        },
    }


def show_config(file: TextIO | None = None) -> None:
    """Print the version, OpenMP status, thread count and NumPy/BLAS details."""
    info = config_info()
    out = file if file is not None else sys.stdout
    lines = [
        f"zk_layers {info['zk_layers']}",
        f"  python:     {info['python']} on {info['platform']}",
        f"  numpy:      {info['numpy']}",
        f"  openmp:     {'enabled' if info['openmp'] else 'DISABLED (kernels run serially)'}",
        f"  threads:    {info['threads']} (usable CPUs: {info['usable_cpus']})",
        f"  omp wait:   {info['omp_wait_policy']}",
        f"  kernels:    {info['kernels']} (this CPU and build: {', '.join(info['kernels_available'])})",
    ]
    for pool in info["openmp_runtimes"]:
        lines.append(f"  openmp lib: {pool.get('filepath')} (num_threads={pool.get('num_threads')})")
    for pool in info["blas"]:
        lines.append(
            f"  blas:       {pool.get('internal_api')} {pool.get('version')} "
            f"kernel={pool.get('architecture')} threading={pool.get('threading_layer')} "
            f"num_threads={pool.get('num_threads')}"
        )
    if not info["blas"]:
        lines.append("  blas:       not detected by threadpoolctl")
    direct = info["blas_direct"]
    if direct:
        lines.append(f"  products:   Affine calls NumPy's BLAS directly ({direct}*64_)")
    else:
        lines.append("  products:   through np.dot and np.matmul")
    for key, value in info["environment"].items():
        lines.append(f"  env:        {key}={value}")
    print("\n".join(lines), file=out)
