"""Which environment variables a vendor's ``from_env`` reads: asked of the code itself, so the
docs' variable tables (tests/test_docs_truth.py) and the settings checks
(tests/test_settings_checked.py) cover exactly the variables an adapter reads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from portalkit import ProviderEnv, get_provider_factory


class RecordingEnviron(Mapping[str, str]):
    """An environment that answers from ``values`` and remembers every name read."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: list[str] = []

    def __getitem__(self, key: str) -> str:
        self.read.append(key)
        return self._values[key]

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.append(key)
        return self._values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def variables_read(vendor: str, environ: Mapping[str, str]) -> list[str]:
    """Every variable ``vendor``'s ``from_env`` reads from a working ``environ`` (required
    and optional), in order of first read."""
    env = RecordingEnviron(environ)
    get_provider_factory(vendor).from_env(ProviderEnv(vendor, env))
    return list(dict.fromkeys(env.read))
