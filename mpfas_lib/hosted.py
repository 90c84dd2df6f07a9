"""Install the library on a hosted runtime that lacks it (Colab), keeping the runtime's torch.

The first code cell of every notebook (hidden in the book) imports ``mpfas_lib``; when that
fails it downloads this file at the book's release (``RELEASE``, see :mod:`mpfas_lib.release`)
and executes it with that ``RELEASE`` among its globals, which runs :func:`bootstrap` for it:
the library installed is the one of the release the notebook belongs to, not the moving
``main``. It therefore uses the standard library only. Binder needs none of this:
``binder/postBuild`` installs the project it was built from.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

REPOSITORY = "https://github.com/mpfas/mpfas"  # _config.yml repository.url (a test checks)
BRANCH = "main"  # _config.yml repository.branch: the release of an unpinned book
# the runtime's builds match its GPU and driver: kept as they are, never upgraded
KEPT = ("torch", "torchvision")
# notebooks import these too (myst_nb.glue for the book); not dependencies of the library
NOTEBOOK_EXTRAS = ("myst-nb>=1,<2",)
IMPORT_NAMES = {"pillow": "PIL", "scikit-learn": "sklearn", "scikit-image": "skimage",
                "opencv-python-headless": "cv2", "facenet-pytorch": "facenet_pytorch",
                "myst-nb": "myst_nb"}

Runner = Callable[..., object]


def hosted_runtime(modules: Mapping[str, object] | None = None,
                   environ: Mapping[str, str] | None = None) -> str | None:
    """``"colab"`` on Google Colab, else None (a local or unknown Jupyter)."""
    modules = sys.modules if modules is None else modules
    environ = os.environ if environ is None else environ
    if "google.colab" in modules or "COLAB_RELEASE_TAG" in environ:
        return "colab"
    try:
        found = importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):
        found = False
    return "colab" if found else None


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement (``numpy==2.4.6`` -> ``numpy``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return match.group(1).lower().replace("_", "-")


def is_importable(requirement: str) -> bool:
    """Whether the requirement's top-level module can be imported here."""
    name = requirement_name(requirement)
    module = IMPORT_NAMES.get(name, name.replace("-", "_"))
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_requirements(requirements: Iterable[str],
                         installed: Callable[[str], bool] | None = None) -> list[str]:
    """The requirements (no extras, not torch/torchvision) whose modules are absent."""
    installed = installed or is_importable
    out = []
    for requirement in requirements:
        if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
            continue
        if requirement_name(requirement) in KEPT or installed(requirement):
            continue
        out.append(requirement.split(";", 1)[0].strip())
    return out


def library_requirements() -> list[str]:
    """The installed library's pinned dependencies (from pyproject.toml, via its metadata)."""
    return list(importlib.metadata.requires("mpfas-lib") or [])


def kept_constraints() -> list[str]:
    """``torch==<installed>`` lines that stop pip from replacing the runtime's builds."""
    out = []
    for name in KEPT:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def source(release: str = BRANCH) -> str:
    """What pip installs for a release: the repository at that tag (or branch)."""
    return f"git+{REPOSITORY}@{release}"


def pip_install(*args: str) -> list[str]:
    """The command line of ``pip install`` for this interpreter."""
    return [sys.executable, "-m", "pip", "install", "-q", *args]


def bootstrap(run: Runner = subprocess.run, runtime: str | None = None,
              requirements: Callable[[], list[str]] = library_requirements,
              log: Callable[[str], None] = print, release: str = BRANCH) -> None:
    """Install the library of ``release`` (without its dependencies), then the missing ones."""
    runtime = runtime or hosted_runtime()
    if runtime is None:
        raise ModuleNotFoundError(
            "mpfas_lib is not installed: in a clone of the repository run `pip install -e .` "
            f"(or `make lab`), then restart the kernel ({REPOSITORY})")
    log(f"{runtime}: installing mpfas_lib from {source(release)} without dependencies "
        f"(keeping the runtime's {', '.join(kept_constraints()) or 'torch'})")
    run(pip_install("--no-deps", source(release)), check=True)
    importlib.invalidate_caches()
    missing = missing_requirements([*requirements(), *NOTEBOOK_EXTRAS])
    if not missing:
        log("all other dependencies are present")
        return
    log(f"installing the missing dependencies: {' '.join(missing)}")
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("".join(f"{line}\n" for line in kept_constraints()))
        run(pip_install(*missing, "-c", str(constraints)), check=True)
    importlib.invalidate_caches()


if __name__ == "__main__":  # also when a notebook's first cell executes this file's text
    bootstrap(release=globals().get("RELEASE", BRANCH))  # the cell passes its RELEASE
