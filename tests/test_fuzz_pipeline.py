"""Mutation fuzzing through the Lambda handler, the loopback PutAuditEvents endpoint and a moto DLQ.

For every batch: no exception escapes, every record is stored or parked with a reason (none is
handed back to SQS, since nothing transient happens here), pristine records are stored exactly
once, parked bodies are the originals, no record is an ``InternalError`` or ``MapperFailed``
(those are bugs), payloads stay out of logs, and no batch comes near hanging.

``make test`` sends a few hundred records; ``make fuzz`` sends 20,000 (``--fuzz-cases``).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import pytest
from auditbridge import lambda_handler
from auditbridge.mappers import entry_id_for
from fuzzing import CANARY, batch_of, describe, message_id, uuid_of
from lambda_support import LambdaContext, attributes, parked

BATCH = 10
#: A batch that takes this long is a hang, whatever the machine: the cases are tens of kB.
HANG_SECONDS = 60.0
BUG_CODES = {"InternalError", "MapperFailed"}


def test_no_record_is_lost_escapes_or_hangs(lambda_env, dlq_url, request, caplog):
    cases_wanted = request.config.getoption("--fuzz-cases")
    stored_ids: Counter[str] = Counter()
    pristine_ids: list[str] = []
    codes: Counter[str] = Counter()
    caplog.set_level(logging.INFO)
    for seed in range((cases_wanted + BATCH - 1) // BATCH):
        cases = batch_of(seed, BATCH)
        already = len(lambda_env.stored.events)
        started = time.monotonic()
        response = lambda_handler.handler({"Records": [case.record for case in cases]}, LambdaContext())
        elapsed = time.monotonic() - started
        assert elapsed < HANG_SECONDS, f"batch seed {seed} took {elapsed:.0f} s"
        assert response == {"batchItemFailures": []}, f"seed {seed}: records handed back to SQS: {response}"

        new_ids = [event.entry_id for event in lambda_env.stored.events[already:]]
        stored_ids.update(new_ids)
        parked_by_id = {attributes(m)["auditbridge.originalMessageId"]: m for m in parked(dlq_url, delete=True)}
        for index, case in enumerate(cases):
            where = f"seed {seed}, record {index}: {describe(case)}"
            mid = message_id(case, index)
            uuid = uuid_of(case)
            entry_id = entry_id_for(uuid) if uuid else None
            if mid in parked_by_id:
                reason = attributes(parked_by_id[mid])
                codes[reason["auditbridge.errorCode"]] += 1
                assert reason["auditbridge.errorCode"] not in BUG_CODES, f"{where}: {reason}"
                assert not case.pristine, f"{where}: a good record was parked: {reason}"
                body = case.record.get("body") if isinstance(case.record, dict) else None
                if isinstance(body, str) and body:
                    assert parked_by_id[mid]["Body"] == body, f"{where}: the parked body is not the original"
            else:
                assert entry_id in new_ids, f"{where}: neither stored nor parked"
                codes["sent"] += 1
            if case.pristine:
                pristine_ids.append(entry_id or "")

    assert all(stored_ids[entry_id] == 1 for entry_id in pristine_ids), "a good record was stored twice"
    assert codes["sent"] >= len(pristine_ids)
    logged = "\n".join(record.getMessage() + json.dumps(record.__dict__, default=str) for record in caplog.records)
    assert CANARY not in logged, "payload text reached the logs"
    # Keep the fuzzer honest: it must reach the stages it is meant to attack.
    assert codes["MalformedMessage"] and codes["InvalidTimestamp"], codes


@pytest.mark.parametrize("size", [300_000])
def test_large_poison_messages_are_parked_in_batches_that_fit(lambda_env, dlq_url, size):
    """Four 300 kB poison messages and a small one: SendMessageBatch takes 1 MiB in all."""
    from events import sqs_record

    records = [sqs_record("{" + "x" * size, f"big{i}") for i in range(4)] + [sqs_record("{", "small")]
    response = lambda_handler.handler({"Records": records}, LambdaContext())
    assert response == {"batchItemFailures": []}
    found = {attributes(m)["auditbridge.originalMessageId"]: m for m in parked(dlq_url, delete=True)}
    assert set(found) == {"big0", "big1", "big2", "big3", "small"}
    assert all(found[f"big{i}"]["Body"] == records[i]["body"] for i in range(4))
