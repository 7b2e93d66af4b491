"""The conversation on a pull request: inline review comments, their threads, and reactions.

GitHub docs sources for each behaviour:
- "REST API endpoints for pull request review comments": a comment is made on ``commit_id``, ``path``
  and ``line`` (``side`` LEFT or RIGHT, RIGHT by default; ``start_line``/``start_side`` for a range);
  a reply (``POST .../comments/{comment_id}/replies``, or ``in_reply_to`` on create) joins the
  thread of a top-level comment, and "replies to replies are not supported" (the reply goes to the
  top-level comment's thread). ``diff_hunk`` is the hunk of the pull request's diff that the line
  belongs to, up to that line.
- "Webhook events and payloads": ``pull_request_review_comment`` created, edited (``changes.body.from``)
  and deleted; ``pull_request_review_thread`` resolved and unresolved, with the thread's ``node_id``
  and its comments. A review submitted with ``comments`` sends ``pull_request_review`` ``submitted``
  (which does not list them) and a ``pull_request_review_comment`` ``created`` for each.
- "REST API endpoints for reactions": the same reaction by the same person answers 200 with the
  existing reaction, a new one 201; the eight contents are GitHub's.
- GraphQL ``resolveReviewThread``/``unresolveReviewThread`` take a ``threadId`` (the thread's node id).

The message for a line outside the diff is the one reported in cli/cli#5367 and
octokit/rest.js#1541 ("pull_request_review_thread.line must be part of the diff"); GitHub does not
document it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ghapp.testing import render
from ghapp.testing.errors import ApiError, missing_field, not_found, validation_failed
from ghapp.testing.models import Account, PullRequest, Repo, iso, node_id
from ghapp.testing.render import REACTIONS

if TYPE_CHECKING:
    from ghapp.testing.world import World

SIDES = ("LEFT", "RIGHT")


@dataclass
class Reaction:
    id: int
    user: Account
    content: str
    created_at: float


@dataclass
class ReviewThread:
    id: int
    pull: PullRequest
    comments: list[ReviewComment] = field(default_factory=list)
    resolved_by: Account | None = None

    @property
    def node_id(self) -> str:
        return node_id("PRRT", self.id)


@dataclass
class ReviewComment:
    id: int
    pull: PullRequest
    user: Account
    body: str
    path: str
    line: int
    side: str
    start_line: int | None
    start_side: str | None
    commit_id: str
    diff_hunk: str
    review_id: int
    thread: ReviewThread
    created_at: float
    updated_at: float
    in_reply_to: int | None = None
    reactions: list[Reaction] = field(default_factory=list)

    @property
    def position(self) -> int:
        """The line's place below the hunk header (GitHub docs: "the line index in the diff"). GitHub counts
        from the file's first hunk; the simulator counts within the comment's own hunk, exact for the first."""
        return max(1, len(self.diff_hunk.splitlines()) - 1)


def diff_hunk(old: str, new: str, line: int, side: str, path: str) -> str | None:
    """The hunk of ``old``→``new`` holding ``line`` of ``side``, cut after that line; None when outside the diff."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(3):
        a0, a1, b0, b1 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        lo, hi = (a0, a1) if side == "LEFT" else (b0, b1)
        if not lo < line <= hi:
            continue
        header = f"@@ -{a0 + 1},{a1 - a0} +{b0 + 1},{b1 - b0} @@"
        out = [header]
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows = [(" " + t, i1 + k + 1, j1 + k + 1) for k, t in enumerate(old_lines[i1:i2])]
            else:
                rows = [("-" + t, i1 + k + 1, None) for k, t in enumerate(old_lines[i1:i2])]
                rows += [("+" + t, None, j1 + k + 1) for k, t in enumerate(new_lines[j1:j2])]
            for text, old_no, new_no in rows:
                out.append(text)
                if (side == "LEFT" and old_no == line) or (side == "RIGHT" and new_no == line):
                    return "\n".join(out)
    return None


class Conversation:
    """Review comments, threads and reactions of every repository, changed through ``World``'s lock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.comments: dict[int, ReviewComment] = {}
        self.threads: dict[int, ReviewThread] = {}
        self.threads_by_node: dict[str, ReviewThread] = {}
        self.reactions: dict[tuple[str, int], list[Reaction]] = {}

    # ----- review comments ------------------------------------------------------------------------

    def of_pull(self, pull: PullRequest) -> list[ReviewComment]:
        return [c for c in self.comments.values() if c.pull is pull]

    def threads_of(self, pull: PullRequest) -> list[ReviewThread]:
        return [t for t in self.threads.values() if t.pull is pull]

    def require(self, repo: Repo, comment_id: int) -> ReviewComment:
        found = self.comments.get(int(comment_id))
        if found is None or found.pull.repo.id != repo.id:
            raise not_found()
        return found

    def create(
        self,
        pull: PullRequest,
        user: Account,
        spec: dict[str, Any],
        *,
        review_id: int | None = None,
        emit: bool = True,
    ) -> ReviewComment:
        """A new top-level comment (``path``, ``line``...) or, with ``in_reply_to``, a reply in its thread."""
        world = self.world
        with world.lock:
            body = spec.get("body")
            if not isinstance(body, str) or not body:
                raise missing_field("PullRequestReviewComment", "body")
            now = world.now()
            reply_to = spec.get("in_reply_to")
            if reply_to is not None:
                parent = self.require(pull.repo, int(reply_to))
                top = parent.thread.comments[0]  # replies to replies go to the thread's first comment
                comment = ReviewComment(
                    id=world.new_id(), pull=pull, user=user, body=body, path=top.path, line=top.line,
                    side=top.side, start_line=top.start_line, start_side=top.start_side,
                    commit_id=top.commit_id, diff_hunk=top.diff_hunk,
                    review_id=review_id or world.new_id(), thread=top.thread, created_at=now,
                    updated_at=now, in_reply_to=top.id,
                )  # fmt: skip
            else:
                comment = self._top_level(pull, user, body, spec, review_id, now)
            comment.thread.comments.append(comment)
            self.comments[comment.id] = comment
            pull.updated_at = now
            if emit:
                self.emit_comment("created", comment, user)
            return comment

    def locate(self, pull: PullRequest, spec: dict[str, Any]) -> dict[str, Any]:
        """Check where a top-level comment goes (stores nothing): its path, lines, sides, commit and hunk."""
        path, line = spec.get("path"), spec.get("line")
        if not isinstance(path, str) or not path:
            raise missing_field("PullRequestReviewComment", "path")
        if not isinstance(line, int) or isinstance(line, bool) or line < 1:
            raise missing_field("PullRequestReviewComment", "line")
        side = spec.get("side") or "RIGHT"
        start_line, start_side = spec.get("start_line"), spec.get("start_side")
        if side not in SIDES or (start_side is not None and start_side not in SIDES):
            raise validation_failed({"resource": "PullRequestReviewComment", "field": "side", "code": "invalid"})
        if start_line is not None and (not isinstance(start_line, int) or start_line >= line):
            raise validation_failed({"resource": "PullRequestReviewComment", "field": "start_line", "code": "invalid"})
        commit_id = spec.get("commit_id") or pull.head_sha
        repo = pull.repo
        if commit_id not in repo.commits:
            raise validation_failed({"resource": "PullRequestReviewComment", "field": "commit_id", "code": "invalid"})
        base = repo.git.merge_base(pull.base_sha, commit_id) or pull.base_sha
        old, new = repo.git.read(base, path), repo.git.read(commit_id, path)
        text_old = old[0].decode("utf-8", "replace") if old else ""
        text_new = new[0].decode("utf-8", "replace") if new else ""
        hunk = diff_hunk(text_old, text_new, line, side, path)
        if hunk is None:
            raise ApiError(
                422,
                "Unprocessable Entity",
                errors=["pull_request_review_thread.line must be part of the diff"],  # type: ignore[list-item]
            )
        return {
            "path": path,
            "line": line,
            "side": side,
            "start_line": start_line,
            "start_side": (start_side or side) if start_line is not None else None,
            "commit_id": commit_id,
            "diff_hunk": hunk,
        }

    def _top_level(
        self, pull: PullRequest, user: Account, body: str, spec: dict[str, Any], review_id: int | None, now: float
    ) -> ReviewComment:
        world = self.world
        where = self.locate(pull, spec)
        thread = ReviewThread(id=world.new_id(), pull=pull)
        self.threads[thread.id] = thread
        self.threads_by_node[thread.node_id] = thread
        return ReviewComment(
            id=world.new_id(),
            pull=pull,
            user=user,
            body=body,
            review_id=review_id or world.new_id(),
            thread=thread,
            created_at=now,
            updated_at=now,
            **where,
        )

    def edit(self, comment: ReviewComment, body: str | None, sender: Account) -> ReviewComment:
        with self.world.lock:
            if not body:
                raise missing_field("PullRequestReviewComment", "body")
            if comment.user.id != sender.id and sender.type == "Bot":
                raise ApiError(403, "Resource not accessible by integration")
            before = comment.body
            comment.body = str(body)
            comment.updated_at = self.world.now()
            self.emit_comment("edited", comment, sender, changes={"body": {"from": before}})
            return comment

    def delete(self, comment: ReviewComment, sender: Account) -> None:
        with self.world.lock:
            self.comments.pop(comment.id, None)
            comment.thread.comments.remove(comment)
            if not comment.thread.comments:
                self.threads.pop(comment.thread.id, None)
                self.threads_by_node.pop(comment.thread.node_id, None)
            self.emit_comment("deleted", comment, sender)

    def set_resolved(self, thread: ReviewThread, resolved: bool, sender: Account) -> ReviewThread:
        with self.world.lock:
            if (thread.resolved_by is not None) == resolved:
                return thread
            thread.resolved_by = sender if resolved else None
            payload = self._pull_payload(thread.pull, "resolved" if resolved else "unresolved", sender)
            payload["thread"] = {
                "node_id": thread.node_id,
                "comments": [self.render(c) for c in thread.comments],
            }
            self.world._emit_repo("pull_request_review_thread", thread.pull.repo, payload)
            return thread

    # ----- reactions ------------------------------------------------------------------------------

    def react(self, kind: str, subject_id: int, user: Account, content: str) -> tuple[Reaction, bool]:
        """Add ``content`` by ``user``; (the reaction, True when new). ``kind`` is "issue" or "pull"."""
        if content not in REACTIONS:
            raise validation_failed({"resource": "Reaction", "field": "content", "code": "invalid"})
        with self.world.lock:
            items = self.reactions.setdefault((kind, int(subject_id)), [])
            for item in items:
                if item.user.id == user.id and item.content == content:
                    return item, False
            item = Reaction(id=self.world.new_id(), user=user, content=content, created_at=self.world.now())
            items.append(item)
            return item, True

    def rollup(self, kind: str, subject_id: int, url: str) -> dict[str, Any]:
        """GitHub's reaction counts for one comment."""
        out = render.reactions(url)
        for item in self.reactions.get((kind, int(subject_id)), []):
            out[item.content] += 1
            out["total_count"] += 1
        return out

    # ----- rendering and webhooks -----------------------------------------------------------------

    def render(self, comment: ReviewComment) -> dict[str, Any]:
        """GitHub's ``pull-request-review-comment`` (REST and webhooks alike)."""
        base = self.world.base_url
        pull = comment.pull
        repo = pull.repo
        api = f"{base}/repos/{repo.full_name}/pulls"
        html = f"{base}/{repo.full_name}/pull/{pull.number}#discussion_r{comment.id}"
        out: dict[str, Any] = {
            "url": f"{api}/comments/{comment.id}",
            "pull_request_review_id": comment.review_id,
            "id": comment.id,
            "node_id": node_id("PRRC", comment.id),
            "diff_hunk": comment.diff_hunk,
            "path": comment.path,
            "position": comment.position,
            "original_position": comment.position,
            "commit_id": comment.commit_id,
            "original_commit_id": comment.commit_id,
            "user": render.user(base, comment.user),
            "body": comment.body,
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "html_url": html,
            "pull_request_url": f"{api}/{pull.number}",
            "author_association": render.association(repo, comment.user.login),
            "_links": {
                "self": {"href": f"{api}/comments/{comment.id}"},
                "html": {"href": html},
                "pull_request": {"href": f"{api}/{pull.number}"},
            },
            "start_line": comment.start_line,
            "original_start_line": comment.start_line,
            "start_side": comment.start_side,
            "line": comment.line,
            "original_line": comment.line,
            "side": comment.side,
            "subject_type": "line",
            "reactions": self.rollup("pull", comment.id, f"{api}/comments/{comment.id}/reactions"),
        }
        if comment.in_reply_to is not None:
            out["in_reply_to_id"] = comment.in_reply_to
        return out

    def _pull_payload(self, pull: PullRequest, action: str, sender: Account) -> dict[str, Any]:
        world = self.world
        return {
            "action": action,
            "pull_request": world.pull_json(pull, simple=True),
            "repository": render.repository(world.base_url, pull.repo, open_issues=len(world.open_pulls(pull.repo))),
            "sender": render.user(world.base_url, sender),
        }

    def emit_comment(self, action: str, comment: ReviewComment, sender: Account, **extra: Any) -> None:
        payload = self._pull_payload(comment.pull, action, sender)
        payload["comment"] = self.render(comment)
        payload.update(extra)
        self.world._emit_repo("pull_request_review_comment", comment.pull.repo, payload)
