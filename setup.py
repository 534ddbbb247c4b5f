"""Build the compiled core of zk_layers (src/*.pyx) as zk_layers._* modules.

OpenMP: the flag is chosen per compiler (gcc/clang: -fopenmp; MSVC:
/openmp; Apple clang: give `-Xpreprocessor -fopenmp` in CPPFLAGS and -lomp in
LDFLAGS, as scikit-learn documents) and tried on a tiny program first; when
the compiler cannot build OpenMP code, or ZK_LAYERS_DISABLE_OPENMP=1 is set,
the same sources build serial kernels and zk_layers.show_config() says so.

Vector extensions: a wheel must run on any x86-64 CPU, whose baseline is
SSE2, but our kernels are 3-7x faster with AVX2 or AVX-512.  So on x86-64
with gcc or clang each kernel module is built three times from the same
.pyx -- baseline, `-mavx2` and `-mavx512{f,vl,bw,dq}` -- as
zk_layers.<module>, <module>_avx2 and <module>_avx512, and
zk_layers/_kernels.py imports the best one the CPU supports.  The list of
kernel modules is KERNEL_MODULES in zk_layers/_kernels.py; the glue modules
of GLUE there, which call the kernels of a _cpu_* module through its table,
are built once.  All builds
compute bitwise-identical results (no FMA contraction, no reassociation).
ZK_LAYERS_BASELINE_ONLY=1 builds the baseline only.

Release builds set ZK_LAYERS_REQUIRE_OPENMP=1 (pyproject.toml's
[tool.cibuildwheel], scripts/check_dist.sh): then a compiler that cannot
build OpenMP code fails the build instead of giving a serial wheel.

Cython runs when the extensions are built, not when this file is read, so
making an sdist or reading the metadata needs no Cython run and writes no
generated file; the ISA variants' one-line .pyx files are written then too,
under build/variant_sources, and the templates src/*.tp are rendered with
Cython's Tempita into build/generated (as scikit-learn's .pyx.tp), so an
unpacked sdist builds like a clone.

Floating point: -O3 for vectorisation, -ffp-contract=off so no fused
multiply-add changes the last bits between machines, -fno-trapping-math so
that branch-free selects vectorise (it changes no value: it only lets the
compiler ignore floating-point exception flags, which nothing reads),
-fno-math-errno so that sqrt is the instruction and vectorises (Adam,
AdaGrad, RMSprop: with errno, each sqrt had a branch to the library for
negative input and the loops stayed scalar, 3.9 ns per element; sqrt is
correctly rounded either way, so no value changes), and never -ffast-math.

Build time: -g0 drops the debug information Python's own CFLAGS ask for
(-g): it made up three quarters of each module (1.5 MB -> 0.4 MB) and a
quarter of the compile time.  Set CFLAGS with a -g flag (-g, -g3, -ggdb) to
keep it (gdb, scripts/asan.sh).  Cython translates the modules side by side
where processes start by fork (Linux before Python 3.14), and
the compiler compiles them side by side everywhere (one job per CPU).
"""
import os
import platform
import sys
import tempfile
import textwrap

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def read_module_lists():
    """KERNEL_MODULES and GLUE of zk_layers/_kernels.py, the one list of
    kernel modules (built per ISA) and of glue modules (built once); read
    with ast: the package is not importable before the build."""
    import ast

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zk_layers", "_kernels.py")
    found = {}
    with open(path, encoding="utf-8") as f:
        for node in ast.parse(f.read()).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                found[node.targets[0].id] = node.value
    if "KERNEL_MODULES" not in found or "GLUE" not in found:
        raise RuntimeError(f"no KERNEL_MODULES or GLUE in {path}")
    return list(ast.literal_eval(found["KERNEL_MODULES"])), list(ast.literal_eval(found["GLUE"]))


PLATFORM_MODULE = "_platform"
KERNEL_MODULES, GLUE_MODULES = read_module_lists()
ISA_VARIANTS = {  # suffix -> gcc/clang flags
    "_avx2": ["-mavx2"],
    "_avx512": ["-mavx2", "-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq"],
}
VARIANT_SOURCE_DIR = os.path.join("build", "variant_sources")
GENERATED_DIR = os.path.join("build", "generated")
CYTHON_DIRECTIVES = {
    # Also written at the top of each .pyx; repeated here because the
    # variant builds include the .pyx, and directives in an included file
    # are ignored.
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "freethreading_compatible": True,
    "embedsignature": True,
}

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


def env_flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def build_isa_variants():
    machine = platform.machine().lower()
    return (
        machine in {"x86_64", "amd64"}
        and not sys.platform.startswith("win")  # MSVC: baseline only for now
        and not env_flag("ZK_LAYERS_BASELINE_ONLY")
    )


class build_ext_with_openmp(build_ext):
    """build_ext that picks compiler flags and checks that OpenMP works."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # compile the modules side by side
            self.parallel = os.cpu_count() or 1

    def _flags(self):
        if self.compiler.compiler_type == "msvc":
            return ["/O2", "/fp:precise"], ["/openmp"], []
        compile_flags = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fno-math-errno"]
        if not any(flag.startswith("-g") and flag != "-g0" for flag in os.environ.get("CFLAGS", "").split()):
            compile_flags.append("-g0")  # see the module docstring
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

    def run(self):
        import numpy
        from Cython.Build import cythonize

        # Only now: reading the metadata (an sdist, pip resolving) needs no
        # NumPy; the build has it (pyproject.toml's build requirements).
        for ext in self.extensions:
            if ext.define_macros == NUMPY_MACROS and numpy.get_include() not in ext.include_dirs:
                ext.include_dirs.append(numpy.get_include())

        for ext in self.extensions:
            variant = VARIANT_OF_SOURCE.get(ext.sources[0])
            if variant is not None:
                write_variant_source(*variant)
        for module in GLUE_MODULES:
            render_template("src/_runners.pxi.tp", f"{module}_runners.pxi", module=module)
        for module in KERNEL_MODULES:
            render_template("src/_table.pxi.tp", f"{module}_table.pxi", module=module)
        # Only the sources change (.pyx -> .c): the Extension objects keep
        # what build_ext.finalize_options set on them.
        # Side by side only where processes start by fork: with spawn or
        # forkserver (macOS, Windows, Linux from Python 3.14 on) cythonize's
        # process pool would re-import whatever runs this build, and
        # `python setup.py build_ext` would start a build in each worker.
        import multiprocessing

        forks = multiprocessing.get_context().get_start_method() == "fork"
        jobs = (os.cpu_count() or 1) if forks else 0
        generated = {ext.name: ext.sources for ext in cythonize(
            self.extensions, include_path=["src", GENERATED_DIR], nthreads=jobs,
            compiler_directives=CYTHON_DIRECTIVES)}
        for ext in self.extensions:
            ext.sources = generated[ext.name]
        super().run()

    def build_extensions(self):
        compile_flags, openmp_compile, openmp_link = self._flags()
        disabled = env_flag("ZK_LAYERS_DISABLE_OPENMP")
        required = env_flag("ZK_LAYERS_REQUIRE_OPENMP")
        if disabled and required:
            raise RuntimeError("zk_layers: ZK_LAYERS_DISABLE_OPENMP and "
                               "ZK_LAYERS_REQUIRE_OPENMP are both set")
        use_openmp = not disabled
        if use_openmp and sys.platform == "darwin":
            use_openmp = self._openmp_works(
                os.environ.get("CPPFLAGS", "").split(),
                os.environ.get("LDFLAGS", "").split())
        elif use_openmp:
            use_openmp = self._openmp_works(openmp_compile, openmp_link)
        if required and not use_openmp:
            raise RuntimeError(
                "zk_layers: ZK_LAYERS_REQUIRE_OPENMP=1 but this compiler "
                "cannot build OpenMP code (on macOS set CPPFLAGS and LDFLAGS "
                "as the docstring of setup.py says)")
        if not use_openmp:
            openmp_compile, openmp_link = [], []
            print("zk_layers: building WITHOUT OpenMP: kernels run serially",
                  file=sys.stderr)
        for ext in self.extensions:
            isa_flags = []
            for suffix, flags in ISA_VARIANTS.items():
                if ext.name.endswith(suffix):
                    isa_flags = flags
            ext.extra_compile_args = compile_flags + openmp_compile + isa_flags
            ext.extra_link_args = openmp_link
        super().build_extensions()


def variant_source(module, suffix):
    """Where the one-line .pyx of one ISA variant of `module` is written."""
    return os.path.join(VARIANT_SOURCE_DIR, f"{module}{suffix}.pyx")


def write_if_changed(path, text):
    """Write text to path unless it holds it already (Cython rebuilds what
    depends on a file whose time changed)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_variant_source(module, suffix):
    """Write the .pyx that compiles src/<module>.pyx under another name."""
    write_if_changed(variant_source(module, suffix),
                     f"# Generated by setup.py: {module}.pyx built for {suffix[1:]}.\n"
                     f'include "{module}.pyx"\n')


def render_template(template, name, **namespace):
    """Render the Tempita template src/<...>.tp into GENERATED_DIR/name."""
    from Cython.Tempita import Template

    with open(template, encoding="utf-8") as f:
        text = Template(f.read(), name=template).substitute(**namespace)
    write_if_changed(os.path.join(GENERATED_DIR, name), text)


# variant .pyx path -> (module, suffix), for build_ext_with_openmp.run
VARIANT_OF_SOURCE = {variant_source(module, suffix): (module, suffix)
                     for module in KERNEL_MODULES for suffix in ISA_VARIANTS}


# The one-call entry points use NumPy's C API (allocation, checks, np.dot).
NUMPY_MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]


def extensions():
    kernel_includes = ["src"]  # + numpy.get_include(), added when building
    # _platform and the glue modules (built once) cimport _common.pxd, and
    # with it NumPy's declarations.
    # _affine looks up NumPy's BLAS with dlopen/dlsym (src/_blas.h), which
    # glibc before 2.34 keeps in libdl.
    dl = ["dl"] if sys.platform.startswith("linux") else []
    exts = [Extension(f"zk_layers.{module}", [f"src/{module}.pyx"],
                      include_dirs=list(kernel_includes), define_macros=NUMPY_MACROS,
                      libraries=dl if module == "_affine" else [])
            for module in [PLATFORM_MODULE, *GLUE_MODULES]]
    for module in KERNEL_MODULES:
        exts.append(Extension(f"zk_layers.{module}", [f"src/{module}.pyx"],
                              include_dirs=list(kernel_includes), define_macros=NUMPY_MACROS))
        if build_isa_variants():
            for suffix in ISA_VARIANTS:
                exts.append(Extension(f"zk_layers.{module}{suffix}",
                                      [variant_source(module, suffix)],
                                      include_dirs=list(kernel_includes),
                                      define_macros=NUMPY_MACROS,
                                      depends=[f"src/{module}.pyx"]))
    return exts


setup(
    ext_modules=extensions(),  # cythonized by build_ext_with_openmp.run
    cmdclass={"build_ext": build_ext_with_openmp},
)
