"""Reading out results: percentiles, an aligned text table, a JSON file."""
import json
import math
from pathlib import Path


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with `percent`% of the values at or below it.

    No interpolation, so every number printed is a time some request really took.
    """
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def print_table(headers: list[str], rows: list[list]) -> None:
    """Columns as wide as their widest cell; names (the first) to the left, the rest right."""
    cells = [headers, *[[format_cell(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        first, *rest = zip(row, widths, strict=True)
        line = [first[0].ljust(first[1]), *(cell.rjust(width) for cell, width in rest)]
        print("  ".join(line).rstrip())


def format_cell(cell) -> str:
    """Floats with one decimal, integers with thousands separators; strings as they are."""
    if isinstance(cell, float):
        return f"{cell:,.1f}"
    if isinstance(cell, int):
        return f"{cell:,}"
    return str(cell)


def write_json(path: str, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")
