"""Build the compiled core of zk_layers (src/*.pyx) as zk_layers._* modules.

OpenMP: the flag is chosen per compiler (gcc/clang: -fopenmp; MSVC:
/openmp; Apple clang: give `-Xpreprocessor -fopenmp` in CPPFLAGS and -lomp in
LDFLAGS, as scikit-learn documents) and tried on a tiny program first; when
the compiler cannot build OpenMP code, or ZK_LAYERS_DISABLE_OPENMP=1 is set,
the same sources build serial kernels and zk_layers.show_config() says so.

Floating point: -O3 for vectorisation, -ffp-contract=off so no fused
multiply-add changes the last bits between machines, and never -ffast-math.
"""
import os
import sys
import tempfile
import textwrap

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_MODULES = ["_openmp", "_activations", "_softmax_loss", "_affine"]

OPENMP_TEST_PROGRAM = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 && omp_get_max_threads() > 0 ? 0 : 1;
    }
    """
)


def openmp_disabled_by_user():
    return os.environ.get("ZK_LAYERS_DISABLE_OPENMP", "").strip().lower() in {
        "1", "true", "yes", "on"}


class build_ext_with_openmp(build_ext):
    """build_ext that picks compiler flags and checks that OpenMP works."""

    def _flags(self):
        if self.compiler.compiler_type == "msvc":
            return ["/O2", "/fp:precise"], ["/openmp"], []
        compile_flags = ["-O3", "-ffp-contract=off"]
        if sys.platform == "darwin":
            # Apple clang takes OpenMP only through CPPFLAGS/LDFLAGS.
            return compile_flags, [], []
        return compile_flags, ["-fopenmp"], ["-fopenmp"]

    def _openmp_works(self, compile_flags, link_flags):
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "check_openmp.c")
            with open(source, "w") as f:
                f.write(OPENMP_TEST_PROGRAM)
            try:
                objects = self.compiler.compile(
                    [source], output_dir=tmp, extra_postargs=compile_flags)
                self.compiler.link_executable(
                    objects, "check_openmp", output_dir=tmp,
                    extra_postargs=link_flags)
            except Exception:  # any compiler or linker failure means no OpenMP
                return False
        return True

    def build_extensions(self):
        compile_flags, openmp_compile, openmp_link = self._flags()
        use_openmp = not openmp_disabled_by_user()
        if use_openmp and sys.platform == "darwin":
            use_openmp = self._openmp_works(
                os.environ.get("CPPFLAGS", "").split(),
                os.environ.get("LDFLAGS", "").split())
        elif use_openmp:
            use_openmp = self._openmp_works(openmp_compile, openmp_link)
        if not use_openmp:
            openmp_compile, openmp_link = [], []
            print("zk_layers: building WITHOUT OpenMP: kernels run serially",
                  file=sys.stderr)
        for ext in self.extensions:
            ext.extra_compile_args = compile_flags + openmp_compile
            ext.extra_link_args = openmp_link
        super().build_extensions()


extensions = [
    Extension(f"zk_layers.{name}", [f"src/{name}.pyx"], include_dirs=["src"])
    for name in KERNEL_MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={"language_level": 3, "embedsignature": True},
    ),
    cmdclass={"build_ext": build_ext_with_openmp},
)
