"""Record ids sort by creation time as strings and are validated strictly."""

from __future__ import annotations

import time

import pytest

from carevault.domain.ids import check_id, id_time, new_id
from carevault.errors import ValidationError


def test_ids_sort_by_creation_time() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id())
        time.sleep(0.002)
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert all(check_id(i) == i for i in ids)
    assert abs(id_time(ids[0]).timestamp() - time.time()) < 60


@pytest.mark.parametrize("bad", ["", "short", "0" * 27, "U" * 26, 12345, None])
def test_bad_ids_are_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        check_id(bad, "patient_id")
    assert caught.value.field == "patient_id"
