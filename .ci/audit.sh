#!/usr/bin/env bash
# Audit the locked dependency versions for known vulnerabilities with pip-audit.
#
# What is audited: requirements.lock, the exact versions `make` installs (as pip constraints) for
# the runtime, dev and embedded extras; ghapp itself is not on PyPI and is not in the lock. The
# virtualenv is first checked against the lock, so what is audited is what the tests ran against.
# pip-audit reads the lock with --no-deps --disable-pip, so it audits exactly these pins and never
# resolves or installs anything.
#
# Where the vulnerability data comes from: PyPI's JSON API (`--vulnerability-service pypi`, the
# default), which is the registry CI reaches. OSV (`--vulnerability-service osv`, api.osv.dev) is
# the fallback when PyPI gives no answer; on a machine that reaches only package registries its
# host does not even resolve.
#
# Outcomes:
#   * a known vulnerability in any pinned package, not listed in IGNORED below: exit 1 (CI fails);
#   * no known vulnerability and every package audited: exit 0;
#   * the vulnerability database cannot be reached (no service answered for the packages, e.g. PyPI's
#     per-version JSON answers 404 for every package behind a registry-only proxy, or OSV does not
#     resolve): a loud warning and exit 0, because an unreachable database says nothing about the
#     code and must not block every submission; set AUDIT_REQUIRED=1 to make this a failure instead.
#     A partial answer (some packages audited, some not) is judged on what was audited, and the
#     packages that could not be audited are listed.
#
# Usage: bash .ci/audit.sh   (from anywhere; exits non-zero on findings)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PIP_AUDIT="$VENV/bin/pip-audit"
PYTHON="$VENV/bin/python"

# Vulnerabilities accepted on purpose, one `ID  reason` per line. Each needs a reason a reviewer can check.
IGNORED=(
  # "GHSA-xxxx-xxxx-xxxx  only affects the CLI's --foo option, which ghapp never calls"
)

if [ ! -x "$PIP_AUDIT" ]; then
  echo "audit: $PIP_AUDIT is missing; install the dev extras (make test does)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
LOCK="requirements.lock"
grep -v '^#' "$LOCK" | sed '/^$/d' > "$work/requirements.txt"
echo "audit: $(wc -l < "$work/requirements.txt") pinned packages from $LOCK"
"$PYTHON" -m pip freeze --exclude-editable --disable-pip-version-check > "$work/installed.txt"
drift="$(grep -vxF -f "$work/installed.txt" "$work/requirements.txt" || true)"
if [ -n "$drift" ]; then
  echo "audit: $VENV does not hold these locked versions (run make again, or make lock):" >&2
  echo "$drift" | sed 's/^/    /' >&2
  exit 1
fi

ignore_args=()
for entry in "${IGNORED[@]}"; do
  id="${entry%% *}"
  reason="${entry#* }"
  echo "audit: ignoring $id: $reason"
  ignore_args+=(--ignore-vuln "$id")
done

# Runs pip-audit against one service; writes its JSON report. pip-audit exits 1 on findings, which is
# judged below from the report, so its exit status is only used to tell a crash from a report.
run_service() {
  local service="$1"
  local report="$work/report-$service.json"
  if "$PIP_AUDIT" -r "$work/requirements.txt" --no-deps --disable-pip \
      --vulnerability-service "$service" --progress-spinner off --timeout 20 \
      --format json --output "$report" "${ignore_args[@]}" 2> "$work/stderr-$service.txt"; then
    :
  fi
  [ -s "$report" ] || echo '{"dependencies": [], "error": "pip-audit wrote no report"}' > "$report"
}

# Prints a summary; exit status 0 clean, 1 findings, 2 nothing could be audited.
judge() {
  "$PYTHON" - "$1" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
deps = report.get("dependencies", [])
audited = [d for d in deps if "skip_reason" not in d]
skipped = [d for d in deps if "skip_reason" in d]
findings = [(d, v) for d in audited for v in d.get("vulns", [])]
for dep, vuln in findings:
    fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
    aliases = ", ".join(vuln.get("aliases") or [])
    print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} ({aliases}) fixed in: {fixes}")
    description = (vuln.get("description") or "").strip().splitlines()
    if description:
        print(f"    {description[0][:200]}")
if not audited:
    print(f"audit: no package could be audited ({len(skipped)} skipped)")
    for dep in skipped[:3]:
        print(f"    e.g. {dep['name']}: {dep['skip_reason']}")
    sys.exit(2)
print(f"audit: {len(audited)} packages audited, {len(findings)} known vulnerabilities")
for dep in skipped:
    print(f"    not audited: {dep['name']}: {dep['skip_reason']}")
sys.exit(1 if findings else 0)
PY
}

for service in pypi osv; do
  echo "audit: asking the $service vulnerability service"
  run_service "$service"
  status=0
  judge "$work/report-$service.json" || status=$?
  if [ "$status" -ne 2 ]; then
    exit "$status"
  fi
  tail -n 3 "$work/stderr-$service.txt" | sed 's/^/    /' || true
done

echo "audit: WARNING: no vulnerability database could be reached (PyPI's JSON API and OSV both failed);" \
  "the dependencies were NOT audited" >&2
if [ "${AUDIT_REQUIRED:-0}" = "1" ]; then
  exit 1
fi
exit 0
