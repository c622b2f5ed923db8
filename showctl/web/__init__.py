"""The class screen and phone remote (`showctl serve`): a local web page to pick, check and run a class.

`create_app` builds the app (Starlette); `serve` runs it with uvicorn. Everything the page needs is served
from this package (`static/`): no CDN, no build step, so it works in a studio with no internet.
"""

from showctl.web.app import WebApp, create_app
from showctl.web.server import serve

__all__ = ["WebApp", "create_app", "serve"]
