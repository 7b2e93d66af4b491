"""ghapp's only door to GitHub: app authentication, scoped installation tokens, the HTTP client
with budgets, pacing and conditional reads, pull-request operations and the webhook delivery log.

Import the module you need (``ghapp.github.client``, ``ghapp.github.pulls`` …): importing the
package loads none of them, so a process that only needs, say, the manifest does not load the client."""
