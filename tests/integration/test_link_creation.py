"""Creating a link when PayerMax misbehaves: every fault still gives exactly one link and one card.

The real LinkService and PayerMax client talk HTTP to the sandbox gateway on loopback, whose
fault switches play a slow, failing or forgetful PayerMax; the database is real (SQLite and
PostgreSQL). "One link" is checked on both sides: the sandbox's own records and our row.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.services.links import CreateResult, LinkPending, LinkRefused
from storage.models import LinkStatus
from tests.integration.link_stack import CLIENT_TIMEOUT, LinkStack, closed_port_url, order


async def assert_one_active_link_with_one_card(stack: LinkStack, result: CreateResult) -> None:
    """PayerMax holds one link, our row is ACTIVE with its linkId, and one card is queued."""
    [at_payermax] = stack.sandbox_links()
    [ours] = await stack.our_links()
    assert at_payermax["merchantLinkId"] == ours.merchant_link_id
    assert ours.status == LinkStatus.ACTIVE
    assert ours.payermax_link_id == at_payermax["linkId"]
    assert ours.link_url and at_payermax["linkId"] in ours.link_url
    assert result.link.id == ours.id and result.link.status == LinkStatus.ACTIVE and result.created
    [card] = await stack.outbox("card")
    assert card.link_id == ours.id and card.chat_id == ours.chat_id


async def test_create_slower_than_the_client_timeout(stack: LinkStack) -> None:
    """PayerMax makes the link but answers too late, every time: the query finds the one link."""
    stack.gateway.faults.create_delay = CLIENT_TIMEOUT + 0.3
    result = await stack.links.create(order("msg:1"))
    await assert_one_active_link_with_one_card(stack, result)
    assert stack.create_calls() == 3  # tried, retried twice with the same merchantLinkId, then asked


async def test_server_error_on_the_first_try_only(stack: LinkStack) -> None:
    stack.gateway.faults.update({"create_status": 503, "create_status_count": 1})
    result = await stack.links.create(order("msg:2"))
    await assert_one_active_link_with_one_card(stack, result)
    assert stack.create_calls() == 2


async def test_server_errors_up_to_the_last_try(stack: LinkStack) -> None:
    stack.gateway.faults.update({"create_status": 502, "create_status_count": 2})
    result = await stack.links.create(order("msg:3"))
    await assert_one_active_link_with_one_card(stack, result)
    assert stack.create_calls() == 3


async def test_connection_dropped_after_the_link_was_made(stack: LinkStack) -> None:
    """The retry with the same merchantLinkId gets the link already made, not a second one."""
    stack.gateway.faults.drop_after_create = 1
    result = await stack.links.create(order("msg:4"))
    await assert_one_active_link_with_one_card(stack, result)
    assert stack.create_calls() == 2


async def test_dropped_answer_then_duplicate_refused(stack: LinkStack) -> None:
    """The retry is refused as ORDER_REPEAT; queryPaybylink shows the link was made after all."""
    stack.gateway.faults.update({"drop_after_create": 1, "refuse_duplicate": True})
    result = await stack.links.create(order("msg:5"))
    await assert_one_active_link_with_one_card(stack, result)
    assert stack.create_calls() == 2
    assert [api for api, _ in stack.gateway.requests_seen()][-1] == "queryPaybylink"


async def test_payermax_unreachable_then_back(stack: LinkStack) -> None:
    """Nothing answers: the intent waits as CREATING; once PayerMax is back the reconciler makes it ACTIVE."""
    offline_client = stack.new_client(closed_port_url())
    try:
        with pytest.raises(LinkPending) as pending:
            await stack.link_service(offline_client).create(order("msg:6"))
    finally:
        await offline_client.aclose()
    [waiting] = await stack.our_links()
    assert waiting.status == LinkStatus.CREATING and waiting.payermax_link_id is None
    assert pending.value.link.id == waiting.id
    assert await stack.outbox() == []
    assert stack.sandbox_links() == []

    await stack.reconciler().check(waiting)
    [at_payermax] = stack.sandbox_links()
    [ours] = await stack.our_links()
    assert (ours.status, ours.payermax_link_id) == (LinkStatus.ACTIVE, at_payermax["linkId"])
    assert len(await stack.outbox("card")) == 1

    await stack.reconciler().check(waiting)  # a second look (another round, a stale copy) changes nothing
    assert len(stack.sandbox_links()) == 1 and len(await stack.outbox("card")) == 1


async def test_definite_refusal_fails_the_link_without_a_card(stack: LinkStack) -> None:
    """An amount PayerMax cannot take (half a rupiah) is refused at once: no retry, FAILED, nothing to show."""
    # The chat handlers never let such an amount through; here it stands for any definite refusal.
    with pytest.raises(LinkRefused) as refused:
        await stack.links.create(order("msg:7", amount="150000.5"))
    assert refused.value.code == "AMOUNT_INVALID"
    [ours] = await stack.our_links()
    assert ours.status == LinkStatus.FAILED and ours.failure_code == "AMOUNT_INVALID"
    assert ours.next_check_at is None  # nothing for the reconciler to settle
    assert stack.create_calls() == 1
    assert stack.sandbox_links() == []
    assert await stack.outbox() == []


async def test_concurrent_identical_requests_make_one_link(stack: LinkStack) -> None:
    """Five copies of one request at once (double taps, redeliveries): one link, one card, one creator."""
    results = await asyncio.gather(*(stack.links.create(order("cb:42:7")) for _ in range(5)))
    [ours] = await stack.our_links()
    assert {result.link.id for result in results} == {ours.id}
    assert [result.created for result in results].count(True) == 1
    [at_payermax] = stack.sandbox_links()
    assert (ours.status, ours.payermax_link_id) == (LinkStatus.ACTIVE, at_payermax["linkId"])
    assert len(await stack.outbox("card")) == 1

    again = await stack.links.create(order("cb:42:7"))  # a late repeat finds the finished link
    assert (again.created, again.link.id, again.link.status) == (False, ours.id, LinkStatus.ACTIVE)
    assert len(stack.sandbox_links()) == 1 and len(await stack.outbox("card")) == 1
