"""How errors reach a user of the app: a sentence in a toast, never a traceback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import gradio as gr

from toolkit.core.errors import ConvlensError

log = logging.getLogger("convlens.demo")

P = ParamSpec("P")
R = TypeVar("R")


def user_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn a ConvlensError into gr.Error (its message, no traceback); anything else into a short gr.Error."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except ConvlensError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:
            log.exception("unexpected error in %s", function.__name__)
            raise gr.Error(
                f"Unexpected problem ({type(error).__name__}: {error}). It was logged on the server; "
                f"the next request will work.",
                print_exception=False,
            ) from None

    return wrapper
