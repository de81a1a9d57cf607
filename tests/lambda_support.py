"""What tests of the Lambda handler share: the runtime's context object and reading a moto DLQ."""

from __future__ import annotations

from dataclasses import dataclass

import boto3


@dataclass
class LambdaContext:
    """The attributes the Lambda runtime's context object carries (no runtime runs here)."""

    function_name: str = "auditbridge-ingest"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:auditbridge-ingest"
    aws_request_id: str = "0c7e2a4b-request"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def parked(dlq_url: str, *, delete: bool = False) -> list[dict]:
    """Every message in the DLQ with its attributes; ``delete`` empties the queue as it reads."""
    sqs = boto3.client("sqs")
    messages: list[dict] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        if delete:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )


def attributes(message: dict) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}
