import lsio


def test_version():
    assert lsio.__version__ == "0.1.0"
