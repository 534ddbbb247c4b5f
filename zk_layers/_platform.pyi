# Type stubs for zk_layers._platform, compiled from src/_platform.pyx: what
# the build and the machine offer the kernels (OpenMP compiled in or not, the
# OpenMP runtime's thread count, the CPU's vector extensions), the taking
# back of an array a layer saved when nothing else holds it, and the
# thread policy (threads_for, the grains, the counts behind get_num_threads).
from contextvars import ContextVar
from typing import Any, ClassVar

def openmp_enabled() -> bool: ...  # True when the kernels were compiled with OpenMP
def omp_max_threads() -> int: ...  # omp_get_max_threads() of this thread (1 without OpenMP)
def cpu_has_avx2() -> bool: ...  # the CPU and OS support AVX2
def cpu_has_avx512() -> bool: ...  # the CPU and OS support AVX-512 F, VL, BW and DQ (and AVX2)
def take_owned(owner: object, name: str) -> Any: ...  # owner.name taken out when nothing else holds it, or None
def class_defines(cls: type, name: str) -> bool: ...  # cls or a base defines the attribute name

class Grains:
    NAMES: ClassVar[tuple[str, ...]]
    elementwise: int
    exp: int
    rowwise: int
    update: int

GRAINS: Grains
BLOCK_THREADS: ContextVar[int | None]
USABLE_CPUS: int

def get_num_threads() -> int: ...
def set_process_threads(n: int | None) -> None: ...  # None unsets
def mark_forked_child() -> None: ...
def threads_for(n_items: int, grain: int) -> int: ...

# The thread policy as the glue modules take it (their bind()): a PyCapsule
# named "zk_layers.Policy" (src/_tables.pxd).
POLICY: object
