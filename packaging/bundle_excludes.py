"""What the PyInstaller bundle leaves out (shared by the spec and ``tests/test_packaging.py``).

Every module here is either never imported by the app or only by code paths it never takes
(torch.compile, ONNX export, TensorBoard, librosa's sklearn-based segmentation, ...). The test
imports every engine/foley_app module and runs the model, log-mel and onset code with these
imports blocked, so adding a dependency on one of them fails in CI rather than in the bundle.
Imports made from C code are invisible to that test (and to PyInstaller): running
``packaging/smoke_test.py`` on the built app is the final check.
"""

from __future__ import annotations

EXCLUDED_MODULES = (
    # dev and build tools
    "pytest", "_pytest", "pytestqt", "pytest_benchmark", "pytest_timeout", "hypothesis",
    "importlinter", "grimp", "PyInstaller", "setuptools", "pkg_resources", "pip",
    # interactive / plotting stacks nothing in the app uses
    "tkinter", "_tkinter", "matplotlib", "IPython", "ipykernel", "jupyter_client", "pandas", "PIL",
    # torch: compiler, export and tooling (inference runs eagerly)
    "torch._inductor", "torch.onnx", "torch.utils.tensorboard", "tensorboard", "torch.utils.benchmark",
    "torch.utils.cpp_extension", "torch.utils.bottleneck", "triton", "sympy", "networkx", "jinja2",
    # librosa extras: segmentation/decomposition (sklearn). Not numba.cuda: it is the only Python
    # importer of numba._devicearray, which numba's C dispatcher needs (a frozen run showed it).
    "sklearn",
    # Qt modules the GUI does not use (QtCore/QtGui/QtWidgets/QtSvg only)
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2", "PySide6.QtQuick3D", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets",
    "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtDesigner",
    "PySide6.QtHelp", "PySide6.QtUiTools", "PySide6.QtXml", "PySide6.QtConcurrent", "PySide6.QtDBus",
    "PySide6.QtMultimedia", "PySide6.QtMultimediaWidgets", "PySide6.QtSpatialAudio",
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtWebChannel",
    "PySide6.QtWebSockets", "PySide6.Qt3DCore", "PySide6.Qt3DRender", "PySide6.QtCharts",
    "PySide6.QtDataVisualization", "PySide6.QtGraphs", "PySide6.QtBluetooth", "PySide6.QtPositioning",
    "PySide6.QtSerialPort", "PySide6.QtRemoteObjects", "PySide6.QtScxml", "PySide6.QtSensors",
    "PySide6.QtTextToSpeech", "PySide6.QtNfc", "PySide6.QtHttpServer", "PySide6.QtLocation",
)  # fmt: skip

# Collected files dropped by destination path (posix, inside the bundle): torch's C++ headers,
# test binaries and build helpers, and test data shipped inside packages.
EXCLUDED_PATH_PARTS = (
    "torch/include/",
    "torch/bin/",  # C++ test programs and protoc (torch_shm_manager is kept, below)
    "torch/test/",  # ~80 MB of C++ unit-test executables
    "torch/share/cmake/",
    "torch/lib/libtorchbind_test",
    "torch/lib/libjitbackend_test",
    "torch/lib/libbackend_with_compiler",
    "torch/lib/libaoti_custom_ops",
    "/tests/",
)

# CUDA runtime libraries: dropped when the bundled torch is a CPU build (nothing would load them).
CUDA_LIBRARY_PREFIXES = (
    "nvidia/", "libcudart", "libcublas", "libcudnn", "libcufft", "libcurand", "libcusolver",
    "libcusparse", "libnccl", "libnvrtc", "libnvJitLink", "libnvToolsExt", "libcupti", "triton/",
)  # fmt: skip


# Needed although under an excluded folder: ``import torch`` fails without the shared-memory manager.
KEPT_PATHS = ("torch/bin/torch_shm_manager",)


def keep(dest: str, cuda_build: bool) -> bool:
    """Whether a collected file (its destination path in the bundle) stays in the bundle."""
    path = dest.replace("\\", "/")
    if path in KEPT_PATHS:
        return True
    if any(part in path for part in EXCLUDED_PATH_PARTS):
        return False
    name = path.rsplit("/", 1)[-1]
    return cuda_build or not any(path.startswith(p) or name.startswith(p) for p in CUDA_LIBRARY_PREFIXES)


# Linux: the only libraries whose symbol tables are stripped (libtorch_cpu 434 -> 345 MB, libllvmlite
# 179 -> 160 MB). Not everything: strip corrupts libraries that auditwheel patched (numpy's
# OpenBLAS then fails with "ELF load command address/offset not page-aligned").
STRIPPED_LIBRARIES = ("torch/lib/libtorch_cpu.so", "llvmlite/binding/libllvmlite.so")
