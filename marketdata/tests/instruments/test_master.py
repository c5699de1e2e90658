"""Reading the master as a stream: records come as the bytes arrive, never the whole
document first."""

import io
import json

import pytest

from marketdata.instruments import MasterUnreadableError
from marketdata.instruments.master import master_records
from marketdata.tests.instruments.test_sync import chain
from testing.streams import CountingStream


def test_the_first_records_arrive_before_the_master_is_read_to_its_end():
    data = json.dumps(chain(20_000)).encode()  # about 4 MB
    stream = CountingStream(b"\xef\xbb\xbf\n  " + data)

    records = master_records(stream, source="memory")
    first = [next(records) for _ in range(3)]

    assert [record["token"] for record in first] == ["40000", "40001", "40002"]
    assert stream.bytes_read < len(data) // 20


@pytest.mark.parametrize("text", ["", "   ", '{"status": false}', "null", '"[]"'])
def test_a_document_that_is_not_a_list_is_unreadable(text):
    with pytest.raises(MasterUnreadableError, match="not a JSON list"):
        list(master_records(io.BytesIO(text.encode()), source="memory"))
