"""The JSON document of every catalogue entry follows its documented schema."""
import json
from importlib import resources

import jsonschema
import pytest

import derive

SCHEMA = json.loads(resources.files("derive").joinpath("schema/derivation.schema.json").read_text())


@pytest.mark.parametrize("name", [e.name for e in derive.catalogue()])
def test_valid_against_the_schema(name):
    doc = json.loads(getattr(derive, name)().to_json())
    jsonschema.validate(doc, SCHEMA)


def test_the_schema_lists_every_rule():
    """The schema's enum is derive.Rule's values in their order: PYTHONPATH=. python scripts/schema.py writes it."""
    assert SCHEMA["$defs"]["step"]["properties"]["rule"]["enum"] == [r.value for r in derive.Rule]


def test_content(ce):
    doc = ce.to_dict()
    assert doc["schema"] == "derive.derivation/3"
    assert doc["result"] == {"latex": "o_{k} - y_{k}", "text": "o_k - y_k"}
    assert [s["rule"] for s in doc["steps"]][-1] == "assumption"
    assert doc["steps"][-1]["assumptions"] == ["y_sums_to_one"]
    assert [(l["name"], l["number"]) for l in doc["lemmas"]] == [("softmax_partial_same", 1),
                                                                  ("softmax_partial_other", 2)]
    assert doc["steps"][4]["lemmas"] == ["softmax_partial_same", "softmax_partial_other"]


def test_parts_and_abstract_definitions():
    doc = derive.mlp_backprop().to_dict()
    assert [p["name"] for p in doc["parts"]] == ["bp1", "bp2", "bp3", "bp4"]
    assert any(d["abstract"] and d["rhs"] is None for d in doc["definitions"])


def test_stable_from_run_to_run():
    assert derive.softmax_se().to_json() == derive.softmax_se().to_json()


def test_a_broken_document_is_rejected():
    doc = derive.softmax_ce().to_dict()
    doc["steps"][0]["rule"] = "magic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
