"""Lemon Squeezy: "Retrieve a customer" as its API reference shows it. With no subscription
or flow asked, the adapter's exchange is this one GET, and its link is the customer's
``urls.customer_portal``."""

from __future__ import annotations

from bench._vendor import VendorBench

PORTAL = (
    "https://my-store.lemonsqueezy.com/billing?expires=1666869343"
    "&signature=82ae290ceac8edd4190c82825dd73a8743346d894a8ddbc4898b97eb96d105a5"
)

BENCH = VendorBench(
    credentials={"api_key": "lmsq_test_key_bench_0123456789"},
    customer_id="1",
    content_type="application/vnd.api+json",
    answer={
        "jsonapi": {"version": "1.0"},
        "links": {"self": "https://api.lemonsqueezy.com/v1/customers/1"},
        "data": {
            "type": "customers",
            "id": "1",
            "attributes": {
                "store_id": 1,
                "name": "John Doe",
                "email": "johndoe@example.com",
                "status": "subscribed",
                "city": None,
                "region": None,
                "country": "US",
                "total_revenue_currency": 84332,
                "mrr": 1999,
                "status_formatted": "Subscribed",
                "country_formatted": "United States",
                "total_revenue_currency_formatted": "$843.32",
                "mrr_formatted": "$19.99",
                "urls": {"customer_portal": PORTAL},
                "created_at": "2022-12-01T13:01:07.000000Z",
                "updated_at": "2022-12-09T09:05:21.000000Z",
                "test_mode": False,
            },
            "relationships": {
                "store": {
                    "links": {
                        "related": "https://api.lemonsqueezy.com/v1/customers/1/store",
                        "self": "https://api.lemonsqueezy.com/v1/customers/1/relationships/store",
                    }
                }
            },
        },
    },
    url_at=("data", "attributes", "urls", "customer_portal"),
)
