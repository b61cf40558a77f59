"""convlens beyond one process: the serving layer's pipelines hosted by Ray Serve and run over files by Ray Data.

`photo_api` is the JSON HTTP API as plain functions (no Ray); `serve_app` hosts them as Serve deployments;
`serve_client` speaks that API with the standard library only (the Gradio demo uses it with --serve-url);
`batch_classify` sorts files and folders, locally or on Ray Data. Ray is the optional `serve` extra:
only `serve_app` and the Ray path of `batch_classify` import it, and only when they run.
"""
