"""A ROS 2 arm as Cyclone DDS (not KineDesk's DDS stack) sees it: publishes sensor_msgs/JointState at 100 Hz and a
sensor_msgs/Image stream, subscribes to trajectory_msgs/JointTrajectory and follows what arrives the way
joint_trajectory_controller does (a new trajectory replaces the running one; positions interpolated by
time_from_start from where the arm is). Every trajectory received is printed as one JSON line on stdout, with the
arrival time (Unix s).

usage: cyclone_arm.py --joints j1,j2,... --start 0,0,... [--seconds S] [--image-topic T] [--state-topic T]
       [--command-topic T] [--rate HZ] [--stop-publishing-after S]
Discovery: set CYCLONEDDS_URI for unicast peers on loopback (the test does).
"""
import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

from cyclonedds.core import Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import float64, int32, sequence, uint8, uint32
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


@dataclass
class JointState(IdlStruct, typename="sensor_msgs::msg::dds_::JointState_"):
    header: Header
    name: sequence[str]
    position: sequence[float64]
    velocity: sequence[float64]
    effort: sequence[float64]


@dataclass
class Duration(IdlStruct, typename="builtin_interfaces::msg::dds_::Duration_"):
    sec: int32
    nanosec: uint32


@dataclass
class JointTrajectoryPoint(IdlStruct, typename="trajectory_msgs::msg::dds_::JointTrajectoryPoint_"):
    positions: sequence[float64]
    velocities: sequence[float64]
    accelerations: sequence[float64]
    effort: sequence[float64]
    time_from_start: Duration


@dataclass
class JointTrajectory(IdlStruct, typename="trajectory_msgs::msg::dds_::JointTrajectory_"):
    header: Header
    joint_names: sequence[str]
    points: sequence[JointTrajectoryPoint]


@dataclass
class Image(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    header: Header
    height: uint32
    width: uint32
    encoding: str
    is_bigendian: uint8
    step: uint32
    data: sequence[uint8]


def stamp(t):
    return Time(sec=int(t), nanosec=int((t - int(t)) * 1e9))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--joints", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--state-topic", default="rt/joint_states")
    parser.add_argument("--command-topic", default="rt/joint_trajectory_controller/joint_trajectory")
    parser.add_argument("--image-topic", default="")
    parser.add_argument("--image-encoding", default="rgb8")
    parser.add_argument("--stop-publishing-after", type=float, default=-1.0)
    args = parser.parse_args()
    names = args.joints.split(",")
    position = [float(v) for v in args.start.split(",")]

    xcdr1 = Policy.DataRepresentation(use_cdrv0_representation=True)
    sensor = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(5), xcdr1)
    command = Qos(Policy.Reliability.Reliable(duration(milliseconds=100)), Policy.History.KeepLast(10), xcdr1)
    dp = DomainParticipant(int(os.environ.get("ROS_DOMAIN_ID", "0") or 0))
    state_writer = DataWriter(dp, Topic(dp, args.state_topic, JointState), qos=sensor)
    trajectory_reader = DataReader(dp, Topic(dp, args.command_topic, JointTrajectory), qos=command)
    image_writer = None
    if args.image_topic:
        image_writer = DataWriter(dp, Topic(dp, args.image_topic, Image), qos=sensor)

    print(json.dumps({"ready": True}), flush=True)
    started = time.time()
    active = None  # (received at, start positions, trajectory)
    next_image = started
    frame = 0
    period = 1.0 / args.rate
    tick = started
    while time.time() - started < args.seconds:
        for sample in trajectory_reader.take(N=10):
            now = time.time()
            points = [
                {
                    "positions": list(p.positions),
                    "velocities": list(p.velocities),
                    "time_from_start": p.time_from_start.sec + p.time_from_start.nanosec * 1e-9,
                }
                for p in sample.points
            ]
            print(json.dumps({"trajectory": {"joint_names": list(sample.joint_names), "points": points},
                              "received_unix_s": now}), flush=True)
            order = [list(sample.joint_names).index(n) if n in sample.joint_names else None for n in names]
            active = (now, list(position), order, points)
        if active is not None:
            t0, start, order, points = active
            elapsed = time.time() - t0
            previous_t, previous = 0.0, start
            target = None
            for p in points:
                positions = [p["positions"][k] if k is not None else previous[i] for i, k in enumerate(order)]
                if elapsed <= p["time_from_start"]:
                    span = max(p["time_from_start"] - previous_t, 1e-9)
                    a = (elapsed - previous_t) / span
                    target = [x + (y - x) * a for x, y in zip(previous, positions)]
                    break
                previous_t, previous = p["time_from_start"], positions
            position = target if target is not None else previous
        now = time.time()
        publishing = args.stop_publishing_after < 0 or now - started < args.stop_publishing_after
        if publishing:
            state_writer.write(JointState(header=Header(stamp=stamp(now), frame_id=""), name=names,
                                          position=position, velocity=[0.0] * len(names), effort=[]))
            if image_writer is not None and now >= next_image:
                width, height = 64, 48
                if args.image_encoding == "mono8":
                    data = bytes((x + frame) % 256 for y in range(height) for x in range(width))
                    step = width
                else:
                    data = bytes(v for y in range(height) for x in range(width)
                                 for v in ((x * 4 + frame) % 256, y * 5 % 256, 128))
                    step = width * 3
                image_writer.write(Image(header=Header(stamp=stamp(now), frame_id="cam"), height=height,
                                         width=width, encoding=args.image_encoding, is_bigendian=0, step=step,
                                         data=list(data)))
                frame += 1
                next_image += 1.0 / 30.0
        tick += period
        time.sleep(max(0.0, tick - time.time()))


if __name__ == "__main__":
    sys.exit(main())
