"""Reading the broker's state back at start, within its bounds and its policy.

:func:`restore` loads a :class:`~mainflux.adapters.mqtt.persistence.StateStore` into a
broker before its listeners open:

- sessions whose expiry passed while the broker was down are dropped; one that was live
  when the broker stopped is away from now on; ``max_sessions``,
  ``max_sessions_per_thing``, ``max_subscriptions``, the per-session queue bounds and
  the retained bounds apply as if the state had arrived over the network (what does
  not fit is deleted from the store, and counted);
- a row that cannot be read (a corrupt message, an invalid filter, QoS or options) is
  logged, deleted and skipped: it never stops the broker;
- every restored subscription is put to the policy again, as the thing's rights may have
  changed while the broker was down: one refused is deleted (with the queued messages
  no other subscription of the session matches); one the policy cannot answer yet (the
  things service is unreachable, or has not answered within :data:`CHECK_DEADLINE`) is
  *held* — it delivers nothing, and the session's queued messages are set aside, even
  if its client comes back — and asked again every few seconds until the policy
  answers.

Only then does the broker record changes in the journal."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Final

from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.codec_common import MAX_REMAINING_LENGTH
from mainflux.adapters.mqtt.connection import TRIES
from mainflux.adapters.mqtt.journal import Journal
from mainflux.adapters.mqtt.persistence import (
    BadRecord,
    Dequeue,
    DropSession,
    Retain,
    StateStore,
    Unsubscribe,
    decode_message,
)
from mainflux.adapters.mqtt.session import Session
from mainflux.adapters.mqtt.topics import matches, valid_filter

log = logging.getLogger("mainflux.mqtt")

Queued = tuple[Publish, int, bool, int]  # message, QoS, retain, its number in the store

RECHECK_INTERVAL: Final = 5.0  # seconds between askings about held subscriptions
CHECK_DEADLINE: Final = 10.0  # seconds start-up waits for verdicts; the rest are held
_CONCURRENT_CHECKS: Final = 64


@dataclass
class Restored:
    """What :func:`restore` read back, and what it left out."""

    sessions: int = 0
    subscriptions: int = 0
    queued: int = 0
    retained: int = 0
    held: int = 0  # subscriptions waiting for the policy
    refused: int = 0  # subscriptions the policy refused
    over_bounds: int = 0  # sessions, subscriptions and messages beyond a bound
    unreadable: int = 0  # rows that could not be read


async def restore(broker: Broker, store: StateStore, journal: Journal) -> Restored:
    """Load ``store`` into ``broker`` (see the module doc), then let ``broker`` record
    its changes in ``journal``. Raises what the store raises when it is unreachable."""
    state = await store.load()
    done = Restored()
    now = time.time()
    limits = broker.limits
    to_check: list[tuple[Session, str, int, int]] = []
    adopted: list[Session] = []
    highest = 0
    for stored in state.sessions:
        owner, client_id = stored.owner, stored.client_id
        highest = max([highest, *(seq for seq, _ in stored.queued)])
        remaining: float | None = None
        if stored.expiry is not None:
            remaining = float(stored.expiry)
            if stored.expires_at is not None:
                remaining = stored.expires_at - now
        if remaining is not None and not remaining > 0:  # passed, or NaN (not a time)
            journal.record(DropSession(owner, client_id))
            continue
        session = broker.adopt(owner, client_id, stored.expiry, remaining)
        if session is None:
            done.over_bounds += 1
            journal.record(DropSession(owner, client_id))
            continue
        done.sessions += 1
        adopted.append(session)
        for seq, record in stored.queued:
            try:
                message, qos, retain = decode_message(record)
            except BadRecord as exc:
                log.warning(
                    "mqtt: stored message %d of %s unreadable (%s); deleted", seq, client_id, exc
                )
                done.unreadable += 1
                journal.record(Dequeue(owner, client_id, seq))
                continue
            if qos and session.restore(message, qos, retain, seq):
                done.queued += 1
            else:
                done.over_bounds += 1
                journal.record(Dequeue(owner, client_id, seq))
        room = limits.max_subscriptions
        for topic_filter, (qos, options) in stored.subscriptions.items():
            if not valid_filter(topic_filter) or qos not in (0, 1, 2) or not _valid(options):
                log.warning(
                    "mqtt: stored subscription %r of %s unreadable; deleted",
                    topic_filter,
                    client_id,
                )
                done.unreadable += 1
                journal.record(Unsubscribe(owner, client_id, topic_filter))
            elif room <= 0:
                done.over_bounds += 1
                journal.record(Unsubscribe(owner, client_id, topic_filter))
            else:
                room -= 1
                to_check.append((session, topic_filter, qos, options))
    journal.start_after(highest)
    questions = [(s.owner, f) for s, f, _, _ in to_check]
    for _ in range(TRIES):
        epoch = broker.epoch
        verdicts = await _ask_all(broker, questions)
        if broker.epoch == epoch:
            break  # no revocation came while asking: the answers hold
    else:  # revocations kept coming: a "yes" cannot be trusted yet
        verdicts = [None if v is True else v for v in verdicts]
    # a session whose thing was removed while the policy was asked is gone
    gone = {s for s in adopted if broker.session(s.owner, s.client_id) is not s}
    for (session, topic_filter, qos, options), verdict in zip(to_check, verdicts, strict=True):
        if session in gone:
            continue
        if verdict is True:
            broker.subscribe(session, topic_filter, qos, options | 0x20)  # no retained again
            done.subscriptions += 1
        elif verdict is None:
            broker.held.setdefault(session, {})[topic_filter] = (qos, options)
            done.held += 1
        else:
            done.refused += 1
            journal.record(Unsubscribe(str(session.owner), session.client_id, topic_filter))
    for session in gone:
        journal.record(DropSession(str(session.owner), session.client_id))
    aside: dict[Session, list[Queued]] = {}
    for owned in broker.sessions.values():
        for session in owned.values():
            session.journal = journal
            _forget_unmatched(broker, session)
            if session in broker.held and session.pending:
                aside[session] = list(session.pending)  # not delivered before the verdict
                session.pending = None
                session.queued_bytes = 0
    for topic, record in state.retained:
        try:
            message, _, _ = decode_message(record)
        except BadRecord as exc:
            log.warning("mqtt: stored retained message of %r unreadable (%s); deleted", topic, exc)
            done.unreadable += 1
            journal.record(Retain(topic, None))
            continue
        if message.topic == topic and broker.retained.put(message):
            done.retained += 1
        else:
            done.over_bounds += 1
            journal.record(Retain(topic, None))
    broker.keep_state(journal)
    if broker.held:
        broker.spawn(_recheck_held(broker, aside))
    return done


def _valid(options: int) -> bool:
    """Whether stored subscription options are ones a SUBSCRIBE can give (option bits,
    and a subscription identifier of at most 268,435,455 from bit 8)."""
    return options >= 0 and options >> 8 <= MAX_REMAINING_LENGTH


def _forget_unmatched(broker: Broker, session: Session) -> None:
    """Drop queued messages that no subscription (active or held) of ``session`` matches."""
    filters = [*session.subscriptions, *broker.held.get(session, ())]
    session.forget(lambda topic: not any(matches(f, topic) for f in filters))


async def _ask_all(broker: Broker, questions: list[tuple[Any, str]]) -> list[bool | None]:
    """The policy's verdict on each ``(owner, filter)``, a few at a time; ``None`` for
    those not answered within :data:`CHECK_DEADLINE` (a things service that does not
    answer must not keep the listeners closed: they are held and asked again later)."""
    gate = asyncio.Semaphore(_CONCURRENT_CHECKS)

    async def ask(owner: Any, topic_filter: str) -> bool | None:
        async with gate:
            return await verdict(broker, owner, topic_filter)

    tasks = [asyncio.ensure_future(ask(o, f)) for o, f in questions]
    if tasks:
        await asyncio.wait(tasks, timeout=CHECK_DEADLINE)
    verdicts: list[bool | None] = []
    for task in tasks:
        if task.done():
            verdicts.append(task.result())
        else:
            task.cancel()
            verdicts.append(None)
    return verdicts


async def verdict(broker: Broker, owner: Any, topic_filter: str) -> bool | None:
    """Whether ``owner`` may still subscribe to ``topic_filter``; ``None`` when the
    policy cannot tell now (a policy with ``recheck`` says so; others always answer)."""
    policy = broker.policy
    recheck = getattr(policy, "recheck", None)
    try:
        if recheck is not None:
            answer: bool | None = await recheck(owner, topic_filter)
            return answer
        decided = policy.authorize_subscribe(owner, topic_filter)
        if isinstance(decided, bool):
            return decided
        return bool(await _awaited(decided))
    except Exception as exc:  # a failing policy cannot say the right was taken away
        log.warning("mqtt: checking a restored subscription of %s failed: %s", owner, exc)
        return None


async def _awaited(answer: Awaitable[bool]) -> bool:
    return await answer


async def _recheck_held(broker: Broker, aside: dict[Session, list[Queued]]) -> None:
    """Ask the policy about held subscriptions until none is left; once a session has
    none left, its queued messages still matched by a subscription go back in front of
    its queue (those of refused subscriptions are deleted)."""
    while broker.held:
        await asyncio.sleep(RECHECK_INTERVAL)
        for session, held in list(broker.held.items()):
            for topic_filter, (qos, options) in list(held.items()):
                epoch = broker.epoch
                answer = await verdict(broker, session.owner, topic_filter)
                if answer is None or broker.epoch != epoch or broker.held.get(session) is not held:
                    continue  # no answer, or one a revocation may have made stale
                if topic_filter not in held:
                    continue  # unsubscribed meanwhile
                if answer:  # out of held, as a subscription already stored
                    broker.subscribe(session, topic_filter, qos, options | 0x20)
                else:
                    del held[topic_filter]
                    if session.journal is not None:
                        session.journal.unsubscribe(session.owner, session.client_id, topic_filter)
            if not held and broker.held.get(session) is held:
                del broker.held[session]
        for session in [s for s in aside if s not in broker.held]:
            _give_back(broker, session, aside.pop(session))
    log.info("mqtt: every restored subscription has been checked again")


def _give_back(broker: Broker, session: Session, queued: list[Queued]) -> None:
    """Queue again, ahead of what came since, the messages set aside for ``session``."""
    if broker.session(session.owner, session.client_id) is not session:
        return  # discarded meanwhile, with its stored messages
    later = list(session.pending or ())
    session.pending = None
    session.queued_bytes = 0
    filters = list(session.subscriptions)
    for message, qos, retain, ref in queued + later:
        wanted = any(matches(f, message.topic) for f in filters)
        if not (wanted and session.restore(message, qos, retain, ref)):
            session.done(ref)
    session.drain()
