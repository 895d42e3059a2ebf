"""Damages a LeRobot v3.0 dataset in place (a copy made by the test) the way real recordings go wrong, for the
dataset doctor tests: episode 1's timestamps jump by 0.1 s from its frame 10 on (a gap), and episode 0's first joint
jumps by 0.5 rad at its frame 20 (faster than any arm moves in one frame).

Usage: python damage_dataset.py DATASET
"""

import glob, sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
root = sys.argv[1]
for f in glob.glob(root + "/data/*/*.parquet"):
    t = pq.read_table(f)
    ep = t.column("episode_index").to_numpy(); fi = t.column("frame_index").to_numpy()
    ts = t.column("timestamp").to_numpy().copy()
    ts[(ep == 1) & (fi >= 10)] += 0.1
    st = np.stack(t.column("observation.state").to_numpy(zero_copy_only=False)).copy()
    st[(ep == 0) & (fi == 20), 0] += 0.5
    field = t.schema.field("observation.state")
    t = t.set_column(t.schema.get_field_index("timestamp"), t.schema.field("timestamp"), pa.array(ts.astype(np.float32)))
    t = t.set_column(t.schema.get_field_index("observation.state"), field, pa.array(list(st.astype(np.float32)), type=field.type))
    pq.write_table(t, f)
