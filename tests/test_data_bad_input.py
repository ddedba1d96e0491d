"""Bad raw data: one clear error (or the one right reading plus a note), never a silent misreading."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest

from sessrec.data.recipes.csv import CsvLog
from sessrec.data.recipes.diginetica import Diginetica
from sessrec.data.recipes.retailrocket import RetailRocket
from sessrec.data.recipes.yoochoose import Yoochoose
from sessrec.errors import DataError
from sessrec.progress import progress_callback

DIGI = "sessionId;userId;itemId;timeframe;eventdate\n" + "".join(
    f"{s};NA;{100 + k};{1000 * k};2016-05-{1 + s % 9:02d}\n" for s in range(1, 200) for k in range(2)
)
RR = "timestamp,visitorid,event,itemid,transactionid\n" + "".join(
    f"{1442004589000 + 1000 * i},{i % 7},view,{10 + i % 5},\n" for i in range(300)
)
YOO = "".join(f"{1 + i // 3},2014-04-07T10:{i % 60:02d}:09.277Z,{214536502 + i % 4},0\n" for i in range(300))


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def notes_of(fn):
    notes: list[str] = []
    with progress_callback(lambda kind, info: notes.append(info["text"]) if kind == "note" else None):
        out = fn()
    return out, notes


def replace_line(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


# ---------------------------------------------------------------------- compression and encodings
@pytest.mark.parametrize("opener", [gzip.compress, bz2.compress], ids=["gzip", "bz2"])
def test_compressed_files_read_like_plain_ones(tmp_path, opener):
    plain = Diginetica(path=write(tmp_path / "v.csv", DIGI)).load_events()
    packed = Diginetica(path=write(tmp_path / "v.csv.gz", opener(DIGI.encode()))).load_events()
    assert packed.equals(plain)
    yoo = Yoochoose(path=write(tmp_path / "c.dat.gz", gzip.compress(YOO.encode()))).load_events()
    assert yoo.equals(Yoochoose(path=write(tmp_path / "c.dat", YOO)).load_events())


def test_byte_order_mark_is_dropped(tmp_path):
    plain = CsvLog(path=write(tmp_path / "a.csv", "SessionId,ItemId,Time\n1,5,10\n1,6,11\n")).load_events()
    bom = CsvLog(path=write(tmp_path / "b.csv", "\ufeffSessionId,ItemId,Time\n1,5,10\n1,6,11\n")).load_events()
    assert bom.equals(plain)
    digi = Diginetica(path=write(tmp_path / "d.csv", "\ufeff" + DIGI)).load_events()
    assert digi.equals(Diginetica(path=write(tmp_path / "e.csv", DIGI)).load_events())


def test_non_utf8_byte_names_its_line(tmp_path):
    raw = replace_line(DIGI, 150, "74;NA;100;0;2016-05-02").encode().split(b"\n")
    raw[149] = b"74;N\xe9;100;0;2016-05-02"
    raw = b"\n".join(raw)
    with pytest.raises(DataError, match=r"v\.csv, line 150: byte 0xE9 at column 5 is not UTF-8"):
        Diginetica(path=write(tmp_path / "v.csv", raw)).load_events()
    yoo = YOO.encode().replace(b"2,2014", b"2,2\xff14", 1)
    with pytest.raises(DataError, match=r"line 4: byte 0xFF at column 4 is not UTF-8"):
        Yoochoose(path=write(tmp_path / "c.dat", yoo)).load_events()


# ---------------------------------------------------------------------- line numbers
def test_bad_value_lines_are_exact_wherever_they_are(tmp_path):
    bad = replace_line(DIGI, 101, "50;NA;100;0;2016-05-99")
    with pytest.raises(DataError, match=r"line 101: column 'eventdate' expected a timestamp.*'2016-05-99'"):
        Diginetica(path=write(tmp_path / "a.csv", bad)).load_events()
    # blank lines before the bad row shift it; the message follows
    blanks = bad.replace("\n2;NA;100", "\n\n\n2;NA;100", 1)
    with pytest.raises(DataError, match=r"line 103: column 'eventdate'"):
        Diginetica(path=write(tmp_path / "b.csv", blanks)).load_events()
    # csv with "auto" time: a bad value at line 101 of otherwise epoch seconds
    rows = "".join(f"{i // 2},{i % 7},{1442004589 + i}\n" for i in range(300))
    log = replace_line("SessionId,ItemId,Time\n" + rows, 101, "49,3,later")
    with pytest.raises(DataError, match=r"line 101: column 'Time' expected epoch .*found 'later'"):
        CsvLog(path=write(tmp_path / "c.csv", log)).load_events()
    # after a filter, lines still follow the file
    typed = "SessionId,ItemId,Time,Type\n" + "".join(f"{i // 2},{i % 7},{1442004589 + i},view\n" for i in range(300))
    typed = replace_line(typed, 3, "0,x,1442004590,cart")  # filtered out: never reported
    typed = replace_line(typed, 201, "99,y,1442004789,view")
    with pytest.raises(DataError, match=r"t\.csv, line 201: column 'ItemId' expected an integer id, found 'y'"):
        CsvLog(path=write(tmp_path / "t.csv", typed), filter_column="Type", keep_values=["view"]).load_events()


def test_yoochoose_lines_are_exact_beyond_the_first_chunk(tmp_path, monkeypatch):
    import sessrec.data.recipes.yoochoose as yoochoose

    monkeypatch.setattr(yoochoose, "_CHUNK", 64)
    bad = replace_line(YOO, 200, "67,2014-04-07T10:19:09.277Z,12x,0")
    with pytest.raises(DataError, match=r"line 200: column 'item' expected an integer id, found '12x'"):
        Yoochoose(path=write(tmp_path / "c.dat", bad)).load_events()


def test_row_with_surplus_fields_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"line 120: expected 5 semicolon-separated fields .*found 6"):
        Diginetica(path=write(tmp_path / "v.csv", replace_line(DIGI, 120, "60;NA;100;0;2016-05-07;x"))).load_events()
    with pytest.raises(DataError, match=r"line 40: expected 4 comma-separated fields .*found 5"):
        bad = replace_line(YOO, 40, "14,2014-04-07T10:39:09.277Z,1,0,9")
        Yoochoose(path=write(tmp_path / "c.dat", bad)).load_events()
    every = "SessionId,ItemId,Time\n1,5,10,\n1,6,11,\n"  # a trailing delimiter on every row
    with pytest.raises(DataError, match="every row has more fields than the header"):
        CsvLog(path=write(tmp_path / "e.csv", every)).load_events()


# ---------------------------------------------------------------------- ids
@pytest.mark.parametrize(
    ("item", "why"),
    [
        ("1e3", r"found '1e3' \(written as a floating-point number"),
        ("99999999999999999999", r"found '99999999999999999999' \(beyond the 64-bit integer range\)"),
        ("9223372036854775808", r"found '9223372036854775808' \(beyond the 64-bit integer range\)"),
    ],
)
def test_ids_that_are_not_64_bit_integers_are_errors(tmp_path, item, why):
    rows = "SessionId,ItemId,Time\n" + "".join(f"{i},{i},{100 + i}\n" for i in range(50))
    text = replace_line(rows, 30, f"28,{item},9")
    with pytest.raises(DataError, match=rf"line 30: column 'ItemId' expected an integer id, {why}.*string_ids=True"):
        CsvLog(path=write(tmp_path / "a.csv", text)).load_events()
    with pytest.raises(DataError, match=r"line 7: column 'itemId' expected an integer id"):
        Diginetica(path=write(tmp_path / "d.csv", replace_line(DIGI, 7, f"3;NA;{item};0;2016-05-04"))).load_events()


def test_largest_int64_ids_are_kept_exactly(tmp_path):
    big = 2**63 - 1
    ev = CsvLog(path=write(tmp_path / "a.csv", f"SessionId,ItemId,Time\n1,{big},10\n1,-5,11\n")).load_events()
    assert ev["item_id"].tolist() == [big, -5]


# ---------------------------------------------------------------------- epoch units
def test_epoch_seconds_and_milliseconds_mixed_is_an_error(tmp_path):
    rows = [f"{i // 3},{i % 5},{1442004589000 + 1000 * i}" for i in range(200)]
    rows[60:] = [f"{i // 3},{i % 5},{1442004589 + i}" for i in range(60, 200)]  # 70% in seconds
    with pytest.raises(DataError, match=r"mixes epoch seconds and milliseconds \(line 62: 1442004649 .*line 2: "):
        CsvLog(path=write(tmp_path / "a.csv", "SessionId,ItemId,Time\n" + "\n".join(rows) + "\n")).load_events()


def test_retailrocket_in_seconds_says_so(tmp_path):
    secs = "timestamp,visitorid,event,itemid,transactionid\n" + "".join(
        f"{1442004589 + i},{i % 7},view,{10 + i % 5},\n" for i in range(300)
    )
    with pytest.raises(DataError, match="these look like seconds, the recipe expects milliseconds; Kaggle"):
        RetailRocket(path=write(tmp_path / "events.csv", secs)).load_events()
    assert len(RetailRocket(path=write(tmp_path / "ok.csv", RR)).load_events()) == 300
    with pytest.raises(DataError, match=r"look like seconds, the recipe expects milliseconds; pass time_unit='s'"):
        CsvLog(path=write(tmp_path / "c.csv", "SessionId,ItemId,Time\n1,5,1442004589\n"), time_unit="ms").load_events()


# ---------------------------------------------------------------------- layouts and event types
def test_session_file_given_to_retailrocket_suggests_the_csv_recipe(tmp_path):
    text = "SessionId,UserId,ItemId,CatId,Type,Time\n1,0,285930,1188,view,1442004589\n"
    with pytest.raises(DataError, match=r"missing column.*with the csv recipe.*--dataset csv -o path=FILE"):
        RetailRocket(path=write(tmp_path / "s.csv", text)).load_events()
    with pytest.raises(DataError, match=r"RetailRocket's events.csv.*--dataset retailrocket"):
        CsvLog(path=write(tmp_path / "events.csv", RR)).load_events()


def test_csv_says_which_event_types_it_kept(tmp_path):
    text = "SessionId,ItemId,Time,Type\n" + "".join(
        f"{i // 4},{i % 5},{1442004589 + i},{['view', 'view', 'addtocart', 'transaction'][i % 4]}\n" for i in range(40)
    )
    path = write(tmp_path / "log.csv", text)
    ev, notes = notes_of(lambda: CsvLog(path=path).load_events())
    assert len(ev) == 40
    assert notes == [
        "kept every event type in column 'Type' (view: 20, addtocart: 10, transaction: 10); to keep only one, "
        "pass filter_column='Type' keep_values=[...] (-o filter_column=Type -o keep_values=view)"
    ]
    ev, notes = notes_of(lambda: CsvLog(path=path, filter_column="Type", keep_values=["view"]).load_events())
    assert len(ev) == 20
    assert notes == ["log.csv: kept 20 rows with Type in ['view']; dropped addtocart: 10, transaction: 10"]
    views_only = text.replace("addtocart", "view").replace("transaction", "view")
    ev, notes = notes_of(lambda: CsvLog(path=write(tmp_path / "v.csv", views_only)).load_events())
    assert len(ev) == 40 and notes == []
