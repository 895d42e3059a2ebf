"""An independent policy server for testing KineDesk's remote client: the openpi-style WebSocket + msgpack protocol
written with the `websockets` and `msgpack` PyPI packages and numpy, sharing no code with KineDesk.

Usage: python kinevla_server.py MODE [API_KEY]   (prints the port it listens on, then serves until killed)
MODE: tokens   reasoning + action tokens + token_config + actions
      actions  only `actions` (a plain openpi server)
      error    a text frame (a traceback) and close 1011
      garbage  a binary frame that is not msgpack
      slow     waits 5 s before answering
Every observation is checked against the protocol first (keys, dtypes, shapes); a bad one is answered as an error.
"""

import http
import sys
import time

import msgpack
import numpy as np
from websockets.sync.server import serve

MODE = sys.argv[1]
API_KEY = sys.argv[2] if len(sys.argv) > 2 else None


def pack_array(obj):
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def unpack_array(obj):
    if b"__ndarray__" in obj or "__ndarray__" in obj:
        get = lambda k: obj.get(k.encode(), obj.get(k))
        return np.ndarray(buffer=get("data"), dtype=np.dtype(get("dtype")), shape=get("shape"))
    return obj


def check_observation(obs):
    for key in ("observation/image", "observation/wrist_image"):
        image = obs[key]
        assert image.shape == (224, 224, 3) and image.dtype == np.uint8, f"{key}: {image.shape} {image.dtype}"
    state = obs["observation/state"]
    assert state.shape == (8,) and state.dtype == np.float32, f"state: {state.shape} {state.dtype}"
    assert isinstance(obs["prompt"], str), "prompt is not a str"
    joints = obs["observation/joint_position"]
    assert joints.ndim == 1 and joints.dtype == np.float64, "joint_position"
    return state


def reply(obs):
    state = check_observation(obs)
    steps = 10
    actions = np.zeros((steps, 7), dtype=np.float32)
    actions[:, 1] = 0.002  # 2 mm a step to the left: 2 cm in all
    actions[:, 6] = 1.0 if abs(state[6]) < 0.02 else -1.0
    result = {
        "actions": actions,
        "policy_timing": {"infer_ms": np.float64(1.5)},
        "server_timing": {"total_ms": 2.0},
    }
    if MODE == "tokens":
        result["reasoning"] = {
            "instruction_level": f"prompt: {obs['prompt']}\ndirection: left",
            "action_level": "move: left 0.02 m",
        }
        result["action_tokens"] = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.int64)
        result["token_config"] = {"coarse_levels": 1, "fine_levels": 3, "codebook_sizes": [256, 256, 256, 256]}
    return result


def handler(connection):
    connection.send(msgpack.packb({"server": "python-test", "mode": MODE}, default=pack_array))
    while True:
        try:
            message = connection.recv()
        except Exception:
            return
        obs = msgpack.unpackb(message, object_hook=unpack_array, strict_map_key=False)
        try:
            if MODE == "error":
                raise RuntimeError("model exploded on purpose")
            result = reply(obs)
        except Exception as error:
            connection.send(f"Traceback (most recent call last):\n  File \"server.py\"\n{type(error).__name__}: {error}")
            connection.close(code=1011, reason="internal error")
            return
        if MODE == "garbage":
            connection.send(b"\xc1\xc1 not msgpack")
            continue
        if MODE == "slow":
            time.sleep(5)
        connection.send(msgpack.packb(result, default=pack_array))


def process_request(connection, request):
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    if API_KEY is not None and request.headers.get("Authorization") != f"Api-Key {API_KEY}":
        return connection.respond(http.HTTPStatus.UNAUTHORIZED, "bad key\n")
    return None


with serve(handler, "127.0.0.1", 0, process_request=process_request, compression=None) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
