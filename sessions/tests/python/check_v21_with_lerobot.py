"""Checks a LeRobot v2.1 dataset written by KineDesk with the real `lerobot` package: its own v2.1 -> v3.0 converter
(lerobot.scripts.convert_dataset_v21_to_v30, run locally) must accept it, and the converted dataset must load in
LeRobotDataset with the same frames and values as the v2.1 Parquet files. Prints what it found as JSON.

Usage: python check_v21_with_lerobot.py V21_DATASET SCRATCH_DIR
"""

import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

logging.disable(logging.WARNING)

from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402
from lerobot.scripts.convert_dataset_v21_to_v30 import convert_dataset  # noqa: E402

source, scratch = Path(sys.argv[1]), Path(sys.argv[2])
info = json.loads((source / "meta" / "info.json").read_text())
assert info["codebase_version"] == "v2.1", info["codebase_version"]
files = sorted(source.glob("data/chunk-*/episode_*.parquet"))
assert len(files) == info["total_episodes"], (len(files), info["total_episodes"])
episodes = [json.loads(line) for line in (source / "meta" / "episodes.jsonl").read_text().splitlines()]
stats = [json.loads(line) for line in (source / "meta" / "episodes_stats.jsonl").read_text().splitlines()]
assert len(episodes) == len(stats) == len(files)
table = pq.read_table([str(f) for f in files])
for episode, file in zip(episodes, files):
    assert pq.read_metadata(file).num_rows == episode["length"], file

root = scratch / "converted"
shutil.copytree(source, root)
convert_dataset("kinedesk/v21", root=root, push_to_hub=False)
dataset = LeRobotDataset("kinedesk/v21", root=root)
states = np.stack(table.column("observation.state").to_numpy(zero_copy_only=False))
assert len(dataset) == table.num_rows, (len(dataset), table.num_rows)
for i in range(len(dataset)):
    assert np.allclose(dataset[i]["observation.state"].numpy(), states[i]), i
print(
    json.dumps(
        {
            "frames": len(dataset),
            "episodes": dataset.num_episodes,
            "converted_version": dataset.meta.info["codebase_version"],
            "tasks": sorted({dataset[i]["task"] for i in range(len(dataset))}),
            "episode_language_styles": sorted({r["style"] for e in episodes for r in e["language_persistent"]}),
        }
    )
)
