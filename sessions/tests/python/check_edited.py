"""Loads LeRobot v3.0 datasets with the real `lerobot` package (LeRobotDataset, from PyPI), reads every frame through
it (images decoded), and prints per dataset as JSON what the dataset-editing tests compare: the episode and frame
counts, per episode its task, length, every `observation.state` and `action` row, and the mean of its first and
last frame of each camera.

Usage: python check_edited.py DATASET [DATASET ...]
"""

import json
import logging
import sys
from pathlib import Path

logging.disable(logging.WARNING)

from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

found = []
for root in sys.argv[1:]:
    dataset = LeRobotDataset("kinedesk/edited", root=Path(root))
    image_keys = [k for k, ft in dataset.meta.features.items() if ft["dtype"] in ("image", "video")]
    episodes = {}
    for i in range(len(dataset)):
        item = dataset[i]
        assert int(item["index"]) == i, (root, i, int(item["index"]))
        episode = episodes.setdefault(
            int(item["episode_index"]),
            {"task": item["task"], "states": [], "actions": [], "timestamps": [], "first_image": None},
        )
        assert int(item["frame_index"]) == len(episode["states"]), (root, i)
        episode["states"].append([round(float(v), 6) for v in item["observation.state"]])
        episode["actions"].append([round(float(v), 6) for v in item["action"]])
        episode["timestamps"].append(round(float(item["timestamp"]), 4))
        means = [round(float(item[k].mean()), 4) for k in image_keys]
        if episode["first_image"] is None:
            episode["first_image"] = means
        episode["last_image"] = means
    found.append(
        {
            "root": root,
            "episodes": dataset.num_episodes,
            "frames": len(dataset),
            "fps": dataset.fps,
            "per_episode": [episodes[e] for e in sorted(episodes)],
        }
    )
print(json.dumps(found))
