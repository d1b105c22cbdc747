"""The distributed engine: one DynamoDB table through boto3's low-level client."""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from carevault.errors import (
    CancelReason,
    CarevaultError,
    ConditionFailed,
    ConflictError,
    ItemTooLarge,
    StoreError,
    StoreNotInitialized,
    StoreUnavailable,
    Throttled,
    TransactionCanceled,
    ValidationError,
)
from carevault.store.base import Store
from carevault.store.dynamo_expr import Expr, dump_item, load_item, to_av
from carevault.store.dynamo_feed import read_feed
from carevault.store.types import (
    INDEXES,
    Action,
    ChangePage,
    ConditionCheck,
    Delete,
    Item,
    Key,
    Put,
    Query,
)
from carevault.store.validate import KEY_COLUMNS

_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
}
_UNAVAILABLE = {"InternalServerError", "ServiceUnavailable", "InternalFailure"}
_REASONS = {
    "ConditionalCheckFailed": CancelReason.CONDITION_FAILED,
    "TransactionConflict": CancelReason.CONFLICT,
}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class DynamoStore(Store):
    """Items in one DynamoDB table with GSI1..GSI5, streams and TTL on ``expires_at``."""

    engine = "dynamodb"

    def __init__(
        self,
        table: str,
        *,
        region: str = "us-east-1",
        endpoint: str | None = None,
        timeout: float = 10.0,
        max_attempts: int = 3,
    ) -> None:
        self.table = table
        self._stream_arn: str | None = None
        config = Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=timeout,
            read_timeout=timeout,
            max_pool_connections=32,
        )
        session = boto3.session.Session(region_name=region)
        key_id = secret = None
        if endpoint is not None and session.get_credentials() is None:
            # DynamoDB Local accepts any credentials; real endpoints use the normal chain.
            key_id = secret = "local"  # noqa: S105
        self._client = session.client(
            "dynamodb",
            endpoint_url=endpoint,
            config=config,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        self._streams = session.client(
            "dynamodbstreams",
            endpoint_url=endpoint,
            config=config,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )

    # -- reads ---------------------------------------------------------------------

    def _get(self, key: Key) -> Item | None:
        resp = self._client.get_item(TableName=self.table, Key=_key(*key), ConsistentRead=True)
        raw = resp.get("Item")
        return None if raw is None else load_item(raw)

    def _batch_get(self, keys: list[Key]) -> dict[Key, Item]:
        found: dict[Key, Item] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [_key(*k) for k in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            delay = 0.05
            while request:
                resp = self._client.batch_get_item(RequestItems=request)
                for raw in resp["Responses"].get(self.table, []):
                    item = load_item(raw)
                    found[(item["pk"], item["sk"])] = item
                request = resp.get("UnprocessedKeys") or {}
                if request:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
        return found

    def _query(self, q: Query, now: int) -> tuple[list[Item], bool]:
        ex = Expr()
        pk_name, sk_name = ("pk", "sk") if q.index is None else (f"{q.index}pk", f"{q.index}sk")
        args: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": ex.key_condition(pk_name, q.pk, sk_name, q.sk),
            "ScanIndexForward": q.forward,
        }
        alive = ex.alive(now)
        args["FilterExpression"] = (
            alive if q.filter is None else f"{alive} AND ({ex.condition(q.filter)})"
        )
        args.update(ex.kwargs())
        if q.index is None:
            args["ConsistentRead"] = True
        else:
            args["IndexName"] = q.index
        if q.after is not None:
            if q.index is None:
                args["ExclusiveStartKey"] = _key(q.pk, q.after[0])
            else:
                start = _key(q.after[1], q.after[2])
                start[pk_name] = to_av(q.pk)
                start[sk_name] = to_av(q.after[0])
                args["ExclusiveStartKey"] = start
        want, ask = q.limit + 1, q.limit + 1
        out: list[Item] = []
        while True:
            resp = self._client.query(Limit=ask, **args)
            out.extend(load_item(raw) for raw in resp["Items"])
            last = resp.get("LastEvaluatedKey")
            if len(out) >= want or last is None:
                break
            args["ExclusiveStartKey"] = last
            ask = min(1000, max(want - len(out), ask * 2))
        return out[: q.limit], len(out) > q.limit

    # -- writes --------------------------------------------------------------------

    def _write(self, actions: list[Action], now: int, single: bool) -> None:
        if single:
            self._write_one(actions[0], now)
            return
        items: Any = [self._transact_item(a, now) for a in actions]
        self._client.transact_write_items(TransactItems=items)

    def _write_one(self, action: Action, now: int) -> None:
        ((kind, body),) = self._transact_item(action, now).items()
        if kind == "Put":
            self._client.put_item(**body)
        else:
            self._client.delete_item(**body)

    def _transact_item(self, action: Action, now: int) -> dict[str, Any]:
        ex = Expr()
        body: dict[str, Any] = {"TableName": self.table}
        if isinstance(action, Put):
            body["Item"] = dump_item(action.item)
        else:
            body["Key"] = _key(action.pk, action.sk)
        if action.condition is not None:
            body["ConditionExpression"] = ex.write_condition(action.condition, now)
            body.update(ex.kwargs())
        kind = {Put: "Put", Delete: "Delete", ConditionCheck: "ConditionCheck"}[type(action)]
        return {kind: body}

    # -- feed, expiry, lifecycle -------------------------------------------------------

    def _changes(self, position: str | None, limit: int) -> ChangePage:
        if self._stream_arn is None:
            table = self._client.describe_table(TableName=self.table)["Table"]
            self._stream_arn = table.get("LatestStreamArn")
            if self._stream_arn is None:
                raise StoreNotInitialized("dynamodb: the table has no stream; create it first")
        return read_feed(self._streams, self._stream_arn, position, limit)

    def _purge(self, now: int) -> int:
        """DynamoDB's own TTL deletes expired items; reads already hide them."""
        return 0

    def _create_table(self) -> None:
        client = self._client
        try:
            client.create_table(
                TableName=self.table,
                AttributeDefinitions=[
                    {"AttributeName": name, "AttributeType": "S"} for name in KEY_COLUMNS
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": i,
                        "KeySchema": [
                            {"AttributeName": f"{i}pk", "KeyType": "HASH"},
                            {"AttributeName": f"{i}sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                    for i in INDEXES
                ],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                SSESpecification={"Enabled": True, "SSEType": "KMS"},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
        client.get_waiter("table_exists").wait(
            TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        ttl = client.describe_time_to_live(TableName=self.table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=self.table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
            )
        try:
            client.update_continuous_backups(
                TableName=self.table,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        except ClientError as exc:
            # DynamoDB Local has no backups; real DynamoDB enables point-in-time recovery.
            if exc.response["Error"]["Code"] != "UnknownOperationException":
                raise

    def _drop_table(self) -> None:
        self._stream_arn = None
        try:
            self._client.delete_table(TableName=self.table)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return
            raise
        self._client.get_waiter("table_not_exists").wait(
            TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )

    def _close(self) -> None:
        self._client.close()
        self._streams.close()

    def _translate(self, exc: Exception) -> CarevaultError | None:
        if isinstance(exc, ClientError):
            return _client_error(exc)
        if isinstance(exc, ConnectionError | HTTPClientError):
            return StoreUnavailable(f"dynamodb: the endpoint failed ({type(exc).__name__})")
        if isinstance(exc, BotoCoreError):
            return StoreError(f"dynamodb: the client failed ({type(exc).__name__})")
        return None


def _client_error(exc: ClientError) -> CarevaultError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "")
    if code == "ConditionalCheckFailedException":
        return ConditionFailed("the write's condition did not hold; nothing changed")
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        return TransactionCanceled(
            [
                None
                if r.get("Code") in (None, "None")
                else _REASONS.get(r["Code"], CancelReason.OTHER)
                for r in reasons
            ]
        )
    if code in ("TransactionConflictException", "TransactionInProgressException"):
        return ConflictError(f"dynamodb: a concurrent transaction won ({code})")
    if code == "ResourceNotFoundException":
        return StoreNotInitialized("dynamodb: the table does not exist; create it first")
    if code in _THROTTLED:
        return Throttled(f"dynamodb: throttled ({code})")
    if code in _UNAVAILABLE:
        return StoreUnavailable(f"dynamodb: the service failed ({code})")
    if code == "ValidationException":
        if "size has exceeded" in message:
            return ItemTooLarge("item", "DynamoDB measured the item over 400 KB")
        if "primary key values must be under" in message:
            return ValidationError("key", "DynamoDB refused the key size")
        return ValidationError("request", "DynamoDB refused the request as invalid")
    return StoreError(f"dynamodb: the request failed ({code or type(exc).__name__})")
