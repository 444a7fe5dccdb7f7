"""Paylera: the answer recorded in
cassettes/paylera/test_mints_a_link_with_only_the_customer.yaml (its URL unscrubbed)."""

from __future__ import annotations

from bench._vendor import VendorBench

BENCH = VendorBench(
    credentials={"api_key": "pl_test_bench_0123456789"},
    customer_id="cus_bench01",
    status=201,
    answer={
        "id": "ps_01hbench0session",
        "url": "https://portal.paylera.io/p/ps_01hbench0session",
        "expires_at": "2026-11-21T05:55:27Z",
    },
    url_at=("url",),
)
