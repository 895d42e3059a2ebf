"""Loads a LeRobot v3.0 dataset written by KineDesk with the real `lerobot` package (LeRobotDataset, from PyPI) and
prints what it found as JSON: frame and episode counts, values compared with the Parquet columns read by pyarrow,
image shapes, tasks, and the annotated stage active at each frame as lerobot's own language resolver sees it.

Usage: python check_with_lerobot.py DATASET [REFERENCE]

With REFERENCE (the same episodes exported with images), every camera frame of DATASET (e.g. MP4 video) is compared
with the reference frame: the mean absolute difference is reported as `max_frame_difference` (0..1).
"""

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

logging.disable(logging.WARNING)  # torchcodec's fallback notice is not our business here

from lerobot.datasets.language_render import active_at  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

root = Path(sys.argv[1])
dataset = LeRobotDataset("kinedesk/export", root=root)
table = pq.read_table(sorted(str(p) for p in (root / "data").rglob("*.parquet")))
states = np.stack(table.column("observation.state").to_numpy(zero_copy_only=False))
actions = np.stack(table.column("action").to_numpy(zero_copy_only=False))
assert len(dataset) == table.num_rows, (len(dataset), table.num_rows)

image_keys = [k for k, ft in dataset.meta.features.items() if ft["dtype"] in ("image", "video")]
stages = []
for i in range(len(dataset)):
    item = dataset[i]
    assert int(item["index"]) == i
    assert np.allclose(item["observation.state"].numpy(), states[i]), i
    assert np.allclose(item["action"].numpy(), actions[i]), i
    for key in image_keys:
        image = item[key]
        assert image.ndim == 3 and image.shape[0] == 3, (key, image.shape)
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    row = active_at(float(item["timestamp"]), persistent=item["language_persistent"], style="subtask")
    stages.append(row["content"] if row else None)

max_difference = None
if len(sys.argv) > 2:
    reference = LeRobotDataset("kinedesk/reference", root=Path(sys.argv[2]))
    assert len(reference) == len(dataset), (len(reference), len(dataset))
    max_difference = 0.0
    for i in range(0, len(dataset), 7):
        item, ref = dataset[i], reference[i]
        for key in image_keys:
            difference = float((item[key] - ref[key]).abs().mean())
            max_difference = max(max_difference, difference)

# `action` must be what was commanded, not a copy of the next frame's state: the share of moving frames (the state
# changes to the next frame, within an episode) whose action equals the next state (where the arm holds still, the
# command and the state agree, rightly), and the share of frames whose action the driver reported commanding.
episodes = table.column("episode_index").to_numpy()
moving = (episodes[:-1] == episodes[1:]) & ~np.all(np.isclose(states[:-1], states[1:], atol=1e-6), axis=1)
copies = np.all(np.isclose(actions[:-1], states[1:], atol=1e-6), axis=1) & moving
next_state_share = float(copies.sum() / max(moving.sum(), 1))
commanded = table.column("is_commanded").to_numpy() if "is_commanded" in table.column_names else None

first = dataset[0]
print(
    json.dumps(
        {
            "frames": len(dataset),
            "episodes": dataset.num_episodes,
            "fps": dataset.fps,
            "task": first["task"],
            "image_shapes": {k: list(first[k].shape) for k in image_keys},
            "persistent_styles": sorted({r["style"] for r in first["language_persistent"]}),
            "motion": [r["content"] for r in first["language_persistent"] if r["style"] == "motion"],
            "stages": stages,
            "timestamps": [float(dataset[i]["timestamp"]) for i in range(len(dataset))],
            "max_frame_difference": max_difference,
            "action_is_next_state_share": next_state_share,
            "commanded_share": None if commanded is None else float(commanded.mean()),
        }
    )
)
