"""The OpenAPI document tells the truth: schemathesis, every check on, against the real API.

Each operation gets about 30 generated requests, valid and invalid, through every phase
(boundary coverage, fuzzing, stateful sequences); any response that contradicts the document
fails the test with schemathesis's own report: an undocumented status or body, a
schema-valid request refused, an invalid one accepted, a 405 without `Allow`, an operation
that does not enforce its key. The seed is fixed and generation deterministic, so a failure
reproduces.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import uuid

import httpx
import pytest

from tests.conftest import new_tenant

# The API process is started with the session's environment once the first test needs it,
# which is after collection: set here, this is in it. The run sends its requests as from a
# forwarded address of its own, so the key probes it makes (no key, a wrong key) count
# against that address in the failed-key throttle, not against 127.0.0.1's other tests.
FUZZER_ADDRESS = "192.0.2.50"

SEED = 20260501
EXAMPLES_PER_OPERATION = 30
RUN_TIMEOUT_S = 240

# 413 is a refusal like any other: the body limit counts bytes, which no JSON Schema keyword
# can, so a large generated body meets it on either side of the schema.
CONFIG = textwrap.dedent(
    """
    [checks.negative_data_rejection]
    expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415",
                         "422", "428", "429", "5xx"]
    [checks.positive_data_acceptance]
    expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]

    # Image and audio content is base64 of a real file (an item's content, a hash-bank
    # image, an OpenAI image part's data: URL): no JSON Schema keyword can say "a PNG that
    # decodes", so a schema-valid one may be refused 422 (the message names what is wrong).
    [[operations]]
    include-path-regex = "^/(api/v1/(moderate|hash-bank)|v1/moderations)"
    checks.positive_data_acceptance.expected-statuses = [
        "2xx", "3xx", "401", "403", "404", "409", "413", "422", "429", "5xx"]
    """
)


@pytest.fixture(scope="module")
async def fuzz_tenant(pool) -> dict:
    """A tenant of its own: the run rewrites its policy and LLM settings and spends its
    rate-limit bucket."""
    return await new_tenant(pool, f"fuzz-{uuid.uuid4().hex[:8]}")


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_the_api_does_what_its_document_says(running, fuzz_tenant, tmp_path):
    headers = {"Authorization": f"Bearer {fuzz_tenant['key']}", "X-Forwarded-For": FUZZER_ADDRESS}
    # The first scoring request loads the text model (seconds): not a response time to judge.
    warm = httpx.post(
        f"{running.api_url}/v1/moderations", json={"input": ""}, headers=headers, timeout=120
    )
    assert warm.status_code == 200, warm.text

    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        sys.executable,
        "-c",
        "from schemathesis.cli import schemathesis; schemathesis()",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{running.api_url}/openapi.json",
        "--checks=all",
        # Speed is judged in bench/, not by a clock in a test on a shared two-core box: the
        # response-time check (10 s by default) only catches what --request-timeout would.
        "--max-response-time=30",
        f"--max-examples={EXAMPLES_PER_OPERATION}",
        f"--seed={SEED}",
        "--generation-deterministic",  # and so no example database
        # One worker: the machine has two cores, and the order of requests stays the same.
        "--workers=1",
        # `?wait=true` may wait GOVA_WAIT_TIMEOUT_S for a verdict.
        "--request-timeout=30",
        *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
    ]
    try:
        run = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        pytest.fail(f"schemathesis did not finish in {RUN_TIMEOUT_S}s:\n{partial[-20_000:]}")
    report = run.stdout + run.stderr
    assert run.returncode == 0, _shortened(report)
    # Every operation was tested: a document with none, or one it could not read, passes too.
    selected, tested = (
        re.search(r"Selected: (\d+)/(\d+)", report),
        re.search(r"Tested: (\d+)", report),
    )
    assert selected and tested, report[-5_000:]
    assert int(tested[1]) == int(selected[2]) > 0, report[-5_000:]


def _shortened(report: str, head: int = 25_000, tail: int = 5_000) -> str:
    """The failures (first) and the summary (last): a generated body can run to megabytes."""
    if len(report) <= head + tail:
        return report
    return f"{report[:head]}\n[… {len(report) - head - tail} characters …]\n{report[-tail:]}"
