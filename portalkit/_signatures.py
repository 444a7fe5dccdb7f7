"""How a webhook delivery proves it came from the vendor: declared per vendor, compared once.

A vendor declares its scheme (hyperswitch's split): which algorithm, where the signature is
(header, separators, encoding, several values), and what string was signed (the raw body, or
a timestamp, an id and the body). ``HmacSignature`` covers every vendor that signs;
``BasicCredentials`` covers one that puts HTTP Basic credentials on the webhook URL instead.
Both are pure: headers, the raw body, the secrets and ``now`` in; a ``Signed`` or a
``WebhookRejected`` out. Nothing here reads a clock, and nothing here names a vendor.

Every comparison is constant-time (``hmac.compare_digest``), and no message holds a secret,
a signature or the body.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

import attrs

from ._env import ProviderEnv
from .errors import RejectionReason, WebhookRejected

#: The environment field of a signing secret: ``<VENDOR>_WEBHOOK_SECRET``.
SECRET_FIELD = "webhook_secret"  # noqa: S105 -- a field name, not a secret
#: The environment fields of Basic credentials: ``<VENDOR>_WEBHOOK_USERNAME`` and ``_PASSWORD``.
USERNAME_FIELD = "webhook_username"
PASSWORD_FIELD = "webhook_password"  # noqa: S105 -- a field name

_lower = functools.lru_cache(maxsize=256)(str.lower)  # header names, read once each


@attrs.frozen
class Signed:
    """What verification vouches for, besides the body: the signed timestamp (Unix seconds)
    and the delivery id the vendor signed with it, where its scheme has them."""

    timestamp: int | None = None
    delivery_id: str | None = None


@attrs.frozen(repr=False)
class BasicPair:
    """A user name and password, as a vendor that signs nothing sends them (HTTP Basic)."""

    username: str
    password: str

    def __repr__(self) -> str:  # never the password, nor the user name
        return "BasicPair(***)"


#: A secret as a scheme takes it: a signing secret, or a Basic user name and password.
Secret = str | BasicPair


class SignatureScheme(Protocol):
    """What a vendor's webhook module declares: how its deliveries are authenticated."""

    #: The environment fields (``ProviderEnv`` names) that configure it.
    @property
    def fields(self) -> tuple[str, ...]: ...

    #: Whether the body is signed (a changed byte is refused), and whether a signed
    #: timestamp bounds a replay.
    @property
    def signs_body(self) -> bool: ...

    @property
    def has_timestamp(self) -> bool: ...

    def secret_from_env(self, env: ProviderEnv) -> Secret:
        """The secret, from the vendor's variables (``ConfigurationError`` naming a
        missing one)."""
        ...

    def check_secret(self, secret: Secret, provider: str) -> None:
        """Refuse a secret of the wrong kind or shape (``ConfigurationError``)."""
        ...

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[Secret],
        *,
        now: float,
        tolerance: float | None,
        provider: str,
    ) -> Signed:
        """``Signed`` when any secret authenticates the delivery, else ``WebhookRejected``.
        ``headers`` have lowercase names; ``tolerance`` replaces the scheme's own where the
        scheme has a timestamp."""
        ...

    def sign(
        self,
        body: bytes,
        secret: Secret,
        *,
        timestamp: int,
        delivery_id: str | None = None,
    ) -> dict[str, str]:
        """The headers that authenticate ``body`` as the vendor sends them: for tests and for
        replaying a saved delivery."""
        ...

    def describe(self) -> str:
        """One line for the docs: the header and what is signed."""
        ...


def rejected(provider: str, reason: RejectionReason, rule: str) -> WebhookRejected:
    """The one error: ``rule`` says what failed in portalkit's words, never a value."""
    return WebhookRejected(f"{provider} webhook rejected: {rule}", reason=reason, provider=provider)


@functools.lru_cache(maxsize=64)
def _split_template(signed: str) -> tuple[str, str]:
    """What is signed before and after the body (``"{timestamp}."`` and ``""``), read once
    per template."""
    before, _, after = signed.partition("{body}")
    return before, after


@functools.lru_cache(maxsize=64)
def _derived_keys(keys: Callable[[str], tuple[bytes, ...]], secret: str) -> tuple[bytes, ...]:
    """A secret's HMAC keys, derived once per secret (a derivation may decode base64)."""
    return keys(secret)


def utf8_key(secret: str) -> tuple[bytes, ...]:
    """The secret's UTF-8 bytes as the HMAC key (Stripe, Paddle, Lemon Squeezy)."""
    return (secret.encode("utf-8"),)


@attrs.frozen
class HmacSignature:
    """An HMAC-SHA256 signature in a header. Reads like the vendor's docs::

        HmacSignature(header="Stripe-Signature", items=",", assign="=",
                      signature_key="v1", timestamp_key="t", signed="{timestamp}.{body}",
                      encoding="hex", tolerance=300, future_tolerance=None)

    - ``header``: where the signature is. With ``items`` unset, the whole header is one
      signature; else it is split on ``items`` into ``key<assign>value`` pairs, and every
      pair keyed ``signature_key`` is a candidate (any one may match: rotation on the
      vendor's side).
    - ``timestamp_key`` / ``timestamp_header``: the signed Unix time, in the signature header
      or a header of its own; ``id_header``: a delivery id that is signed too.
    - ``signed``: the signed string, ``{body}`` being the raw bytes as received, with
      ``{timestamp}`` and ``{id}`` filled in.
    - ``tolerance`` (seconds into the past) and ``future_tolerance`` (into the future; None:
      the vendor's own verifier does not look) bound the timestamp.
    - ``keys``: the HMAC keys a secret gives (a vendor may accept more than one form).
    - ``strict_keys``: a key in the header other than the signature's and the timestamp's, or
      an item with a second ``assign``, is malformed (the vendor's verifier refuses it).
    """

    header: str
    signed: str = "{body}"
    encoding: Literal["hex", "base64"] = "hex"
    items: str | None = None
    assign: str = "="
    signature_key: str | None = None
    timestamp_key: str | None = None
    timestamp_header: str | None = None
    id_header: str | None = None
    tolerance: float | None = None
    future_tolerance: float | None = None
    keys: Callable[[str], tuple[bytes, ...]] = utf8_key
    strict_keys: bool = False

    fields: tuple[str, ...] = (SECRET_FIELD,)
    signs_body: bool = True

    @property
    def has_timestamp(self) -> bool:
        return self.timestamp_key is not None or self.timestamp_header is not None

    def secret_from_env(self, env: ProviderEnv) -> Secret:
        return env.require(SECRET_FIELD)

    def check_secret(self, secret: Secret, provider: str) -> None:
        from .errors import ConfigurationError

        if not isinstance(secret, str) or not secret:
            raise ConfigurationError(
                f"{provider} webhooks need signing secrets as non-empty strings",
                field="secrets",
                provider=provider,
            )

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[Secret],
        *,
        now: float,
        tolerance: float | None,
        provider: str,
    ) -> Signed:
        value = headers.get(_lower(self.header))
        if not value:
            raise rejected(provider, RejectionReason.MISSING_SIGNATURE, f"no {self.header} header")
        timestamp_text, signatures = self._read_header(value, provider)
        if self.timestamp_header is not None:
            timestamp_text = headers.get(self.timestamp_header.lower())
        delivery_id = None
        if self.id_header is not None:
            delivery_id = headers.get(self.id_header.lower())
            if not delivery_id:
                raise rejected(
                    provider, RejectionReason.MISSING_SIGNATURE, f"no {self.id_header} header"
                )
        timestamp = None
        if self.has_timestamp:
            timestamp = self._timestamp(timestamp_text, provider)
        if not signatures:
            raise rejected(
                provider, RejectionReason.MISSING_SIGNATURE, f"{self.header} holds no signature"
            )
        message = self._message(body, timestamp, delivery_id)
        if not self._matches(message, signatures, secrets):
            raise rejected(
                provider,
                RejectionReason.SIGNATURE_MISMATCH,
                f"no signature in {self.header} matches the body under the configured secrets",
            )
        # After the signature, as the vendors' own verifiers do: a forged delivery is a
        # mismatch whatever its timestamp says.
        if timestamp is not None:
            self._check_time(timestamp, now, tolerance, provider)
        return Signed(timestamp=timestamp, delivery_id=delivery_id)

    def sign(
        self,
        body: bytes,
        secret: Secret,
        *,
        timestamp: int,
        delivery_id: str | None = None,
    ) -> dict[str, str]:
        assert isinstance(secret, str), "a signing secret"
        key = self.keys(secret)[0]
        signature = self._encode(
            hmac.digest(key, self._message(body, timestamp, delivery_id), "sha256")
        )
        headers: dict[str, str] = {}
        if self.id_header is not None:
            headers[self.id_header] = delivery_id or ""
        if self.timestamp_header is not None:
            headers[self.timestamp_header] = str(timestamp)
        if self.items is None:
            headers[self.header] = signature
        else:
            parts = []
            if self.timestamp_key is not None:
                parts.append(f"{self.timestamp_key}{self.assign}{timestamp}")
            parts.append(f"{self.signature_key}{self.assign}{signature}")
            headers[self.header] = self.items.join(parts)
        return headers

    def describe(self) -> str:
        window = "no timestamp, so no replay window"
        if self.has_timestamp:
            past = f"{self.tolerance:g} s into the past" if self.tolerance else "any age"
            future = (
                f"{self.future_tolerance:g} s into the future"
                if self.future_tolerance is not None
                else "any time ahead"
            )
            window = f"timestamp accepted up to {past} and {future}"
        others = [name for name in (self.id_header, self.timestamp_header) if name]
        where = f"`{self.header}`"
        if others:
            where += " with " + " and ".join(f"`{name}`" for name in others)
        return f"{where}: HMAC-SHA256 ({self.encoding}) of `{self.signed}`; {window}"

    def _read_header(self, value: str, provider: str) -> tuple[str | None, list[str]]:
        if self.items is None:
            return None, [value.strip()]
        timestamp: str | None = None
        signatures: list[str] = []
        # Split exactly as the vendors' verifiers do: "t=1, v1=..." has a key " v1" to
        # Stripe's, which is no signature. A space separator means any run of whitespace.
        items = value.split() if self.items == " " else value.split(self.items)
        for item in items:
            key, found, text = item.partition(self.assign)
            if not found:  # the vendors' verifiers skip an item that is not key=value
                continue
            if self.strict_keys and self.assign in text:
                # "h1=a=b": a strict vendor's parser cannot split it and refuses the header.
                raise self._malformed(provider)
            if key == self.signature_key:
                signatures.append(text)
            elif key == self.timestamp_key:
                timestamp = text
            elif self.strict_keys:
                raise self._malformed(provider)
        return timestamp, signatures

    def _malformed(self, provider: str) -> WebhookRejected:
        return rejected(provider, RejectionReason.MALFORMED, f"{self.header} cannot be read")

    def _timestamp(self, text: str | None, provider: str) -> int:
        if not text:
            raise rejected(provider, RejectionReason.MISSING_SIGNATURE, "no signed timestamp")
        text = text.strip()
        # Unix seconds: ASCII digits only (int() would also take "+5", "1_0" and "٣").
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise rejected(
                provider, RejectionReason.MALFORMED, "the signed timestamp is not Unix seconds"
            )
        return int(text)

    def _message(self, body: bytes, timestamp: int | None, delivery_id: str | None) -> bytes:
        before, after = _split_template(self.signed)
        if not before and not after:
            return body
        values = {"timestamp": timestamp, "id": delivery_id}
        return (
            before.format(**values).encode("utf-8") + body + after.format(**values).encode("utf-8")
        )

    def _encode(self, digest: bytes) -> str:
        if self.encoding == "hex":
            return digest.hex()
        return base64.b64encode(digest).decode("ascii")

    def _decode(self, signature: str) -> bytes | None:
        try:
            if self.encoding == "hex":
                # Compared as the text sent: "AB" is not "ab" to the vendors' verifiers.
                return signature.encode("ascii")
            return base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return None

    def _matches(self, message: bytes, signatures: list[str], secrets: Sequence[Secret]) -> bool:
        given = [decoded for s in signatures if (decoded := self._decode(s)) is not None]
        matched = False
        for secret in secrets:
            assert isinstance(secret, str)
            for key in _derived_keys(self.keys, secret):
                # hmac.digest: the one-shot C path, without an HMAC object per key (~1.5 µs).
                digest = hmac.digest(key, message, "sha256")
                expected = digest.hex().encode("ascii") if self.encoding == "hex" else digest
                for candidate in given:
                    # No early exit: every candidate is compared, so the time taken does not
                    # say which secret or which signature matched.
                    matched |= hmac.compare_digest(expected, candidate)
        return matched

    def _check_time(
        self, timestamp: int, now: float, tolerance: float | None, provider: str
    ) -> None:
        past = self.tolerance if tolerance is None else tolerance
        future = self.future_tolerance
        if tolerance is not None and future is not None:
            future = tolerance
        if past is not None and now - timestamp > past:
            raise rejected(
                provider,
                RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE,
                f"the signed timestamp is more than {past:g} s old",
            )
        if future is not None and timestamp - now > future:
            raise rejected(
                provider,
                RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE,
                f"the signed timestamp is more than {future:g} s in the future",
            )


@attrs.frozen
class BasicCredentials:
    """HTTP Basic credentials that the vendor sends on the webhook URL configured with them
    (``https://user:password@app.example/hooks``): nothing is signed, so the body is
    authenticated only by the transport (use https) and there is no replay window."""

    fields: tuple[str, ...] = (USERNAME_FIELD, PASSWORD_FIELD)
    signs_body: bool = False
    has_timestamp: bool = False

    def secret_from_env(self, env: ProviderEnv) -> Secret:
        username = env.require(USERNAME_FIELD)
        if ":" in username:  # as check_secret refuses it, but naming the variable
            raise env.error(USERNAME_FIELD, "must not contain ':' (HTTP Basic ends the name there)")
        return BasicPair(username, env.require(PASSWORD_FIELD))

    def check_secret(self, secret: Secret, provider: str) -> None:
        from .errors import ConfigurationError

        if not isinstance(secret, BasicPair) or not secret.username or not secret.password:
            raise ConfigurationError(
                f"{provider} webhooks need BasicPair(username, password) credentials,"
                " both non-empty",
                field="secrets",
                provider=provider,
            )
        if ":" in secret.username:
            raise ConfigurationError(
                f"{provider} webhook user name must not contain ':' (HTTP Basic)",
                field="secrets",
                provider=provider,
            )

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[Secret],
        *,
        now: float,
        tolerance: float | None,
        provider: str,
    ) -> Signed:
        value = headers.get("authorization")
        if not value:
            raise rejected(provider, RejectionReason.MISSING_SIGNATURE, "no Authorization header")
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "basic":
            raise rejected(
                provider, RejectionReason.MALFORMED, "the Authorization header is not Basic"
            )
        try:
            username, found, password = (
                base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
            )
        except (binascii.Error, ValueError):
            found = ""
        if not found:
            raise rejected(
                provider, RejectionReason.MALFORMED, "the Basic credentials cannot be read"
            )
        matched = False
        for secret in secrets:
            assert isinstance(secret, BasicPair)
            # Both halves compared every time: the time taken says nothing of which failed.
            same_user = hmac.compare_digest(username.encode(), secret.username.encode())
            same_password = hmac.compare_digest(password.encode(), secret.password.encode())
            matched |= same_user & same_password
        if not matched:
            raise rejected(
                provider, RejectionReason.WRONG_CREDENTIALS, "the Basic credentials are wrong"
            )
        return Signed()

    def sign(
        self,
        body: bytes,
        secret: Secret,
        *,
        timestamp: int,
        delivery_id: str | None = None,
    ) -> dict[str, str]:
        assert isinstance(secret, BasicPair), "Basic credentials"
        token = base64.b64encode(f"{secret.username}:{secret.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def describe(self) -> str:
        return (
            "HTTP Basic `Authorization` with the user name and password set on the webhook URL;"
            " nothing is signed and there is no timestamp"
        )
