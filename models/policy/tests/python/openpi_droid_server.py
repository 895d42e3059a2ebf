"""A DROID-style policy server built on Physical Intelligence's own `openpi-client` package (its `msgpack_numpy`
packer, the wire format of openpi's `WebsocketPolicyServer`), to test KineDesk's closed-loop rollouts against a peer
nobody here wrote. It serves the way openpi's server does: a metadata frame on connect, one reply per observation,
a traceback as a text frame and a close with code 1011 on error.

Usage: python openpi_droid_server.py MODE   (prints the port it listens on, then serves until killed)
MODE: track     a proportional controller toward a fixed joint target, computed from the *observed*
                `observation/joint_position`: 10 x 8 actions (7 joint velocities + gripper position) at 15 Hz.
                It converges only if the client feeds the executed state back into every observation.
      fast      joint velocities of 6 rad/s: a chunk no check may let through
      error     raises: a traceback and close 1011
      slow      takes 50 ms per inference (for the idle-gap figures), otherwise as `track`
Every observation is checked against the DROID keys, dtypes and shapes first; a bad one is answered as an error.
"""

import http
import sys
import time
import traceback

import numpy as np
from openpi_client import msgpack_numpy
from websockets.sync.server import serve

MODE = sys.argv[1]
# Where `track` drives the arm: the joints of the first observation plus these offsets (rad).
OFFSETS = np.array([0.30, -0.15, 0.10, 0.20, 0.0, 0.10, 0.0])
TARGET = None
GAIN = 1.5  # 1/s
HORIZON, EXECUTE = 10, 8


def check_observation(obs):
    for key in ("observation/exterior_image_1_left", "observation/wrist_image_left"):
        image = obs[key]
        assert image.shape == (224, 224, 3) and image.dtype == np.uint8, f"{key}: {image.shape} {image.dtype}"
    joints = np.asarray(obs["observation/joint_position"])
    assert joints.shape == (7,), f"joint_position: {joints.shape}"
    gripper = np.asarray(obs["observation/gripper_position"])
    assert gripper.shape == (1,), f"gripper_position: {gripper.shape}"
    assert isinstance(obs["prompt"], str), "prompt is not a str"
    return joints.astype(np.float64), float(gripper[0])


def infer(obs):
    global TARGET
    joints, gripper = check_observation(obs)
    if TARGET is None:
        TARGET = joints + OFFSETS
    if MODE == "error":
        raise RuntimeError("the policy failed on purpose")
    if MODE == "slow":
        time.sleep(0.05)
    actions = np.zeros((HORIZON, 8), dtype=np.float32)
    if MODE == "fast":
        actions[:, 0] = 6.0
    else:
        velocity = np.clip(GAIN * (TARGET - joints), -0.5, 0.5)
        actions[:, :7] = velocity
    # Close the gripper once the arm is near the target (closed fraction 1), open before.
    near = np.max(np.abs(TARGET - joints)) < 0.02
    actions[:, 7] = 1.0 if near else 0.0
    return {"actions": actions, "policy_timing": {"infer_ms": 1.0}}


def handler(websocket):
    packer = msgpack_numpy.Packer()
    websocket.send(packer.pack({"server": "openpi-droid-test", "action_horizon": HORIZON}))
    while True:
        try:
            message = websocket.recv()
        except Exception:
            return
        try:
            obs = msgpack_numpy.unpackb(message)
            websocket.send(packer.pack(infer(obs)))
        except Exception:
            websocket.send(traceback.format_exc())
            websocket.close(code=1011, reason="Internal server error. Traceback included in previous frame.")
            return


def health(connection, request):
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    return None


with serve(handler, "127.0.0.1", 0, compression=None, max_size=None, process_request=health) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
