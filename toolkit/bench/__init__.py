"""`convlens bench`: what convlens costs, measured (models, the demo end to end, gradient ascent, training).

- `model_speed`: onnxruntime against TensorFlow, and training throughput
- `demo_latency`: the demo in its own process: cold start, memory, latency (`start_demo` is used by tests too)
- `ascent`: gradient-ascent speed; `report`: the sections run and written; `gradio_http`: the browser's protocol
"""

from toolkit.bench.demo_latency import free_port, start_demo, tree_rss_mb
from toolkit.core.wall_time import percentile

__all__ = ["free_port", "percentile", "start_demo", "tree_rss_mb"]
