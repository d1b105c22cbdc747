"""The change feed on DynamoDB: the table's stream, read shard by shard from a saved position.

A position records, per shard, the last sequence number returned (or that the shard is
closed and drained), so a reader resumes exactly after what it has seen. Changes to one
item are in commit order (DynamoDB orders a key's records within its shard).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from carevault.errors import ValidationError
from carevault.store.dynamo_expr import load_item
from carevault.store.types import Change, ChangePage

DRAINED = "!"
EMPTY_READS = 2


def _decode(position: str | None) -> dict[str, str]:
    if position is None:
        return {}
    try:
        state = orjson.loads(base64.urlsafe_b64decode(position + "=" * (-len(position) % 4)))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        state = None
    if type(state) is not dict or not all(
        type(k) is str and type(v) is str for k, v in state.items()
    ):
        raise ValidationError("position", "must be a position from an earlier ChangePage")
    return state


def _encode(state: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode("ascii").rstrip("=")


def _shards(streams: Any, arn: str) -> list[dict[str, Any]]:
    shards: list[dict[str, Any]] = []
    args: dict[str, Any] = {"StreamArn": arn}
    while True:
        description = streams.describe_stream(**args)["StreamDescription"]
        shards.extend(description.get("Shards", []))
        last = description.get("LastEvaluatedShardId")
        if not last:
            break
        args["ExclusiveStartShardId"] = last
    return sorted(shards, key=lambda s: int(s["SequenceNumberRange"]["StartingSequenceNumber"]))


def _change(record: dict[str, Any]) -> Change:
    body = record["dynamodb"]
    keys = body["Keys"]
    old, new = body.get("OldImage"), body.get("NewImage")
    at = body.get("ApproximateCreationDateTime")
    return Change(
        keys["pk"]["S"],
        keys["sk"]["S"],
        None if old is None else load_item(old),
        None if new is None else load_item(new),
        at.timestamp() if at is not None else 0.0,
    )


def read_feed(streams: Any, arn: str, position: str | None, limit: int) -> ChangePage:
    """Up to ``limit`` changes after ``position``, and the position after them."""
    state = _decode(position)
    out: list[Change] = []
    for shard in _shards(streams, arn):
        shard_id = shard["ShardId"]
        mark = state.get(shard_id)
        if mark == DRAINED:
            continue
        if mark is None:
            start = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": mark}
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **start)[
            "ShardIterator"
        ]
        empty = 0
        while iterator and len(out) < limit and empty < EMPTY_READS:
            resp = streams.get_records(ShardIterator=iterator, Limit=limit - len(out))
            records = resp.get("Records", [])
            for record in records:
                out.append(_change(record))
                state[shard_id] = record["dynamodb"]["SequenceNumber"]
            empty = 0 if records else empty + 1
            iterator = resp.get("NextShardIterator")
        if not iterator:
            state[shard_id] = DRAINED
        if len(out) >= limit:
            break
    return ChangePage(out, _encode(state))
