"""Config reading helpers (hallcore/config.py)."""
import pytest

from hallcore.config import ConfigError, Table, load_toml


def test_missing_key_names_the_dotted_key():
    with pytest.raises(ConfigError, match=r"device\.id: is required"):
        Table({}, "device").str("id")


def test_wrong_type_names_key_value_and_fix():
    with pytest.raises(ConfigError) as e:
        Table({"baud": "9600"}, "queue.serial").int("baud")
    assert e.value.key == "queue.serial.baud" and "without quotes" in str(e.value)


def test_out_of_range_and_choices():
    t = Table({"scale": 4, "n": 0}, "kiosk")
    with pytest.raises(ConfigError, match="use one of: 3, 5"):
        t.int("scale", choices=(3, 5))
    with pytest.raises(ConfigError, match="out of range"):
        t.int("n", min=1, max=9)


def test_unknown_key_is_rejected():
    t = Table({"id": "x", "idd": "y"}, "device")
    t.str("id")
    with pytest.raises(ConfigError, match=r"device\.idd: is not a known key"):
        t.reject_unknown()


def test_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[device\nid=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(p)
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "nope.toml")




def test_a_file_that_must_exist_must_be_a_regular_file(tmp_path):
    """A secret, CA or holiday file named in the config is read at start: a FIFO
    there would block the process, a directory fail later with a vaguer error."""
    import os
    os.mkfifo(tmp_path / "pw")
    (tmp_path / "sub").mkdir()
    (tmp_path / "ok").write_text("x")
    t = Table({"a": "pw", "b": "sub", "c": "ok"}, "queue.mqtt")
    with pytest.raises(ConfigError, match=r"queue\.mqtt\.a: .*pw is a named pipe \(FIFO\), not a regular file"):
        t.path("a", base=tmp_path, must_exist=True)
    with pytest.raises(ConfigError, match="is a directory, not a regular file"):
        t.path("b", base=tmp_path, must_exist=True)
    assert t.path("c", base=tmp_path, must_exist=True) == tmp_path / "ok"
