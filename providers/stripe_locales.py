"""Stripe's portal locales, and ``stripe_locale``: the Stripe locale closest to a BCP 47
tag, which the Stripe adapter (providers/stripe.py) sends as a session's ``locale``, or None
when Stripe has nothing close (the adapter then declines the locale for that request).
"""

from __future__ import annotations

#: Stripe's 46 portal locales (session create, ``locale``), plus ``auto``.
LOCALES = frozenset(
    [
        "auto",
        "bg",
        "cs",
        "da",
        "de",
        "el",
        "en",
        "en-AU",
        "en-CA",
        "en-GB",
        "en-IE",
        "en-IN",
        "en-NZ",
        "en-SG",
        "es",
        "es-419",
        "et",
        "fi",
        "fil",
        "fr",
        "fr-CA",
        "hr",
        "hu",
        "id",
        "it",
        "ja",
        "ko",
        "lt",
        "lv",
        "ms",
        "mt",
        "nb",
        "nl",
        "pl",
        "pt",
        "pt-BR",
        "ro",
        "ru",
        "sk",
        "sl",
        "sv",
        "th",
        "tr",
        "vi",
        "zh",
        "zh-HK",
        "zh-TW",
    ]
)
_LOCALE_BY_KEY = {tag.lower(): tag for tag in LOCALES}
# Languages Stripe knows under another (or the macrolanguage's) code.
_LANGUAGE_ALIASES = {"no": "nb", "tl": "fil", "in": "id"}
# Regions whose Spanish is Stripe's Latin American Spanish (es-419).
_LATIN_AMERICA = frozenset(
    [
        "419",
        "ar",
        "bo",
        "cl",
        "co",
        "cr",
        "cu",
        "do",
        "ec",
        "gt",
        "hn",
        "mx",
        "ni",
        "pa",
        "pe",
        "pr",
        "py",
        "sv",
        "us",
        "uy",
        "ve",
    ]
)


def stripe_locale(tag: str) -> str | None:
    """The Stripe locale for a BCP 47 tag, or None when Stripe has nothing close.

    An exact tag (any case, ``_`` or ``-``) is Stripe's; a regional variant Stripe lacks
    falls back to its language (``en-US`` -> ``en``, ``pt-PT`` -> ``pt``, ``de-CH`` ->
    ``de``); Spanish of the Americas is ``es-419``; Chinese goes by script and region
    (``zh-Hant`` -> ``zh-TW``, ``zh-Hant-HK``/``zh-MO`` -> ``zh-HK``, ``zh-CN`` -> ``zh``)."""
    key = tag.replace("_", "-").lower()
    if key in _LOCALE_BY_KEY:
        return _LOCALE_BY_KEY[key]
    language, *rest = key.split("-")
    language = _LANGUAGE_ALIASES.get(language, language)
    script = next((part for part in rest if len(part) == 4 and part.isalpha()), None)
    region = next((part for part in rest if len(part) == 2 or part.isdigit()), None)
    if language == "zh":
        if region in ("hk", "mo"):
            return "zh-HK"
        if region == "tw" or script == "hant":
            return "zh-TW"
        return "zh"
    if language == "es" and region in _LATIN_AMERICA:
        return "es-419"
    if region is not None and f"{language}-{region}" in _LOCALE_BY_KEY:
        return _LOCALE_BY_KEY[f"{language}-{region}"]
    return _LOCALE_BY_KEY.get(language)
