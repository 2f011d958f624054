"""The whole campaign wizard, as the SPA drives it, for both kinds of account."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import TODAY, Api, iso

DROPDOWN = """query($id: ID!) { account(id: $id) { requiresPurchaseOrder budgetSources {
  __typename id displayName orderNumber purchaseOrderNumber amount currency allocatedAmount unallocatedAmount
  draftAmount status selectable } } }"""


async def test_wizard_for_an_account_that_requires_purchase_orders(api: Api) -> None:
    world = await api.world(requires_po=True, po_amount="10000.00")
    # A second PO and an order: the drop-down shows POs only, each with its order number.
    order2 = await api.create_order(world.account, "Q-000124", "5000.00")
    await api.create_po(order2, "4500012346", "2000.00")

    dropdown = (await api.gql(DROPDOWN, {"id": world.account}, world.manager))["account"]
    assert dropdown["requiresPurchaseOrder"] is True
    names = [s["displayName"] for s in dropdown["budgetSources"]]
    assert names == ["PO PO-Acme-1 (Order Q-Acme-1)", "PO 4500012346 (Order Q-000124)"]
    first = dropdown["budgetSources"][0]
    assert first == {
        "__typename": "PurchaseOrder",
        "id": world.po,
        "displayName": "PO PO-Acme-1 (Order Q-Acme-1)",
        "orderNumber": "Q-Acme-1",
        "purchaseOrderNumber": "PO-Acme-1",
        "amount": "10000.00",
        "currency": "USD",
        "allocatedAmount": "0.00",
        "unallocatedAmount": "10000.00",
        "draftAmount": "0.00",
        "status": "ACTIVE",
        "selectable": True,
    }

    # Step 1
    draft = await world.draft("Spring launch")
    assert (draft["status"], draft["step"], draft["version"], draft["lockedFields"]) == ("DRAFT", "SETUP", 1, [])
    campaign = draft["id"]
    step2 = await world.ok("advanceCampaign", {"campaignId": campaign, "expectedVersion": 1})
    assert step2["step"] == "BUDGET_AND_SCHEDULE"

    # Step 2: budget, schedule, the PO from the drop-down
    await world.ok(
        "updateCampaign",
        {"campaignId": campaign, "budget": "2500.50", "startDate": iso(TODAY), "endDate": iso(TODAY + timedelta(9))},
    )
    assigned = await world.ok("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": world.po})
    assert assigned["budgetSource"] == {
        "__typename": "PurchaseOrder",
        "id": world.po,
        "displayName": "PO PO-Acme-1 (Order Q-Acme-1)",
    }
    assert assigned["currency"] == "USD" and assigned["order"] == {"id": world.order}
    assert assigned["purchaseOrder"] == {"id": world.po}
    assert (await world.source_amounts())["draftAmount"] == "2500.50"
    assert (await world.source_amounts(world.order))["draftAmount"] == "2500.50"

    review = await world.ok("advanceCampaign", {"campaignId": campaign})
    assert review["step"] == "REVIEW"

    published = await world.ok("publishCampaign", {"campaignId": campaign, "expectedVersion": review["version"]})
    assert published["status"] == "PUBLISHED" and published["publishedAt"] is not None
    assert published["lockedFields"] == ["AUDIENCE", "BUDGET_SOURCE"]
    assert published["version"] == review["version"] + 1

    po = await world.source_amounts()
    assert (po["allocatedAmount"], po["unallocatedAmount"], po["draftAmount"]) == ("2500.50", "7499.50", "0.00")
    order = await world.source_amounts(world.order)
    assert (order["allocatedAmount"], order["unallocatedAmount"]) == ("2500.50", "97499.50")

    # Trying to change the PO now: CAMPAIGN_LOCKED
    locked = await api.mutate("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": world.po}, world.manager)
    assert locked["__typename"] == "CampaignLockedError"
    assert locked["code"] == "CAMPAIGN_LOCKED" and locked["lockedFields"] == ["AUDIENCE", "BUDGET_SOURCE"]


async def test_wizard_for_an_account_without_purchase_orders(api: Api) -> None:
    world = await api.world(requires_po=False, order_amount="8000.00")
    await api.create_po(world.order, "4500000001", "1000.00")  # exists, but this account uses orders

    dropdown = (await api.gql(DROPDOWN, {"id": world.account}, world.manager))["account"]
    assert [(s["__typename"], s["displayName"]) for s in dropdown["budgetSources"]] == [("Order", "Order Q-Acme-1")]
    assert dropdown["budgetSources"][0]["purchaseOrderNumber"] is None

    campaign = await world.at_review("8000.00", world.order)
    published = await world.ok("publishCampaign", {"campaignId": campaign})
    assert published["budgetSource"]["__typename"] == "Order"
    assert published["purchaseOrder"] is None
    order = await world.source_amounts(world.order)
    assert (order["allocatedAmount"], order["unallocatedAmount"], order["selectable"]) == ("8000.00", "0.00", True)
