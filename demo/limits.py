"""Every bound the demo puts on a stranger's request, stated once: sizes, queues, canvas and renders
(the bounds on decoding a photo and loading a model live in the serving layer: toolkit.serving).

The other demo modules import these; tests read them from here too.
"""

from __future__ import annotations

# ---------------------------------------------------------------- requests and queues

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # one uploaded file
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 1024 * 1024  # one HTTP request body: one file and its form fields
QUEUE_MAX = 64  # events waiting in all; beyond this gradio answers "queue is full"
CLASSIFY_CONCURRENCY = 4
RESULT_FILES_KEPT = 256  # result images kept for Gradio to copy; older ones are deleted

# ---------------------------------------------------------------- the Sketchpad

CANVAS = (400, 400)
BRUSH = 28  # pixels on the 400 px canvas: about MNIST's stroke once scaled to 20 px
SKETCH_MAX_SIDE = 1200  # pixels: the canvas is 400 x 400; 3x leaves room for high-density screens
SKETCH_MAX_LAYERS = 4  # images in one sketch value: background, composite and up to two layers
BLOB_MAX_BYTES = 4 * 1024 * 1024  # one canvas blob (a 1200 x 1200 PNG of noise is about 4 MB)
BLOB_MAX_TOTAL_BYTES = 48 * 1024 * 1024  # all blobs held at once; the oldest sketches go first
BLOB_MAX_SKETCHES = 64  # sketches (ids) held at once
BLOB_MAX_AGE_S = 300.0  # a sketch's blobs are dropped if its classification never comes

# ---------------------------------------------------------------- live renders

RENDER_MAX_STEPS = 300
RENDER_SIZES = (64, 96, 128, 160)
RENDER_METHODS = ("naive", "robust")
RENDER_MAX_WAITING = 3  # renders waiting behind the one running; more are refused with a message

# ---------------------------------------------------------------- the gallery

GALLERY_REFRESH_SECONDS = 3.0  # how often an open page re-reads the gallery index while it is being rendered

# ---------------------------------------------------------------- one client among many

CLIENT_EVENTS_PER_ENDPOINT = 2  # queued + running events of one session on one endpoint
ADDRESS_EVENTS_PER_ENDPOINT = 24  # the same, for one IP address (many people may share one)
CLIENT_RENDERS = 1  # live renders of one session, queued or running
ADDRESS_RENDERS = 2  # live renders of one IP address
UPLOAD_CACHE_MAX_BYTES = 256 * 1024 * 1024  # uploaded files Gradio keeps; the oldest are deleted first

# ---------------------------------------------------------------- connections and logins

HEADER_SECONDS = 10.0  # a request's headers must arrive within this, from the connection or the last response
BODY_IDLE_SECONDS = 15.0  # a request body that sends nothing for this long is dropped
LOGIN_FREE_ATTEMPTS = 3  # wrong passwords from one address before the delay starts
LOGIN_FIRST_DELAY_S = 1.0  # then doubles with each wrong password ...
LOGIN_MAX_DELAY_S = 300.0  # ... up to this
