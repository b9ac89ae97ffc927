"""Link inference from structure: parent, key, order, intervals, counter, bound, monotone."""

from __future__ import annotations

import pandas as pd
import pytest

from clinisynth.errors import SchemaError
from clinisynth.linked.cohort import simulate_cohort
from clinisynth.schema.links import ChildLink, LinkSchema, infer_links
from conftest import shared_dataset


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(120, seed=3)


def test_links_are_found_from_structure(cohort):
    links = infer_links(cohort)
    assert (links.parent, links.key) == ("patients", "id")
    visits, infections = links.children
    assert (visits.order, visits.stop, visits.counter, visits.bound) == ("day", None, None,
                                                                         "futime")
    assert visits.monotone == ["stage"]  # never falls, but moves less than the day
    assert (infections.order, infections.stop, infections.counter) == ("tstart", "tstop",
                                                                       "enum")
    assert infections.kind == "intervals" and visits.kind == "sequence"


def test_names_play_no_part(cohort):
    renamed = {"t1": cohort["patients"].rename(columns={"id": "a", "futime": "b"}),
               "t2": cohort["visits"].rename(columns={"id": "a", "day": "c"})}
    links = infer_links(renamed)
    assert (links.parent, links.key, links.children[0].order,
            links.children[0].bound) == ("t1", "a", "c", "b")


def test_links_round_trip_and_are_checked(cohort):
    links = infer_links(cohort)
    again = LinkSchema.from_dict(links.to_dict())
    assert again == links
    bad = LinkSchema("patients", "id", [ChildLink("visits", "id", order="nope")])
    with pytest.raises(SchemaError, match="visits has no column 'nope'"):
        bad.validate(cohort)


def test_orphans_and_missing_keys_are_one_line_errors(cohort):
    visits = cohort["visits"].copy()
    visits.loc[0, "id"] = 10_000
    with pytest.raises(SchemaError, match="no column is unique"):
        infer_links({"patients": cohort["patients"], "visits": visits})
    with pytest.raises(SchemaError, match="rows of visits have a id that no patients row has"):
        LinkSchema("patients", "id", [ChildLink("visits", "id")]).validate(
            {"patients": cohort["patients"], "visits": visits})
    with pytest.raises(SchemaError, match="--key 'age'"):
        infer_links(cohort, key="age")


def test_shared_linked_tables():
    patients = pd.read_csv(shared_dataset("pbcseq_patients.csv"))
    visits = pd.read_csv(shared_dataset("pbcseq_visits.csv"))
    link = infer_links({"p": patients, "v": visits}).children[0]
    assert (link.order, link.bound) == ("day", "futime")
    patients = pd.read_csv(shared_dataset("cgd_patients.csv"))
    intervals = pd.read_csv(shared_dataset("cgd_intervals.csv"))
    link = infer_links({"p": patients, "i": intervals}).children[0]
    assert (link.order, link.stop, link.counter) == ("tstart", "tstop", "enum")


def test_sdv_metadata_gives_the_links(cohort):
    from clinisynth.schema.links import links_from_sdv

    visits = cohort["visits"].rename(columns={"id": "patient_id"})
    tables = {"patients": cohort["patients"], "visits": visits}
    metadata = {
        "METADATA_SPEC_VERSION": "V1",
        "tables": {"patients": {"primary_key": "id"},
                   "visits": {"sequence_key": "patient_id", "sequence_index": "day"}},
        "relationships": [{"parent_table_name": "patients", "child_table_name": "visits",
                           "parent_primary_key": "id", "child_foreign_key": "patient_id"}]}
    links = links_from_sdv(metadata, tables)
    child = links.children[0]
    assert (links.parent, links.key, child.key, child.order, child.bound) == (
        "patients", "id", "patient_id", "day", "futime")
    metadata["relationships"][0]["parent_table_name"] = "nope"
    with pytest.raises(SchemaError, match="parent 'nope' is not among the tables"):
        links_from_sdv(metadata, tables)


def test_a_row_number_across_the_table_is_an_identifier_not_the_order(cohort):
    visits = cohort["visits"].copy()
    visits.insert(0, "visit_id", range(1001, 1001 + len(visits)))
    link = infer_links({"patients": cohort["patients"], "visits": visits}).children[0]
    assert link.ids == ["visit_id"] and link.order == "day"
