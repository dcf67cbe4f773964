"""Sending contracts to SQS queues and publishing decisions to SNS."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.contracts import RoutingDecision


class MessageQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self._sqs = sqs
        self.url = url

    def send(self, message: BaseModel) -> str:
        response = self._sqs.send_message(QueueUrl=self.url, MessageBody=message.model_dump_json())
        message_id: str = response["MessageId"]
        return message_id


class DecisionTopic:
    def __init__(self, sns: Any, arn: str) -> None:
        self._sns = sns
        self.arn = arn

    def publish(self, decision: RoutingDecision) -> str:
        attributes = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in decision.message_attributes().items()
        }
        response = self._sns.publish(
            TopicArn=self.arn, Message=decision.model_dump_json(), MessageAttributes=attributes
        )
        message_id: str = response["MessageId"]
        return message_id
