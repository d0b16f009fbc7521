"""The built-in guest's latency histograms, as its irqlat and virtiortt tests print
them (guest/README.md: irqlat): one reader for every benchmark that runs them."""


def parse(output):
    """({(path, source): {"buckets": [(lo, hi, n)], "samples":, "min":, "max":}},
    tsc_khz or None if the guest printed none, skipped combinations)."""
    runs, skips, tsc_khz, cur = {}, [], None, None
    for line in output.splitlines():
        f = line.split()
        if len(f) < 2 or f[0] != "irqlat":
            continue
        if f[1] == "tsc_khz":
            tsc_khz = int(f[2])
        elif f[1] == "begin":
            cur = runs.setdefault((f[2], f[3]), {"buckets": [], "samples": int(f[5])})
        elif f[1] == "bucket" and cur is not None:
            cur["buckets"].append((int(f[2]), int(f[3]), int(f[4])))
        elif f[1] == "end" and cur is not None:
            cur["min"], cur["max"] = int(f[5]), int(f[7])
            cur = None
        elif f[1] == "skip":
            skips.append(" ".join(f[2:]))
    return runs, tsc_khz, skips


def quantile(buckets, q):
    """The q-quantile in cycles, interpolated inside its bucket."""
    target, seen = q * sum(n for _, _, n in buckets), 0
    for lo, hi, n in buckets:
        if seen + n >= target:
            return lo + (hi - lo) * (target - seen) / n
        seen += n
    return buckets[-1][1]
