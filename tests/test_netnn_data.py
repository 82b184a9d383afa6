"""NetNN data: real loaders (counts from SOURCE.md), missing data, the synthetic packet generator."""

import struct

import numpy as np
import pytest

from ssloserve.data import has_data
from ssloserve.errors import DataNotFoundError, TraceFormatError
from ssloserve.netnn.data import (
    _CIC_NUMERIC,
    OTHER,
    encode_category,
    load_cicids2017,
    load_nsl_kdd,
    load_unsw_nb15,
    log_code,
    train_test_split,
    vocabulary,
)
from ssloserve.netnn.packets import KINDS, generate_packets, iat_code, ipv4_checksum, split_flows

needs_data = pytest.mark.skipif(not has_data("nids"), reason="needs $SSLOSERVE_DATA/nids")


@needs_data
def test_real_loaders_match_source_counts():
    cic = load_cicids2017()
    assert len(cic) == 7500 and cic.y.sum() == 5000
    assert set(cic.classes) == {"BENIGN", "DDoS", "Portscan"}
    nsl = load_nsl_kdd()
    assert len(nsl) == 25192 and (nsl.y == 0).sum() == 13449
    unsw = load_unsw_nb15()
    assert len(unsw) == 82332 and (unsw.y == 0).sum() == 37000
    for d in (cic, nsl, unsw):
        assert d.x.dtype == np.uint8 and d.x.shape[1] == len(d.features) == 16
        assert (d.x.std(axis=0) > 0).all() and d.source  # no constant feature


@needs_data
def test_subsample_and_split_keep_classes():
    d = load_unsw_nb15(max_rows=2000, seed=1)
    assert abs(len(d) - 2000) <= 2
    tr, te = train_test_split(d, 0.25, seed=1)
    assert len(tr) + len(te) == len(d)
    assert abs(te.y.mean() - d.y.mean()) < 0.02


def test_missing_data_names_the_source(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="Tavallaee"):
        load_nsl_kdd()


def test_bad_files_name_the_file_and_line(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    nsl = tmp_path / "nids" / "nsl_kdd"
    nsl.mkdir(parents=True)
    fields = ["duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land"]
    fields += ["wrong_fragment", "urgent", "count", "srv_count", "serror_rate", "same_srv_rate"]
    fields += ["dst_host_count", "dst_host_srv_count", "dst_host_serror_rate"]
    names = nsl / "FieldNames.csv"
    names.write_text("".join(f"{n},continuous\n" for n in fields))
    f = nsl / "KDDTrain+_20Percent.txt"
    row = ",".join(["0", "tcp", "http", "SF"] + ["1"] * 12 + ["normal", "20"])
    f.write_text(f"{row}\n{row}\n" + row.replace("0,tcp", "seven,tcp", 1) + "\n")
    with pytest.raises(TraceFormatError, match="'duration' holds 'seven'") as e:
        load_nsl_kdd()
    assert e.value.line == 3 and e.value.path == f
    f.write_text("0,tcp\n")
    with pytest.raises(TraceFormatError, match="expected at least 17") as e:
        load_nsl_kdd()
    assert e.value.line == 1
    names.write_text("duration,continuous\nprotocol_type,symbolic\n")
    f.write_text("0,tcp,normal\n")
    with pytest.raises(TraceFormatError, match="missing column") as e:
        load_nsl_kdd()
    assert "src_bytes" in str(e.value)
    cic = tmp_path / "nids" / "cicids2017_improved_sample"
    cic.mkdir(parents=True)
    g = cic / "BENIGN_2500.csv"
    g.write_text("Dst Port,Protocol,Label\n80,6,BENIGN\n")
    with pytest.raises(TraceFormatError, match="missing column") as e:
        load_cicids2017()
    assert e.value.path == g and "Flow Duration" in str(e.value)


def test_log_code_is_monotone():
    x = np.sort(np.random.default_rng(0).exponential(1e4, 500))
    c = log_code(x, 1e6)
    assert (np.diff(c.astype(int)) >= 0).all() and c.max() <= 255


def test_packets_are_real_and_seeded():
    a, b = generate_packets(40, seed=3), generate_packets(40, seed=3)
    assert a.frames == b.frames and np.array_equal(a.iat_s, b.iat_s)
    assert generate_packets(40, seed=4).frames != a.frames
    assert set(a.kind) <= set(KINDS) and a.x.shape == (len(a), 72)
    for f in a.frames:
        assert f[12:14] == b"\x08\x00"
        ip = f[14:34]
        assert ipv4_checksum(ip) == 0  # a valid header sums to zero
        total = struct.unpack("!H", ip[2:4])[0]
        assert len(f) == 14 + total
    # the first 68 bytes are the packet's bytes (zero-padded when shorter)
    assert bytes(a.snap[0][: min(68, len(a.frames[0]))]) == a.frames[0][:68]


def test_attacks_look_like_themselves():
    p = generate_packets(120, seed=0)
    flags = np.array([f[47] if f[23] == 6 else 0 for f in p.frames])
    syn_only = flags == 0x02
    assert syn_only[p.kind == "SYN flood"].all()
    covert = p.iat_s[(p.kind == "covert timing channel") & (p.iat_s > 0)]
    assert np.all((np.abs(covert - 0.25) < 0.006) | (np.abs(covert - 0.5) < 0.006))
    assert iat_code([0.25])[0] > np.median(iat_code(p.iat_s[p.kind == "benign web"]))
    tr, te = split_flows(p, 0.3, seed=0)
    assert not set(tr.flow) & set(te.flow) and len(tr) + len(te) == len(p)


def test_without_data_the_chapter_uses_synthetic_flows(monkeypatch, tmp_path):
    from ssloserve.netnn.experiment import flow_datasets, flow_detector

    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SSLOSERVE_QUICK", "1")
    sets = flow_datasets()
    assert list(sets) == ["synthetic flows"] and "synthetic" in sets["synthetic flows"].source
    d = sets["synthetic flows"]
    assert len(d.features) == 16 and d.x.dtype == np.uint8
    det = flow_detector(d, epochs=20)
    assert det.float_acc > 0.7


NSL_FIELDS = ["duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land"]
NSL_FIELDS += ["wrong_fragment", "urgent", "count", "srv_count", "serror_rate", "same_srv_rate"]
NSL_FIELDS += ["dst_host_count", "dst_host_srv_count", "dst_host_serror_rate"]


def _nsl_file(path, rows):
    """An NSL-KDD-format file: (service, flag, label) per row, the other fields constant."""
    path.write_text(
        "".join(
            ",".join(["0", "tcp", sv, fl] + ["1"] * 12 + [lab, "20"]) + "\n" for sv, fl, lab in rows
        )
    )
    return path


def test_new_data_is_encoded_with_the_training_vocabulary(monkeypatch, tmp_path):
    """Two files with different category sets: the training file's codes carry over, and a
    category it never saw gets the stated OTHER code."""
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    nsl = tmp_path / "nids" / "nsl_kdd"
    nsl.mkdir(parents=True)
    (nsl / "FieldNames.csv").write_text("".join(f"{n},continuous\n" for n in NSL_FIELDS))
    train = [("smtp", "SF", "normal"), ("http", "S0", "neptune"), ("ftp", "SF", "normal")]
    _nsl_file(nsl / "KDDTrain+_20Percent.txt", train)
    new = [("http", "REJ", "normal"), ("gopher", "SF", "satan"), ("ftp", "S0", "normal")]
    held_out = _nsl_file(tmp_path / "new.txt", new)
    tr = load_nsl_kdd()
    # sorted vocabularies: ftp=0, http=1, smtp=2; S0=0, SF=1
    assert tr.vocab == {"service": ("ftp", "http", "smtp"), "TCP state": ("S0", "SF")}
    col = {f: tr.features.index(f) for f in ("service", "TCP state")}
    assert tr.x[:, col["service"]].tolist() == [2, 1, 0]
    assert tr.x[:, col["TCP state"]].tolist() == [1, 0, 1]
    # read on its own, the new file numbers its own categories: http would be 2, not 1 (the fault)
    alone = load_nsl_kdd(path=held_out)
    assert alone.x[:, col["service"]].tolist() == [2, 1, 0] != [1, OTHER, 0]
    te = load_nsl_kdd(path=held_out, vocab=tr.vocab)
    assert te.vocab == tr.vocab
    assert te.x[:, col["service"]].tolist() == [1, OTHER, 0]
    assert te.x[:, col["TCP state"]].tolist() == [OTHER, 1, 0]
    assert te.classes.tolist() == ["normal", "satan", "normal"] and te.y.tolist() == [0, 1, 0]


def test_unsw_categories_use_the_given_vocabulary(tmp_path):
    cols = ["dur", "spkts", "dpkts", "sbytes", "dbytes", "sttl", "dttl", "swin", "dwin"]
    cols += ["synack", "ackdat", "sinpkt", "dinpkt", "ct_dst_src_ltm"]
    header = ",".join(["id", "proto", "state", *cols, "attack_cat", "label"])

    def write(name, rows):
        body = "".join(
            ",".join([str(i), p, st] + ["1"] * len(cols) + [c, str(int(c != "Normal"))]) + "\n"
            for i, (p, st, c) in enumerate(rows)
        )
        f = tmp_path / name
        f.write_text(header + "\n" + body)
        return f

    a = load_unsw_nb15(path=write("a.csv", [("udp", "INT", "Normal"), ("tcp", "FIN", "DoS")]))
    assert a.vocab == {"protocol": ("tcp", "udp"), "state": ("FIN", "INT")}
    b = load_unsw_nb15(
        path=write("b.csv", [("tcp", "CON", "Normal"), ("sctp", "INT", "Worms")]), vocab=a.vocab
    )
    j = a.features.index("protocol"), a.features.index("state")
    assert b.x[:, j[0]].tolist() == [0, OTHER] and b.x[:, j[1]].tolist() == [OTHER, 1]


def test_vocabulary_and_other_code():
    v = vocabulary(["b", "a", "b", 3])
    assert v == ("3", "a", "b")
    assert encode_category(["a", "zz", 3], v).tolist() == [1, OTHER, 0]
    big = tuple(f"c{i:03d}" for i in range(300))  # codes past 254 would collide with OTHER
    assert encode_category(["c254", "c255", "c299"], big).tolist() == [254, OTHER, OTHER]


def _cic_file(path, label, n=3, port=80):
    cols = list(_CIC_NUMERIC)
    body = "".join(
        ",".join([str(port)] + ["1"] * (len(cols) - 1) + [label]) + "\n" for _ in range(n)
    )
    path.write_text(",".join([*cols, "Label"]) + "\n" + body)
    return path


def test_cicids2017_reads_any_class_files(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    folder = tmp_path / "nids" / "cicids2017_improved_sample"
    folder.mkdir(parents=True)
    a = _cic_file(folder / "BENIGN_2500.csv", "BENIGN", 4)
    b = _cic_file(folder / "DoS Hulk_2500.csv", "DoS Hulk", 2, port=8080)
    c = _cic_file(tmp_path / "elsewhere.csv", "FTP-Patator", 1, port=21)
    every = load_cicids2017()  # the default folder, every class file in it
    assert sorted(every.classes.tolist()) == ["BENIGN"] * 4 + ["DoS Hulk"] * 2
    assert every.y.tolist() == [0, 0, 0, 0, 1, 1]
    assert len(load_cicids2017(files=[a, c])) == 5
    assert set(load_cicids2017(files=str(folder / "DoS*.csv")).classes) == {"DoS Hulk"}
    assert len(load_cicids2017(files=folder)) == 6 and len(load_cicids2017(files=b)) == 2
    with pytest.raises(DataNotFoundError):
        load_cicids2017(files=str(tmp_path / "nothing*.csv"))
    _cic_file(folder / "bad.csv", "Bot").write_text("Dst Port,Label\n1,Bot\n")
    with pytest.raises(TraceFormatError, match="missing column") as e:
        load_cicids2017()
    assert e.value.path == folder / "bad.csv"


@needs_data
def test_small_set_encoded_with_the_big_files_vocabulary():
    import pandas as pd

    from ssloserve.data import data_path

    big = load_nsl_kdd()
    small = load_nsl_kdd(small=True, vocab=big.vocab)
    alone = load_nsl_kdd(small=True)
    services = pd.read_csv(data_path("nids/nsl_kdd/SmallTrainingSet.csv"), header=None)[2]
    j = big.features.index("service")
    for name, code in zip(services.astype(str), small.x[:, j], strict=True):
        known = name in big.vocab["service"]
        assert code == (big.vocab["service"].index(name) if known else OTHER)
    # read alone, the small set numbers its services differently for part of its rows
    assert (alone.x[:, j] != small.x[:, j]).mean() > 0.1
    assert set(big.groups) == {"normal", "dos", "probe", "r2l", "u2r"}


@needs_data
def test_a_trained_detector_keeps_its_vocabulary():
    from ssloserve.netnn.experiment import flow_detector

    d = load_nsl_kdd(max_rows=1500)
    det = flow_detector(d, hidden=(8,), epochs=2)
    assert det.vocab == d.vocab and set(det.vocab) == {"service", "TCP state"}
    again = load_nsl_kdd(small=True, vocab=det.vocab)  # new data, the detector's codes
    assert again.vocab == det.vocab and len(det.qmodel.predict(again.x)) == 1011
