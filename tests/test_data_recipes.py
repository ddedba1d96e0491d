"""Recipes: parsing each raw layout, and one clear DataError per kind of bad input."""

from __future__ import annotations

import calendar
from pathlib import Path

import numpy as np
import pytest
from reference_protocol import recent_cases

from sessrec.data import get_recipe, prepare
from sessrec.data.recipes.csv import CsvLog
from sessrec.data.recipes.diginetica import Diginetica
from sessrec.data.recipes.retailrocket import RetailRocket
from sessrec.data.recipes.yoochoose import Yoochoose
from sessrec.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data from the repo root
RR_STAGED = SHARED / "retailrocket" / "retailrocket_sessions_2015-09-10_2015-09-18.csv"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def epoch(text: str) -> float:
    whole, frac = text.rstrip("Z").split(".")
    return calendar.timegm(__import__("time").strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


# ---------------------------------------------------------------------------------- yoochoose
YOO = """1,2014-04-07T10:51:09.277Z,214536502,0
1,2014-04-07T10:54:09.868Z,214536500,0
2,2014-04-07T13:56:37.614Z,214662742,S
2,2014-04-07T13:57:19.373Z,214662742,2053
3,2014-04-08T09:00:00.000Z,214536502,S
"""


def test_yoochoose_parsing(tmp_path):
    ev = Yoochoose(path=write(tmp_path / "clicks.dat", YOO)).load_events()
    assert ev["session_id"].tolist() == [1, 1, 2, 2, 3]
    assert ev["item_id"].tolist() == [214536502, 214536500, 214662742, 214662742, 214536502]
    assert ev["time"].to_numpy() == pytest.approx([epoch(line.split(",")[1]) for line in YOO.split()], abs=1e-6)
    # narm date = the time truncated to the second (SR-GNN parses curdate[:19])
    assert ev["date"].iloc[0] == calendar.timegm((2014, 4, 7, 10, 51, 9, 0, 0, 0))


def yoochoose_file(tmp_path: Path) -> tuple[Path, list[list[int]]]:
    """60 train sessions over 5 items on 2014-04-01..(+59 h), 2 test sessions a day later."""
    rng = np.random.default_rng(0)
    lines, train = [], []
    for s in range(60):
        seq = [int(x) for x in rng.integers(1, 6, size=2 + s % 4)]
        train.append(seq)
        for k, item in enumerate(seq):
            lines.append(f"{s + 1},2014-04-0{1 + s // 24}T{s % 24:02d}:{k:02d}:00.000Z,{item},S")
    for s, seq in enumerate([[1, 2, 3], [4, 5]]):
        for k, item in enumerate(seq):
            lines.append(f"{100 + s},2014-04-06T10:{k:02d}:{s:02d}.500Z,{item},0")
    return write(tmp_path / "yoochoose-clicks.dat", "\n".join(lines) + "\n"), train


def test_yoochoose_1_64_cut(tmp_path):
    path, train = yoochoose_file(tmp_path)
    full = prepare("yoochoose", path=path, data_root=tmp_path)
    cut = prepare("yoochoose-1-64", path=path, data_root=tmp_path)
    n_cases = sum(len(s) - 1 for s in train)
    assert full.stats["train_cases"] == n_cases
    expected = recent_cases(train, 64)
    assert len(expected) == n_cases // 64 == cut.stats["train_cases"] > 0
    to_ids = cut.item_index.to_ids
    got = [
        (tuple(to_ids(seq[:i]).tolist()), int(to_ids(seq[i : i + 1])[0]))
        for seq in cut.train
        for i in range(1, len(seq))
    ]
    assert sorted(got) == sorted(expected)
    # the test cases and the ranked catalogue are those of the full split
    assert cut.test.items.tolist() == full.test.items.tolist()
    assert cut.train.n_items == full.train.n_items == len(cut.item_index)
    assert cut.protocol["params"]["train_fraction"] == "1/64"
    quarter = prepare("yoochoose-1-4", path=path, data_root=tmp_path)
    assert quarter.stats["train_cases"] == n_cases // 4
    with pytest.raises(ConfigError, match="only under protocol"):
        prepare("yoochoose-1-64", path=path, data_root=tmp_path, protocol="gru4rec")


def test_yoochoose_bad_timestamp_and_id(tmp_path):
    bad = write(tmp_path / "c.dat", YOO.replace("2014-04-07T13:56:37.614Z", "07/04/2014 13:56"))
    with pytest.raises(DataError, match=r"c\.dat, line 3: column 'timestamp' expected a timestamp"):
        Yoochoose(path=bad).load_events()
    bad = write(tmp_path / "d.dat", YOO.replace("214662742,S", "abc,S"))
    with pytest.raises(DataError, match=r"d\.dat, line 3: column 'item' expected an integer id, found 'abc'"):
        Yoochoose(path=bad).load_events()
    bad = write(tmp_path / "e.dat", YOO.replace(",", ";"))
    with pytest.raises(DataError, match=r"e\.dat, line 1: expected 3 comma-separated .* semicolon-separated"):
        Yoochoose(path=bad).load_events()


# ---------------------------------------------------------------------------------- retailrocket
# epoch milliseconds from T0_MS = 2015-04-25T22:13:20Z
T0_MS, T0 = 1_430_000_000_000, 1_430_000_000
RR = """timestamp,visitorid,event,itemid,transactionid
1431000000000,7,view,11,
1431000600000,7,addtocart,11,
1431001500000,7,view,12,
1431010000000,7,view,13,
1431000100000,3,view,12,
1431000200000,3,view,12,
1431000300000,3,transaction,14,99
"""


def test_retailrocket_sessions_split_at_30_minutes(tmp_path):
    ev = RetailRocket(path=write(tmp_path / "events.csv", RR)).load_events()
    # visitor 3 first (sorted by visitor); visitor 7: 1000.0 s, +600 (cart), +900 -> same session;
    # 1010000 s is 8500 s later -> new session; non-view events dropped after sessionising
    assert ev["session_id"].tolist() == [1, 1, 2, 2, 3]
    assert ev["item_id"].tolist() == [12, 12, 11, 12, 13]
    assert ev["time"].tolist() == [T0 + t for t in (1000100.0, 1000200.0, 1000000.0, 1001500.0, 1010000.0)]
    assert ev["date"].tolist() == [T0 + t for t in (1000200.0, 1000200.0, 1001500.0, 1001500.0, 1010000.0)]
    one_hour = RetailRocket(path=tmp_path / "events.csv", session_gap=10_000).load_events()
    assert one_hour["session_id"].tolist() == [1, 1, 2, 2, 2]


# ---------------------------------------------------------------------------------- csv
@pytest.mark.skipif(not RR_STAGED.is_file(), reason="staged RetailRocket file not present")
def test_csv_recipe_loads_staged_retailrocket(tmp_path):
    recipe = CsvLog(
        path=RR_STAGED, session="SessionId", item="ItemId", time="Time", filter_column="Type", keep_values=["view"]
    )
    ev = recipe.load_events()
    # PROVENANCE.md: Type == view only, as staged: 43,291 events, 14,588 sessions
    assert len(ev) == 43_291 and ev["session_id"].nunique() == 14_588
    ds = prepare(
        "csv",
        data_root=tmp_path,
        path=RR_STAGED,
        session="SessionId",
        item="ItemId",
        time="Time",
        filter_column="Type",
        keep_values=["view"],
        test_days=1,
    )
    s = ds.stats
    # PROVENANCE.md, "Type == view only, filtered" (same one-pass filter): 19,149 events, 6,470 sessions
    kept = (
        s["raw_clicks"]
        - s["dropped_length1_clicks"]
        - s["dropped_rare_item_clicks"]
        - s["dropped_short_session_clicks"]
    )
    sessions = s["raw_sessions"] - s["dropped_length1_sessions"] - s["dropped_short_sessions"]
    assert (kept, sessions) == (19_149, 6_470)
    assert ds.train.n_cases > 0 and ds.test.n_cases > 0


def test_csv_sniffs_tsv_iso_times_and_string_ids(tmp_path):
    text = "sid\titem\tts\nA\tx\t2020-01-01T00:00:00Z\nA\ty\t2020-01-01T00:01:00Z\nB\tx\t2020-01-02T00:00:00Z\n"
    path = write(tmp_path / "log.tsv", text)
    ev = CsvLog(path=path, session="sid", item="item", time="ts", string_ids=True).load_events()
    assert ev["session_id"].tolist() == [0, 0, 1]
    assert ev["item_id"].tolist() == ["x", "y", "x"]
    assert ev["time"].iloc[1] - ev["time"].iloc[0] == 60.0
    with pytest.raises(DataError, match=r"log\.tsv, line 2: column 'sid' expected an integer id, found 'A'"):
        CsvLog(path=path, session="sid", item="item", time="ts").load_events()
    ms = write(tmp_path / "ms.csv", "SessionId,ItemId,Time\n1,5,1442004589000\n1,6,1442004590500\n")
    assert CsvLog(path=ms).load_events()["time"].tolist() == [1442004589.0, 1442004590.5]


def test_csv_errors(tmp_path):
    path = write(tmp_path / "log.csv", "SessionId,ItemId,Time,Type\n1,5,10,view\n1,,11,view\n")
    with pytest.raises(DataError, match=r"log\.csv, line 3: column 'ItemId' expected an integer id, found an empty"):
        CsvLog(path=path).load_events()
    with pytest.raises(DataError, match=r"missing column\(s\) Session"):
        CsvLog(path=path, session="Session").load_events()
    with pytest.raises(DataError, match="no row has Type in"):
        CsvLog(path=path, filter_column="Type", keep_values=["buy"]).load_events()
    bad_time = write(tmp_path / "t.csv", "SessionId,ItemId,Time\n1,5,10\n1,6,soon\n")
    with pytest.raises(DataError, match=r"t\.csv, line 3: column 'Time' expected epoch .*found 'soon'"):
        CsvLog(path=bad_time, time_unit="s").load_events()


# ---------------------------------------------------------------------------------- diginetica errors
DIGI = "sessionId;userId;itemId;timeframe;eventdate\n1;NA;81766;526309;2016-05-09\n1;NA;31331;1031018;2016-05-09\n"


def test_diginetica_header_spellings(tmp_path):
    a = Diginetica(path=write(tmp_path / "a.csv", DIGI)).load_events()
    b = Diginetica(
        path=write(tmp_path / "b.csv", DIGI.replace("sessionId;userId;itemId", "session_id;user_id;item_id"))
    ).load_events()
    assert a.equals(b)
    assert a["time"].tolist() == [1462752000 + 526.309, 1462752000 + 1031.018]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DIGI.replace(";", ","), r"line 1: expected 5 semicolon-separated .* comma-separated"),
        (DIGI.replace(";timeframe", ";tf"), r"line 1: missing column\(s\) timeframe"),
        (
            DIGI.replace("2016-05-09\n1", "2016-13-45\n1"),
            r"line 2: column 'eventdate' expected a timestamp like '2016-05-09', found '2016-13-45'",
        ),
        (DIGI.replace("31331", "3x1"), r"line 3: column 'itemId' expected an integer id, found '3x1'"),
        (
            DIGI.replace("1;NA;31331", ";NA;31331"),
            r"line 3: column 'sessionId' expected an integer id, found an empty value",
        ),
        ("", r"the file is empty"),
    ],
)
def test_diginetica_bad_input(tmp_path, text, message):
    path = write(tmp_path / "views.csv", text)
    with pytest.raises(DataError, match=message) as info:
        Diginetica(path=path).load_events()
    assert "views.csv" in str(info.value)


def test_missing_raw_file_says_where_and_whence(tmp_path):
    with pytest.raises(DataError) as info:
        prepare("diginetica", data_root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "diginetica" / "train-item-views.csv") in msg and "codalab" in msg
    with pytest.raises(DataError, match="kaggle"):
        prepare("retailrocket", data_root=tmp_path)


def test_nothing_left_after_filtering(tmp_path):
    path = write(tmp_path / "views.csv", DIGI)  # items seen once each
    with pytest.raises(DataError, match="nothing is left after filtering"):
        prepare("diginetica", path=path, data_root=tmp_path)


def test_unknown_recipe_and_option(tmp_path):
    expected = r"unknown dataset 'diginetca'; installed datasets: .*synthetic.*Did you mean 'diginetica'\?"
    with pytest.raises(ConfigError, match=expected):
        get_recipe("diginetca")
    with pytest.raises(ConfigError, match=r"unknown option colour .*recipe options: path"):
        prepare("diginetica", data_root=tmp_path, colour="red")
    with pytest.raises(ConfigError, match="unknown protocol 'sasrec'"):
        prepare("synthetic", data_root=tmp_path, protocol="sasrec", n_sessions=50, n_items=20)
    with pytest.raises(ConfigError, match="protocol 'gru4rec' has no parameter keep_file_order"):
        prepare("synthetic", data_root=tmp_path, protocol="gru4rec", keep_file_order=True)


def test_missing_path_argument_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv \(given as path=\) not found"):
        prepare("csv", path=tmp_path / "nope.csv", data_root=tmp_path)
