"""`convlens bench`: what convlens costs, measured (models, the demo end to end, gradient ascent, training).

- `model_speed`: onnxruntime against TensorFlow, and training throughput
- `demo_latency`: the demo in its own process: cold start, memory, latency
- `ascent`: gradient-ascent speed; `report`: the sections run and written; `gradio_http`: the browser's protocol
"""
