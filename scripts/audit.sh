#!/usr/bin/env bash
# Dependency checks (SECURITY.md, "Dependency checks"):
#   1. cargo-deny on the main Rust workspace: licenses, bans and sources,
#      as configured in deny.toml. Installed once if missing.
#   2. npm audit on the UI's packages (ui/package-lock.json): fails on a
#      high or critical advisory.
# The RustSec advisory check (`cargo deny check advisories`) is not run:
# it clones the advisory database from GitHub, which build machines without
# general internet access cannot reach. Run it where the network allows.
#
# npm audit asks the registry's advisory endpoint. When that endpoint cannot
# be reached (no network, or a registry mirror that does not serve it), the
# audit did not happen: this script says so plainly and does not fail for
# that alone. Set OUTPOST_AUDIT_STRICT=1 (CI with internet access) to make
# an unreachable endpoint an error too.
#
# Exit status: 0 when every check that ran passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
strict="${OUTPOST_AUDIT_STRICT:-0}"
failed=0

# --- 1. cargo-deny -----------------------------------------------------------

if ! cargo deny --version >/dev/null 2>&1; then
  echo "== installing cargo-deny (first run only; it compiles for several minutes)"
  cargo install cargo-deny --locked
fi
echo "== $(cargo deny --version)"

echo "== cargo deny --locked --workspace --all-features check licenses bans sources"
# --workspace: the root Cargo.toml is both the workspace and the app
#   package, so without it cargo-deny checks only the app's graph and skips
#   the crates the app does not depend on (server, CLI, simulation).
# --locked: check the graph Cargo.lock pins, and never rewrite the lock.
# --hide-inclusion-graph: the dozens of duplicate-version warnings would
#   otherwise print thousands of lines of dependency trees; run the command
#   without it to see which crates pull a reported one in.
if cargo deny --locked --workspace --all-features check --hide-inclusion-graph licenses bans sources; then
  deny_result="passed"
else
  deny_result="FAILED (see the errors above)"
  failed=1
fi

# --- 2. npm audit ------------------------------------------------------------

echo "== npm audit --prefix ui --audit-level=high"
# --offline=false: an offline npm "audits" nothing and reports zero findings,
# which would read as a pass.
npm_rc=0
report=$(npm audit --prefix ui --audit-level=high --offline=false --json 2>/dev/null) || npm_rc=$?

# Read npm's JSON: either an audit report (auditReportVersion, counts per
# severity) or an error object. Prints one line:
#   report <critical> <high> <moderate> <low> <info>
#   unreachable <reason>      the advisory endpoint did not answer a report
#   error <reason>            anything else (no lock file, bad JSON, ...)
# followed, for a report with high or critical findings, by one line each.
verdict=$(node -e '
  let text = "";
  process.stdin.on("data", (d) => (text += d));
  process.stdin.on("end", () => {
    let j;
    try { j = JSON.parse(text); } catch { console.log("error npm printed no JSON report"); return; }
    const v = j && j.metadata && j.metadata.vulnerabilities;
    if (j && j.auditReportVersion && v) {
      console.log(["report", v.critical, v.high, v.moderate, v.low, v.info].map(String).join(" "));
      for (const [name, x] of Object.entries(j.vulnerabilities || {})) {
        if (x.severity === "high" || x.severity === "critical") {
          const fix = x.fixAvailable ? "fix available (npm audit fix)" : "no fix yet";
          console.log(`  ${x.severity}: ${name} ${x.range || ""} (${fix})`);
        }
      }
      return;
    }
    const e = (j && j.error) || {};
    const code = String(e.code || j.code || "");
    const said = String(e.summary || j.message || "").split("\n")[0];
    // An HTTP status from the advisory endpoint (it refused or does not
    // exist here), or a network-level failure: the audit could not run.
    const network = /^(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ESOCKETTIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENETDOWN|EPROTO|ECONNABORTED|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)$/;
    if (typeof j.statusCode === "number") {
      console.log(`unreachable the advisory endpoint answered HTTP ${j.statusCode} instead of a report`);
    } else if (network.test(code)) {
      console.log(`unreachable ${code}: ${said}`);
    } else {
      console.log(`error ${code || "unknown"}: ${said || "npm audit failed without a report"}`);
    }
  });
' <<<"$report")

read -r kind rest <<<"$(head -n 1 <<<"$verdict")"
case "$kind" in
  report)
    read -r critical high moderate low info <<<"$rest"
    counts="$critical critical, $high high, $moderate moderate, $low low, $info info"
    if (( critical + high > 0 )); then
      echo "npm audit: $counts"
      tail -n +2 <<<"$verdict"
      npm_result="FAILED: $counts"
      failed=1
    elif (( npm_rc != 0 )); then
      npm_result="FAILED: npm audit exited $npm_rc although it reported no high or critical advisory"
      failed=1
    else
      npm_result="passed ($counts)"
    fi
    ;;
  unreachable)
    echo "npm audit: NOT RUN: the npm advisory endpoint could not be reached ($rest)."
    echo "npm audit: this is not a pass; run scripts/audit.sh where the registry's audit endpoint is reachable."
    if [[ "$strict" == 1 ]]; then
      npm_result="FAILED: not run, advisory endpoint unreachable (OUTPOST_AUDIT_STRICT=1)"
      failed=1
    else
      npm_result="NOT RUN: advisory endpoint unreachable ($rest)"
    fi
    ;;
  *)
    npm_result="FAILED: ${rest:-could not read the output of npm audit}"
    failed=1
    ;;
esac

# --- Summary -----------------------------------------------------------------

echo
echo "== audit summary"
echo "cargo deny (licenses, bans, sources): $deny_result"
echo "cargo deny (advisories):              not run here: the RustSec database is fetched from GitHub (cargo deny check advisories)"
echo "npm audit (ui, high and critical):    $npm_result"
exit "$failed"
