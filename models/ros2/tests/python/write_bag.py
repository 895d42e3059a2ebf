"""Writes a rosbag2 MCAP bag with rosbags (PyPI; not KineDesk's code): sensor_msgs/JointState at --state-hz on
/joint_states (joints in a shuffled order, positions a known function of time) and sensor_msgs/CompressedImage
JPEG frames at --fps on each camera topic, headers stamped with the capture time (log time + --stamp-lag-ms).
Prints a JSON summary of what it wrote (counts, the first and last times, the joint order).

usage: write_bag.py OUT --seconds S [--cameras /cam/a/compressed,/cam/b/compressed] [--fps 30] [--state-hz 100]
       [--size 64x48] [--extra-topic]
"""
import argparse
import io
import json
import math

import numpy as np

from PIL import Image
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

JOINTS = ["joint3", "joint1", "joint2", "joint4", "joint5", "joint7", "joint6"]
START_NS = 1_790_000_000_000_000_000


def position(name, t):
    k = int(name.removeprefix("joint"))
    return 0.1 * k + 0.2 * math.sin(0.5 * t + k)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--cameras", default="/camera/image_raw/compressed")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--state-hz", type=float, default=100.0)
    parser.add_argument("--size", default="64x48")
    parser.add_argument("--stamp-lag-ms", type=float, default=3.0)
    parser.add_argument("--extra-topic", action="store_true")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    cameras = [c for c in args.cameras.split(",") if c]

    store = get_typestore(Stores.ROS2_HUMBLE)
    JointState = store.types["sensor_msgs/msg/JointState"]
    CompressedImage = store.types["sensor_msgs/msg/CompressedImage"]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    String = store.types["std_msgs/msg/String"]

    def header(ns, frame):
        return Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id=frame)

    # A few JPEGs, reused (their content is not what the import is judged on; their bytes are).
    jpegs = []
    for shade in range(8):
        image = Image.new("RGB", (width, height), (shade * 30, 100, 255 - shade * 30))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        jpegs.append(buffer.getvalue())

    events = []
    n_states = int(args.seconds * args.state_hz)
    for i in range(n_states):
        events.append((START_NS + round(i * 1e9 / args.state_hz), "state", i))
    n_frames = int(args.seconds * args.fps)
    for c, topic in enumerate(cameras):
        for i in range(n_frames):
            # Cameras a little out of phase with each other.
            events.append((START_NS + round(i * 1e9 / args.fps) + c * 1_000_000 + 500_000, "frame", (c, i)))
    if args.extra_topic:
        events.append((START_NS + 5_000_000, "note", 0))
    events.sort(key=lambda e: e[0])
    lag = round(args.stamp_lag_ms * 1e6)

    written = {"states": n_states, "frames": {t: n_frames for t in cameras}, "joints": JOINTS, "start_ns": START_NS}
    with Writer(args.out, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        state = writer.add_connection("/joint_states", JointState.__msgtype__, typestore=store)
        camera_connections = [writer.add_connection(t, CompressedImage.__msgtype__, typestore=store) for t in cameras]
        note = writer.add_connection("/notes", String.__msgtype__, typestore=store) if args.extra_topic else None
        for log_ns, kind, what in events:
            stamp = log_ns - lag
            if kind == "state":
                t = (stamp - START_NS) / 1e9
                message = JointState(header=header(stamp, "base"), name=JOINTS,
                                     position=np.array([position(n, t) for n in JOINTS], dtype=np.float64),
                                     velocity=np.array([], dtype=np.float64), effort=np.array([], dtype=np.float64))
                writer.write(state, log_ns, store.serialize_cdr(message, JointState.__msgtype__))
            elif kind == "frame":
                c, i = what
                message = CompressedImage(header=header(stamp, f"cam{c}"), format="jpeg",
                                          data=np.frombuffer(jpegs[i % len(jpegs)], dtype=np.uint8))
                writer.write(camera_connections[c], log_ns, store.serialize_cdr(message, CompressedImage.__msgtype__))
            else:
                writer.write(note, log_ns, store.serialize_cdr(String(data="hello"), String.__msgtype__))
    print(json.dumps(written))


if __name__ == "__main__":
    main()
