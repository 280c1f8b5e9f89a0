"""What keeping the MQTT broker's state costs: QoS 1 to an absent persistent session.

A standalone broker runs in this process with each state store in turn (``none``: the
broker keeps nothing; ``sqlite``: a file, as the all-in-one by default; ``redis`` with
``--redis-url``; ``postgres`` with ``--postgres-url``). A device subscribes with clean
session 0 at QoS 1 and leaves; ``--publishers`` connections then publish
``--messages`` QoS 1 messages in all, each keeping ``--window`` unacknowledged; every
PUBACK means the message is stored (see docs/mqtt.md, "State across restarts"). The
device comes back and must receive every one of them. Printed per store: messages per
second acknowledged, CPU per message of this process (broker and clients; the store's
own server excluded), and whether the device got them all. A QoS 0 publish, or one to
clean sessions only, never reaches the store: ``--only-qos0`` shows that it costs the
same with every store.

    .venv/bin/python benchmarks/mqtt_state_bench.py [--messages 20000] \\
        [--redis-url redis://localhost:6379/0] [--postgres-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from mainflux.adapters.mqtt import codec
from mainflux.adapters.mqtt.adapter import build_standalone
from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.adapters.mqtt.settings import MqttSettings
from mainflux.adapters.mqtt.state import open_state

PAYLOAD = b"x" * 100


class Peer:
    """A raw MQTT 3.1.1 client on asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = codec.Decoder()
        self.packets: list[codec.Packet] = []

    @classmethod
    async def connect(cls, port: int, client_id: str, clean: bool = True) -> Peer:
        peer = cls(*await asyncio.open_connection("127.0.0.1", port))
        peer.writer.write(codec.encode_connect(codec.Connect(client_id, clean_session=clean)))
        assert (await peer.next()).kind == codec.CONNACK
        return peer

    async def next(self) -> codec.Packet:
        while not self.packets:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("closed by the broker")
            self.packets += self.decoder.feed(data)
        return self.packets.pop(0)

    def close(self) -> None:
        self.writer.write(codec.DISCONNECT_BYTES)
        self.writer.close()


async def publish(port: int, count: int, window: int, qos: int) -> None:
    """Publish ``count`` messages, at most ``window`` unacknowledged (QoS 0: all at once)."""
    peer = await Peer.connect(port, f"pub-{uuid.uuid4().hex[:8]}")
    if qos == 0:
        peer.writer.write(codec.encode_publish("bench/m", PAYLOAD) * count)
        peer.writer.write(codec.PINGREQ_BYTES)  # its PINGRESP: everything before was read
        while (await peer.next()).kind != codec.PINGRESP:
            pass
        peer.close()
        return
    sent = acked = 0
    while acked < count:
        while sent < count and sent - acked < window:
            sent += 1
            peer.writer.write(codec.encode_publish("bench/m", PAYLOAD, 1, sent % 65535 + 1))
        packet = await peer.next()
        if packet.kind == codec.PUBACK:
            acked += 1
    peer.close()


async def one_store(name: str, url: str, args: argparse.Namespace) -> None:
    state = await open_state(url, f"bench-{uuid.uuid4().hex[:8]}")
    settings = MqttSettings(
        host="127.0.0.1",
        mqtt_port=0,
        ws_port=None,
        limits=BrokerLimits(max_offline_queue=10**6, max_offline_queue_bytes=1 << 40),
    )
    adapter = build_standalone(settings, state)
    await adapter.start()
    port = adapter.ports["mqtt"]
    try:
        device = await Peer.connect(port, "device", clean=False)
        device.writer.write(codec.encode_subscribe(1, [("bench/#", 1)]))
        assert (await device.next()).kind == codec.SUBACK
        device.close()
        qos = 0 if args.only_qos0 else 1
        share = args.messages // args.publishers
        journal = adapter.journal
        before = journal.batches if journal is not None else 0
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(
            *(publish(port, share, args.window, qos) for _ in range(args.publishers))
        )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        batches = journal.batches - before if journal is not None else 0
        total = share * args.publishers
        got = 0
        if qos:
            device = await Peer.connect(port, "device", clean=False)
            while got < total:
                packet = await asyncio.wait_for(device.next(), 30)
                if packet.kind == codec.PUBLISH:
                    got += 1
                    device.writer.write(codec.encode_ack(codec.PUBACK, packet.packet_id))  # type: ignore[attr-defined]
            device.close()
        kind = "QoS 0" if not qos else "QoS 1 to an absent session"
        delivered = "" if not qos else f", device got {got:,} of {total:,}"
        if batches:
            delivered += f", {batches:,} batches"
        print(
            f"{name:9} {kind:27} {total / wall:>9,.0f} msg/s  "
            f"{cpu / total * 1e6:>6.1f} us CPU/msg{delivered}",
            flush=True,
        )
    finally:
        await adapter.stop()


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stores = [("none", "none"), ("sqlite", f"sqlite+aiosqlite:///{tmp}/state.db")]
        if args.redis_url:
            stores.append(("redis", args.redis_url))
        if args.postgres_url:
            stores.append(("postgres", args.postgres_url))
        for name, url in stores:
            await one_store(name, url, args)


def main() -> None:
    parser = argparse.ArgumentParser(description="cost of the MQTT broker's state store")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--publishers", type=int, default=10)
    parser.add_argument("--window", type=int, default=10, help="unacknowledged per publisher")
    parser.add_argument("--redis-url")
    parser.add_argument("--postgres-url")
    parser.add_argument("--only-qos0", action="store_true", help="QoS 0 instead (no storage)")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
