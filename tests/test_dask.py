"""``interpret_frame`` on a Dask cluster of worker processes gives what one process gives.

A ``distributed.LocalCluster`` with two worker processes (one thread each) is started
once for this module: the function and its arguments are pickled to other
interpreters, each loads the range tables itself, and the partitions come back to be
compared with a single ``interpret_frame`` call. The Dask recipe of
docs/embedding.md runs on the same cluster. Skipped, with the reason, when
``dask.distributed`` is not installed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from docs_blocks import run_blocks

from cbc_ranges import interpret_frame
from cbc_ranges.frames import FRAME_COLUMNS

dd = pytest.importorskip("dask.dataframe", reason="dask is not installed (cbc-ranges[dask])")
distributed = pytest.importorskip(
    "dask.distributed", reason="distributed is not installed (cbc-ranges[dask])"
)

KEYS = {"value": "wbc", "unit": "unit", "age": "age", "sex": "sex", "ethnicity": "ethnicity"}
VALUES = ["3.1", "4.2 K/uL", "4200 cells/µL", "12,500", "<1.0", ">=100", "4,2", "abc", "", None,
          "-3", "7.4", "11.0", "5.0 mg/dL", "3.2 L"]  # fmt: skip
UNITS = ["10^9/L", "K/uL", "/uL", "G/L", None, "", "x10E3/uL"]
AGES = [None, 40, 17, 18, 8, 2, 70]
SEXES = [None, "F", "male", "M", "x", "female"]
ETHNICITIES = [None, "African", "Irish", "Middle Eastern", ""]


def lab_frame(n: int, seed: int = 7) -> pd.DataFrame:
    rng = random.Random(seed)
    return pd.DataFrame(
        {
            "patient": [f"p{i}" for i in range(n)],
            "wbc": pd.array([rng.choice(VALUES) for _ in range(n)], dtype="string"),
            "unit": pd.array([rng.choice(UNITS) for _ in range(n)], dtype="string"),
            "age": pd.array([rng.choice(AGES) for _ in range(n)], dtype="Int64"),
            "sex": pd.array([rng.choice(SEXES) for _ in range(n)], dtype="string"),
            "ethnicity": pd.array([rng.choice(ETHNICITIES) for _ in range(n)], dtype="string"),
        }
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


def test_worker_processes_give_the_single_process_result(client: Any) -> None:
    labs = lab_frame(3000)
    expected = interpret_frame(labs, **KEYS)
    big = dd.from_pandas(labs, npartitions=6)
    meta = interpret_frame(big._meta, **KEYS)
    checked = big.map_partitions(interpret_frame, meta=meta, **KEYS)
    # the work ran in the worker processes, not in this one
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids
    got = client.compute(checked).result()
    # the same graph in this process alone: equal in values, dtypes, index and column order
    pd.testing.assert_frame_equal(got, checked.compute(scheduler="sync"))
    # and the result columns are those of one interpret_frame call on the whole frame (dask
    # may give the input's object columns its own string dtype, so those are left out)
    results = list(FRAME_COLUMNS)
    pd.testing.assert_frame_equal(got[results], expected[results])


# the recipe starts its own cluster, with the dashboard on its usual port if that is free
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")
def test_the_dask_recipe_of_the_docs_runs() -> None:
    labs = lab_frame(500)
    namespace: dict[str, Any] = {"lab_frame": labs}
    assert run_blocks("tests/test_dask.py", namespace) >= 1
    results = list(FRAME_COLUMNS)
    pd.testing.assert_frame_equal(
        namespace["checked"][results], interpret_frame(labs, **KEYS)[results]
    )
