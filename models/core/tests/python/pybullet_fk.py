"""Reference forward kinematics from pybullet for the URDF loader test.

Reads {"urdf": path, "link": name, "configurations": [[q1..qn], ...]} on stdin and prints
{"data_path": ..., "poses": [{"position": [x,y,z], "quaternion_xyzw": [x,y,z,w]}, ...]} on stdout.
"""
import json
import sys

import pybullet
import pybullet_data

request = json.load(sys.stdin)
client = pybullet.connect(pybullet.DIRECT)
robot = pybullet.loadURDF(request["urdf"], useFixedBase=True, physicsClientId=client)
movable = []
link_index = None
for index in range(pybullet.getNumJoints(robot, physicsClientId=client)):
    info = pybullet.getJointInfo(robot, index, physicsClientId=client)
    if info[2] in (pybullet.JOINT_REVOLUTE, pybullet.JOINT_PRISMATIC):
        movable.append(index)
    if info[12].decode() == request["link"]:
        link_index = index
if link_index is None:
    sys.exit(f"link {request['link']} not found")
poses = []
for q in request["configurations"]:
    for joint, value in zip(movable, q):
        pybullet.resetJointState(robot, joint, value, physicsClientId=client)
    state = pybullet.getLinkState(robot, link_index, computeForwardKinematics=True, physicsClientId=client)
    poses.append({"position": list(state[4]), "quaternion_xyzw": list(state[5])})
print(json.dumps({"data_path": pybullet_data.getDataPath(), "poses": poses}))
