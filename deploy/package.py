"""Build the Lambda package: the framework and every plugin as real distributions, in one zip.

    python deploy/package.py                       # dist/auditbridge-lambda.zip for python3.13 on arm64
    python deploy/package.py --arch x86_64 --python-version 3.11 --output build/host.zip

Plugins are installed from wheels, so their ``entry_points.txt`` (how auditbridge finds them) is
intact. What the Lambda runtime already provides (boto3 and its dependencies) is left out; the
runtime's boto3 is recent enough for ``cloudtrail-data``. The zip is deterministic: sorted entries,
fixed timestamps.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Provided by the Lambda Python runtime; removing them saves ~20 MB.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "python_dateutil", "six")
PLATFORMS = {"arm64": "manylinux2014_aarch64", "aarch64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def plugin_projects() -> list[Path]:
    return sorted(path.parent for path in (ROOT / "plugins").glob("*/pyproject.toml"))


def build(output: Path, arch: str, python_version: str) -> Path:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    with tempfile.TemporaryDirectory(prefix="auditbridge-package-") as folder:
        wheels, target = Path(folder) / "wheels", Path(folder) / "python"
        # Build from copies: setuptools writes build/ and *.egg-info into the project, and two
        # builds at once (parallel test workers) must not share them.
        sources = Path(folder) / "sources"
        ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "tests", ".venv*")
        root = sources / "auditbridge"
        shutil.copytree(ROOT / "core", root / "core", ignore=ignore)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, root / name)
        projects = [root, *(shutil.copytree(p, sources / p.name, ignore=ignore) for p in plugin_projects())]
        subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), *map(str, projects)], check=True)
        subprocess.run(
            [
                *pip,
                "install",
                "--target",
                str(target),
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--platform",
                PLATFORMS[arch],
                "--python-version",
                python_version,
                "-c",
                str(ROOT / "constraints.txt"),
                *map(str, sorted(wheels.glob("*.whl"))),
            ],
            check=True,
        )
        for item in list(target.iterdir()):
            base = item.name.split("-")[0].removesuffix(".py").lower()
            if base in RUNTIME_PROVIDED or item.name == "bin":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        for cache in target.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in sorted(p for p in target.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(str(path.relative_to(target)), ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--python-version", default="3.13")
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "auditbridge-lambda.zip")
    args = parser.parse_args()
    output = build(args.output, args.arch, args.python_version)
    with zipfile.ZipFile(output) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    print(
        f"{output}: {output.stat().st_size / 1e6:.1f} MB zipped, {unpacked / 1e6:.1f} MB unpacked "
        f"(python{args.python_version}, {args.arch}; Lambda's limit is 250 MB unpacked)"
    )


if __name__ == "__main__":
    main()
