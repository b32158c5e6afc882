#!/usr/bin/env python3
"""grpcio interop test server: grpc.testing.TestService per ../CASES.md.

    python interop_server.py --port P      (0 picks a free port)

Serves on 127.0.0.1 over plaintext HTTP/2, prints `listening on 127.0.0.1:P`
once ready, and stops cleanly (exit 0) on SIGTERM or SIGINT.

What grpcio allows, and how each behaviour is done:
- expect_compressed: grpcio shows a handler neither a request message's
  compressed flag nor the grpc-encoding header. The server therefore runs with
  C-core's "grpc.per_message_decompression" set to 0, so compressed requests
  reach the deserializer still compressed; protos.decode sees that and inflates
  them itself (see protos.py).
- Response compression: grpcio does not show the request's
  grpc-accept-encoding either, and context.set_compression(Gzip) compresses
  with gzip even for a client that did not advertise it. So the server instead
  sets C-core's "grpc.default_compression_level" to LOW: C-core then compresses
  every response message with an algorithm the client advertised (gzip when it
  advertised gzip; deflate if it advertised only deflate; none if neither), and
  the handlers call context.disable_next_message_compression() before each
  message that must go uncompressed.
- UnimplementedCall and UnimplementedService are not registered, so grpcio
  answers UNIMPLEMENTED.
"""

import argparse
import concurrent.futures
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from protos import PASSTHROUGH_OPTIONS, empty_pb2, messages_pb2, decoder, encode  # noqa: E402

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"

_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def _payload(size):
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=bytes(size))


def _begin(context):
    """Sends the echoed initial metadata and sets the echoed trailers.

    Initial metadata is sent at once: grpcio would otherwise send none when the
    call ends with a non-OK status before any message.
    """
    initial = []
    trailing = []
    for key, value in context.invocation_metadata() or ():
        if key == ECHO_INITIAL:
            initial.append((key, value))
        elif key == ECHO_TRAILING:
            trailing.append((key, value))
    context.send_initial_metadata(tuple(initial))
    if trailing:
        context.set_trailing_metadata(tuple(trailing))


def _end_with_status(context, echo_status):
    """Ends the call with echo_status if its code is non-zero (raises)."""
    if echo_status is not None and echo_status.code != 0:
        code = _STATUS_BY_NUMBER.get(echo_status.code, grpc.StatusCode.UNKNOWN)
        context.abort(code, echo_status.message)


def _check_compressed(context, received, expect_compressed):
    if expect_compressed.value and not received.compressed:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "expect_compressed is set but the request message was not compressed",
        )


def _stream_responses(context, request):
    """Yields the responses one StreamingOutputCallRequest asks for."""
    for params in request.response_parameters:
        if params.interval_us > 0:
            time.sleep(params.interval_us / 1e6)
        if not params.compressed.value:
            context.disable_next_message_compression()
        yield messages_pb2.StreamingOutputCallResponse(payload=_payload(params.size))


class TestService:
    def EmptyCall(self, received, context):
        _begin(context)
        context.disable_next_message_compression()
        return empty_pb2.Empty()

    def UnaryCall(self, received, context):
        request = received.message
        _begin(context)
        _check_compressed(context, received, request.expect_compressed)
        if request.HasField("response_status"):
            _end_with_status(context, request.response_status)
        if not request.response_compressed.value:
            context.disable_next_message_compression()
        return messages_pb2.SimpleResponse(payload=_payload(request.response_size))

    CacheableUnaryCall = UnaryCall

    def StreamingInputCall(self, request_iterator, context):
        _begin(context)
        total = 0
        for received in request_iterator:
            _check_compressed(context, received, received.message.expect_compressed)
            total += len(received.message.payload.body)
        context.disable_next_message_compression()
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def StreamingOutputCall(self, received, context):
        request = received.message
        _begin(context)
        yield from _stream_responses(context, request)
        if request.HasField("response_status"):
            _end_with_status(context, request.response_status)

    def FullDuplexCall(self, request_iterator, context):
        _begin(context)
        for received in request_iterator:
            request = received.message
            yield from _stream_responses(context, request)
            if request.HasField("response_status"):
                _end_with_status(context, request.response_status)

    def HalfDuplexCall(self, request_iterator, context):
        _begin(context)
        requests = [received.message for received in request_iterator]
        for request in requests:
            yield from _stream_responses(context, request)
            if request.HasField("response_status"):
                _end_with_status(context, request.response_status)


def _handler(servicer):
    m = messages_pb2
    table = {
        "EmptyCall": (grpc.unary_unary_rpc_method_handler, empty_pb2.Empty),
        "UnaryCall": (grpc.unary_unary_rpc_method_handler, m.SimpleRequest),
        "CacheableUnaryCall": (grpc.unary_unary_rpc_method_handler, m.SimpleRequest),
        "StreamingOutputCall": (grpc.unary_stream_rpc_method_handler, m.StreamingOutputCallRequest),
        "StreamingInputCall": (grpc.stream_unary_rpc_method_handler, m.StreamingInputCallRequest),
        "FullDuplexCall": (grpc.stream_stream_rpc_method_handler, m.StreamingOutputCallRequest),
        "HalfDuplexCall": (grpc.stream_stream_rpc_method_handler, m.StreamingOutputCallRequest),
    }
    handlers = {
        name: make(getattr(servicer, name), request_deserializer=decoder(cls), response_serializer=encode)
        for name, (make, cls) in table.items()
    }
    return grpc.method_handlers_generic_handler("grpc.testing.TestService", handlers)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1; 0 picks a free one")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=32),
        # PASSTHROUGH_OPTIONS and the compression level (1 = GRPC_COMPRESS_LEVEL_LOW):
        # see the module docstring. so_reuseport 0: a port already in use is an
        # error rather than silently shared.
        options=list(PASSTHROUGH_OPTIONS) + [
            ("grpc.default_compression_level", 1),
            ("grpc.so_reuseport", 0),
        ],
    )
    server.add_generic_rpc_handlers((_handler(TestService()),))
    try:
        port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    except RuntimeError as e:
        print("interop_server: cannot listen on 127.0.0.1:%d: %s" % (args.port, e), file=sys.stderr, flush=True)
        return 1
    if port == 0:
        print("interop_server: cannot listen on 127.0.0.1:%d" % args.port, file=sys.stderr, flush=True)
        return 1
    server.start()
    print("listening on 127.0.0.1:%d" % port, flush=True)

    # Wake now and then so the signal handler runs promptly.
    while not stop.wait(0.5):
        pass
    server.stop(grace=1).wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
