"""The benchmark's markdown report: one table of times and ratios, one of peak memory."""

from __future__ import annotations


def _ms(row: dict, variant: str) -> float | None:
    entry = row.get("time", {}).get(variant)
    return None if entry is None else entry["median_ms"]


def _ratio(a, b) -> str:
    return "n/a" if a is None or b is None or not b else f"{a / b:.2f}"


def _num(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _bytes(n) -> str:
    if n is None:
        return "n/a"
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def _sizes(row: dict) -> str:
    return " ".join("x".join(str(d) for d in shape) for shape in row["inputs"].values()) + \
        ("".join(f" +{e}" for e in row["extras"]) if row["extras"] else "")


def markdown(meta: dict, rows: list[dict]) -> str:
    compiled = bool(meta.get("compile"))
    head = [f"# attndsl benchmark ({meta['device']}, {meta['device_name']}, {meta['dtype']})", "",
            f"torch {meta['torch']}, {meta['threads']} threads, {meta['mode']}; time = {meta['time']} "
            f"(at least {meta['repeats']} rounds and {meta.get('min_time_s', 0):g} s of them, after {meta['warmup']} "
            "warm-up rounds); ratios below 1 favour the "
            "generated module. Peak memory = " + meta["memory"] + ".", ""]
    columns = ["case", "inputs", "reference ms", "plain ms", "optimized ms", "**optimized / reference**",
               "plain / reference"]
    if compiled:
        columns += ["reference+compile ms", "optimized+compile ms", "**compiled: optimized / reference**"]
    columns += ["reference peak", "optimized peak", "**peak: optimized / reference**"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * 2 + "---:|" * (len(columns) - 2)]
    diffs = []
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['case']} | {row.get('sizes', '')} | error: {row['error']} |")
            continue
        ref, plain, opt = _ms(row, "reference"), _ms(row, "plain"), _ms(row, "optimized")
        cells = [row["case"], _sizes(row), _num(ref), _num(plain), _num(opt), f"**{_ratio(opt, ref)}**",
                 _ratio(plain, ref)]
        if compiled:
            cref, copt = _ms(row, "reference+compile"), _ms(row, "optimized+compile")
            cells += [_num(cref), _num(copt), f"**{_ratio(copt, cref)}**"]
        peaks = row["peak_bytes"]
        cells += [_bytes(peaks.get("reference")), _bytes(peaks.get("optimized")),
                  f"**{_ratio(peaks.get('optimized'), peaks.get('reference'))}**"]
        lines.append("| " + " | ".join(cells) + " |")
        diffs += list(row["max_rel_diff"].values())
    foot = [""]
    if diffs:
        foot.append(f"Largest output difference of any variant from the reference (relative to max|reference|, "
                    f"{meta['dtype']}): {max(diffs):.1e}.")
    return "\n".join(head + lines + foot)
