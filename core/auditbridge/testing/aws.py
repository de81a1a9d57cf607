"""Real AWS APIs on loopback for tests: a moto server and the CloudTrail Data endpoint."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from auditbridge.endpoint import Channel, CloudTrailDataService, LocalEndpoint, MemoryStore

TEST_ACCOUNT = "123456789012"
TEST_REGION = "us-east-1"
TEST_CHANNEL_ARN = f"arn:aws:cloudtrail:{TEST_REGION}:{TEST_ACCOUNT}:channel/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
#: Services whose endpoint the moto server stands in for.
MOTO_SERVICES = (
    "SQS",
    "EVENTBRIDGE",
    "CLOUDFORMATION",
    "IAM",
    "S3",
    "CLOUDWATCH_LOGS",
    "CLOUDWATCH",
    "DYNAMODB",
    "LAMBDA",
    "STS",
    "SSM",
    "SECRETS_MANAGER",
    "FIREHOSE",
    "GLUE",
    "ATHENA",
    "SCHEDULER",
)


def fake_credentials() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_REGION": TEST_REGION,
    }


class MotoServer:
    """``moto.server.ThreadedMotoServer`` on a free loopback port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        request = urllib.request.Request(self.url + "/moto-api/reset", method="POST")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback URL we built
            pass

    def environment(self) -> dict[str, str]:
        env = fake_credentials()
        env.update({f"AWS_ENDPOINT_URL_{service}": self.url for service in MOTO_SERVICES})
        return env


@dataclass
class CloudTrailDataFixture:
    endpoint: LocalEndpoint
    channel_arn: str = TEST_CHANNEL_ARN

    @classmethod
    def start(cls, channel: Channel | None = None) -> CloudTrailDataFixture:
        channel = channel or Channel(TEST_CHANNEL_ARN)
        service = CloudTrailDataService([channel], MemoryStore())
        return cls(LocalEndpoint(service, control=True).start(), channel.arn)

    @staticmethod
    def credentials() -> dict[str, str]:
        return fake_credentials()

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def service(self) -> CloudTrailDataService:
        return self.endpoint.service

    @property
    def stored(self) -> MemoryStore:
        store = self.endpoint.service.store
        assert isinstance(store, MemoryStore)
        return store

    def stop(self) -> None:
        self.endpoint.stop()
