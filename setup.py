"""Package list for setuptools (everything else is in pyproject.toml).

``resources/`` (default model, demo media, icons) ships inside the wheel as the data-only package
``foley_resources``; ``engine.resources.resource_path`` finds it there, in a checkout and in a
PyInstaller bundle.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["engine*", "foley_app*"]) + ["foley_resources"],
    package_dir={"foley_resources": "resources"},
)
