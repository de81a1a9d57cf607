from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from auditbridge import lambda_handler
from auditbridge.config import ChannelArn
from auditbridge.pipeline import Pipeline
from auditbridge.plugins import MapperRegistry, get_mapper_registry
from auditbridge.retry import RetryPolicy
from auditbridge.sinks.cloudtrail_lake import CloudTrailLakeSink
from auditbridge.testing.aws import CloudTrailDataFixture
from events import ACCOUNT


@pytest.fixture
def registry() -> MapperRegistry:
    """The installed mappers, found through entry points as in production."""
    return get_mapper_registry()


class NoSleepRetry(RetryPolicy):
    """Real backoff arithmetic, but the waits are recorded instead of slept."""

    def __init__(self, max_attempts: int = 4) -> None:
        self.slept: list[float] = []
        super().__init__(max_attempts=max_attempts, base_delay=0.1, max_delay=1.0, sleep=self.slept.append)


@pytest.fixture
def fast_retry() -> NoSleepRetry:
    return NoSleepRetry()


@pytest.fixture
def make_pipeline(
    registry: MapperRegistry, auditbridge_cloudtrail_data: CloudTrailDataFixture, fast_retry: NoSleepRetry
) -> Callable[..., Pipeline]:
    """Builds a pipeline sending to the loopback endpoint over real HTTP with boto3."""

    def build(*, sink: Any = None, external_id: str | None = None, **options: Any) -> Pipeline:
        channel = ChannelArn.parse(auditbridge_cloudtrail_data.channel_arn)
        options.setdefault("recipient_account_id", ACCOUNT)
        options.setdefault("channel_arn", channel.arn)
        options.setdefault("retry", fast_retry)
        options.setdefault("reserve_seconds", 0.0)
        return Pipeline(registry, sink or CloudTrailLakeSink(channel, external_id), **options)

    return build


@pytest.fixture
def dlq_url(auditbridge_aws) -> str:
    return boto3.client("sqs").create_queue(QueueName="auditbridge-dlq")["QueueUrl"]


@pytest.fixture
def lambda_env(monkeypatch, auditbridge_cloudtrail_data, auditbridge_aws, dlq_url):
    monkeypatch.setenv("AUDITBRIDGE_CHANNEL_ARN", auditbridge_cloudtrail_data.channel_arn)
    monkeypatch.setenv("AUDITBRIDGE_DLQ_URL", dlq_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL_DATA", auditbridge_cloudtrail_data.url)
    monkeypatch.delenv("AUDITBRIDGE_LOG_PAYLOADS", raising=False)
    lambda_handler.runtime.cache_clear()
    yield auditbridge_cloudtrail_data
    lambda_handler.runtime.cache_clear()
