"""The docs a newcomer reads name every registered vendor, the variables the code reads, the
errors it raises and the adapters it ships; their Python snippets run against the sandbox.

Where a page lists vendors, variables, errors or adapters, the list here is read from the
code (the registry, each adapter's ``from_env``, ``portalkit.errors.__all__``), so a new
vendor, variable or error fails these tests until the pages say so.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import portalkit
from portalkit import ProviderEnv, errors, get_provider_factory

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
INDEX = DOCS / "index.md"

#: How the pages spell each vendor. A vendor registered without a name here fails
#: ``test_every_vendor_has_a_display_name``: add it, and the pages then have to name it.
DISPLAY = {
    "chargebee": "Chargebee",
    "lemonsqueezy": "Lemon Squeezy",
    "paddle": "Paddle",
    "paylera": "Paylera",
    "plugipay": "Plugipay",
    "polar": "Polar",
    "stripe": "Stripe",
}
VENDORS = tuple(portalkit.available_providers())


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole ``## ...`` line) up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    after = text.split(heading + "\n", 1)[1]
    return re.split(rf"^{level} ", after, maxsplit=1, flags=re.MULTILINE)[0]


class _Recording(Mapping[str, str]):
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


def variables_read(vendor: str) -> list[str]:
    """Every variable the vendor's ``from_env`` reads (required and optional), in order."""
    from portalkit.sandbox import Sandbox

    env = _Recording(Sandbox().environment(vendor, base_url="http://127.0.0.1:1"))
    get_provider_factory(vendor).from_env(ProviderEnv(vendor, env))
    return list(dict.fromkeys(env.read))


def table(text: str, first_header: str) -> str:
    """The markdown table whose header row starts with ``| first_header |``."""
    start = text.index(f"| {first_header} |")
    rows = []
    for line in text[start:].splitlines():
        if not line.startswith("|"):
            break
        rows.append(line)
    return "\n".join(rows)


# -- vendors -----------------------------------------------------------------------------


def test_every_vendor_has_a_display_name() -> None:
    assert set(VENDORS) == set(DISPLAY)


@pytest.mark.parametrize(
    ("page", "where"),
    [
        (README, "the opening paragraph"),
        (INDEX, "the opening paragraph"),
        (INDEX, "Where next"),
        (DOCS / "testing.md", "the opening paragraph"),
        (DOCS / "sandbox.md", "Credentials"),
        (DOCS / "sandbox.md", "Seeded customers"),
        (DOCS / "sandbox.md", "The vendors"),
    ],
)
def test_each_vendor_list_names_every_vendor(page: Path, where: str) -> None:
    text = read(page)
    if where == "the opening paragraph":
        part = text.split("\n\n", 2)[1]
    else:
        part = section(text, f"## {where}")
    missing = [DISPLAY[v] for v in VENDORS if DISPLAY[v] not in part]
    assert not missing, f"{page.relative_to(ROOT)} ({where}) does not name {missing}"


def test_the_api_reference_documents_every_registered_adapter() -> None:
    listed = set(re.findall(r"^::: (providers\.\w+\.\w+)$", read(DOCS / "api.md"), re.M))
    # ``providers.*`` is the source folder shipped as ``portalkit.providers``.
    adapters = {name for name in listed if hasattr(_resolve("portalkit." + name), "from_env")}
    registered = {
        "providers.{}.{}".format(
            get_provider_factory(v).__module__.rsplit(".", 1)[-1],
            get_provider_factory(v).__qualname__,  # type: ignore[attr-defined]
        )
        for v in VENDORS
    }
    assert adapters == registered
    # The sentence that names their import paths names each one too.
    part = section(read(DOCS / "api.md"), "## Adapters")
    for v in VENDORS:
        factory = get_provider_factory(v)
        assert f"`portalkit.providers.{v}.{factory.__qualname__}`" in part  # type: ignore[attr-defined]


def _resolve(dotted: str) -> object:
    module, _, attribute = dotted.rpartition(".")
    return getattr(__import__(module, fromlist=[attribute]), attribute)


# -- variables ---------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_variable_tables_name_every_variable_the_code_reads(vendor: str) -> None:
    read_names = [n for n in variables_read(vendor) if not n.endswith("_BASE_URL")]
    assert read_names, vendor
    for page in (README, INDEX):
        rows = table(read(page), "Variable")
        missing = [n for n in read_names if f"`{n}`" not in rows]
        assert not missing, f"{page.relative_to(ROOT)}'s variable table misses {missing}"
        assert f"`{vendor}`" in rows.splitlines()[2], "PORTALKIT_PROVIDER's row names it"


#: The pages whose vendor variables are checked against the code, name by name.
VARIABLE_PAGES = [
    README,
    INDEX,
    DOCS / "testing.md",
    DOCS / "sandbox.md",
    *sorted((DOCS / "frameworks").glob("*.md")),
]


def test_every_vendor_variable_a_page_names_is_one_the_code_reads() -> None:
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    known: set[str] = set()
    for vendor in VENDORS:
        known.update(variables_read(vendor))
        known.add(ProviderEnv(vendor, {}).variable("base_url"))
        with contextlib.suppress(ValueError):  # a twin that sends no webhooks
            known.update(sandbox.webhook_env(vendor))
    prefixes = "|".join(ProviderEnv(v, {}).prefix for v in VENDORS)
    pattern = re.compile(rf"\b(?:{prefixes})_[A-Z][A-Z_]*[A-Z]\b")
    wrong = {
        (str(page.relative_to(ROOT)), name)
        for page in VARIABLE_PAGES
        for name in pattern.findall(read(page))
        if name not in known
    }
    assert not wrong, f"variables no code reads: {sorted(wrong)}"


# -- errors ------------------------------------------------------------------------------

ERRORS = sorted(
    name
    for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), BaseException)
)


@pytest.mark.parametrize(
    ("page", "part"),
    [
        (README, lambda text: text.split("- **Errors**", 1)[1].split("\n- ", 1)[0]),
        (INDEX, lambda text: section(text, "## Errors")),
    ],
)
def test_the_error_lists_name_every_error(page: Path, part: object) -> None:
    text = part(read(page))  # type: ignore[operator]
    missing = [name for name in ERRORS if name != "PortalError" and f"`{name}`" not in text]
    assert not missing, f"{page.relative_to(ROOT)}'s error list misses {missing}"


# -- snippets ----------------------------------------------------------------------------

SNIPPET_PAGES = [README, *sorted(DOCS.rglob("*.md"))]
#: Pages whose snippets another test runs as written.
RUN_ELSEWHERE = {
    "docs/webhooks.md": "tests/test_webhooks_doc.py",
}

#: Snippets that do not run yet, each with why. TODO (issue 24, item 2): point each at the
#: sandbox (``base_url=sandbox.base_url(vendor)`` or the environment) or give it the
#: definitions it assumes, then move it out of this list. A snippet neither run nor listed
#: here fails ``test_every_snippet_is_run_or_listed``.
NOT_YET_RUN = {
    "README.md#0": "real Paddle credentials (api_key='...'): needs base_url at the sandbox",
    "README.md#3": "needs a webhook delivery's headers and body (request_headers, raw_body)",
    "README.md#4": "a fragment: assumes app, portal and PortalRequest",
    "docs/frameworks/django.md#1": "a urls.py fragment: assumes path and views",
    "docs/frameworks/flask.md#0": "reads SECRET_KEY from the environment",
    "docs/frameworks/flask.md#1": "needs flask_login, not a dependency",
    "docs/frameworks/flask.md#2": "a fragment: assumes app",
    "docs/frameworks/flask.md#3": "needs flask_wtf, not a dependency",
    "docs/frameworks/starlette.md#0": "reads SESSION_SECRET from the environment",
    "docs/frameworks/starlette.md#1": "reads SESSION_SECRET from the environment",
    "docs/frameworks/starlette.md#2": "a fragment: assumes Route and routes",
    "docs/frameworks/starlette.md#3": "a fragment: assumes Route",
    "docs/frameworks/starlette.md#4": "a fragment: assumes Request",
    "docs/index.md#0": "real Paddle credentials (api_key='...'): needs base_url at the sandbox",
    "docs/index.md#1": "a fragment: assumes Paddle and PortalRequest from the block before",
    "docs/index.md#3": "placeholder ids ('sub_...') the adapters refuse",
    "docs/migration.md#2": "a fragment: assumes PortalRequest and Route",
    "docs/providers/chargebee.md#0": "real credentials: needs base_url at the sandbox",
    "docs/providers/chargebee.md#1": "a fragment: assumes portal and link",
    "docs/providers/lemonsqueezy.md#0": "real credentials: needs base_url at the sandbox",
    "docs/providers/paddle.md#0": "real credentials: needs base_url at the sandbox",
    "docs/providers/paylera.md#0": "real credentials: needs base_url at the sandbox",
    "docs/providers/plugipay.md#0": "real credentials: needs base_url at the sandbox",
    "docs/providers/polar.md#0": "real credentials: needs base_url at the sandbox",
    "docs/providers/stripe.md#0": "placeholder key ('sk_...') the adapter refuses",
    "docs/providers/stripe.md#1": "a fragment: assumes Stripe and the SDK",
    "docs/sandbox.md#2": "a fragment of the Webhooks section: assumes sandbox and events",
    "docs/testing.md#1": "imports the billing.py example: run by tests/test_testing_plugin.py",
    "docs/testing.md#3": "imports subscriptions.py: run by tests/test_testing_plugin.py",
}


def snippets() -> list[tuple[str, str]]:
    found = []
    for page in SNIPPET_PAGES:
        name = str(page.relative_to(ROOT))
        if name in RUN_ELSEWHERE:
            continue
        blocks = re.findall(r"```python\n(.*?)```", read(page), flags=re.DOTALL)
        found += [(f"{name}#{i}", block) for i, block in enumerate(blocks)]
    return found


def test_every_snippet_is_run_or_listed() -> None:
    keys = {key for key, _ in snippets()}
    assert set(NOT_YET_RUN) <= keys, f"listed but gone: {sorted(set(NOT_YET_RUN) - keys)}"


@pytest.fixture(scope="module")
def served() -> Iterator[object]:
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.mark.parametrize(
    ("key", "block"), [s for s in snippets() if s[0] not in NOT_YET_RUN], ids=lambda v: v[:40]
)
def test_the_snippet_runs_against_the_sandbox(
    key: str, block: str, served: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as written, with every vendor's variables pointing at a served sandbox (Paddle
    picked by ``PORTALKIT_PROVIDER``). A snippet that only defines a pytest test is
    compiled and its definitions executed."""
    sandbox = served
    sandbox.reset()  # type: ignore[attr-defined]
    for vendor in sandbox.vendors:  # type: ignore[attr-defined]
        for name, value in sandbox.environment(vendor).items():  # type: ignore[attr-defined]
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("PORTALKIT_PROVIDER", "paddle")
    _isolate_opentelemetry(monkeypatch)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            exec(compile(block, key, "exec"), {"__name__": "snippet"})  # noqa: S102 -- our docs
        finally:
            _shut_down_providers_set()


def _shut_down_providers_set() -> None:
    """Stop what a snippet started (a batch exporter's thread), while stdout is still ours."""
    from opentelemetry import trace
    from opentelemetry.metrics import _internal as metrics_internal

    for provider in (trace._TRACER_PROVIDER, metrics_internal._METER_PROVIDER):
        shutdown = getattr(provider, "shutdown", None)
        if callable(shutdown):
            shutdown()


def _isolate_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A snippet may set the process's tracer or meter provider (docs/telemetry.md does):
    OpenTelemetry allows that once per process, so the globals are put back after the test,
    or every later test would trace through the snippet's console exporter."""
    from opentelemetry import trace
    from opentelemetry.metrics import _internal as metrics_internal
    from opentelemetry.util._once import Once

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", None)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER_SET_ONCE", Once())
