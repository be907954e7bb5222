"""Redis, where Switchboard's processes share state (REDIS_URL): the one client.

In production several web processes and Rasa instances serve the same customers,
so what one process remembers the others must see: one-time keys (web chat nonces,
reply forms), counted slots (open chat streams), sliding windows of attempts
(sign-in throttle) and "a chat message was stored" signals (live push). Each
operation is atomic (SET NX, or one Lua script), keys are named
`<REDIS_KEY_PREFIX>:<namespace>:<key>`, and every key expires.

When Redis is down these raise `SharedStateDown`; callers refuse what they cannot
check (a sign-in, a reply, a web chat message) rather than allow it unchecked.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import redis  # type: ignore[import-untyped]

# Seconds to connect and to wait for an answer: Redis answers in microseconds.
TIMEOUT = 2.0

# KEYS: the counted keys. ARGV: cutoff, score, member, ttl (ms), then one limit per
# key. Drops each key's entries scored at or below the cutoff; if a key has its
# limit, returns {index (1-based), its lowest score}, changing nothing; else adds
# the member under every key and returns {0}.
_ADMIT = """
local cutoff, score, member, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  if redis.call('ZCARD', key) >= tonumber(ARGV[4 + i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return {i, oldest[2]}
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, score, member)
  redis.call('PEXPIRE', key, ttl)
end
return {0}
"""


class SharedStateDown(Exception):
    """Redis could not be reached or answered with an error."""


@dataclass(frozen=True)
class Admitted:
    """Counted under every key, as `member` (to take back with `remove`)."""

    member: str


@dataclass(frozen=True)
class Full:
    """The key at `index` (0-based) had its limit; its oldest entry's score."""

    index: int
    oldest: float


@lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis:
    """This process's client (and connection pool) for `url`, built on first use."""
    return redis.Redis.from_url(
        url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
    )


class SharedState:
    """Atomic shared-state operations under one key prefix."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._admit = client.register_script(_ADMIT)

    @classmethod
    def from_url(cls, url: str, prefix: str) -> SharedState:
        return cls(redis_client(url), prefix)

    def key(self, namespace: str, name: str) -> str:
        return f"{self.prefix}:{namespace}:{name}"

    def ping(self) -> None:
        """Raises SharedStateDown unless Redis answers."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc

    def take(self, namespace: str, name: str, ttl: float) -> bool:
        """True the first time `name` is taken within `ttl` seconds (or given back)."""
        try:
            taken = self.client.set(
                self.key(namespace, name), b"1", nx=True, px=_ms(ttl)
            )
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc
        return bool(taken)

    def give_back(self, namespace: str, name: str) -> None:
        """Make `name` free to take again."""
        try:
            self.client.delete(self.key(namespace, name))
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc

    def admit(
        self,
        keys: Sequence[str],
        limits: Sequence[int],
        *,
        score: float,
        cutoff: float,
        ttl: float,
    ) -> Admitted | Full:
        """Count one entry (scored `score`) under every key, unless one is full.

        Entries scored at or below `cutoff` no longer count; each key expires `ttl`
        seconds after its last entry. Keys are given in `namespace:name` form.
        """
        member = secrets.token_hex(8)
        args = [cutoff, score, member, _ms(ttl), *limits]
        try:
            result = self._admit(keys=[f"{self.prefix}:{k}" for k in keys], args=args)
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc
        if int(result[0]) == 0:
            return Admitted(member)
        return Full(int(result[0]) - 1, float(result[1]))

    def remove(self, keys: Sequence[str], member: str) -> None:
        """Take back an entry counted by `admit`."""
        try:
            with self.client.pipeline() as pipe:
                for key in keys:
                    pipe.zrem(f"{self.prefix}:{key}", member)
                pipe.execute()
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc

    def forget(self, key: str) -> None:
        """Drop every entry counted under `key`."""
        try:
            self.client.delete(f"{self.prefix}:{key}")
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc

    def oldest(self, key: str, cutoff: float) -> tuple[int, float | None]:
        """How many entries under `key` score above `cutoff`, and the lowest score."""
        try:
            entries = self.client.zrangebyscore(
                f"{self.prefix}:{key}", f"({cutoff}", "+inf", withscores=True
            )
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc
        return len(entries), (float(entries[0][1]) if entries else None)

    def publish(self, namespace: str, name: str) -> None:
        """Signal `name` to every process listening on `namespace`."""
        try:
            self.client.publish(self.key(namespace, name), b"")
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc

    def subscribe(self, namespace: str) -> redis.client.PubSub:
        """A subscription to every signal on `namespace` (see `signalled`)."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe(self.key(namespace, "*"))
        except redis.RedisError as exc:
            pubsub.close()
            raise SharedStateDown(str(exc)) from exc
        return pubsub

    def signalled(self, pubsub: redis.client.PubSub, timeout: float) -> str | None:
        """The next name signalled on the subscription, or None after `timeout`."""
        try:
            message = pubsub.get_message(timeout=timeout)
        except redis.RedisError as exc:
            raise SharedStateDown(str(exc)) from exc
        if message is None or message.get("type") != "pmessage":
            return None
        channel = message["channel"]
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        return name.split(":", 2)[2]


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
