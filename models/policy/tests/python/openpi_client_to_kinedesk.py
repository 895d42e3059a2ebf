"""Physical Intelligence's own client (openpi-client's WebsocketClientPolicy) talking to `kinedesk serve`.

Usage: openpi_client_to_kinedesk.py PORT API_KEY. Prints one JSON line: the server's metadata, then what came back
for a LIBERO-style observation, and what the client raised for an observation the server refuses.
"""

import json
import sys

import numpy as np
from openpi_client import websocket_client_policy

port, api_key = int(sys.argv[1]), sys.argv[2]
client = websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=port, api_key=api_key)
metadata = client.get_server_metadata()
# The flange 0.5 m in front of the base, 0.4 m up, pointing down; fingers open (LIBERO's 8-D state).
state = np.array([0.5, 0.0, 0.4, np.pi, 0.0, 0.0, 0.04, 0.04], dtype=np.float32)
observation = {
    "observation/image": np.zeros((224, 224, 3), dtype=np.uint8),
    "observation/wrist_image": np.zeros((224, 224, 3), dtype=np.uint8),
    "observation/state": state,
    "prompt": "move 5 cm left",
}
result = client.infer(observation)
actions = np.asarray(result["actions"])
report = {
    "metadata_policy": str(metadata.get("policy")),
    "action_space": str(metadata.get("action_space")),
    "actions_shape": list(actions.shape),
    "actions_dtype": str(actions.dtype),
    "y_sum": float(actions[:, 1].sum()),
    "tokens_shape": list(np.asarray(result["action_tokens"]).shape),
    "reasoning": str(result["reasoning"]["instruction_level"]),
}
try:
    client.infer({"prompt": "move 5 cm left"})
    report["error"] = None
except Exception as error:  # the client raises on the server's error text
    report["error"] = str(error)
print(json.dumps(report), flush=True)
