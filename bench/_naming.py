"""Naming one vendor costs the same whether 7 or 77 vendors are installed.

70 fake vendors are installed as 70 distributions in a temporary folder on ``sys.path``
(``PYTHONPATH``), each with a ``*.dist-info`` whose only entry point registers a
``portalkit.providers`` adapter in a module that does not exist: the registry must never
import one. Each sample is a fresh process that imports portalkit and times its first
``Portal.from_env()`` (``PORTALKIT_PROVIDER`` names a real vendor): the entry-point scan, the
look-up and the import of that one adapter. The process then checks that no fake module and
no other adapter was imported, and fails otherwise. The two installs alternate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from portalkit import ProviderEnv

from ._stats import Comparison
from ._vendor import declaration, registered

FAKES = 70

_CHILD = """
import json, sys, time
import portalkit
start = time.perf_counter()
portal = portalkit.Portal.from_env()
elapsed = time.perf_counter() - start
adapters = sorted(m for m in sys.modules if m.startswith("portalkit.providers."))
fakes = sorted(m for m in sys.modules if m.startswith("portalkit_fake_vendor"))
print(json.dumps({"seconds": elapsed, "adapters": adapters, "fakes": fakes,
                  "installed": len(portalkit.available_providers())}))
"""


@contextmanager
def fake_vendors(count: int = FAKES) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="portalkit-fakes-") as folder:
        root = Path(folder)
        for index in range(count):
            name = f"portalkit_fake_vendor_{index:02d}"
            info = root / f"{name}-1.0.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
            (info / "entry_points.txt").write_text(
                f"[portalkit.providers]\nfake{index:02d} = {name}:Adapter\n"
            )
        yield root


@dataclass(frozen=True)
class Naming:
    vendor: str
    comparison: Comparison
    installed: tuple[int, int]
    #: The adapter modules the child imported (the same on both sides when all is well).
    adapters: list[str]


def _environment(vendor: str, extra_path: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTALKIT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    names = ProviderEnv(vendor, {})
    env["PORTALKIT_PROVIDER"] = vendor
    for field, value in declaration(vendor).credentials.items():
        env[names.variable(field)] = value
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(extra_path), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    return env


def _sample(env: dict[str, str]) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(run.stdout)
    if result["fakes"]:
        raise AssertionError(f"the registry imported fake vendors: {result['fakes']}")
    return result


def naming_one_vendor(*, rounds: int, warmup: int = 1) -> Naming:
    vendor = registered()[0]
    with fake_vendors() as folder:
        few, many = _environment(vendor, None), _environment(vendor, folder)
        for _ in range(warmup):
            _sample(few), _sample(many)
        a: list[float] = []
        b: list[float] = []
        seen: dict[str, dict[str, object]] = {}
        for index in range(rounds):
            order = [("many", many, a), ("few", few, b)]
            if index % 2:
                order.reverse()
            for label, env, samples in order:
                result = _sample(env)
                seen[label] = result
                samples.append(float(result["seconds"]))  # type: ignore[arg-type]
    adapters = seen["many"]["adapters"]
    if adapters != seen["few"]["adapters"] or len(adapters) != 1:  # type: ignore[arg-type]
        raise AssertionError(f"naming {vendor} imported {adapters} and {seen['few']['adapters']}")
    installed = (int(seen["few"]["installed"]), int(seen["many"]["installed"]))  # type: ignore[call-overload]
    return Naming(vendor, Comparison(tuple(a), tuple(b)), installed, list(adapters))  # type: ignore[call-overload]


__all__ = ["Naming", "naming_one_vendor"]
