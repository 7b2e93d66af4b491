"""What every request ghapp sends to GitHub says about itself: the REST API version and the user agent.

GitHub docs: "API versions" (``X-GitHub-Api-Version``) and "Getting started with the REST API"
(a ``User-Agent`` header is required).
"""

API_VERSION = "2022-11-28"
USER_AGENT = "ghapp"
