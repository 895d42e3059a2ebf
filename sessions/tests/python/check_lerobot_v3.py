"""Reads a LeRobot v3.0 dataset written by KineDesk with the peer tools (pyarrow, pandas and Hugging Face `datasets`,
the library LeRobot loads its Parquet files with) and prints what it found as JSON. It checks the layout the way
LeRobot's loader uses it: info.json features and totals, tasks.parquet indexed by task, the episodes metadata ranges,
the per-frame columns, the images decodable through `datasets.Image`, and the language annotation columns.

Usage: python check_lerobot_v3.py DATASET
"""

import json
import sys
from pathlib import Path

import datasets
import pandas as pd
import pyarrow.parquet as pq

root = Path(sys.argv[1])
info = json.loads((root / "meta" / "info.json").read_text())
assert info["codebase_version"] == "v3.0", info["codebase_version"]
features = info["features"]

tasks = pd.read_parquet(root / "meta" / "tasks.parquet")
assert tasks.index.name == "task", tasks.index.name
episodes = pd.read_parquet(root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")

data_files = sorted(str(p) for p in (root / "data").rglob("*.parquet"))
table = pq.read_table(data_files)
for name in features:
    assert name in table.column_names, f"feature {name} is not a column"
assert table.num_rows == info["total_frames"], (table.num_rows, info["total_frames"])
assert len(episodes) == info["total_episodes"]

# Episode ranges cover the data exactly and agree with episode_index.
frame = table.select(["index", "episode_index", "frame_index", "timestamp"]).to_pandas()
for _, ep in episodes.iterrows():
    rows = frame[(frame["index"] >= ep["dataset_from_index"]) & (frame["index"] < ep["dataset_to_index"])]
    assert len(rows) == ep["length"], (len(rows), ep["length"])
    assert (rows["episode_index"] == ep["episode_index"]).all()
    assert list(rows["frame_index"]) == list(range(ep["length"]))
    fps = info["fps"]
    assert abs(rows["timestamp"].iloc[-1] - (ep["length"] - 1) / fps) < 1e-4

# Load as LeRobot does, with datasets' own feature types (images decode to PIL images).
hf_features = {}
for name, ft in features.items():
    if ft["dtype"] == "image":
        hf_features[name] = datasets.Image()
    elif ft["dtype"] in ("float32", "int64") and ft["shape"] == [1]:
        hf_features[name] = datasets.Value(ft["dtype"])
    elif ft["dtype"] == "float32":
        hf_features[name] = datasets.Sequence(datasets.Value("float32"), length=ft["shape"][0])
hf = datasets.Dataset.from_parquet(data_files, columns=list(hf_features), features=datasets.Features(hf_features))
first = hf[0]
images = {name: list(first[name].size) for name, ft in features.items() if ft["dtype"] == "image"}
for name, ft in features.items():
    if ft["dtype"] == "image":
        assert images[name] == [ft["shape"][1], ft["shape"][0]], (name, images[name], ft["shape"])

stats = json.loads((root / "meta" / "stats.json").read_text())
language = table.column("language_persistent")[0].as_py()

print(
    json.dumps(
        {
            "frames": table.num_rows,
            "episodes": len(episodes),
            "tasks": list(tasks.index),
            "state_width": len(first["observation.state"]),
            "state0": first["observation.state"],
            "images": images,
            "stats_keys": sorted(stats),
            "language_styles": sorted({item["style"] for item in language}),
        }
    )
)
