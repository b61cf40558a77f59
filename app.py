"""The conventional Gradio entry point: `python app.py`, `gradio app.py` (reload mode) and Hugging Face Spaces.

`demo` is the app for the export in `exported/` (or `$CONVLENS_EXPORTED`). Run as a script, it serves
on `$GRADIO_SERVER_NAME` (default 127.0.0.1) and `$GRADIO_SERVER_PORT` (default 7860) with the same
rules as `convlens demo`: beyond this machine only with `$CONVLENS_DEMO_AUTH` (USER:PASSWORD), or with
`CONVLENS_DEMO_PUBLIC=1` on purpose (a public Space). Serving needs only the base install
(`pip install .`): gradio, onnxruntime, numpy and Pillow; no TensorFlow.
"""

import os

from demo.gradio_app import launch, prepare
from demo.request_guards import parse_auth, public_opt_in

demo, allowed_files = prepare()

if __name__ == "__main__":
    launch(
        demo,
        allowed_files,
        host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        auth=parse_auth(None),
        public=public_opt_in(),
        block=True,
    )
