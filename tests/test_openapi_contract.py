"""The OpenAPI spec as a client contract: what a code generator needs from /openapi.json.

Clients are mostly generated (openapi-python-client, openapi-typescript): an
operationId names each call, `required` makes a field non-optional, a nullable
field must be "this schema or null", and a list page must hand back a cursor a
generated call can take. Redocly's lint is in tests/external/; a generated
client walking the API is tests/test_generated_client.py.
"""
import re

import pytest
from openapi_spec_validator import validate

from messaging.events.schemas import EVENT_SCHEMAS

OPERATION_IDS = {
    ("post", "/api/auth/register/"): "register",
    ("post", "/api/auth/login/"): "login",
    ("post", "/api/auth/refresh/"): "refreshTokens",
    ("post", "/api/auth/logout/"): "logout",
    ("get", "/api/auth/profile/"): "getProfile",
    ("patch", "/api/auth/profile/"): "updateProfile",
    ("get", "/api/users/"): "searchUsers",
    ("get", "/conversations/"): "listConversations",
    ("post", "/conversations/"): "createConversation",
    ("get", "/conversations/{conversation_id}/"): "getConversation",
    ("put", "/conversations/{conversation_id}/"): "replaceConversation",
    ("patch", "/conversations/{conversation_id}/"): "updateConversation",
    ("delete", "/conversations/{conversation_id}/"): "deleteConversation",
    ("post", "/conversations/{conversation_id}/leave/"): "leaveConversation",
    ("post", "/conversations/{conversation_id}/read/"): "markConversationRead",
    ("get", "/conversations/{conversation_id}/messages/"): "listMessages",
    ("post", "/conversations/{conversation_id}/messages/"): "sendMessage",
    ("get", "/conversations/{conversation_id}/messages/{message_id}/"): "getMessage",
    ("put", "/conversations/{conversation_id}/messages/{message_id}/"): "replaceMessage",
    ("patch", "/conversations/{conversation_id}/messages/{message_id}/"): "editMessage",
    ("delete", "/conversations/{conversation_id}/messages/{message_id}/"): "deleteMessage",
    ("get", "/health/"): "getHealth",
}

# What each event's `data` is, by name (README, "Live events").
EVENT_COMPONENTS = {
    "message.created": "Message",
    "message.updated": "Message",
    "message.deleted": "MessageDeletedEvent",
    "conversation.created": "ConversationEvent",
    "conversation.updated": "ConversationEvent",
    "conversation.removed": "ConversationRemovedEvent",
    "conversation.read": "ConversationReadEvent",
    "typing": "TypingEvent",
    "resync": "ResyncEvent",
    "auth": "AuthEvent",
    "replaced": "ReplacedEvent",
}

PUBLIC = ["register", "login", "refreshTokens", "getHealth"]
NOT_RATE_LIMITED = ["getHealth"]  # exempt: load balancers ask often, from one address
PAGES = ["UserPage", "ConversationPage", "MessagePage"]
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def spec(app):
    with app.test_client() as client:
        return client.get("/openapi.json").get_json()


@pytest.fixture(scope="module")
def operations(spec) -> dict[str, tuple[str, str, dict]]:
    """operationId (or "method path" if it has none) -> (method, path, operation)."""
    return {
        operation.get("operationId", f"{method} {path}"): (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def resolve(spec, item: dict) -> dict:
    """The object a `$ref` points to (or the item itself)."""
    while "$ref" in item:
        *_, kind, name = item["$ref"].split("/")
        item = spec["components"][kind][name]
    return item


def response_schemas(spec) -> set[str]:
    """The names of every schema an answer may carry, nested ones included."""
    found, pending = set(), []
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for response in operation["responses"].values():
                for media in resolve(spec, response).get("content", {}).values():
                    pending.append(media["schema"])
    while pending:
        schema = pending.pop()
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if ref and ref.split("/")[-1] not in found:
                found.add(ref.split("/")[-1])
                pending.append(resolve(spec, schema))
            pending.extend(schema.values())
        elif isinstance(schema, list):
            pending.extend(schema)
    return found


def test_the_spec_is_valid_openapi_3_1(spec):
    assert spec["openapi"] == "3.1.0"
    validate(spec)


@pytest.mark.parametrize(
    "route, operation_id", OPERATION_IDS.items(), ids=[*OPERATION_IDS.values()]
)
def test_every_operation_is_named_as_a_client_calls_it(spec, route, operation_id):
    method, path = route
    assert spec["paths"][path][method]["operationId"] == operation_id


def test_operation_ids_are_unique_and_camel_case(spec):
    ids = [
        operation.get("operationId", f"(none: {method} {path})")
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(ids) == len(set(ids))
    assert [name for name in ids if not re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", name)] == []


@pytest.mark.parametrize("operation_id", PUBLIC)
def test_public_operations_say_they_need_no_token(operations, operation_id):
    _, _, operation = operations[operation_id]
    assert operation["security"] == []


def test_the_spec_names_a_server(spec):
    assert spec["servers"] == [{"url": "/", "description": "This server"}]


def test_no_unused_schema_is_left_in_the_spec(spec):
    assert "PaginationMetadata" not in spec["components"]["schemas"]


def test_user_search_has_its_own_tag(operations, spec):
    _, _, operation = operations["searchUsers"]
    assert operation["tags"] == ["users"]
    assert "users" in {tag["name"] for tag in spec["tags"]}


def test_every_field_of_every_answer_is_required(spec):
    """Every field of an answer is always there, so no generated client types one optional."""
    optional = {}
    for name in response_schemas(spec):
        schema = spec["components"]["schemas"][name]
        missing = set(schema["properties"]) - set(schema.get("required", []))
        if name == "Error":
            missing -= {"errors"}  # only on 422
        if missing:
            optional[name] = sorted(missing)
    assert optional == {}


def test_request_bodies_offer_no_field_the_server_makes(spec):
    for name in ("Register", "ProfileUpdate", "ConversationCreate", "ConversationUpdate",
                 "ConversationReplace", "MessageBody", "Login", "Refresh", "Logout", "ReadMarker"):
        properties = spec["components"]["schemas"][name]["properties"]
        assert not {"id", "created_at", "edited_at", "owner_id"} & set(properties), name
        assert [field for field, schema in properties.items() if schema.get("readOnly")] == []


def test_register_answers_a_profile_and_takes_a_registration(operations):
    _, _, operation = operations["register"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    answer = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Register"}
    assert answer == {"$ref": "#/components/schemas/Profile"}


def test_last_message_is_a_message_or_null(spec):
    last_message = spec["components"]["schemas"]["Conversation"]["properties"]["last_message"]
    assert last_message["anyOf"] == [{"$ref": "#/components/schemas/Message"}, {"type": "null"}]


def test_no_field_uses_openapi_3_0s_nullable(spec):
    """3.1 says null in the type; a leftover `nullable` is what generators typed as `{}`."""
    text = str(spec)
    assert "'nullable'" not in text


@pytest.mark.parametrize(
    "schema, field",
    [("Conversation", "title"), ("Conversation", "last_message_at"), ("Message", "edited_at")],
)
def test_nullable_fields_say_null_in_their_type(spec, schema, field):
    assert spec["components"]["schemas"][schema]["properties"][field]["type"][-1] == "null"


def stream_events(operations) -> dict[str, dict]:
    """Each event type the stream's content lists -> its schema there (one SSE event)."""
    _, _, operation = operations["streamEvents"]
    content = operation["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    return {
        item["properties"]["event"]["const"]: item
        for item in content["text/event-stream"]["schema"]["oneOf"]
    }


def test_the_stream_lists_every_event_type_and_no_other(operations):
    assert sorted(stream_events(operations)) == sorted(EVENT_SCHEMAS)


@pytest.mark.parametrize("kind", EVENT_SCHEMAS)
def test_the_stream_types_each_events_data_with_its_component(spec, operations, kind):
    data = stream_events(operations)[kind]["properties"]["data"]
    assert data == {"$ref": f"#/components/schemas/{EVENT_COMPONENTS[kind]}"}
    fields = EVENT_SCHEMAS[kind]().fields.values()
    assert set(resolve(spec, data)["properties"]) == {field.data_key or field.name
                                                      for field in fields}


def test_a_conversation_event_is_the_conversation_without_its_unread_count(spec):
    schemas = spec["components"]["schemas"]
    conversation = dict(schemas["Conversation"]["properties"])
    del conversation["unread_count"]
    assert schemas["ConversationEvent"]["properties"] == conversation


def test_every_event_has_an_id_but_the_streams_own_end_and_maybe_typing(operations):
    events = stream_events(operations)
    assert {kind for kind, event in events.items() if "id" in event["required"]} == (
        set(EVENT_SCHEMAS) - {"auth", "replaced", "typing"}
    )
    assert "id" in events["typing"]["properties"]
    assert "id" not in events["auth"]["properties"]
    assert "id" not in events["replaced"]["properties"]


def test_the_error_schema_types_its_field_errors(spec):
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message", "status"]
    messages = {"type": "array", "items": {"type": "string"}}
    whole, by_field = error["properties"]["errors"]["additionalProperties"]["anyOf"]
    assert whole == messages
    assert messages in by_field["additionalProperties"]["anyOf"]


@pytest.mark.parametrize("operation_id", OPERATION_IDS.values())
def test_every_operation_documents_a_body_too_large_and_the_database_away(
    spec, operations, operation_id
):
    _, _, operation = operations[operation_id]
    assert {"413", "503"} <= set(operation["responses"])


@pytest.mark.parametrize(
    "operation_id", [name for name in OPERATION_IDS.values() if name not in NOT_RATE_LIMITED]
)
def test_every_rate_limited_operation_documents_429_with_retry_after(
    spec, operations, operation_id
):
    _, _, operation = operations[operation_id]
    response = resolve(spec, operation["responses"]["429"])
    assert resolve(spec, response["headers"]["Retry-After"])["schema"]["type"] == "integer"


def test_the_database_away_is_a_503_with_retry_after(spec, operations):
    _, _, operation = operations["getMessage"]
    response = resolve(spec, operation["responses"]["503"])
    assert "Retry-After" in response["headers"]


@pytest.mark.parametrize("operation_id", OPERATION_IDS.values())
def test_every_answer_documents_the_request_id_header(spec, operations, operation_id):
    _, _, operation = operations[operation_id]
    for code, response in operation["responses"].items():
        headers = resolve(spec, response).get("headers", {})
        assert resolve(spec, headers.get("X-Request-ID", {})).get("required"), code


def test_every_operation_with_a_json_body_documents_400(operations):
    with_body = [name for name, (_, _, op) in operations.items() if "requestBody" in op]
    assert len(with_body) >= 10
    assert [name for name in with_body if "400" not in operations[name][2]["responses"]] == []


def test_message_content_states_the_trimmed_length_rule(spec):
    content = spec["components"]["schemas"]["MessageBody"]["properties"]["content"]
    assert "1 to 4000 characters once surrounding whitespace is trimmed" in content["description"]
    assert content["maxLength"] == 8000  # what may be sent, blanks included


@pytest.mark.parametrize("page", PAGES)
def test_every_page_gives_nullable_cursors_beside_its_links(spec, page):
    schema = spec["components"]["schemas"][page]
    for field in ("next", "previous", "next_cursor", "previous_cursor"):
        assert schema["properties"][field]["type"] == ["string", "null"]
    assert set(schema["required"]) == {
        "results", "next", "previous", "next_cursor", "previous_cursor"
    }


def link_targets(operation: dict, code: str) -> dict[str, dict]:
    return operation["responses"][code]["links"]


@pytest.mark.parametrize("code", ["201", "200"])
def test_a_created_conversation_links_to_every_operation_on_it(operations, code):
    _, _, create = operations["createConversation"]
    links = link_targets(create, code)
    on_a_conversation = {
        name for (_, path), name in OPERATION_IDS.items()
        if path.startswith("/conversations/{conversation_id}/") and "{message_id}" not in path
    }
    assert {link["operationId"] for link in links.values()} >= on_a_conversation
    for link in links.values():
        assert link["parameters"] == {"conversation_id": "$response.body#/id"}


def test_a_sent_message_links_to_every_operation_on_it(operations):
    _, _, send = operations["sendMessage"]
    links = link_targets(send, "201")
    on_a_message = {name for (_, path), name in OPERATION_IDS.items() if "{message_id}" in path}
    assert {link["operationId"] for link in links.values()} >= on_a_message
    for link in links.values():
        assert link["parameters"]["conversation_id"] == "$response.body#/conversation_id"
    assert links["listMessagesSince"]["parameters"]["since"] == "$response.body#/id"


def test_a_new_user_links_to_starting_a_conversation_with_them(operations):
    _, _, register = operations["register"]
    link = link_targets(register, "201")["startConversation"]
    assert link == {
        "operationId": "createConversation",
        "requestBody": {"participants": ["$response.body#/id"]},
    }


def test_every_link_names_parameters_its_operation_has(spec, operations):
    for _, _, operation in operations.values():
        for response in operation["responses"].values():
            for link in resolve(spec, response).get("links", {}).values():
                method, path, target = operations[link["operationId"]]
                names = {p["name"] for p in spec["paths"][path].get("parameters", [])}
                names |= {p["name"] for p in target.get("parameters", [])}
                assert set(link.get("parameters", {})) <= names, link


# The cursors at work: a generated client follows a page with `cursor=next_cursor`.

def follow_cursors(client, url: str, account, **params) -> list[list]:
    """Every page of a list, each asked for with the previous page's next_cursor."""
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, query_string=query, headers=account.headers).json
        pages.append(page["results"])
        if page["next_cursor"] is None:
            assert page["next"] is None
            return pages
        assert f"cursor={page['next_cursor']}" in page["next"]
        cursor = page["next_cursor"]


def test_following_next_cursor_walks_the_history_as_next_does(
    client, alice, bob, start_conversation, send
):
    chat = start_conversation(alice, bob)
    sent = [send(alice, chat["id"], f"message {number}")["id"] for number in range(5)]
    url = f"/conversations/{chat['id']}/messages/"

    pages = follow_cursors(client, url, alice, limit=2)

    assert [[message["id"] for message in page] for page in pages] == [
        sent[4:2:-1], sent[2:0:-1], sent[:1]
    ]


def test_following_next_cursor_with_since_syncs_oldest_first(
    client, alice, bob, start_conversation, send
):
    chat = start_conversation(alice, bob)
    sent = [send(alice, chat["id"], f"message {number}")["id"] for number in range(5)]
    url = f"/conversations/{chat['id']}/messages/"

    pages = follow_cursors(client, url, alice, limit=2, since=sent[0])

    assert [message["id"] for page in pages for message in page] == sent[1:]


def test_previous_cursor_leads_back(client, alice, make_account):
    for number in range(3):
        make_account(f"ann{number}")
    first = client.get("/api/users/", query_string={"q": "ann", "limit": 2},
                       headers=alice.headers).json
    second = client.get("/api/users/", headers=alice.headers, query_string={
        "q": "ann", "limit": 2, "cursor": first["next_cursor"]
    }).json
    back = client.get("/api/users/", headers=alice.headers, query_string={
        "q": "ann", "limit": 2, "cursor": second["previous_cursor"]
    }).json

    assert first["previous_cursor"] is None
    assert [user["username"] for user in back["results"]] == ["ann0", "ann1"]
    assert back["results"] == first["results"]
