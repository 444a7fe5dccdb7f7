"""The docs a newcomer reads name every registered vendor, the variables the code reads, the
errors it raises and the adapters it ships; their Python snippets run against the sandbox.

Where a page lists vendors, variables, errors or adapters, the list here is read from the
code (the registry, each adapter's ``from_env``, ``portalkit.errors.__all__``), so a new
vendor, variable or error fails these tests until the pages say so.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _environ import variables_read

import portalkit
from portalkit import ProviderEnv, errors, get_provider_factory

if TYPE_CHECKING:
    from portalkit.sandbox import Sandbox

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


def vendor_variables(vendor: str) -> list[str]:
    """Every variable the vendor's ``from_env`` reads (required and optional), in order."""
    from portalkit.sandbox import Sandbox

    return variables_read(vendor, Sandbox().environment(vendor, base_url="http://127.0.0.1:1"))


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
    read_names = [n for n in vendor_variables(vendor) if not n.endswith("_BASE_URL")]
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
        known.update(vendor_variables(vendor))
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

#: Framework-page snippets that do not run yet, each with why (issue 24, item 2: the
#: framework pages' own work). Nothing else may be listed here
#: (``test_no_snippet_outside_the_framework_pages_is_excused``): a snippet that cannot run
#: against the sandbox is made to (the tables below), not excused.
NOT_YET_RUN: dict[str, str] = {}


#: Pages whose snippets build on the ones before them (a name defined above is used below):
#: run in order, in one namespace, as a reader pastes them. Every other snippet runs alone.
IN_ORDER = {"docs/index.md"}
#: The framework pages build one app each, top to bottom ("portal and to_request as
#: above"): run in order too, with the secrets their apps read from the environment.
IN_ORDER |= {f"docs/frameworks/{name}.md" for name in ("django", "flask", "starlette")}
APP_SECRETS = {"SECRET_KEY": "docs-snippet-secret", "SESSION_SECRET": "docs-snippet-secret"}

#: How a snippet written for a vendor account runs against the served sandbox instead. Each
#: ``(old, new)`` must occur exactly once in the snippet, so a docs edit that moves it fails
#: the test rather than skipping the rewrite. In ``new``, ``{paddle}`` (any vendor's name)
#: is the sandbox's credentials and ``base_url`` for that vendor, as keyword arguments.
AT_THE_SANDBOX: dict[str, list[tuple[str, str]]] = {
    "README.md#0": [
        ('Paddle(api_key="...", environment="sandbox")', 'Paddle({paddle}, environment="sandbox")'),
        ('Paddle(api_key="...")', "Paddle({paddle})"),
    ],
    "docs/index.md#0": [
        ('Paddle(api_key="...", environment="sandbox")', 'Paddle({paddle}, environment="sandbox")'),
    ],
    "docs/index.md#1": [('Paddle(api_key="...")', "Paddle({paddle})")],
    "docs/providers/chargebee.md#0": [
        ('Chargebee(site="acme-test", api_key="test_...")', "Chargebee({chargebee})"),
    ],
    "docs/providers/chargebee.md#1": [
        ('Chargebee(site="acme-test", api_key="test_...")', "Chargebee({chargebee})"),
    ],
    "docs/providers/lemonsqueezy.md#0": [
        ('LemonSqueezy(api_key="...")', "LemonSqueezy({lemonsqueezy})")
    ],
    "docs/providers/paddle.md#0": [
        ('Paddle(api_key="...", environment="sandbox")', 'Paddle({paddle}, environment="sandbox")'),
    ],
    "docs/providers/paylera.md#0": [('Paylera(api_key="...")', "Paylera({paylera})")],
    "docs/providers/plugipay.md#0": [
        ('Plugipay(key_id="...", key_secret="...")', "Plugipay({plugipay})"),
    ],
    "docs/providers/polar.md#0": [
        (
            'Polar(access_token="polar_oat_...", environment="sandbox")',
            'Polar({polar}, environment="sandbox")',
        ),
        # An app's own id the twin knows (its seeds'; ``add_customer`` takes no external id).
        ('for_external_id("usr_1337"', 'for_external_id("usr_alice"'),
    ],
    "docs/providers/stripe.md#0": [('Stripe(api_key="sk_test_...")', "Stripe({stripe})")],
}

#: The customers and subscriptions the snippets name (real-looking ids, as the vendors' own
#: docs print them), added to the sandbox before each snippet runs: vendor -> customer ->
#: subscriptions. Lemon Squeezy's customer ``1`` is seeded already; its subscription ``7``
#: is not.
SEEDED: dict[str, dict[str, tuple[str, ...]]] = {
    "chargebee": {"cus_8f14e45f": ("HvDPsACPqEnmg7TA",)},
    "lemonsqueezy": {"1": ("7",)},
    "paddle": {"ctm_01gysfvfy7vqhpzkq8rjmrq7an": ("sub_01h04vsc0qhwtsbsxh3422wjs4",)},
    "paylera": {"cus_4f9Kq2": ()},
    "plugipay": {"cus_01HX5K3M9Q7R2T4V6W8Y0ABCDE": ()},
    "polar": {"992fae2a-2a17-4b7a-8d9e-e287cf90131b": ()},
    "stripe": {"cus_NeZwdNtLEOXuvB": ("sub_1MowQVLkdIwHu7ixeRlqHVzs",)},
}


def _a_paddle_delivery(sandbox: Sandbox) -> dict[str, object]:
    """A scheduled cancellation as Paddle's twin sends it, signed with the twin's secret: the
    headers and raw body a webhook endpoint receives."""
    from portalkit import EventType, Webhooks

    applied = sandbox.trigger("paddle", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    (payload,) = applied.events
    raw_body = json.dumps(payload, separators=(",", ":")).encode()
    headers = Webhooks.from_env(sandbox.webhook_env("paddle")).sign(raw_body)
    return {"request_headers": headers, "raw_body": raw_body}


#: Names a snippet takes from the request it handles, made by the sandbox before it runs.
GIVEN: dict[str, Callable[[Sandbox], dict[str, object]]] = {
    "README.md#3": _a_paddle_delivery,
}

#: What a snippet must have done where running without an error is not proof enough (a
#: branch it takes): a test of its namespace and what it printed.
CHECKS: dict[str, Callable[[dict[str, Any], str], bool]] = {
    "README.md#3": lambda namespace, printed: (
        namespace["event"].customer_id == "ctm_01hzseed000000000000000001"
        and " ends on " in printed
    ),
}


def _answers_in_french(framework: str) -> Callable[[dict[str, Any], str], bool]:
    """A framework page's ``render_refusal`` example, called as the view calls it for a
    visitor who reads French: its page holds the French words for the refusal's kind."""

    def check(namespace: dict[str, Any], printed: str) -> bool:
        from portalkit.web import refusal_for

        refusal = refusal_for(errors.CustomerNotFound("no such customer"))
        if framework == "flask":
            import flask

            app = namespace["app"]
            with app.test_request_context("/", headers={"Accept-Language": "fr-FR,fr"}):
                page = namespace["billing_page"](flask.request, refusal)
        else:
            from starlette.requests import Request

            scope = {"type": "http", "method": "POST", "headers": [(b"accept-language", b"fr")]}
            page = namespace["billing_page"](Request(scope), refusal).body.decode()
        return "Nous n&#" in page and "compte de facturation" in page

    return check


CHECKS["docs/frameworks/flask.md#4"] = _answers_in_french("flask")
CHECKS["docs/frameworks/starlette.md#4"] = _answers_in_french("starlette")


def snippets() -> list[tuple[str, str]]:
    """Every ``python`` block of the README and docs/, keyed ``page#N`` (the page's Nth)."""
    found = []
    for page in SNIPPET_PAGES:
        name = str(page.relative_to(ROOT))
        blocks = re.findall(r"```python\n(.*?)```", read(page), flags=re.DOTALL)
        found += [(f"{name}#{i}", block) for i, block in enumerate(blocks)]
    return found


def run_elsewhere() -> dict[tuple[str, str], str]:
    """The snippets another test runs as printed, ``(page, block)`` -> that test. Read from the
    blocks that test itself takes from the page and runs (its own list, not a copy), so that
    the claim is checked rather than trusted: a block it stops running runs here."""
    import test_sandbox_webhooks_doc
    import test_testing_plugin
    import test_webhooks_doc

    runs = {
        ("docs/webhooks.md", test_webhooks_doc): test_webhooks_doc.BLOCKS,
        ("docs/sandbox.md", test_sandbox_webhooks_doc): test_sandbox_webhooks_doc.BLOCKS,
        ("docs/testing.md", test_testing_plugin): list(
            test_testing_plugin._example_files(DOCS / "testing.md").values()
        ),
    }
    return {
        (page, block): f"tests/{module.__name__}.py"
        for (page, module), blocks in runs.items()
        for block in blocks
    }


def units() -> list[tuple[str, list[tuple[str, str]]]]:
    """What runs here: each page of ``IN_ORDER`` as one unit, every other snippet alone;
    neither the excused ones nor those another test runs."""
    elsewhere = run_elsewhere()
    found: dict[str, list[tuple[str, str]]] = {}
    for key, block in snippets():
        page = key.split("#", 1)[0]
        if key in NOT_YET_RUN or (page, block) in elsewhere:
            continue
        found.setdefault(page if page in IN_ORDER else key, []).append((key, block))
    return list(found.items())


def test_no_snippet_outside_the_framework_pages_is_excused() -> None:
    excused = [key for key in NOT_YET_RUN if not key.startswith("docs/frameworks/")]
    assert not excused, f"make these run against the sandbox: {excused}"


def test_the_tables_name_snippets_that_exist() -> None:
    found = snippets()
    keys = {key for key, _ in found}
    for table in (NOT_YET_RUN, AT_THE_SANDBOX, GIVEN, CHECKS):
        assert set(table) <= keys, f"listed but gone: {sorted(set(table) - keys)}"
    assert {key.split("#", 1)[0] for key in keys} >= IN_ORDER
    # A snippet run elsewhere is not rewritten or excused here.
    elsewhere = {key for key, block in found if (key.split("#", 1)[0], block) in run_elsewhere()}
    assert elsewhere, "the pages run by their own tests"
    assert not elsewhere & (set(NOT_YET_RUN) | set(AT_THE_SANDBOX) | set(GIVEN) | set(CHECKS))
    # Every seeded id is one a snippet names.
    text = "\n".join(block for _, block in found)
    unused = [
        (vendor, name)
        for vendor, customers in SEEDED.items()
        for customer, subscriptions in customers.items()
        for name in (customer, *subscriptions)
        if f'"{name}"' not in text
    ]
    assert not unused, f"seeded, named by no snippet: {unused}"


def test_testing_md_s_test_modules_are_run_by_the_plugin_test() -> None:
    """docs/testing.md's example test modules import its example apps: pytester runs them as
    files (tests/test_testing_plugin.py), not this test."""
    by_key = dict(snippets())
    elsewhere = run_elsewhere()
    for key in ("docs/testing.md#1", "docs/testing.md#3"):
        assert elsewhere[("docs/testing.md", by_key[key])] == "tests/test_testing_plugin.py"


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


UNITS = units()


@pytest.mark.parametrize(("unit", "blocks"), UNITS, ids=[unit for unit, _ in UNITS])
def test_the_snippet_runs_against_the_sandbox(
    unit: str, blocks: list[tuple[str, str]], served: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as written (but for ``AT_THE_SANDBOX``'s rewrites), with every vendor's variables
    pointing at a served sandbox (Paddle picked by ``PORTALKIT_PROVIDER``) and the ids the
    snippets name added to it. A snippet that only defines a pytest test is compiled and its
    definitions executed."""
    sandbox = served
    sandbox.reset()
    for vendor, customers in SEEDED.items():
        for customer, subscriptions in customers.items():
            sandbox.add_customer(vendor, customer)
            for subscription in subscriptions:
                sandbox.add_subscription(vendor, customer, subscription)
    for vendor in sandbox.vendors:
        for name, value in sandbox.environment(vendor).items():
            monkeypatch.setenv(name, value)
        with contextlib.suppress(ValueError):  # a twin that sends no webhooks
            for name, value in sandbox.webhook_env(vendor).items():
                monkeypatch.setenv(name, value)
    monkeypatch.setenv("PORTALKIT_PROVIDER", "paddle")
    for name, value in APP_SECRETS.items():
        monkeypatch.setenv(name, value)
    _isolate_opentelemetry(monkeypatch)
    _isolate_stripe(monkeypatch)
    keyword_arguments = {
        vendor: ", ".join(
            f"{name}={value!r}"
            for name, value in {
                **sandbox.credentials(vendor),
                "base_url": sandbox.base_url(vendor),
            }.items()
        )
        for vendor in sandbox.vendors
    }
    namespace: dict[str, Any] = {"__name__": "snippet"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            for key, block in blocks:
                source = block
                for old, new in AT_THE_SANDBOX.get(key, []):
                    assert source.count(old) == 1, f"{key}: {old!r} is not in it exactly once"
                    source = source.replace(old, new.format_map(keyword_arguments))
                if key in GIVEN:
                    namespace.update(GIVEN[key](sandbox))
                _run(key, source, namespace)
        finally:
            _shut_down_providers_set()
    for key, _ in blocks:
        if key in CHECKS:
            assert CHECKS[key](namespace, printed.getvalue()), f"{key} did not do its work"


def _run(key: str, source: str, namespace: dict[str, Any]) -> None:
    """Execute ``source`` in ``namespace``; a snippet with a top-level ``await`` (an async
    example, as typed into ``python -m asyncio`` or a notebook) runs on a fresh event loop."""
    code = compile(source, key, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))  # noqa: S307 -- our docs
    else:
        exec(code, namespace)  # noqa: S102 -- our docs


def _isolate_stripe(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/providers/stripe.md sets the Stripe SDK's process-wide ``stripe.api_base`` to a
    sandbox that is gone after the snippet: put back after the test."""
    import stripe

    monkeypatch.setattr(stripe, "api_base", stripe.api_base)


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
