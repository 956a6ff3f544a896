#!/usr/bin/env python3
"""Generates Hearth's built-in model table (context windows and prices) from the
genai-prices data set, so cost and window lookups need no network.

Reads ../shared/data/genai-prices/data_slim.json (pydantic's genai-prices, MIT) and
writes crates/hearth-models/data/models.json, keeping per provider its API URL pattern
and per model its name matcher, context window and the prices Hearth uses (USD per
million tokens: input, cached input read, cache write, output). Tiered prices keep
their base tier; a model with dated prices keeps the latest. The output is stable
(sorted keys, no timestamps), so re-running it on the same data changes nothing.

Usage: scripts/gen-model-table.py [--data PATH] [--out PATH]
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data", "genai-prices", "data_slim.json")
DEFAULT_OUT = os.path.join(ROOT, "crates", "hearth-models", "data", "models.json")
SOURCE = "genai-prices (pydantic, MIT) data_slim.json v2"
SOURCE_DATE = "2026-08-21"
PRICE_FIELDS = {
    "input_mtok": "input",
    "cache_read_mtok": "cached_input",
    "cache_write_mtok": "cache_write",
    "output_mtok": "output",
}


def base_price(value):
    """A price, or the base tier of a tiered one."""
    if isinstance(value, dict):
        return value.get("base")
    return value


def current_prices(prices):
    """The price set in force: the one dated latest when prices change over time."""
    if isinstance(prices, dict):
        return prices
    dated = sorted(
        prices,
        key=lambda entry: (entry.get("constraint") or {}).get("start_date", ""),
    )
    return dated[-1]["prices"] if dated else {}


def model_entry(model):
    prices = current_prices(model["prices"])
    entry = {"id": model["id"], "match": model["match"]}
    if model.get("context_window"):
        entry["context_window"] = model["context_window"]
    for source, dest in PRICE_FIELDS.items():
        price = base_price(prices.get(source))
        if isinstance(price, (int, float)):
            entry[dest] = price
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()
    try:
        with open(args.data, encoding="utf-8") as file:
            providers = json.load(file)
    except OSError as error:
        sys.exit(f"gen-model-table: cannot read {args.data}: {error}")
    table = {
        "source": SOURCE,
        "source_date": SOURCE_DATE,
        "providers": [
            {
                "id": provider["id"],
                "api_pattern": provider["api_pattern"],
                "models": [
                    model_entry(model)
                    for model in provider["models"]
                    if not model.get("deprecated")
                ],
            }
            for provider in providers
        ],
    }
    with open(args.out, "w", encoding="utf-8") as file:
        json.dump(table, file, sort_keys=True, separators=(",", ":"))
        file.write("\n")
    count = sum(len(p["models"]) for p in table["providers"])
    print(f"gen-model-table: {count} models of {len(providers)} providers -> {args.out}")


if __name__ == "__main__":
    main()
