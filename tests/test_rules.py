"""Every rule of API.md §4, broken on purpose: the exact error, and no change in the database."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from tests.helpers import TERM_END, TERM_START, TODAY, Api, World, iso, refused


async def test_r1_create_campaign_draft_makes_a_draft_at_setup_version_1(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    draft = await world.draft()
    assert (draft["status"], draft["step"], draft["version"]) == ("DRAFT", "SETUP", 1)
    assert draft["audience"] == {"id": world.audience, "name": "Hikers"}
    assert draft["budget"] is None and draft["budgetSource"] is None and draft["currency"] is None
    row = await db.fetchrow("SELECT status, step, version FROM campaigns")
    assert tuple(row) == ("DRAFT", "SETUP", 1)


async def test_r1_draft_needs_a_name(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    await refused(
        api,
        db,
        "createCampaignDraft",
        {"accountId": world.account, "name": "   "},
        world.manager,
        "ValidationError",
        "INVALID_INPUT",
        field="name",
    )


async def test_r2_advance_from_setup_needs_name_and_audience(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = (await world.draft(with_audience=False))["id"]
    await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "StepIncompleteError",
        "STEP_INCOMPLETE",
        missing=["AUDIENCE"],
    )


async def test_r3_budget_source_is_reported_first(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    await world.ok("advanceCampaign", {"campaignId": campaign})
    await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "StepIncompleteError",
        "BUDGET_SOURCE_REQUIRED",
        missing=["BUDGET_SOURCE"],
    )


async def test_r3_budget_and_schedule_are_required(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    await world.ok("advanceCampaign", {"campaignId": campaign})
    await world.ok("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": world.source})
    await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "StepIncompleteError",
        "STEP_INCOMPLETE",
        missing=["BUDGET", "SCHEDULE"],
    )
    await world.ok("updateCampaign", {"campaignId": campaign, "budget": "10"})
    await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "StepIncompleteError",
        "STEP_INCOMPLETE",
        missing=["SCHEDULE"],
    )


async def test_r3_schedule_start_after_end_is_invalid(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    await refused(
        api,
        db,
        "updateCampaign",
        {"campaignId": campaign, "startDate": iso(TODAY + timedelta(2)), "endDate": iso(TODAY)},
        world.manager,
        "ValidationError",
        "INVALID_INPUT",
        field="startDate",
    )


async def _step2(world: World, budget: str, start: str, end: str, source: str | None = None) -> str:
    campaign = str((await world.draft())["id"])
    await world.ok("advanceCampaign", {"campaignId": campaign})
    await world.ok("updateCampaign", {"campaignId": campaign, "budget": budget, "startDate": start, "endDate": end})
    await world.ok("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": source or world.source})
    return campaign


async def test_r3_schedule_must_lie_within_the_source_term(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await _step2(world, "100", iso(TERM_START - timedelta(1)), iso(TODAY))
    await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "BudgetSourceError",
        "SCHEDULE_OUTSIDE_TERM",
        field="startDate",
    )
    campaign = await _step2(world, "100", iso(TODAY), iso(TERM_END + timedelta(1)))
    await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "BudgetSourceError",
        "SCHEDULE_OUTSIDE_TERM",
        field="endDate",  # the date outside the term, not startDate
    )


async def test_r3_budget_must_fit_the_po_unallocated_amount(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(po_amount="1000.00")
    campaign = await _step2(world, "1000.01", iso(TODAY), iso(TODAY))
    await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
        requested="1000.01",
        unallocated="1000.00",
    )


async def test_r3_budget_must_fit_the_order_behind_a_po_too(api: Api, db: asyncpg.Connection) -> None:
    # The account switched from orders to POs: the order is partly allocated directly.
    world = await api.world(requires_po=False, order_amount="1000.00")
    await world.published("700.00", world.order)
    await api.mutate(
        "updateAccount", {"accountId": world.account, "requiresPurchaseOrder": True}, select="... on Account { id }"
    )
    po = await api.create_po(world.order, "PO-9", "500.00")
    campaign = await _step2(world, "400.00", iso(TODAY), iso(TODAY), po)
    result = await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
        requested="400.00",
        unallocated="300.00",
    )
    assert "Order Q-Acme-1" in result["message"]


async def test_r3_advance_from_review_is_step_incomplete(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.at_review()
    await refused(
        api,
        db,
        "advanceCampaign",
        {"campaignId": campaign},
        world.manager,
        "StepIncompleteError",
        "STEP_INCOMPLETE",
        missing=[],
    )


async def test_r4_source_of_another_account_is_not_found(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(name="Acme")
    other = await api.world(name="Globex")
    campaign = (await world.draft())["id"]
    await refused(
        api,
        db,
        "assignBudgetSource",
        {"campaignId": campaign, "budgetSourceId": other.source},
        world.manager,
        "NotFoundError",
        "NOT_FOUND",
        field="budgetSourceId",
    )


async def test_r4_expired_and_cancelled_sources_are_not_selectable(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    old_order = await api.create_order(
        world.account, "Q-OLD", "500", start=TODAY - timedelta(400), end=TODAY - timedelta(1)
    )
    expired_po = await api.create_po(old_order, "PO-OLD", "100")
    campaign = (await world.draft())["id"]
    await refused(
        api,
        db,
        "assignBudgetSource",
        {"campaignId": campaign, "budgetSourceId": expired_po},
        world.manager,
        "BudgetSourceError",
        "BUDGET_SOURCE_NOT_SELECTABLE",
        field="budgetSourceId",
    )
    cancelled = await api.mutate(
        "cancelBudgetSource", {"budgetSourceId": world.order}, select="... on BudgetSource { status }"
    )
    assert cancelled == {"__typename": "Order", "status": "CANCELLED"}
    # the PO is cancelled with its order
    assert (await world.source_amounts())["status"] == "CANCELLED"
    await refused(
        api,
        db,
        "assignBudgetSource",
        {"campaignId": campaign, "budgetSourceId": world.po},
        world.manager,
        "BudgetSourceError",
        "BUDGET_SOURCE_NOT_SELECTABLE",
    )


async def test_r4_po_required_when_the_account_requires_pos(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(requires_po=True)
    campaign = (await world.draft())["id"]
    await refused(
        api,
        db,
        "assignBudgetSource",
        {"campaignId": campaign, "budgetSourceId": world.order},
        world.manager,
        "BudgetSourceError",
        "PURCHASE_ORDER_REQUIRED",
        field="budgetSourceId",
    )


async def test_r4_order_required_when_the_account_does_not_use_pos(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(requires_po=False)
    po = await api.create_po(world.order, "PO-X", "10")
    campaign = (await world.draft())["id"]
    await refused(
        api,
        db,
        "assignBudgetSource",
        {"campaignId": campaign, "budgetSourceId": po},
        world.manager,
        "BudgetSourceError",
        "BUDGET_SOURCE_NOT_SELECTABLE",
    )


async def test_r4_drafts_reassign_freely_without_allocating(api: Api) -> None:
    world = await api.world()
    po2 = await api.create_po(world.order, "PO-2", "500")
    campaign = await world.at_review("300.00")
    for source in (po2, world.source, po2):
        result = await world.ok("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": source})
        assert result["step"] == "REVIEW"
    assert (await world.source_amounts(po2))["draftAmount"] == "300.00"
    assert (await world.source_amounts(po2))["allocatedAmount"] == "0.00"
    assert (await world.source_amounts())["draftAmount"] == "0.00"


async def test_r5_publish_needs_step_review(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    await refused(
        api,
        db,
        "publishCampaign",
        {"campaignId": campaign},
        world.manager,
        "StepIncompleteError",
        "STEP_INCOMPLETE",
        missing=["BUDGET", "SCHEDULE", "BUDGET_SOURCE"],
    )


async def test_r5_publish_rechecks_selectability(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.at_review()
    await api.mutate("cancelBudgetSource", {"budgetSourceId": world.po}, select="... on PurchaseOrder { id }")
    await refused(
        api,
        db,
        "publishCampaign",
        {"campaignId": campaign},
        world.manager,
        "BudgetSourceError",
        "BUDGET_SOURCE_NOT_SELECTABLE",
    )


async def test_r5_publish_rechecks_the_kind_after_the_account_switches(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(requires_po=False)
    campaign = await world.at_review("10", world.order)
    await api.mutate(
        "updateAccount", {"accountId": world.account, "requiresPurchaseOrder": True}, select="... on Account { id }"
    )
    await refused(
        api,
        db,
        "publishCampaign",
        {"campaignId": campaign},
        world.manager,
        "BudgetSourceError",
        "PURCHASE_ORDER_REQUIRED",
    )


async def test_r5_publish_rechecks_the_budget(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(po_amount="500.00")
    first = await world.at_review("300.00")
    second = await world.at_review("300.00")
    await world.ok("publishCampaign", {"campaignId": first})
    await refused(
        api,
        db,
        "publishCampaign",
        {"campaignId": second},
        world.manager,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
        requested="300.00",
        unallocated="200.00",
    )


async def test_r5_publish_allocates_on_the_po_and_its_order(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(po_amount="500.00")
    await world.published("123.45")
    assert (await world.source_amounts())["allocatedAmount"] == "123.45"
    assert (await world.source_amounts(world.order))["allocatedAmount"] == "123.45"
    rows = await db.fetch("SELECT delta::text, reason FROM allocations")
    assert [tuple(r) for r in rows] == [("123.45", "publish")]


async def test_r6_published_source_is_locked(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    po2 = await api.create_po(world.order, "PO-2", "500")
    campaign = await world.published()
    await refused(
        api,
        db,
        "assignBudgetSource",
        {"campaignId": campaign, "budgetSourceId": po2},
        world.manager,
        "CampaignLockedError",
        "CAMPAIGN_LOCKED",
        lockedFields=["AUDIENCE", "BUDGET_SOURCE"],
        field="budgetSourceId",
    )


async def test_r6_published_audience_is_locked(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    other = await api.create_audience(world.account, "Bikers", world.manager)
    campaign = await world.published()
    await refused(
        api,
        db,
        "updateCampaign",
        {"campaignId": campaign, "audienceId": other, "name": "Renamed"},
        world.manager,
        "CampaignLockedError",
        "CAMPAIGN_LOCKED",
        lockedFields=["AUDIENCE", "BUDGET_SOURCE"],
        field="audienceId",
    )


async def test_r6_published_name_budget_schedule_stay_editable(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(po_amount="1000.00")
    campaign = await world.published("400.00")
    result = await world.ok(
        "updateCampaign",
        {"campaignId": campaign, "name": "Renamed", "budget": "900.00", "endDate": iso(TODAY + timedelta(40))},
    )
    assert (result["name"], result["budget"], result["endDate"]) == ("Renamed", "900.00", iso(TODAY + timedelta(40)))
    assert (await world.source_amounts())["allocatedAmount"] == "900.00"
    # a decrease frees budget at once
    await world.ok("updateCampaign", {"campaignId": campaign, "budget": "250.00"})
    amounts = await world.source_amounts()
    assert (amounts["allocatedAmount"], amounts["unallocatedAmount"]) == ("250.00", "750.00")
    assert (await world.source_amounts(world.order))["allocatedAmount"] == "250.00"
    ledger = await db.fetch("SELECT delta::text, reason FROM allocations ORDER BY id")
    assert [tuple(r) for r in ledger] == [
        ("400.00", "publish"),
        ("500.00", "budget increase"),
        ("-650.00", "budget decrease"),
    ]


async def test_r6_published_budget_increase_must_fit(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(po_amount="1000.00")
    campaign = await world.published("400.00")
    await refused(
        api,
        db,
        "updateCampaign",
        {"campaignId": campaign, "budget": "1000.01"},
        world.manager,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
        requested="600.01",
        unallocated="600.00",
    )


async def test_r6_published_schedule_must_stay_within_term(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.published()
    await refused(
        api,
        db,
        "updateCampaign",
        {"campaignId": campaign, "endDate": iso(TERM_END + timedelta(1))},
        world.manager,
        "BudgetSourceError",
        "SCHEDULE_OUTSIDE_TERM",
    )


async def test_r6_published_budget_cannot_be_cleared(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.published()
    await refused(
        api,
        db,
        "updateCampaign",
        {"campaignId": campaign, "budget": None},
        world.manager,
        "ValidationError",
        "INVALID_INPUT",
        field="budget",
    )


async def test_r6_go_to_step_and_delete_are_for_drafts(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.published()
    await refused(
        api,
        db,
        "goToCampaignStep",
        {"campaignId": campaign, "step": "SETUP"},
        world.manager,
        "CampaignLockedError",
        "NOT_A_DRAFT",
    )
    await refused(
        api,
        db,
        "deleteCampaignDraft",
        {"campaignId": campaign},
        world.manager,
        "CampaignLockedError",
        "NOT_A_DRAFT",
        select="... on Deleted { deletedId }",
    )


async def test_r5_publish_and_advance_need_a_draft(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.published()
    for mutation in ("publishCampaign", "advanceCampaign"):
        await refused(
            api,
            db,
            mutation,
            {"campaignId": campaign},
            world.manager,
            "CampaignLockedError",
            "NOT_A_DRAFT",
        )


async def test_drafts_go_back_and_are_deleted(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.at_review()
    back = await world.ok("goToCampaignStep", {"campaignId": campaign, "step": "SETUP"})
    assert back["step"] == "SETUP"
    await refused(
        api,
        db,
        "goToCampaignStep",
        {"campaignId": campaign, "step": "REVIEW"},
        world.manager,
        "StepIncompleteError",
        "STEP_INCOMPLETE",
    )
    deleted = await api.mutate(
        "deleteCampaignDraft", {"campaignId": campaign}, world.manager, select="... on Deleted { deletedId }"
    )
    assert deleted == {"__typename": "Deleted", "deletedId": campaign}
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 0


async def test_r7_expected_version_conflict(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.at_review()  # version 5 after create, advance, update, assign, advance
    for mutation, extra in (
        ("updateCampaign", {"name": "X"}),
        ("assignBudgetSource", {"budgetSourceId": world.source}),
        ("advanceCampaign", {}),
        ("publishCampaign", {}),
        ("goToCampaignStep", {"step": "SETUP"}),
    ):
        await refused(
            api,
            db,
            mutation,
            {"campaignId": campaign, "expectedVersion": 4, **extra},
            world.manager,
            "VersionConflictError",
            "VERSION_CONFLICT",
            currentVersion=5,
        )


async def test_r7_every_change_bumps_the_version(api: Api) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    versions = [
        (await world.ok("updateCampaign", {"campaignId": campaign, "name": "A", "expectedVersion": 1}))["version"],
        (await world.ok("updateCampaign", {"campaignId": campaign, "name": "B", "expectedVersion": 2}))["version"],
    ]
    assert versions == [2, 3]


async def test_r8_viewer_keys_are_read_only(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.at_review()
    for mutation, input in (
        ("createCampaignDraft", {"accountId": world.account, "name": "X"}),
        ("updateCampaign", {"campaignId": campaign, "name": "X"}),
        ("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": world.source}),
        ("advanceCampaign", {"campaignId": campaign}),
        ("publishCampaign", {"campaignId": campaign}),
        ("goToCampaignStep", {"campaignId": campaign, "step": "SETUP"}),
    ):
        await refused(api, db, mutation, input, world.viewer, "PermissionDeniedError", "PERMISSION_DENIED")
    await refused(
        api,
        db,
        "createAudience",
        {"accountId": world.account, "name": "X"},
        world.viewer,
        "PermissionDeniedError",
        "PERMISSION_DENIED",
        select="... on Audience { id }",
    )
    await refused(
        api,
        db,
        "deleteCampaignDraft",
        {"campaignId": campaign},
        world.viewer,
        "PermissionDeniedError",
        "PERMISSION_DENIED",
        select="... on Deleted { deletedId }",
    )


async def test_r8_order_po_account_and_key_management_is_account_team_only(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    for key in (world.manager, world.viewer):
        for mutation, input, select in (
            ("createAccount", {"name": "X", "requiresPurchaseOrder": False}, "... on Account { id }"),
            ("updateAccount", {"accountId": world.account, "requiresPurchaseOrder": False}, "... on Account { id }"),
            (
                "createOrder",
                {
                    "accountId": world.account,
                    "orderNumber": "Q-9",
                    "amount": "1",
                    "currency": "USD",
                    "startDate": iso(TODAY),
                    "endDate": iso(TODAY),
                },
                "... on Order { id }",
            ),
            (
                "createPurchaseOrder",
                {"orderId": world.order, "poNumber": "P", "amount": "1"},
                "... on PurchaseOrder { id }",
            ),
            ("cancelBudgetSource", {"budgetSourceId": world.source}, "... on PurchaseOrder { id }"),
            ("issueApiKey", {"name": "k", "role": "VIEWER", "accountId": world.account}, "... on ApiKey { id }"),
        ):
            await refused(api, db, mutation, input, key, "PermissionDeniedError", "PERMISSION_DENIED", select=select)


async def test_r8_campaign_of_another_account_is_not_found(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(name="Acme")
    other = await api.world(name="Globex")
    theirs = await other.at_review()
    for mutation, input in (
        ("updateCampaign", {"campaignId": theirs, "name": "X"}),
        ("assignBudgetSource", {"campaignId": theirs, "budgetSourceId": world.source}),
        ("advanceCampaign", {"campaignId": theirs}),
        ("publishCampaign", {"campaignId": theirs}),
        ("goToCampaignStep", {"campaignId": theirs, "step": "SETUP"}),
    ):
        await refused(api, db, mutation, input, world.manager, "NotFoundError", "NOT_FOUND", field="campaignId")
    await refused(
        api,
        db,
        "createCampaignDraft",
        {"accountId": other.account, "name": "X"},
        world.manager,
        "NotFoundError",
        "NOT_FOUND",
        field="accountId",
    )
    mine = (await world.draft())["id"]
    await refused(
        api,
        db,
        "updateCampaign",
        {"campaignId": mine, "audienceId": other.audience},
        world.manager,
        "NotFoundError",
        "NOT_FOUND",
        field="audienceId",
    )


async def test_r9_past_terms_are_recorded_as_expired(api: Api) -> None:
    account = await api.create_account("Hist", False)
    order = await api.create_order(account, "Q-2019", "100", start=TODAY - timedelta(2000), end=TODAY - timedelta(1500))
    result = await api.gql("query($id: ID!) { node(id: $id) { ... on Order { status selectable } } }", {"id": order})
    assert result["node"] == {"status": "EXPIRED", "selectable": False}


async def test_r9_order_term_must_not_end_before_it_starts(api: Api, db: asyncpg.Connection) -> None:
    account = await api.create_account("Acme", False)
    await refused(
        api,
        db,
        "createOrder",
        {
            "accountId": account,
            "orderNumber": "Q-1",
            "amount": "10",
            "currency": "USD",
            "startDate": iso(TODAY),
            "endDate": iso(TODAY - timedelta(1)),
        },
        None,
        "ValidationError",
        "INVALID_INPUT",
        select="... on Order { id }",
        field="endDate",
    )


async def test_r9_po_amounts_never_exceed_the_order(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(order_amount="1000.00", po_amount="600.00")
    await refused(
        api,
        db,
        "createPurchaseOrder",
        {"orderId": world.order, "poNumber": "PO-2", "amount": "400.01"},
        None,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
        select="... on PurchaseOrder { id }",
        requested="400.01",
        unallocated="400.00",
    )
    await api.create_po(world.order, "PO-2", "400.00")


async def test_r9_duplicate_numbers(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    other = await api.create_account("Globex", True)
    await refused(
        api,
        db,
        "createOrder",
        {
            "accountId": other,
            "orderNumber": "Q-Acme-1",
            "amount": "10",
            "currency": "USD",
            "startDate": iso(TODAY),
            "endDate": iso(TODAY),
        },
        None,
        "ValidationError",
        "DUPLICATE",
        select="... on Order { id }",
        field="orderNumber",
    )
    order2 = await api.create_order(world.account, "Q-2", "100")
    await refused(
        api,
        db,
        "createPurchaseOrder",
        {"orderId": order2, "poNumber": "PO-Acme-1", "amount": "1"},
        None,
        "ValidationError",
        "DUPLICATE",
        select="... on PurchaseOrder { id }",
        field="poNumber",
    )
    # another account may use the same PO number
    other_order = await api.create_order(other, "Q-G", "100")
    await api.create_po(other_order, "PO-Acme-1", "1")


async def test_r9_cancelling_keeps_published_budgets_and_fails_drafts(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(po_amount="1000.00")
    await world.published("400.00")
    draft = await world.at_review("100.00")
    await api.mutate("cancelBudgetSource", {"budgetSourceId": world.po}, select="... on PurchaseOrder { id }")
    amounts = await world.source_amounts()
    assert (amounts["allocatedAmount"], amounts["status"], amounts["selectable"]) == ("400.00", "CANCELLED", False)
    await refused(
        api,
        db,
        "publishCampaign",
        {"campaignId": draft},
        world.manager,
        "BudgetSourceError",
        "BUDGET_SOURCE_NOT_SELECTABLE",
    )


async def test_r10_ledger_matches_allocated_amounts(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(po_amount="1000.00")
    po2 = await api.create_po(world.order, "PO-2", "1000.00")
    first = await world.published("100.00")
    await world.published("200.00", po2)
    await world.ok("updateCampaign", {"campaignId": first, "budget": "150.00"})

    query = """query($id: ID!) { node(id: $id) { ... on BudgetSource { allocatedAmount
      allocations(first: 10) { totalCount edges { node { delta reason actor at campaign { id } } } } } } }"""
    order = (await api.gql(query, {"id": world.order}, world.manager))["node"]
    assert order["allocatedAmount"] == "350.00"
    assert order["allocations"]["totalCount"] == 3
    deltas = [e["node"]["delta"] for e in order["allocations"]["edges"]]
    assert deltas == ["50.00", "200.00", "100.00"]  # newest first
    assert sum(float(d) for d in deltas) == 350.0
    entry = order["allocations"]["edges"][0]["node"]
    assert entry["reason"] == "budget increase" and entry["campaign"]["id"] == first
    assert entry["actor"].startswith("api-key:") and "manager" in entry["actor"]

    po = (await api.gql(query, {"id": world.po}, world.manager))["node"]
    assert [e["node"]["delta"] for e in po["allocations"]["edges"]] == ["50.00", "100.00"]
    sums = await db.fetchrow(
        """SELECT (SELECT sum(delta) FROM allocations WHERE order_id = o.id) AS ledger, o.allocated_amount
           FROM orders o"""
    )
    assert sums["ledger"] == sums["allocated_amount"]
