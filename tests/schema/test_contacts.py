"""Contacts through GraphQL: create, read, update, delete, and the errors a user can hit."""

from __future__ import annotations

from tests.conftest import TestUser
from tests.support.server import RunningChronik

CREATE = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) {
    id firstName lastName name email extraEmails companyName phone
  }
}"""
READ = "query($id: ID!) { contact(id: $id) { id name email extraEmails companyName phone } }"
UPDATE = """
mutation($id: ID!, $input: UpdateContactInput!) {
  updateContact(id: $id, input: $input) { id firstName email extraEmails companyName phone }
}"""
DELETE = "mutation($id: ID!) { deleteContact(id: $id) { deletedContactId } }"


async def create(chronik: RunningChronik, user: TestUser, **fields: object) -> dict:
    result = await chronik.graphql(CREATE, {"input": fields}, token=user.token)
    return result.ok()["createContact"]


async def test_contact_lifecycle(chronik: RunningChronik, alice: TestUser) -> None:
    made = await create(
        chronik,
        alice,
        email="Carla@Client.TEST",
        firstName=" Carla ",
        lastName="Diaz",
        extraEmails=["carla.diaz@gmail.test", "CARLA@client.test"],
        companyName="Client Co",
        phone="+49 30 1234",
    )
    assert made["name"] == "Carla Diaz"
    assert made["email"] == "Carla@client.test"  # the domain is normalised, the name kept
    # The primary address is not repeated among the extras.
    assert made["extraEmails"] == ["carla.diaz@gmail.test"]

    read = (await chronik.graphql(READ, {"id": made["id"]}, token=alice.token)).ok()["contact"]
    assert read == {k: made[k] for k in read}

    updated = (
        await chronik.graphql(
            UPDATE,
            {
                "id": made["id"],
                "input": {"firstName": "Carlota", "companyName": None, "phone": "  "},
            },
            token=alice.token,
        )
    ).ok()["updateContact"]
    assert updated["firstName"] == "Carlota"
    assert updated["companyName"] is None and updated["phone"] is None
    assert updated["email"] == "Carla@client.test"  # untouched fields stay

    deleted = await chronik.graphql(DELETE, {"id": made["id"]}, token=alice.token)
    assert deleted.ok()["deleteContact"]["deletedContactId"] == made["id"]
    gone = await chronik.graphql(READ, {"id": made["id"]}, token=alice.token)
    assert gone.error_codes == ["NOT_FOUND"]


async def test_duplicate_email_is_a_conflict_case_insensitively(
    chronik: RunningChronik, alice: TestUser, db
) -> None:
    first = await create(chronik, alice, email="dana@client.test", extraEmails=["d@home.test"])
    for email in ("DANA@client.test", "d@HOME.test"):
        again = await chronik.graphql(CREATE, {"input": {"email": email}}, token=alice.token)
        assert again.error_codes == ["CONFLICT"], email
    other = await create(chronik, alice, email="erin@client.test")
    clash = await chronik.graphql(
        UPDATE,
        {"id": other["id"], "input": {"extraEmails": ["Dana@Client.test"]}},
        token=alice.token,
    )
    assert clash.error_codes == ["CONFLICT"]
    # The failed update changed nothing: erin keeps her address, dana keeps hers.
    assert await db.fetchval("SELECT count(*) FROM contacts") == 2
    assert await db.fetchval("SELECT count(*) FROM contact_emails") == 3
    reread = await chronik.graphql(READ, {"id": other["id"]}, token=alice.token)
    assert reread.ok()["contact"]["extraEmails"] == []
    assert first["email"] == "dana@client.test"


async def test_same_email_in_two_accounts_is_fine(
    chronik: RunningChronik, alice: TestUser, bob: TestUser
) -> None:
    a = await create(chronik, alice, email="shared@client.test")
    b = await create(chronik, bob, email="shared@client.test")
    assert a["id"] != b["id"]


async def test_malformed_email_is_a_validation_error_and_stores_nothing(
    chronik: RunningChronik, alice: TestUser, db
) -> None:
    for fields in (
        {"email": "not-an-email"},
        {"email": "x@"},
        {"email": "ok@client.test", "extraEmails": ["bad@@x"]},
    ):
        result = await chronik.graphql(CREATE, {"input": fields}, token=alice.token)
        assert result.error_codes == ["VALIDATION"], fields
        assert result.errors[0]["extensions"]["field"] in ("email", "extraEmails")
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0


async def test_too_long_name_is_a_validation_error(
    chronik: RunningChronik, alice: TestUser
) -> None:
    result = await chronik.graphql(
        CREATE, {"input": {"email": "f@client.test", "lastName": "x" * 201}}, token=alice.token
    )
    assert result.error_codes == ["VALIDATION"]


async def test_another_accounts_contact_is_not_found_for_read_update_and_delete(
    chronik: RunningChronik, alice: TestUser, bob: TestUser, db
) -> None:
    secret = await create(chronik, alice, email="vip@client.test", firstName="Vip")
    read = await chronik.graphql(READ, {"id": secret["id"]}, token=bob.token)
    update = await chronik.graphql(
        UPDATE, {"id": secret["id"], "input": {"firstName": "Hacked"}}, token=bob.token
    )
    delete = await chronik.graphql(DELETE, {"id": secret["id"]}, token=bob.token)
    for result in (read, update, delete):
        assert result.error_codes == ["NOT_FOUND"]
        assert "vip" not in str(result.body).lower()
    listed = await chronik.graphql("{ contacts { edges { node { id } } } }", token=bob.token)
    assert listed.ok()["contacts"]["edges"] == []
    assert await db.fetchval("SELECT first_name FROM contacts") == "Vip"


async def test_malformed_or_foreign_type_ids_are_not_found(
    chronik: RunningChronik, alice: TestUser
) -> None:
    me = (await chronik.graphql("{ me { id } }", token=alice.token)).ok()["me"]
    for bad in ("garbage", "", me["id"]):  # a user id is not a contact id
        result = await chronik.graphql(READ, {"id": bad}, token=alice.token)
        assert result.error_codes == ["NOT_FOUND"], bad
