"""streams.topics._ask_reachable_node: the admin client's private client is used only when it
has the shape it was written against (aiokafka's admin has no public way to pick a broker)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from streams.topics import _ask_reachable_node


def test_an_admin_without_the_private_client_is_left_alone():
    for admin in (SimpleNamespace(), SimpleNamespace(_client=SimpleNamespace(cluster=None))):
        asyncio.run(_ask_reachable_node(admin))  # no AttributeError: the retry copes as before


def test_a_reachable_broker_is_asked():
    class Client:
        cluster = SimpleNamespace(brokers=lambda: [SimpleNamespace(nodeId=1), SimpleNamespace(nodeId=2)])

        async def ready(self, node):
            return node == 2

        def get_random_node(self):
            return 1

    admin = SimpleNamespace(_client=Client())
    asyncio.run(_ask_reachable_node(admin))
    assert admin._client.get_random_node() == 2
