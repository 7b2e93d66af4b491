"""The simulated world behind GitHub's GraphQL schema: one resolver for every field of the subset.

``bind`` attaches them to the schema built from ``schemas/github-subset.graphql`` and refuses a schema
with a field nobody resolves, so regenerating the subset with a new field fails loudly until the field
is answered here. Errors carry GitHub's ``type`` (``NOT_FOUND``, ``FORBIDDEN``, ...).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLUnionType,
)

from ghapp.testing.conversation import ReviewComment, ReviewThread
from ghapp.testing.errors import ApiError
from ghapp.testing.gateway import Call
from ghapp.testing.gating import QueueEntry
from ghapp.testing.limits import RateSnapshot
from ghapp.testing.models import (
    Account,
    CheckRun,
    CommitStatus,
    PullRequest,
    Repo,
    Review,
    grants,
    iso,
    node_id,
)

# REST's ``mergeable`` as GraphQL's MergeableState (GitHub docs, "Objects": PullRequest.mergeable).
MERGEABLE = {True: "MERGEABLE", False: "CONFLICTING", None: "UNKNOWN"}
FAILED = {"failure", "error", "timed_out", "cancelled", "action_required", "startup_failure", "stale"}
QUERY_ID = node_id("Q", 0)  # GitHub does not document Query.id's value; any opaque id will do


class GitHubGraphQLError(Exception):
    """A field error as GitHub reports it: its ``type`` beside the message, path and locations."""

    def __init__(self, kind: str, message: str, extensions: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.extensions = extensions


@dataclass
class Context:
    call: Call
    cost: int
    node_count: int
    rate: RateSnapshot

    @property
    def world(self) -> Any:
        return self.call.world


def _context(info: GraphQLResolveInfo) -> Context:
    return info.context  # type: ignore[no-any-return]


# ----- scope ------------------------------------------------------------------------------------


def _reachable(context: Context, repo: Repo) -> bool:
    """The token's installation holds the repository and the token was not narrowed away from it."""
    call = context.call
    if call.installation is None or call.token is None:
        return False
    owner = context.world.installation_for(repo)
    return (
        owner is not None
        and owner.id == call.installation.id
        and (call.token.repo_ids is None or repo.id in call.token.repo_ids)
    )


def _require(context: Context, name: str, level: str) -> None:
    # An installation token without the permission gets a FORBIDDEN field error "Resource not accessible
    # by integration", with ``extensions: {saml_failure: false}`` (github-community-projects/contributors#492).
    assert context.call.token is not None
    if not grants(context.call.token.permissions, name, level):
        raise GitHubGraphQLError("FORBIDDEN", "Resource not accessible by integration", {"saml_failure": False})


def _node_not_found(node: str) -> GitHubGraphQLError:
    # NOT_FOUND with the field's path, and null for the field (pl-strflt/projects-migration#1; the same
    # answer for an id the token cannot see, so a hidden node is not told apart from a missing one).
    return GitHubGraphQLError("NOT_FOUND", f"Could not resolve to a node with the global id of '{node}'")


def _pull_by_node(context: Context, node: str) -> PullRequest:
    pull = context.world.pulls_by_node.get(node)
    if pull is None or not _reachable(context, pull.repo):
        raise _node_not_found(node)
    return pull  # type: ignore[no-any-return]


# ----- connections ------------------------------------------------------------------------------


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _index(cursor: str) -> int:
    try:
        prefix, _, number = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if prefix == "cursor" and number.isdigit():
            return int(number)
    except ValueError:
        pass
    # GitHub's answer to a foreign cursor, as the octokit/graphql.js README shows it in its errors example.
    raise GitHubGraphQLError("INVALID_CURSOR_ARGUMENTS", f"`{cursor}` does not appear to be a valid cursor.")


def connection(
    items: Sequence[Any], *, first: int | None, last: int | None, after: str | None, before: str | None
) -> dict[str, Any]:
    """A page of ``items`` as a connection, by the cursor rules of the Relay connection specification."""
    start, end = 0, len(items)
    if after is not None:
        start = max(start, _index(after) + 1)
    if before is not None:
        end = min(end, _index(before))
    if first is not None:
        end = min(end, start + max(first, 0))
    if last is not None:
        start = max(start, end - max(last, 0))
    page = list(range(start, end)) if end > start else []
    return {
        "nodes": [items[i] for i in page],
        "totalCount": len(items),
        "pageInfo": {
            "startCursor": _cursor(page[0]) if page else None,
            "endCursor": _cursor(page[-1]) if page else None,
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
        },
    }


def _keys(*names: str) -> dict[str, Callable[..., Any]]:
    """Resolvers that read each field from a dict built by the parent's resolver."""
    return {name: (lambda source, info, _name=name, **_: source[_name]) for name in names}


# ----- root fields ------------------------------------------------------------------------------


def query_node(_: Any, info: GraphQLResolveInfo, id: str) -> Any:
    context = _context(info)
    pull = _pull_by_node(context, id)  # only pull requests are looked up by id here
    _require(context, "pull_requests", "read")
    return pull


def query_repository(_: Any, info: GraphQLResolveInfo, owner: str, name: str, followRenames: bool = True) -> Repo:
    context = _context(info)
    repo = context.world.repo(f"{owner}/{name}")
    if repo is None or not _reachable(context, repo):  # refined-github/refined-github#8424, cli/cli#436
        raise GitHubGraphQLError("NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'.")
    return repo  # type: ignore[no-any-return]


def query_rate_limit(_: Any, info: GraphQLResolveInfo, dryRun: bool = False) -> dict[str, Any]:
    context = _context(info)
    rate = context.rate
    return {
        "cost": context.cost,
        "limit": rate.limit,
        "nodeCount": context.node_count,
        "remaining": rate.remaining,
        "resetAt": iso(rate.reset),
        "used": rate.used,
    }


def _set_draft(draft: bool) -> Callable[..., dict[str, Any]]:
    def mutate(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        context = _context(info)
        pull = _pull_by_node(context, input["pullRequestId"])
        _require(context, "pull_requests", "write")
        if pull.state != "open":
            # Refused as before this engine; GitHub's exact message for a closed PR is not documented.
            raise GitHubGraphQLError("UNPROCESSABLE", "Pull request is closed")
        context.world.set_draft(pull, draft, context.call.actor)
        return {"clientMutationId": input.get("clientMutationId"), "pullRequest": pull}

    return mutate


def _refused(exc: ApiError) -> GitHubGraphQLError:
    # A refused mutation is a field error of type UNPROCESSABLE carrying GitHub's message (as gh users quote
    # it: "GraphQL: Pull request Pull request is in clean status (enablePullRequestAutoMerge)").
    return GitHubGraphQLError("UNPROCESSABLE", str(exc))


def _gate(write: Callable[[Context, PullRequest, dict[str, Any]], Any], key: str) -> Callable[..., dict[str, Any]]:
    """A mutation on one pull request, found by ``pullRequestId`` (``id`` for dequeuePullRequest)."""

    def mutate(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        context = _context(info)
        pull = _pull_by_node(context, input["pullRequestId"] if "pullRequestId" in input else input["id"])
        _require(context, "pull_requests", "write")  # the permission GitHub asks of apps here is not documented
        try:
            value = write(context, pull, input)
        except ApiError as exc:
            raise _refused(exc) from exc
        return {"clientMutationId": input.get("clientMutationId"), key: value}

    return mutate


def _resolve_thread(resolved: bool) -> Callable[..., dict[str, Any]]:
    """GraphQL ``resolveReviewThread``/``unresolveReviewThread`` (GitHub's GraphQL reference, Mutations):
    the thread by its node id; ``pull_request_review_thread`` resolved/unresolved follows."""

    def mutate(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        context = _context(info)
        thread = context.world.conversation.threads_by_node.get(input["threadId"])
        if thread is None or not _reachable(context, thread.pull.repo):
            raise _node_not_found(input["threadId"])
        _require(context, "pull_requests", "write")
        context.world.conversation.set_resolved(thread, resolved, context.call.actor)
        return {"clientMutationId": input.get("clientMutationId"), "thread": thread}

    return mutate


def _enqueue(context: Context, pull: PullRequest, input: dict[str, Any]) -> Any:
    return context.world.gating.enqueue(pull, input.get("expectedHeadOid"), context.call.actor)


def _dequeue(context: Context, pull: PullRequest, input: dict[str, Any]) -> Any:
    return context.world.gating.dequeue(pull, "MANUAL", context.call.actor)


def _enable_auto_merge(context: Context, pull: PullRequest, input: dict[str, Any]) -> Any:
    return context.world.gating.enable_auto_merge(
        pull,
        expected_head=input.get("expectedHeadOid"),
        method=str(input.get("mergeMethod") or "MERGE").lower(),
        title=input.get("commitHeadline"),
        body=input.get("commitBody"),
        actor=context.call.actor,
    )


def _disable_auto_merge(context: Context, pull: PullRequest, input: dict[str, Any]) -> Any:
    return context.world.gating.disable_auto_merge(pull, context.call.actor)


def _auto_merge_request(pull: PullRequest, *_: Any) -> dict[str, Any] | None:
    found = pull.auto_merge
    if found is None:
        return None
    return {
        "enabledAt": iso(found.enabled_at),
        "enabledBy": found.enabled_by,
        "mergeMethod": found.merge_method.upper(),
        "pullRequest": pull,
    }


def _threads(pull: PullRequest, info: GraphQLResolveInfo, **page: Any) -> dict[str, Any]:
    threads = sorted(_context(info).world.conversation.threads_of(pull), key=lambda t: t.id)
    return connection(threads, **{k: page.get(k) for k in ("first", "last", "after", "before")})


def _thread_comments(thread: Any, info: GraphQLResolveInfo, **page: Any) -> dict[str, Any]:
    return connection(list(thread.comments), **{k: page.get(k) for k in ("first", "last", "after", "before")})


# ----- refs and git objects ----------------------------------------------------------------------


@dataclass(frozen=True)
class GitRef:
    repo: Repo
    name: str  # the short name, as ``Ref.name`` gives it ("main")
    sha: str


@dataclass(frozen=True)
class GitCommit:
    repo: Repo
    sha: str
    tree: str


@dataclass(frozen=True)
class GitTree:
    sha: str


@dataclass(frozen=True)
class GitBlob:
    sha: str
    data: bytes

    @property
    def binary(self) -> bool:
        # @octokit/graphql-schema says only "Indicates whether the Blob is binary or text" (and ``text``:
        # "UTF8 text data or null if the Blob is binary"); how GitHub decides is not documented, so the
        # simulator uses git's own test (``buffer_is_binary``): a NUL byte in the first 8,000 bytes.
        return b"\0" in self.data[:8000]


def _branch_ref(repo: Repo, name: str) -> GitRef | None:
    sha = repo.branches.get(name)
    return None if sha is None else GitRef(repo, name, sha)


def repository_ref(repo: Repo, info: GraphQLResolveInfo, qualifiedName: str) -> GitRef | None:
    """``Repository.ref``: null when there is no such branch. GitHub's description: "Fully qualified matches
    are checked in order (refs/heads/master) before falling back onto checks for short name matches
    (master)". Tags are not simulated, so any other ``refs/`` name is null."""
    _require(_context(info), "contents", "read")
    if qualifiedName.startswith("refs/heads/"):
        return _branch_ref(repo, qualifiedName.removeprefix("refs/heads/"))
    return None if qualifiedName.startswith("refs/") else _branch_ref(repo, qualifiedName)


def repository_default_branch(repo: Repo, info: GraphQLResolveInfo) -> GitRef | None:
    _require(_context(info), "contents", "read")
    return _branch_ref(repo, repo.default_branch)


def _ref_target(ref: GitRef, info: GraphQLResolveInfo) -> GitCommit:
    commit = ref.repo.git.commit(ref.sha)
    assert commit is not None  # a branch always points at a commit
    return GitCommit(ref.repo, commit.sha, commit.tree)


def _commit_file(commit: GitCommit, info: GraphQLResolveInfo, path: str) -> dict[str, Any] | None:
    """``Commit.file``, "the tree entry representing the file located at the given path" (the schema's
    description); null when the commit has none there, as the field is nullable. Folders are not simulated."""
    found = commit.repo.git.read(commit.sha, path)
    if found is None:
        return None
    data, sha = found
    return {"oid": sha, "object": GitBlob(sha, data)}


# ----- repository and pull request --------------------------------------------------------------


def repository_pull(repo: Repo, info: GraphQLResolveInfo, number: int) -> PullRequest:
    context = _context(info)
    _require(context, "pull_requests", "read")
    pull = context.world.pulls.get((repo.id, number))
    if pull is None:  # GitHub's answer as shown in octokit/graphql.js#314
        raise GitHubGraphQLError("NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}.")
    return pull  # type: ignore[no-any-return]


def _pull_state(pull: PullRequest) -> str:
    return "MERGED" if pull.merged else pull.state.upper()


ORDER_FIELDS: dict[str, Callable[[PullRequest], Any]] = {
    "CREATED_AT": lambda p: (p.created_at, p.number),
    "UPDATED_AT": lambda p: (p.updated_at, p.number),
    "COMMENTS": lambda p: (p.comments, p.number),
}


def repository_pulls(
    repo: Repo,
    info: GraphQLResolveInfo,
    states: list[str] | None = None,
    labels: list[str] | None = None,
    headRefName: str | None = None,
    baseRefName: str | None = None,
    orderBy: dict[str, str] | None = None,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    context = _context(info)
    _require(context, "pull_requests", "read")
    pulls = list(context.world.pulls_of(repo))
    if states:
        pulls = [p for p in pulls if _pull_state(p) in states]
    if labels:
        pulls = [p for p in pulls if {label.name for label in p.labels} & set(labels)]
    if headRefName is not None:
        pulls = [p for p in pulls if p.head_ref == headRefName]
    if baseRefName is not None:
        pulls = [p for p in pulls if p.base_ref == baseRefName]
    order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}  # GitHub's default order is not documented
    pulls.sort(key=ORDER_FIELDS[order["field"]], reverse=order["direction"] == "DESC")
    return connection(pulls, first=first, last=last, after=after, before=before)


def _pull_json(pull: PullRequest, info: GraphQLResolveInfo) -> dict[str, Any]:
    return _context(info).world.pull_json(pull)  # type: ignore[no-any-return]


def _merge_state_status(pull: PullRequest, info: GraphQLResolveInfo, **_: Any) -> str:
    # REST's mergeable_state in GraphQL's MergeStateStatus (same names, upper case). DRAFT is deprecated
    # in the schema but still one of its values.
    return str(_pull_json(pull, info)["mergeable_state"]).upper()


def _latest_statuses(statuses: Sequence[CommitStatus]) -> list[CommitStatus]:
    latest: dict[str, CommitStatus] = {}
    for status in statuses:  # appended in time order, so the last of a context wins
        latest[status.context] = status
    return list(latest.values())


def _rollup(pull: PullRequest, info: GraphQLResolveInfo, **_: Any) -> dict[str, Any] | None:
    """The head commit's check runs and latest statuses; null when the commit has neither.

    The null is not documented, but it is what clients are written for (a null rollup read as "no checks").
    """
    world = _context(info).world
    runs: list[Any] = [run for suite in world.suites.get((pull.repo.id, pull.head_sha), []) for run in suite.runs]
    statuses = _latest_statuses(world.statuses.get((pull.repo.id, pull.head_sha), []))
    contexts: list[Any] = [*runs, *statuses]
    if not contexts:
        return None
    outcomes = [
        (run.conclusion if run.status == "completed" else "pending") if isinstance(run, CheckRun) else run.state
        for run in contexts
    ]
    # As the combined status (GitHub docs, "REST API endpoints for commit statuses"): failure when any
    # context failed or errored, pending when any is still running, success otherwise. When GitHub
    # reports the rollup's ERROR or EXPECTED is not documented, so neither is given here.
    if any(o in FAILED for o in outcomes):
        state = "FAILURE"
    elif "pending" in outcomes:
        state = "PENDING"
    else:
        state = "SUCCESS"
    return {"id": node_id("SCR", int(pull.head_sha[:12], 16)), "state": state, "contexts": contexts}


def _reviews(
    pull: PullRequest,
    info: GraphQLResolveInfo,
    author: str | None = None,
    states: list[str] | None = None,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    reviews: list[Review] = list(_context(info).world.reviews.get((pull.repo.id, pull.number), []))
    if author is not None:
        reviews = [r for r in reviews if r.user.login.lower() == author.lower()]
    if states:
        reviews = [r for r in reviews if r.state in states]
    return connection(reviews, first=first, last=last, after=after, before=before)


def _comments(pull: PullRequest, info: GraphQLResolveInfo, **_: Any) -> dict[str, Any]:
    return {"totalCount": len(_context(info).world.comments.get((pull.repo.id, pull.number), []))}


def _page(name: str) -> Callable[..., Any]:
    def resolve(source: dict[str, Any], info: GraphQLResolveInfo, **page: Any) -> dict[str, Any]:
        return connection(source[name], **{k: page.get(k) for k in ("first", "last", "after", "before")})

    return resolve


def _actor_url(account: Account, info: GraphQLResolveInfo, **_: Any) -> str:
    return f"{_context(info).world.base_url}/{account.login}"


def _pull_url(pull: PullRequest, info: GraphQLResolveInfo, **_: Any) -> str:
    return f"{_context(info).world.base_url}/{pull.repo.full_name}/pull/{pull.number}"


RESOLVERS: dict[str, dict[str, Callable[..., Any]]] = {
    "Query": {
        "node": query_node,
        "repository": query_repository,
        "rateLimit": query_rate_limit,
        "id": lambda *_, **__: QUERY_ID,
    },
    "Mutation": {
        "markPullRequestReadyForReview": _set_draft(False),
        "convertPullRequestToDraft": _set_draft(True),
        "enqueuePullRequest": _gate(_enqueue, "mergeQueueEntry"),
        "dequeuePullRequest": _gate(_dequeue, "mergeQueueEntry"),
        "enablePullRequestAutoMerge": _gate(_enable_auto_merge, "pullRequest"),
        "disablePullRequestAutoMerge": _gate(_disable_auto_merge, "pullRequest"),
        "resolveReviewThread": _resolve_thread(True),
        "unresolveReviewThread": _resolve_thread(False),
    },
    "Repository": {
        "id": lambda r, *_: r.node_id,
        "name": lambda r, *_: r.name,
        "nameWithOwner": lambda r, *_: r.full_name,
        "url": lambda r, info: f"{_context(info).world.base_url}/{r.full_name}",
        "pullRequest": repository_pull,
        "pullRequests": repository_pulls,
        "ref": repository_ref,
        "defaultBranchRef": repository_default_branch,
    },
    "Ref": {
        "id": lambda r, *_: node_id("REF", int(r.sha[:12], 16)),
        "name": lambda r, *_: r.name,
        "target": _ref_target,
    },
    "Commit": {
        "id": lambda c, *_: node_id("C", int(c.sha[:12], 16)),
        "oid": lambda c, *_: c.sha,
        "tree": lambda c, *_: GitTree(c.tree),
        "file": _commit_file,
    },
    "Tree": {"id": lambda t, *_: node_id("T", int(t.sha[:12], 16)), "oid": lambda t, *_: t.sha},
    "TreeEntry": _keys("oid", "object"),
    "Blob": {
        "id": lambda b, *_: node_id("B", int(b.sha[:12], 16)),
        "oid": lambda b, *_: b.sha,
        "isBinary": lambda b, *_: b.binary,
        "text": lambda b, *_: None if b.binary else b.data.decode("utf-8", "replace"),
    },
    "PullRequest": {
        "id": lambda p, *_: p.node_id,
        "number": lambda p, *_: p.number,
        "title": lambda p, *_: p.title,
        "state": lambda p, *_: _pull_state(p),
        "isDraft": lambda p, *_: p.draft,
        "merged": lambda p, *_: p.merged,
        "closed": lambda p, *_: p.state != "open",
        "headRefOid": lambda p, *_: p.head_sha,
        "headRefName": lambda p, *_: p.head_ref,
        "baseRefOid": lambda p, *_: p.base_sha,
        "baseRefName": lambda p, *_: p.base_ref,
        "createdAt": lambda p, *_: iso(p.created_at),
        "updatedAt": lambda p, *_: iso(p.updated_at),
        "url": _pull_url,
        "author": lambda p, *_: p.user,
        "repository": lambda p, *_: p.repo,
        "mergeable": lambda p, info: MERGEABLE[_pull_json(p, info)["mergeable"]],
        "mergeStateStatus": _merge_state_status,
        "reviewDecision": lambda p, info: _context(info).world.review_decision(p),
        "statusCheckRollup": _rollup,
        "reviews": _reviews,
        "comments": _comments,
        "reviewRequests": lambda p, *_, **__: {"totalCount": len(p.requested_reviewers)},
        "autoMergeRequest": _auto_merge_request,
        "isInMergeQueue": lambda p, info: _context(info).world.gating.entry_of(p) is not None,
        "mergeQueueEntry": lambda p, info: _context(info).world.gating.entry_of(p),
        "reviewThreads": _threads,
    },
    "MergeQueueEntry": {
        "id": lambda e, *_: node_id("MQE", e.id),
        "position": lambda e, info: _context(info).world.gating.position(e),
        "state": lambda e, *_: e.state,
        "enqueuedAt": lambda e, *_: iso(e.enqueued_at),
        "pullRequest": lambda e, *_: e.pull,
    },
    "AutoMergeRequest": _keys("enabledAt", "enabledBy", "mergeMethod", "pullRequest"),
    "EnqueuePullRequestPayload": _keys("clientMutationId", "mergeQueueEntry"),
    "DequeuePullRequestPayload": _keys("clientMutationId", "mergeQueueEntry"),
    "EnablePullRequestAutoMergePayload": _keys("clientMutationId", "pullRequest"),
    "DisablePullRequestAutoMergePayload": _keys("clientMutationId", "pullRequest"),
    "PullRequestReviewThreadConnection": _keys("nodes", "pageInfo", "totalCount"),
    "PullRequestReviewThread": {
        "id": lambda t, *_: t.node_id,
        "isResolved": lambda t, *_: t.resolved_by is not None,
        "path": lambda t, *_: t.comments[0].path,
        "line": lambda t, *_: t.comments[0].line,
        "resolvedBy": lambda t, *_: t.resolved_by,
        "comments": _thread_comments,
    },
    "PullRequestReviewCommentConnection": _keys("nodes", "pageInfo", "totalCount"),
    "PullRequestReviewComment": {
        "id": lambda c, *_: node_id("PRRC", c.id),
        "databaseId": lambda c, *_: c.id,
        "body": lambda c, *_: c.body,
        "author": lambda c, *_: c.user,
    },
    "ResolveReviewThreadPayload": _keys("clientMutationId", "thread"),
    "UnresolveReviewThreadPayload": _keys("clientMutationId", "thread"),
    "PullRequestConnection": _keys("nodes", "pageInfo", "totalCount"),
    "PullRequestReviewConnection": _keys("nodes", "pageInfo", "totalCount"),
    "StatusCheckRollupContextConnection": _keys("nodes", "pageInfo", "totalCount"),
    "PageInfo": _keys("startCursor", "endCursor", "hasNextPage", "hasPreviousPage"),
    "IssueCommentConnection": _keys("totalCount"),
    "ReviewRequestConnection": _keys("totalCount"),
    "RateLimit": _keys("cost", "limit", "nodeCount", "remaining", "resetAt", "used"),
    "MarkPullRequestReadyForReviewPayload": _keys("clientMutationId", "pullRequest"),
    "ConvertPullRequestToDraftPayload": _keys("clientMutationId", "pullRequest"),
    "StatusCheckRollup": {**_keys("id", "state"), "contexts": _page("contexts")},
    "CheckRun": {
        "id": lambda r, *_: node_id("CR", r.id),
        "name": lambda r, *_: r.name,
        "status": lambda r, *_: r.status.upper(),
        "conclusion": lambda r, *_: r.conclusion.upper() if r.conclusion else None,
        "detailsUrl": lambda r, *_: None,
    },
    "StatusContext": {
        "id": lambda s, *_: node_id("SC", s.id),
        "context": lambda s, *_: s.context,
        "state": lambda s, *_: s.state.upper(),
        "description": lambda s, *_: s.description,
        "targetUrl": lambda s, *_: s.target_url,
    },
    "PullRequestReview": {
        "id": lambda r, *_: node_id("PRR", r.id),
        "state": lambda r, *_: r.state,
        "author": lambda r, *_: r.user,
        "submittedAt": lambda r, *_: iso(r.submitted_at),
    },
    "User": {"id": lambda a, *_: a.node_id, "login": lambda a, *_: a.login, "url": _actor_url},
    "Bot": {"id": lambda a, *_: a.node_id, "login": lambda a, *_: a.login, "url": _actor_url},
}

TYPE_OF: dict[type, str] = {
    PullRequest: "PullRequest",
    Repo: "Repository",
    Review: "PullRequestReview",
    CheckRun: "CheckRun",
    CommitStatus: "StatusContext",
    QueueEntry: "MergeQueueEntry",
    ReviewThread: "PullRequestReviewThread",
    ReviewComment: "PullRequestReviewComment",
    GitCommit: "Commit",
    GitTree: "Tree",
    GitBlob: "Blob",
}


def _resolve_type(value: Any, *_: Any) -> str:
    if isinstance(value, Account):
        return "Bot" if value.type == "Bot" else "User"
    return TYPE_OF[type(value)]


def bind(schema: GraphQLSchema) -> GraphQLSchema:
    """Attach the resolvers; a field of the subset without one is an error at import, not at request."""
    missing: list[str] = []
    for type_name, graphql_type in schema.type_map.items():
        if type_name.startswith("__"):
            continue
        if isinstance(graphql_type, (GraphQLInterfaceType, GraphQLUnionType)):
            graphql_type.resolve_type = _resolve_type
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        resolvers = RESOLVERS.get(type_name, {})
        for name, definition in graphql_type.fields.items():
            if name in resolvers:
                definition.resolve = resolvers[name]
            else:
                missing.append(f"{type_name}.{name}")
    if missing:
        raise RuntimeError(f"GraphQL fields without a resolver: {', '.join(missing)}")
    return schema
