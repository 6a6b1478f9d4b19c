"""Package layout: the repository's top-level `pipelines/` and `export/` install as
`keras_denoiser.pipelines` and `keras_denoiser.export`, so the wheel adds only two top-level names
(`keras_denoiser`, `tflite_demo`) to site-packages. Everything else is in setup.cfg."""

from setuptools import find_namespace_packages, setup

# Top-level folders that install under keras_denoiser (the folder layout shows the architecture).
NESTED = ("pipelines", "export")


def _packages() -> tuple[list[str], dict[str, str]]:
    # find_namespace: so the data folders (assets/..., serving/, models/) are packages too: setuptools
    # warns about every data folder inside a package that it leaves out.
    packages = find_namespace_packages(
        include=["keras_denoiser", "keras_denoiser.*", "tflite_demo", "tflite_demo.*"], exclude=["*.node_modules", "*.node_modules.*"]
    )
    package_dir = {}
    for top in NESTED:
        for found in find_namespace_packages(include=[top, f"{top}.*"]):
            packages.append(f"keras_denoiser.{found}")
        package_dir[f"keras_denoiser.{top}"] = top
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
