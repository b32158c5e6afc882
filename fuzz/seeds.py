#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/<target>/seed-*.

Run from anywhere: `python3 fuzz/seeds.py`. It only (re)writes files named
`seed-*`; inputs the fuzzer found (crashes kept as regressions) sit beside
them under other names and are left alone. Input formats are documented on
each target's function in fuzz/src/lib.rs.
"""

import pathlib
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIO = 0x20


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def settings(*pairs, ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def lit(name_or_index, value, prefix=0x40):
    """A literal field with incremental indexing (RFC 7541 §6.2.1), no Huffman.
    Every length used here is below 127, so one octet holds it."""
    if isinstance(name_or_index, int):
        assert name_or_index < 63
        out = bytes([prefix | name_or_index])
    else:
        out = bytes([prefix, len(name_or_index)]) + name_or_index
    return out + bytes([len(value)]) + value


# A gRPC unary request, static-table references and literals with indexing.
REQUEST = (
    b"\x83"  # :method POST
    + b"\x86"  # :scheme http
    + lit(4, b"/helloworld.Greeter/SayHello")
    + lit(1, b"localhost:50051")
    + lit(31, b"application/grpc")
    + lit(b"te", b"trailers")
    + lit(58, b"grpc-rust/0.1")
    + lit(b"grpc-timeout", b"1S")
    + lit(b"grpc-accept-encoding", b"identity,deflate,gzip")
)
# The same request again: everything but :method and :scheme from the dynamic
# table (newest first: 62 grpc-accept-encoding ... 68 :path).
REQUEST_WARM = b"\x83\x86" + bytes(0x80 | i for i in (68, 67, 66, 65, 64, 63, 62))
RESPONSE = b"\x88" + lit(31, b"application/grpc")
TRAILERS = lit(b"grpc-status", b"0") + lit(b"grpc-message", b"")


def grpc_message(body):
    return b"\x00" + struct.pack(">I", len(body)) + body


def control(knobs, seed=0x010203):
    return bytes([knobs]) + seed.to_bytes(3, "little")


RFC = {
    "c3": ["828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
           "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"],
    "c4": ["828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf",
           "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"],
    "c5": ["4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a3231"
           "20474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
           "4803333037c1c0bf",
           "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738"
           "666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d33"
           "3630303b2076657273696f6e3d31"],
    "c6": ["488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad1718"
           "63c78f0b97c8e9ae82ae43d3",
           "4883640effc1c0bf",
           "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7"
           "b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"],
}


def blocks(table_octet, *blocks_):
    return bytes([table_octet]) + b"".join(struct.pack(">H", len(b)) + b for b in blocks_)


def seeds():
    s = {}

    # frame_decode: a 9-octet head, then the payload.
    f = s["frame_decode"] = {}
    f["data"] = frame(DATA, END_STREAM, 1, grpc_message(b"hello"))
    f["data-padded"] = frame(DATA, PADDED, 3, b"\x03abc\x00\x00\x00")
    f["headers"] = frame(HEADERS, END_HEADERS, 1, REQUEST)
    f["headers-padded-priority"] = frame(
        HEADERS, END_STREAM | END_HEADERS | PADDED | PRIO, 3,
        b"\x02" + struct.pack(">IB", 0x80000001, 15) + RESPONSE + b"\x00\x00")
    f["priority"] = frame(PRIORITY, 0, 5, struct.pack(">IB", 3, 200))
    f["rst-stream"] = frame(RST_STREAM, 0, 1, struct.pack(">I", 8))
    f["settings"] = settings((1, 4096), (2, 0), (3, 100), (4, 65535), (5, 16384), (6, 16384), (0xff, 7))
    f["settings-ack"] = settings(ack=True)
    f["push-promise"] = frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + REQUEST_WARM)
    f["ping"] = frame(PING, 0, 0, b"12345678")
    f["goaway"] = frame(GOAWAY, 0, 0, struct.pack(">II", 7, 0xb) + b"calm down")
    f["window-update"] = frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff))
    f["continuation"] = frame(CONTINUATION, END_HEADERS, 1, TRAILERS)
    f["unknown-type"] = frame(0xfa, 0xff, 0x80000001, b"extension")

    # hpack_decode: table octet (size = 16 * octet), then u16-prefixed blocks.
    h = s["hpack_decode"] = {}
    h["rfc7541-c3-1"] = blocks(0x10, bytes.fromhex(RFC["c3"][0]))
    for name, hexes in RFC.items():
        h["rfc7541-" + name] = blocks(0x10, *(bytes.fromhex(x) for x in hexes))
    h["grpc-request-cold-warm"] = blocks(0xff, REQUEST, REQUEST_WARM)
    h["grpc-response-trailers"] = blocks(0xff, RESPONSE, TRAILERS)
    # A size update down to 0 and back up, then a never-indexed literal.
    h["size-updates"] = blocks(0x10, b"\x20\x3f\xe1\x01" + b"\x10\x08password\x06secret")

    # server_conn: control octets, then what a client sends after its preface.
    c = s["server_conn"] = {}
    unary = (settings((4, 65535)) + settings(ack=True)
             + frame(HEADERS, END_HEADERS, 1, REQUEST)
             + frame(DATA, END_STREAM, 1, grpc_message(b"world")))
    c["unary"] = control(0x00) + unary
    c["unary-all-knobs"] = control(0x1F) + unary
    c["two-streams-warm-table"] = (control(0x04, 0xabcdef) + settings() + settings(ack=True)
                                   + frame(HEADERS, END_HEADERS, 1, REQUEST)
                                   + frame(HEADERS, END_HEADERS | END_STREAM, 3, REQUEST_WARM)
                                   + frame(DATA, END_STREAM, 1, grpc_message(b"world")))
    c["control-frames"] = (control(0x10) + settings((3, 10)) + settings(ack=True)
                           + frame(PING, 0, 0, b"pingpong")
                           + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1000))
                           + frame(HEADERS, END_HEADERS, 1, REQUEST)
                           + frame(PRIORITY, 0, 1, struct.pack(">IB", 0, 16))
                           + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 1000))
                           + frame(0xfa, 0, 0, b"ext")
                           + frame(RST_STREAM, 0, 1, struct.pack(">I", 8))
                           + frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)))
    c["continuation-padded"] = (control(0x00) + settings() + settings(ack=True)
                                + frame(HEADERS, PADDED | PRIO, 1,
                                        b"\x01" + struct.pack(">IB", 0, 16) + REQUEST[:20] + b"\x00")
                                + frame(CONTINUATION, 0, 1, REQUEST[20:40])
                                + frame(CONTINUATION, END_HEADERS, 1, REQUEST[40:])
                                + frame(DATA, PADDED | END_STREAM, 1, b"\x04" + grpc_message(b"x") + b"\x00" * 4))
    c["zero-window-then-update"] = (control(0x01) + settings((4, 0)) + settings(ack=True)
                                    + frame(HEADERS, END_HEADERS | END_STREAM, 1, REQUEST)
                                    + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 3))
                                    + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 100)))
    c["data-on-stream-0-then-more"] = (control(0x00) + settings()
                                       + frame(DATA, 0, 0, b"oops")
                                       + frame(HEADERS, END_HEADERS, 1, REQUEST))
    c["settings-timeout"] = control(0x02, 0x000001) + settings() + frame(PING, 0, 0, b"12345678") * 40

    # client_conn: control octets, then what a server sends after its first
    # SETTINGS. The client has opened streams 1 (with a message) and 3.
    k = s["client_conn"] = {}
    response = (settings(ack=True)
                + frame(HEADERS, END_HEADERS, 1, RESPONSE)
                + frame(DATA, 0, 1, grpc_message(b"hello"))
                + frame(HEADERS, END_HEADERS | END_STREAM, 1, TRAILERS)
                + frame(HEADERS, END_HEADERS | END_STREAM, 3, b"\x88" + TRAILERS))
    k["responses"] = control(0x00) + response
    k["responses-all-knobs"] = control(0x1F) + response
    k["control-frames"] = (control(0x10) + settings((1, 0), (3, 1), (4, 10), (5, 20000), ack=False)
                           + settings(ack=True)
                           + frame(PING, 0, 0, b"pingpong")
                           + frame(PING, ACK, 0, b"\x00" * 8)
                           + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 20))
                           + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 100))
                           + frame(RST_STREAM, 0, 3, struct.pack(">I", 7)))
    k["goaway"] = (control(0x00) + settings(ack=True)
                   + frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0) + b"bye")
                   + frame(HEADERS, END_HEADERS, 1, RESPONSE))
    k["continuation-and-1xx"] = (control(0x00) + settings(ack=True)
                                 + frame(HEADERS, END_HEADERS, 1, lit(8, b"100"))
                                 + frame(HEADERS, 0, 1, RESPONSE[:5])
                                 + frame(CONTINUATION, END_HEADERS, 1, RESPONSE[5:])
                                 + frame(DATA, END_STREAM, 1, b""))
    k["push-promise-refused"] = (control(0x00) + settings(ack=True)
                                 + frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + REQUEST_WARM)
                                 + frame(PING, 0, 0, b"12345678"))
    return s


def main():
    total = 0
    for target, files in seeds().items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):
            old.unlink()
        for name, data in files.items():
            (folder / ("seed-" + name)).write_bytes(data)
            total += len(data)
    print(f"wrote {sum(len(f) for f in seeds().values())} seeds, {total} octets")


if __name__ == "__main__":
    main()
