"""p50 and p95 of a measure per group, computed in the database, with how many met their target.

`sql(base, vendor, overall=...)` wraps a SELECT yielding `grp`, `m` (the measure) and `target` and returns rows
(grp, count, p50, p95, within target); with `overall` one more row, grp NULL, over every row. PostgreSQL computes
the percentiles itself (percentile_cont); SQLite has none, so there the same definition is written with window
functions: sorted within each group, position h = f × (n − 1), value = x[⌊h⌋] + (h − ⌊h⌋) × (x[⌊h⌋ + 1] − x[⌊h⌋])
— PostgreSQL's own interpolation, so both databases answer the same.
"""

from __future__ import annotations

_GROUPS = "g AS (SELECT grp, m, target FROM t{overall})"
_POSTGRESQL = """
WITH t AS ({base}), {groups}
SELECT grp, COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY m), percentile_cont(0.95) WITHIN GROUP (ORDER BY m),
       SUM(CASE WHEN m <= target THEN 1 ELSE 0 END)
FROM g GROUP BY grp
"""
_WINDOW = """
WITH t AS ({base}), {groups},
r AS (SELECT grp, m, target, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY m) - 1 AS i,
             COUNT(*) OVER (PARTITION BY grp) AS n FROM g),
s AS (SELECT grp, MAX(n) AS n,
             MAX(CASE WHEN i = CAST(0.5 * (n - 1) AS INTEGER) THEN m END) AS lo50,
             MAX(CASE WHEN i = MIN(CAST(0.5 * (n - 1) AS INTEGER) + 1, n - 1) THEN m END) AS hi50,
             MAX(CASE WHEN i = CAST(0.95 * (n - 1) AS INTEGER) THEN m END) AS lo95,
             MAX(CASE WHEN i = MIN(CAST(0.95 * (n - 1) AS INTEGER) + 1, n - 1) THEN m END) AS hi95,
             SUM(CASE WHEN m <= target THEN 1 ELSE 0 END) AS within
      FROM r GROUP BY grp)
SELECT grp, n, lo50 + (0.5 * (n - 1) - CAST(0.5 * (n - 1) AS INTEGER)) * (hi50 - lo50),
       lo95 + (0.95 * (n - 1) - CAST(0.95 * (n - 1) AS INTEGER)) * (hi95 - lo95), within
FROM s
"""


def sql(base: str, vendor: str, *, overall: bool = False) -> str:
    groups = _GROUPS.format(overall=" UNION ALL SELECT NULL AS grp, m, target FROM t" if overall else "")
    return (_POSTGRESQL if vendor == "postgresql" else _WINDOW).format(base=base, groups=groups)
