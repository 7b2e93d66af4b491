"""What GitHub requires before a PR merges into a branch: rulesets, classic protection, merge settings.

Three reads, merged into one ``BranchRules`` value:

* ``GET /repos/{owner}/{repo}/rules/branches/{branch}`` (GitHub docs, "Get rules
  for a branch"; needs only ``metadata: read``): every active ruleset rule
  for the branch, whatever level it is configured at. An empty list when
  none applies.
* ``GET /repos/{owner}/{repo}/branches/{branch}/protection`` (GitHub docs,
  "Get branch protection"): classic protection. It needs ``administration:
  read``, which ghapp does not ask for by default; when the installation
  does not grant it the read is skipped, and a 404 means "unprotected".
* ``GET /repos/{owner}/{repo}`` (GitHub docs, "Get a repository"): the merge
  methods the repository allows (``allow_merge_commit``,
  ``allow_squash_merge``, ``allow_rebase_merge``) and ``allow_update_branch``.
  A field GitHub leaves out counts as allowed; a refused method is then
  learnt from the refusal itself.

Reads are conditional (the ETag cache), and the merged value is kept in
Redis per repository and branch, shared by every workstream on that base.
A ``repository_ruleset`` or ``branch_protection_rule`` delivery forgets the
repository's entries; the entries' lifetime (``RULES_TTL_S``) bounds how
long a missed delivery goes unnoticed. The sweep does not force a read:
classic protection's "unprotected" is a 404, which no ETag makes free, and
an idle PR's sweep must cost no rate limit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from redis import Redis

from ghapp.github.branch_rules import ALL_METHODS, BranchRules, MergeMethod, RequiredCheck
from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.errors import Forbidden, NotFound, NotInstalled, ValidationFailed
from ghapp.github.tokens import Access

log = logging.getLogger(__name__)

RULES_PREFIX = "ghapp:rules:"
RULES_TTL_S = 6 * 3600  # as long as the ETag cache keeps the bodies these reads revalidate

__all__ = ["RulesReader", "forget_rules", "merge_rules", "rules_from_protection", "rules_from_ruleset"]


def _checks(items: Iterable[Any], id_key: str) -> list[RequiredCheck]:
    found = []
    for item in items or ():
        if isinstance(item, Mapping) and item.get("context"):
            app = item.get(id_key)
            found.append(RequiredCheck(context=str(item["context"]), app_id=int(app) if app is not None else None))
    return found


def rules_from_ruleset(items: Iterable[Mapping[str, Any]]) -> BranchRules:
    """The rules endpoint's answer as ``BranchRules`` (merge methods all allowed unless a rule narrows them)."""
    checks: list[RequiredCheck] = []
    reviews, code_owners, strict, stale, queue = 0, False, False, False, False
    methods: set[str] = set(ALL_METHODS)
    for rule in items:
        kind = rule.get("type")
        params = rule.get("parameters") or {}
        if kind == "required_status_checks":
            checks += _checks(params.get("required_status_checks") or (), "integration_id")
            strict = strict or bool(params.get("strict_required_status_checks_policy"))
        elif kind == "pull_request":
            reviews = max(reviews, int(params.get("required_approving_review_count") or 0))
            code_owners = code_owners or bool(params.get("require_code_owner_review"))
            stale = stale or bool(params.get("dismiss_stale_reviews_on_push"))
            if params.get("allowed_merge_methods"):
                methods &= set(params["allowed_merge_methods"])
        elif kind == "merge_queue":
            queue = True
        elif kind == "required_linear_history":
            methods.discard("merge")
    return BranchRules(
        required_checks=tuple(dict.fromkeys(checks)),
        required_reviews=reviews,
        code_owners=code_owners,
        strict=strict,
        dismiss_stale_reviews=stale,
        merge_queue=queue,
        allowed_methods=tuple(m for m in ALL_METHODS if m in methods),
    )


def rules_from_protection(data: Mapping[str, Any] | None) -> BranchRules:
    """Classic branch protection as ``BranchRules`` (``None``: the branch is unprotected)."""
    if not data:
        return BranchRules()
    status = data.get("required_status_checks") or {}
    checks = _checks(status.get("checks") or (), "app_id")
    named = {check.context for check in checks}
    checks += [RequiredCheck(str(c)) for c in status.get("contexts") or () if c not in named]
    reviews = data.get("required_pull_request_reviews") or {}
    linear = bool((data.get("required_linear_history") or {}).get("enabled"))
    return BranchRules(
        required_checks=tuple(checks),
        required_reviews=int(reviews.get("required_approving_review_count") or 0),
        code_owners=bool(reviews.get("require_code_owner_reviews")),
        strict=bool(status.get("strict")),
        dismiss_stale_reviews=bool(reviews.get("dismiss_stale_reviews")),
        allowed_methods=tuple(m for m in ALL_METHODS if not (linear and m == "merge")),
    )


def merge_rules(parts: Iterable[BranchRules], repository: Mapping[str, Any]) -> BranchRules:
    """Every source's requirements together (the strictest wins), with the repository's merge settings."""
    checks: list[RequiredCheck] = []
    allowed: set[str] = {
        method
        for method, setting in (("merge", "allow_merge_commit"), ("squash", "allow_squash_merge"),
                                ("rebase", "allow_rebase_merge"))
        if repository.get(setting, True) is not False
    }
    result = BranchRules()
    for part in parts:
        checks += [c for c in part.required_checks if c not in checks]
        allowed &= set(part.allowed_methods)
        result = BranchRules(
            required_reviews=max(result.required_reviews, part.required_reviews),
            code_owners=result.code_owners or part.code_owners,
            strict=result.strict or part.strict,
            dismiss_stale_reviews=result.dismiss_stale_reviews or part.dismiss_stale_reviews,
            merge_queue=result.merge_queue or part.merge_queue,
        )
    methods: tuple[MergeMethod, ...] = tuple(m for m in ALL_METHODS if m in allowed)
    return BranchRules(
        required_checks=tuple(checks),
        required_reviews=result.required_reviews,
        code_owners=result.code_owners,
        strict=result.strict,
        dismiss_stale_reviews=result.dismiss_stale_reviews,
        merge_queue=result.merge_queue,
        allowed_methods=methods,
        allow_update_branch=bool(repository.get("allow_update_branch", False)),
        allow_auto_merge=bool(repository.get("allow_auto_merge", False)),
    )


def _to_json(rules: BranchRules) -> str:
    return json.dumps(
        {
            "required_checks": [[c.context, c.app_id] for c in rules.required_checks],
            "required_reviews": rules.required_reviews,
            "code_owners": rules.code_owners,
            "strict": rules.strict,
            "dismiss_stale_reviews": rules.dismiss_stale_reviews,
            "merge_queue": rules.merge_queue,
            "allowed_methods": list(rules.allowed_methods),
            "allow_update_branch": rules.allow_update_branch,
            "allow_auto_merge": rules.allow_auto_merge,
        }
    )


def _from_json(raw: str | bytes) -> BranchRules:
    data = json.loads(raw)
    return BranchRules(
        required_checks=tuple(RequiredCheck(context, app_id) for context, app_id in data["required_checks"]),
        required_reviews=int(data["required_reviews"]),
        code_owners=bool(data["code_owners"]),
        strict=bool(data["strict"]),
        dismiss_stale_reviews=bool(data["dismiss_stale_reviews"]),
        merge_queue=bool(data["merge_queue"]),
        allowed_methods=tuple(data["allowed_methods"]),
        allow_update_branch=bool(data["allow_update_branch"]),
        allow_auto_merge=bool(data.get("allow_auto_merge", False)),
    )


def _key(repo: str) -> str:
    return RULES_PREFIX + repo.lower()


def forget_rules(redis: Redis, repo: str) -> None:
    """Drop what is cached about ``repo``'s rules (its rulesets or protection changed)."""
    redis.delete(_key(repo))


class RulesReader:
    """Reads and caches ``BranchRules`` through one ``GitHubClient``."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    def branch_rules(self, repo: str, branch: str, *, fresh: bool = False) -> BranchRules:
        """The rules for ``branch``: from the cache, or read (conditionally) when absent or ``fresh``."""
        redis: Redis = self.client.redis
        if not fresh:
            cached = redis.hget(_key(repo), branch)
            if cached is not None:
                return _from_json(cached)  # type: ignore[arg-type]
        rules = merge_rules(
            [rules_from_ruleset(self._ruleset(repo, branch)), rules_from_protection(self._protection(repo, branch))],
            self._repository(repo),
        )
        pipe = redis.pipeline(transaction=True)
        pipe.hset(_key(repo), branch, _to_json(rules))
        pipe.expire(_key(repo), RULES_TTL_S)
        pipe.execute()
        return rules

    def _get(self, repo: str, access: Access, path: str) -> Any:
        return self.client.request(repo, access, "GET", path, conditional=True).data

    def _ruleset(self, repo: str, branch: str) -> list[Mapping[str, Any]]:
        owner, name = split_repo(repo)
        try:
            path = f"/repos/{owner}/{name}/rules/branches/{quote(branch, safe='')}"
            data = self._get(repo, Access.METADATA_READ, path)
        except NotInstalled:
            raise
        except (NotFound, Forbidden) as exc:
            log.info("rules of %s:%s not readable (%s); taking none", repo, branch, exc.message)
            return []
        return [item for item in data or () if isinstance(item, Mapping)]

    def _protection(self, repo: str, branch: str) -> Mapping[str, Any] | None:
        owner, name = split_repo(repo)
        try:
            data = self._get(
                repo, Access.ADMINISTRATION_READ, f"/repos/{owner}/{name}/branches/{quote(branch, safe='')}/protection"
            )
        except NotInstalled:
            raise
        except NotFound:
            return None  # unprotected
        except (Forbidden, ValidationFailed) as exc:
            log.debug("classic protection of %s:%s not readable (%s)", repo, branch, exc.message)
            return None  # the installation does not grant administration: read
        return data if isinstance(data, Mapping) else None

    def _repository(self, repo: str) -> Mapping[str, Any]:
        owner, name = split_repo(repo)
        try:
            data = self._get(repo, Access.METADATA_READ, f"/repos/{owner}/{name}")
        except NotInstalled:
            raise
        except (NotFound, Forbidden):
            return {}
        return data if isinstance(data, Mapping) else {}
