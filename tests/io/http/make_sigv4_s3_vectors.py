"""Prints S3 SigV4 vectors computed by botocore (an independent signer), as C++ initialisers for
sigv4_test.cc. Keys hold the characters S3 keys may hold: '=', spaces, '+', unicode, '%'.

Run: .venv/bin/python tests/io/http/make_sigv4_s3_vectors.py
"""
import datetime
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials

CASES = [
    # method, host, path (decoded), query (decoded pairs), extra headers, payload, token
    ("GET", "127.0.0.1:9000", "/bucket/x.zarr/a=1/c/0.0", [], {"Range": "bytes=0-99"}, b"", ""),
    ("GET", "examplebucket.s3.eu-west-3.amazonaws.com", "/my key+with spaces/ሴ/%25.bin", [], {},
     b"", "FQoGZXIvYXdzEXAMPLEtoken/+="),
    ("HEAD", "s3.us-west-2.amazonaws.com", "/bkt/a~b_c-d.e/(1)!*'", [], {}, b"", ""),
    ("GET", "127.0.0.1:9000", "/bucket",
     [("list-type", "2"), ("prefix", "x.zarr/a b=c/"), ("delimiter", "/"), ("max-keys", "2"),
      ("continuation-token", "1/abc+def==")], {}, b"", ""),
    ("PUT", "127.0.0.1:9000", "/bucket/x.zarr/zarr.json", [], {"Content-Type": "application/json"},
     b'{"zarr_format": 3}', ""),
    ("POST", "127.0.0.1:9000", "/bucket/big/object", [("uploads", "")], {}, b"", ""),
]


def esc(s):
    out = ""
    for b in s.encode():
        if b in (0x22, 0x5C) or b < 0x20 or b >= 0x7F:
            out += "\\x%02x\"\"" % b
        else:
            out += chr(b)
    return '"' + out + '"'


def main():
    creds = botocore.credentials.Credentials("AKIAIOSFODNN7EXAMPLE",
                                             "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    when = datetime.datetime(2024, 3, 9, 17, 45, 12)
    for method, host, path, query, headers, payload, token in CASES:
        creds.token = token or None
        from urllib.parse import quote
        url = "http://%s%s" % (host, quote(path, safe="/~"))
        if query:
            url += "?" + "&".join("%s=%s" % (quote(k, safe="~"), quote(v, safe="~"))
                                  for k, v in query)
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=payload,
                                             headers=dict(headers))
        auth = botocore.auth.S3SigV4Auth(creds, "s3", "eu-west-3")
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            auth.add_auth(req)
        assert req.headers["X-Amz-Date"] == "20240309T174512Z"
        print("    {%s, %s, %s,\n     {%s},\n     {%s}, %s, %s,\n     %s}," % (
            esc(method), esc(host), esc(path),
            ", ".join("{%s, %s}" % (esc(k), esc(v)) for k, v in query),
            ", ".join("{%s, %s}" % (esc(k), esc(v)) for k, v in headers.items()),
            esc(payload.decode()), esc(token), esc(req.headers["Authorization"])))


if __name__ == "__main__":
    main()
