"""python -m bench [http|images|orders|stations ...]: run the benchmarks named (all of them
without an argument) and print ratios to their same-run baselines."""

import sys

from bench import http_load, image_pipeline, orders, stations

ENDPOINTS = [
    ("catalog list (20 items)", "/api/v1/catalog/products", False),
    ("catalog list, county filter", "/api/v1/catalog/products?region=340323", False),
    ("regions of a county", "/api/v1/regions?parent=340323", False),
    ("GET /me (token lookup)", "/api/v1/me", True),
    ("GET /me/shops", "/api/v1/me/shops", True),
]
# Set either way, so a value in the caller's shell cannot mislabel a table.
SHIPPED = {"CATALOG_CACHE_SECONDS": "5"}
# The same feed with its page cache off: what every cache miss costs.
UNCACHED = {"CATALOG_CACHE_SECONDS": "0"}
UNCACHED_ENDPOINTS = ENDPOINTS[:2]


def main(argv: list[str]) -> None:
    parts = {
        "http": http,
        "images": image_pipeline.main,
        "orders": orders.main,
        "stations": stations.main,
    }
    unknown = [name for name in argv if name not in parts]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(parts)}")
    for name, run in parts.items():
        if not argv or name in argv:
            run()


def http() -> None:
    clients, seconds, rounds = http_load.CLIENTS, http_load.SECONDS, http_load.ROUNDS
    print(
        f"HTTP throughput under gunicorn ({clients} client processes, {rounds} rounds of "
        f"{seconds:.0f} s per endpoint; medians)"
    )
    _table("shipped settings (feed pages cached 5 s)", http_load.run(ENDPOINTS, SHIPPED))
    _table("feed page cache off", http_load.run(UNCACHED_ENDPOINTS, UNCACHED))


def _table(title: str, rows: list[dict]) -> None:
    print(f"-- {title}")
    print(f"{'endpoint':28} {'req/s':>8} {'ratio':>6} {'errors':>6}")
    for row in rows:
        print(f"{row['endpoint']:28} {row['rps']:8.0f} {row['ratio']:6.2f} {row['errors']:6d}")
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
