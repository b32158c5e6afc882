"""Generates and imports the grpc.testing protobuf and gRPC modules at run time.

The .proto files live in <repo root>/proto/proto/grpc/testing/. grpc_tools.protoc
compiles them into a temporary directory, which is removed again once the modules
are imported (they stay loaded in memory). Nothing generated is committed.

The generated modules import one another as `grpc.testing.<name>_pb2`, after
their proto import paths (`grpc/testing/*.proto`). `grpc` is grpcio's own
package, so the temporary `grpc/` directory is added to `grpc.__path__` for the
duration of the import, making `grpc.testing` resolve to the generated code.

It also holds what client and server share for seeing compression:
`PASSTHROUGH_OPTIONS` and `decode`. Use:
    from protos import empty_pb2, messages_pb2, decode, PASSTHROUGH_OPTIONS
"""

import collections
import importlib
import os
import shutil
import tempfile
import zlib

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto", "proto"))
PROTO_FILES = ("grpc/testing/empty.proto", "grpc/testing/messages.proto", "grpc/testing/test.proto")


def _generate_and_import():
    for name in PROTO_FILES:
        if not os.path.isfile(os.path.join(PROTO_ROOT, name)):
            raise RuntimeError("proto file not found: %s" % os.path.join(PROTO_ROOT, name))
    out = tempfile.mkdtemp(prefix="grpc-interop-protos-")
    try:
        args = [
            "grpc_tools.protoc",
            "--proto_path=%s" % PROTO_ROOT,
            "--python_out=%s" % out,
            "--grpc_python_out=%s" % out,
        ] + list(PROTO_FILES)
        if protoc.main(args) != 0:
            raise RuntimeError("grpc_tools.protoc failed on %s" % ", ".join(PROTO_FILES))
        gen_grpc = os.path.join(out, "grpc")
        grpc.__path__.append(gen_grpc)
        try:
            mods = {}
            for name in ("empty_pb2", "messages_pb2", "test_pb2", "test_pb2_grpc"):
                mods[name] = importlib.import_module("grpc.testing." + name)
        finally:
            grpc.__path__.remove(gen_grpc)
        return mods
    finally:
        shutil.rmtree(out, ignore_errors=True)


_mods = _generate_and_import()
empty_pb2 = _mods["empty_pb2"]
messages_pb2 = _mods["messages_pb2"]
test_pb2 = _mods["test_pb2"]
test_pb2_grpc = _mods["test_pb2_grpc"]


# Seeing whether a received message was compressed.
#
# grpcio exposes neither the compressed flag of a received message nor the
# grpc-encoding / grpc-accept-encoding headers (C-core strips them from the
# metadata it hands to Python). But C-core honours the channel argument
# GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION ("grpc.per_message_decompression"):
# set to 0, it does not decompress received messages, and Python's deserializer
# gets a compressed message's bytes as they came off the wire. `decode` tells the
# two apart and decompresses itself:
#   - gzip data starts with 1f 8b. A protobuf message never starts with 0x1f
#     (field 3, wire type 7, which does not exist).
#   - deflate (zlib) data starts with 0x78 and a header check byte. As protobuf,
#     0x78 is field 15 as a varint: none of the grpc.testing messages has a
#     field 15, so a valid message of theirs never starts with it.
# Anything else is an uncompressed protobuf message (the empty message included).
PASSTHROUGH_OPTIONS = (("grpc.per_message_decompression", 0),)

Received = collections.namedtuple("Received", ("message", "compressed"))


def _inflate(data):
    if len(data) >= 2 and data[0] == 0x1F and data[1] == 0x8B:
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)  # gzip
    if len(data) >= 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:
        return zlib.decompress(data)  # deflate (zlib format)
    return None


def decode(message_class, data):
    """Parses `data` as `message_class`, inflating it first if it is compressed.

    Returns Received(message, compressed). Raises on bad data, which grpcio turns
    into an INTERNAL status.
    """
    data = bytes(data)
    inflated = _inflate(data)
    if inflated is None:
        return Received(message_class.FromString(data), False)
    return Received(message_class.FromString(inflated), True)


def decoder(message_class):
    """A grpcio deserializer returning Received(message, compressed)."""
    return lambda data: decode(message_class, data)


def encode(message):
    """A grpcio serializer."""
    return message.SerializeToString()


__all__ = [
    "empty_pb2", "messages_pb2", "test_pb2", "test_pb2_grpc",
    "PASSTHROUGH_OPTIONS", "Received", "decode", "decoder", "encode",
]
