"""Writes the episodes of a LeRobot v3.0 dataset exported by KineDesk again, through the real `lerobot` package's
recording API (LeRobotDataset.create, add_frame, save_episode, finalize) with image features (PNG), and prints the
time it took as JSON. Decoding the source frames to arrays is timed separately and left out of `write_seconds`, so
lerobot is measured on writing alone. Used by `kinedesk bench export` for the side-by-side export-speed figure.

Usage: python lerobot_write_same_episodes.py SOURCE_DATASET OUT_DATASET
"""

import io
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from PIL import Image

logging.disable(logging.WARNING)

from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

source, out = Path(sys.argv[1]), Path(sys.argv[2])
info = json.loads((source / "meta" / "info.json").read_text())
image_keys = [k for k, ft in info["features"].items() if ft["dtype"] == "image"]
features = {}
for key, ft in info["features"].items():
    if key in ("observation.state", "action") or key in image_keys:
        features[key] = {"dtype": ft["dtype"], "shape": tuple(ft["shape"]), "names": ft["names"]}
tasks = pd.read_parquet(source / "meta" / "tasks.parquet")
task_of = {int(row.task_index): task for task, row in tasks.iterrows()}
files = sorted(str(p) for p in (source / "data").rglob("*.parquet"))

started = time.perf_counter()
decode_seconds = 0.0
dataset = LeRobotDataset.create(
    "kinedesk/bench",
    fps=int(info["fps"]),
    features=features,
    root=out,
    robot_type=info.get("robot_type"),
    use_videos=False,
    image_writer_threads=4,
)
frames = 0
current = None
for file in files:
    for batch in pq.ParquetFile(file).iter_batches(batch_size=32):
        for row in batch.to_pylist():
            if current is not None and row["episode_index"] != current:
                dataset.save_episode()
            current = row["episode_index"]
            t = time.perf_counter()
            frame = {k: np.asarray(Image.open(io.BytesIO(row[k]["bytes"])).convert("RGB")) for k in image_keys}
            decode_seconds += time.perf_counter() - t
            frame["observation.state"] = np.asarray(row["observation.state"], dtype=np.float32)
            frame["action"] = np.asarray(row["action"], dtype=np.float32)
            frame["task"] = task_of[row["task_index"]]
            dataset.add_frame(frame)
            frames += 1
dataset.save_episode()
dataset.finalize()
total = time.perf_counter() - started
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
print(
    json.dumps(
        {
            "frames": frames,
            "episodes": int(current) + 1 if current is not None else 0,
            "total_seconds": total,
            "decode_seconds": decode_seconds,
            "write_seconds": total - decode_seconds,
            "bytes": size,
        }
    )
)
